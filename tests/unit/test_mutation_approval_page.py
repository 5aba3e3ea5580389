"""What the approval desk's pages name and how a vote that loses a race is written, without AWS: every page
about an approval says which deployment of what, where (and after a vote, who and when), a page about a link
handoff cannot trust names nothing, and a vote that another approver's vote beat is written again against the
approval as found, unless it is the approver's own or the approval expired meanwhile."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from ecs_handoff.errors import RecordConflict
from ecs_handoff.logic import approval_page
from ecs_handoff.logic.approval_page import ApprovalDesk, PageResult
from ecs_handoff.models import Approval, ApprovalStatus, ApprovalVote

from tests.samples import approval
from tests.unit.approval_desk import (
    FakeRecords,
    FakeStore,
    StoppedWorkflow,
    ThrottledWorkflow,
    Workflow,
    desk_with,
    signed,
    vote,
    vote_by_alice,
)

ABOUT = "api in prod, deployment api-v1"  # the sample approval's service, environment and deployment
APPROVERS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "erin@example.com"]


def about_line(result: PageResult) -> str | None:
    """The line under the page's title that names what the page is about (None: the page names nothing)."""
    found = re.search(r"<p class=muted>(.*?)</p>", result.html)
    return found.group(1) if found else None


class RacingStore(FakeStore):
    """The approvals table where other approvers' votes (`rivals`) land just before each of ours, and a write
    on an approval past its expiry is refused, as DynamoDB's condition refuses it; `writes` holds who had
    approved in each approval our votes were written against."""

    def __init__(self, current: Approval, rivals: list[ApprovalVote] | None = None) -> None:
        super().__init__()
        self.current, self.rivals = current, list(rivals or [])
        self.writes: list[list[str]] = []

    def add_approval(self, approval: Approval, vote: ApprovalVote) -> Approval:
        self.writes.append(list(approval.approved_by))
        if self.rivals:
            super().add_approval(self.current, self.rivals.pop(0))
        if self.current.expires_at <= time.time():
            raise RecordConflict("expired", self.current)
        return super().add_approval(approval, vote)


def racing_desk(store: RacingStore) -> ApprovalDesk:
    return ApprovalDesk(store, FakeRecords(), key=b"k" * 64, sfn_client=Workflow())  # type: ignore[arg-type]


def of(required: int, **changes: Any) -> Approval:
    return approval(approvers=APPROVERS, approvals_required=required, **changes)


# --- what the pages name ----------------------------------------------------------------------------------


def test_approval_page_after_approving_names_the_deployment_the_approver_and_the_minute() -> None:
    # GIVEN alice's pending approval of api in prod
    desk, *_ = desk_with()
    # WHEN she approves at 2026-11-26T00:00:01Z
    result = desk.apply(approval(), vote_by_alice())
    # THEN the page names the deployment, that she approved it, and the minute
    assert result.title == "Approved"
    assert about_line(result) == f"{ABOUT}; approved by alice@example.com at 2026-11-26 00:00 UTC"


def test_approval_page_after_rejecting_names_the_deployment_the_approver_and_the_minute() -> None:
    # GIVEN alice's pending approval of api in prod
    desk, *_ = desk_with()
    # WHEN she rejects at 2026-11-26T00:00:01Z
    result = desk.apply(approval(), vote_by_alice("reject"))
    # THEN the page says she rejected it, not that she approved it
    assert result.title == "Rejected"
    assert about_line(result) == f"{ABOUT}; rejected by alice@example.com at 2026-11-26 00:00 UTC"


def test_approval_page_after_one_of_two_approvals_names_the_deployment_and_the_approver() -> None:
    # GIVEN an approval that needs two approvers
    desk, *_ = desk_with(of(2))
    # WHEN alice approves first
    result = desk.apply(of(2), vote_by_alice())
    # THEN the page that says one more is needed also names what she approved, and when
    assert result.title == "Approval recorded"
    assert about_line(result) == f"{ABOUT}; approved by alice@example.com at 2026-11-26 00:00 UTC"


@pytest.mark.parametrize(
    ("changes", "title"),
    [
        ({"status": ApprovalStatus.SUPERSEDED, "superseded_by": "api-v2"}, "Superseded"),
        ({"status": ApprovalStatus.CANCELLED}, "Deployment ended"),
        ({"status": ApprovalStatus.EXPIRED}, "Approval expired"),
        ({"status": ApprovalStatus.APPROVED, "votes": [vote("approve")]}, "Already approved"),
        ({"approvals_required": 2, "approved_by": ["alice@example.com"]}, "Already approved by you"),
    ],
)
def test_approval_page_refusing_a_closed_approval_names_the_deployment(changes: dict[str, Any], title: str) -> None:
    # GIVEN an approval alice can no longer decide
    desk, *_ = desk_with(approval(approvers=APPROVERS, **changes))
    # WHEN she opens her link  THEN the refusal says which deployment it is about (no vote: nobody voted now)
    result = desk.view(signed(), "/x")
    assert (result.title, about_line(result)) == (title, ABOUT)


def test_approval_page_refusing_an_expired_link_names_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a pending approval whose link expired a second ago
    desk, *_ = desk_with(approval(expires_at=1_900_000_000))
    monkeypatch.setattr("ecs_handoff.approvals.links.time.time", lambda: 1_900_000_001.0)
    # WHEN alice opens it  THEN 410, naming the deployment that expired
    result = desk.view(signed(expires=1_900_000_000), "/x")
    assert (result.status, about_line(result)) == (410, ABOUT)


def test_approval_page_refusing_a_link_not_issued_to_an_approver_names_no_deployment() -> None:
    # GIVEN an approval mallory is not an approver of, and a link signed for her
    desk, *_ = desk_with()
    # WHEN she opens it  THEN 403, and the page does not tell her which service or environment it is for
    result = desk.view(signed("mallory@example.com"), "/x")
    assert result.status == 403
    assert about_line(result) is None and "api-v1" not in result.html


def test_approval_page_for_a_workflow_that_stopped_waiting_names_the_deployment() -> None:
    # GIVEN a pending approval whose workflow timed out
    desk = ApprovalDesk(FakeStore(), FakeRecords(), key=b"k" * 64, sfn_client=StoppedWorkflow())  # type: ignore[arg-type]
    # WHEN alice approves  THEN the 410 names the deployment that did not wait
    result = desk.apply(approval(), vote_by_alice())
    assert (result.status, about_line(result)) == (410, ABOUT)


def test_approval_page_recorded_but_not_resumed_names_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approval_page, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
    # GIVEN Step Functions throttling longer than the page waits
    desk = ApprovalDesk(FakeStore(), FakeRecords(), key=b"k" * 64, sfn_client=ThrottledWorkflow(times=3))  # type: ignore[arg-type]
    # WHEN alice approves  THEN the 503 names the deployment her recorded decision is for
    result = desk.apply(approval(), vote_by_alice())
    assert (result.status, about_line(result)) == (503, ABOUT)


def test_approval_page_resuming_a_decided_approval_names_the_deployment() -> None:
    # GIVEN an approval bob rejected whose workflow was never told
    desk, *_ = desk_with(approval(status=ApprovalStatus.REJECTED, votes=[vote("reject")]))
    # WHEN alice's vote finds it decided  THEN the "Resumed" page names the deployment
    result = desk.apply(approval(), vote_by_alice())
    assert (result.title, about_line(result)) == ("Resumed", ABOUT)


def test_approval_page_when_the_approval_vanished_during_the_vote_names_the_deployment_as_read() -> None:
    # GIVEN an approval whose write finds no item any more (past retention)
    desk, store, _, _ = desk_with()
    store.add_approval = lambda *a, **k: (_ for _ in ()).throw(RecordConflict("gone"))  # type: ignore[method-assign]
    # WHEN alice approves  THEN 410, naming the deployment as her page read it
    result = desk.apply(approval(), vote_by_alice())
    assert (result.status, about_line(result)) == (410, ABOUT)


# --- a vote that loses a race -----------------------------------------------------------------------------


def test_approval_vote_that_lost_a_race_is_written_again_against_the_approval_as_found() -> None:
    # GIVEN three approvals needed, and bob's vote landing just before alice's
    store = RacingStore(of(3), rivals=[vote("approve", "bob@example.com")])
    # WHEN alice approves what she read (nobody had approved)
    result = racing_desk(store).apply(of(3), vote_by_alice())
    # THEN her vote is written again against the approval with bob's, and both count
    assert store.writes == [[], ["bob@example.com"]]
    assert store.current.approved_by == ["bob@example.com", "alice@example.com"]
    assert (result.status, result.text) == (200, "Recorded (2 of 3); waiting for 1 more approver(s).")


def test_approval_vote_that_lost_three_races_is_written_a_fourth_time() -> None:
    # GIVEN five approvals needed, and bob's, carol's and dave's votes each landing just before alice's
    rivals = [vote("approve", who) for who in APPROVERS[1:4]]
    store = RacingStore(of(5), rivals=rivals)
    # WHEN alice approves what she read
    result = racing_desk(store).apply(of(5), vote_by_alice())
    # THEN the last write, against the approval with all three, records hers
    assert store.writes == [[], APPROVERS[1:2], APPROVERS[1:3], APPROVERS[1:4]]
    assert store.current.approved_by == [*APPROVERS[1:4], "alice@example.com"]
    assert result.text == "Recorded (4 of 5); waiting for 1 more approver(s)."


def test_approval_vote_whose_own_earlier_vote_landed_first_is_not_written_again() -> None:
    # GIVEN alice's vote from another tab already recorded, after this page read the approval
    store = RacingStore(of(2, approved_by=["alice@example.com"], votes=[vote_by_alice()]))
    # WHEN this page's vote is written against what it read
    result = racing_desk(store).apply(of(2), vote_by_alice())
    # THEN it is refused as hers after one write, not retried
    assert store.writes == [[]]
    assert (result.status, result.title) == (409, "Already approved by you")


def test_approval_vote_that_lost_a_race_at_the_expiry_second_is_not_written_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN bob's vote landing just before alice's, at the very second the approval expires
    store = RacingStore(of(3), rivals=[vote("approve", "bob@example.com")])
    monkeypatch.setattr("ecs_handoff.logic.approval_page.time.time", lambda: float(store.current.expires_at))
    # WHEN alice approves what she read
    result = racing_desk(store).apply(of(3), vote_by_alice())
    # THEN the expired approval is not written again: one write, and the page says it expired
    assert store.writes == [[]]
    assert (result.status, result.title) == (410, "Approval expired")


# --- what the review page shows before production traffic, and for a promotion ----------------------------------

GREEN_HEADING = "<h2>Green is up on the test listener</h2>"


def test_review_page_before_production_traffic_says_green_is_up_and_how_to_reach_it() -> None:
    # GIVEN an approval asked while ECS holds green on the test listener, reachable at a URL
    held = approval(stage="before_production_traffic", test_traffic="https://green.example.com")
    desk, *_ = desk_with(held)
    # WHEN alice opens her link  THEN the page says green is up, where, and what each button does to traffic
    html = desk.view(signed(), "/x").html
    assert GREEN_HEADING in html and "Reach it at <b>https://green.example.com</b>." in html
    assert "Approve to move production traffic to it; reject to roll it back." in html


def test_review_page_before_production_traffic_without_a_test_address_says_green_is_up_only() -> None:
    desk, *_ = desk_with(approval(stage="before_production_traffic"))
    html = desk.view(signed(), "/x").html
    assert GREEN_HEADING in html and "Reach it at" not in html


def test_review_page_before_deploy_says_nothing_of_green() -> None:
    # GIVEN an approval asked before the deploy (nothing runs on a test listener), even with a test address
    desk, *_ = desk_with(approval(test_traffic="https://green.example.com"))
    # THEN the page does not tell the approver there is something to try
    html = desk.view(signed(), "/x").html
    assert GREEN_HEADING not in html and "green.example.com" not in html


def test_review_page_of_a_promotion_names_the_source_deployment_handoff_verified() -> None:
    # GIVEN an approval for a promotion the intake verified (`handoff promote`), as request_approval words it
    desk, *_ = desk_with(approval(promoted_from="promoted from dev api-1a2b3c4d, soaked 2 h"))
    # THEN the page names the source deployment first, capitalized, and that handoff verified it
    html = desk.view(signed(), "/x").html
    assert "<p><b>Promoted from dev api-1a2b3c4d, soaked 2 h</b>. Verified by handoff: that environment" in html


def test_review_page_of_an_upload_claims_no_promotion() -> None:
    desk, *_ = desk_with(approval())
    assert "Verified by handoff: that environment" not in desk.view(signed(), "/x").html
