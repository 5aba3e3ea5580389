"""The approval desk without AWS: every refusal a link can meet, each decision and what the workflow is
told, and ApprovalDesk.apply when the workflow stopped waiting (moto cannot reproduce that: it accepts
the token)."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.errors import RecordConflict
from ecs_handoff.logic import approval_page
from ecs_handoff.logic.approval_page import ApprovalDesk, LinkRequest, approver_for_principal, tell_workflow
from ecs_handoff.models import ApprovalStatus, ApprovalVote, VoteDecision

from tests.helpers import LogRecorder as Log
from tests.samples import approval
from tests.unit.approval_desk import (
    EXPIRES,
    KEY,
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


def test_approval_decision_reaching_an_ended_workflow_is_410_and_says_nothing_deployed() -> None:
    # GIVEN a pending approval whose workflow stopped waiting a moment ago
    records = FakeRecords()
    desk = ApprovalDesk(FakeStore(), records, key=b"k" * 64, sfn_client=StoppedWorkflow())  # type: ignore[arg-type]
    vote = ApprovalVote(approver="alice@example.com", decision=VoteDecision.APPROVE, at="2026-11-26T00:00:01.000Z")
    # WHEN alice approves  THEN a clear 410 page, not a server error, and her vote is still on record
    result = desk.apply(approval(), vote)
    assert result.status == 410 and "nothing was deployed" in result.html
    assert records.votes and records.votes[0]["approver"] == "alice@example.com"
    [note] = records.notes
    assert note.startswith("alice@example.com (approve) arrived at ")
    assert note.endswith(", after the workflow had stopped waiting; nothing was deployed")


def test_approval_throttled_resume_is_retried_before_the_page_answers(monkeypatch: Any) -> None:
    monkeypatch.setattr(approval_page, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
    # GIVEN SendTaskSuccess throttled twice
    store, sfn = FakeStore(), ThrottledWorkflow(times=2)
    desk = ApprovalDesk(store, FakeRecords(), key=b"k" * 64, sfn_client=sfn)  # type: ignore[arg-type]
    # WHEN alice approves  THEN the third try resumes the workflow and the page says approved
    result = desk.apply(approval(), vote_by_alice())
    assert (result.status, result.title, sfn.calls) == (200, "Approved", 3)
    assert store.current.resumed_at is not None


def test_approval_still_throttled_is_recorded_503_and_the_next_post_resumes(monkeypatch: Any) -> None:
    monkeypatch.setattr(approval_page, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
    # GIVEN SendTaskSuccess throttled longer than the page waits
    store, sfn = FakeStore(), ThrottledWorkflow(times=3)
    desk = ApprovalDesk(store, FakeRecords(), key=b"k" * 64, sfn_client=sfn)  # type: ignore[arg-type]
    first = desk.apply(approval(), vote_by_alice())
    # THEN a 503 that says the decision is kept, the approval APPROVED but not resumed
    assert first.status == 503 and "Your decision is recorded" in first.html
    assert store.current.status is ApprovalStatus.APPROVED and store.current.resumed_at is None
    # WHEN the form is submitted again  THEN the workflow is resumed, not refused as "already approved"
    second = desk.apply(approval(), vote_by_alice())
    assert (second.status, second.title) == (200, "Resumed")
    assert store.current.resumed_at is not None


# --- the desk's every path, with a signed link and fakes -----------------------------------------------


@pytest.mark.parametrize(
    ("link", "status", "title", "text"),
    [
        (signed(expires="soon"), 403, "Link not valid", "This approval link is incomplete or has been altered."),  # type: ignore[arg-type]
        (signed(signature="x"), 403, "Link not valid", "This approval link is not one handoff issued, or it has been altered."),  # noqa: E501
        (signed(key=b"another"), 403, "Link not valid", "This approval link is not one handoff issued, or it has been altered."),  # noqa: E501
        (signed("mallory@example.com"), 403, "Link not valid", "This link was not issued to an approver of this deployment."),  # noqa: E501
        (signed(expires=EXPIRES + 1), 403, "Link not valid", "This link was not issued to an approver of this deployment."),  # noqa: E501
    ],
)  # fmt: skip
def test_a_link_that_is_not_exactly_as_issued_is_refused(link: LinkRequest, status: int, title: str, text: str) -> None:
    desk, store, records, workflow = desk_with()
    for result in (desk.view(link, "/approvals/x"), desk.decide(link, "approve", "", "1.2.3.4", "ua")):
        assert (result.status, result.title, result.text) == (status, title, text)
    assert store.current.status is ApprovalStatus.PENDING and records.votes == [] and workflow.told == []


def test_an_upper_case_approver_in_the_link_is_the_same_approver() -> None:
    desk, store, _, _ = desk_with()
    assert desk.decide(signed("Alice@Example.COM"), "approve", "", "", "").status == 200
    assert store.current.approved_by == ["alice@example.com"]


def test_a_link_without_a_key_configured_is_refused() -> None:
    desk, *_ = desk_with()
    desk.key = None
    assert desk.view(signed(), "/x").status == 403


def test_an_unknown_approval_is_404() -> None:
    desk, *_ = desk_with(found=False)
    result = desk.view(signed(), "/x")
    assert (result.status, result.title) == (404, "Approval not found")
    assert result.text == "There is no such approval (it may be older than the audit retention)."


@pytest.mark.parametrize(
    ("changes", "status", "title", "text"),
    [
        ({"status": ApprovalStatus.SUPERSEDED, "superseded_by": "api-v2"}, 409, "Superseded",
         "A newer upload (api-v2) replaced this deployment; this link no longer works."),
        ({"status": ApprovalStatus.CANCELLED}, 409, "Deployment ended",
         "This deployment ended before a decision was needed; nothing to approve."),
        ({"status": ApprovalStatus.EXPIRED}, 410, "Approval expired",
         "This approval expired at 2096-10-02 07:06 UTC; nothing was deployed."),
        ({"status": ApprovalStatus.APPROVED, "votes": [vote("approve")]}, 409, "Already approved",
         "This deployment was already approved by bob@example.com at 2026-11-26 00:00 UTC."),
        ({"status": ApprovalStatus.REJECTED, "votes": [vote("reject")]}, 409, "Already rejected",
         "This deployment was already rejected by bob@example.com at 2026-11-26 00:00 UTC."),
        ({"status": ApprovalStatus.REJECTED}, 409, "Already rejected", "This deployment was already rejected."),
        ({"approvers": ["alice@example.com", "bob@example.com"], "approvals_required": 2,
          "approved_by": ["alice@example.com"]}, 409, "Already approved by you",
         "You approved this already; 1 of 2 approvals so far."),
    ],
)  # fmt: skip
def test_a_closed_approval_refuses_view_and_decision_alike(
    changes: dict[str, Any], status: int, title: str, text: str
) -> None:
    desk, _, records, workflow = desk_with(approval(**changes))
    for result in (desk.view(signed(), "/x"), desk.decide(signed(), "reject", "", "", "")):
        assert (result.status, result.title, result.text) == (status, title, text)
    assert records.votes == [] and workflow.told == []


def test_an_expired_link_is_410_at_its_exact_second(monkeypatch: pytest.MonkeyPatch) -> None:
    expires = 1_900_000_000
    desk, *_ = desk_with(approval(expires_at=expires))
    monkeypatch.setattr("ecs_handoff.approvals.links.time.time", lambda: expires - 1)
    assert desk.view(signed(expires=expires), "/x").status == 200
    monkeypatch.setattr("ecs_handoff.approvals.links.time.time", lambda: float(expires))
    result = desk.view(signed(expires=expires), "/x")
    assert (result.status, result.title) == (410, "Approval expired")
    assert result.text == "This approval expired at 2030-03-17 17:46 UTC; nothing was deployed."


def test_viewing_shows_the_change_and_changes_nothing() -> None:
    desk, store, records, workflow = desk_with()
    result = desk.view(signed(), "/approvals/" + "a" * 32)
    assert (result.status, result.title, result.decided) == (200, "Approve api in prod?", None)
    assert '<form method=post action="/approvals/' + "a" * 32 + '">' in result.html
    assert "<div class=name>app</div><div class=repo>a</div><div class=tags>1 &rarr; 2</div>" in result.html
    assert store.current == approval() and records.votes == [] and workflow.told == []


def test_a_decision_must_be_approve_or_reject() -> None:
    desk, store, _, _ = desk_with()
    result = desk.decide(signed(), "maybe", "", "", "")
    assert (result.status, result.title, result.text) == (400, "Choose a decision", "Press Approve or Reject.")
    assert store.current.status is ApprovalStatus.PENDING


def test_approving_records_the_vote_closes_the_approval_and_resumes_the_workflow() -> None:
    desk, store, records, workflow = desk_with()
    result = desk.decide(signed(), "approve", "  ok CHG-1  " + "x" * 2000, "203.0.113.9" * 10, "Mozilla/5.0" * 50)
    assert (result.status, result.title, result.decided) == (200, "Approved", "approve")
    assert result.text == "Recorded. The deployment continues; the outcome is emailed."
    assert store.current.status is ApprovalStatus.APPROVED and store.current.resumed_at is not None
    [recorded] = records.votes
    assert recorded["comment"] == "ok CHG-1 " + "x" * 990  # cut at 1000 characters, then spaces collapsed
    assert len(recorded["source_ip"]) == 64 and len(recorded["user_agent"]) == 300 and recorded["via"] == "link"
    [(kind, told)] = workflow.told
    assert kind == "success" and told["taskToken"] == "token"
    assert '"approved_by": ["alice@example.com"]' in told["output"]


def test_rejecting_tells_the_workflow_who_rejected_and_why() -> None:
    desk, store, _, workflow = desk_with()
    result = desk.decide(signed(), "reject", "wrong build", "", "")
    assert store.closed_at == [store.current.votes[-1].at] and store.closed_at[0] is not None
    assert (result.status, result.title, result.decided) == (200, "Rejected", "reject")
    assert result.text == "Recorded. Nothing will be deployed."
    [(kind, told)] = workflow.told
    assert kind == "failure" and told["error"] == "ApprovalRejected"
    assert told["cause"] == "rejected by alice@example.com: wrong build"


def test_one_of_two_approvals_waits_for_the_second() -> None:
    two = approval(approvers=["alice@example.com", "bob@example.com"], approvals_required=2)
    desk, store, _, workflow = desk_with(two)
    result = desk.decide(signed(), "approve", "", "", "")
    assert (result.status, result.title, result.decided) == (200, "Approval recorded", "approve")
    assert result.text == "Recorded (1 of 2); waiting for 1 more approver(s)."
    assert store.current.status is ApprovalStatus.PENDING and workflow.told == []


def test_a_lost_race_says_what_happened_instead() -> None:
    desk, store, records, workflow = desk_with()
    store.current = approval(status=ApprovalStatus.REJECTED, votes=[vote("reject")], resumed_at="2026-11-26T00:00:06Z")
    result = desk.apply(approval(), vote("approve", "alice@example.com"))
    assert (result.status, result.title) == (409, "Already rejected")
    assert records.votes == [] and workflow.told == []


def test_tell_workflow_names_the_rejection_without_a_comment_and_the_superseding_upload() -> None:
    workflow = Workflow()
    tell_workflow(approval(status=ApprovalStatus.REJECTED, votes=[vote("reject")]), "t1", workflow)  # type: ignore[arg-type]  # a fake client
    tell_workflow(approval(status=ApprovalStatus.SUPERSEDED, superseded_by="api-v2"), "t2", workflow)  # type: ignore[arg-type]  # a fake client
    tell_workflow(approval(status=ApprovalStatus.PENDING), "t3", workflow)  # type: ignore[arg-type]  # a fake client
    assert [(k, t["taskToken"], t.get("error"), t.get("cause")) for k, t in workflow.told] == [
        ("failure", "t1", "ApprovalRejected", "rejected by bob@example.com (no comment)"),
        (
            "failure",
            "t2",
            "ApprovalSuperseded",
            "a newer upload (api-v2) replaced this one while it waited for approval",
        ),
    ]


def test_approver_for_principal_matches_patterns_exactly() -> None:
    mapped = approval(
        approvers=["alice@example.com"],
        approver_principals={"arn:aws:sts::123456789012:assumed-role/oncall/*": "alice@example.com"},
    )
    assert approver_for_principal(mapped, "arn:aws:sts::123456789012:assumed-role/oncall/alice") == "alice@example.com"
    assert approver_for_principal(mapped, "arn:aws:sts::123456789012:assumed-role/oncall-admin/x") is None
    assert approver_for_principal(mapped, "arn:aws:sts::123456789012:ASSUMED-ROLE/oncall/alice") is None


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    recorder = Log()
    monkeypatch.setattr(approval_page, "logger", recorder)
    return recorder


def test_a_decision_is_logged_with_who_and_how(log: Log) -> None:
    desk, store, records, _ = desk_with()
    desk.decide(signed(), "approve", "", "", "")
    assert ("info", "approval decision", {"approval_id": "a" * 32, "decision": "approve",
            "approver": "alice@example.com", "via": "link"}) in log.lines  # fmt: skip
    assert store.closed_at == [records.votes[0]["at"]]


def test_a_decision_reaching_an_ended_workflow_is_logged(log: Log) -> None:
    desk = ApprovalDesk(FakeStore(), FakeRecords(), key=KEY, sfn_client=StoppedWorkflow())  # type: ignore[arg-type]
    desk.apply(approval(), vote_by_alice())
    [(level, message, fields)] = [line for line in log.lines if line[0] == "warning"]
    assert (level, message, fields["approval_id"]) == ("warning", "decision reached an ended workflow", "a" * 32)
    assert "TaskTimedOut" in fields["error"]


def test_a_workflow_that_stays_throttled_is_logged_as_an_error(log: Log, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(approval_page, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
    desk = ApprovalDesk(FakeStore(), FakeRecords(), key=KEY, sfn_client=ThrottledWorkflow(times=3))  # type: ignore[arg-type]
    result = desk.apply(approval(), vote_by_alice())
    assert (result.title, result.text) == (
        "Recorded, not yet resumed",
        "Your decision is recorded, but AWS is busy and the deployment could not be told yet. "
        "Submit this page again in a minute to resume it.",
    )
    [(_, message, fields)] = [line for line in log.lines if line[0] == "error"]
    assert (message, fields["approval_id"]) == ("could not resume the workflow", "a" * 32)
    assert "throttling" in fields["error"]


def test_an_ended_workflow_without_votes_still_notes_the_late_decision() -> None:
    records = FakeRecords()
    desk = ApprovalDesk(FakeStore(), records, key=KEY, sfn_client=StoppedWorkflow())  # type: ignore[arg-type]
    result = desk._resume(approval(status=ApprovalStatus.APPROVED))
    assert result is not None and (result.status, result.title) == (410, "Approval expired")
    assert result.text == "The deployment stopped waiting before your decision arrived; nothing was deployed."
    assert records.notes[0].startswith("a decision arrived at ")


def test_a_decided_but_not_resumed_approval_is_resumed_by_the_next_post() -> None:
    desk, store, _, workflow = desk_with(approval(status=ApprovalStatus.REJECTED, votes=[vote("reject")]))
    result = desk.apply(approval(), vote("approve", "alice@example.com"))
    assert (result.status, result.title, result.text) == (
        200,
        "Resumed",
        "The deployment was rejected; its workflow has now been told.",
    )
    assert "<h1>Resumed</h1>" in result.html
    assert [kind for kind, _ in workflow.told] == ["failure"] and store.current.resumed_at is not None


def test_a_second_approval_by_the_same_approver_is_refused_as_theirs() -> None:
    two = approval(approvers=["alice@example.com", "bob@example.com"], approvals_required=2)
    desk, _, records, _ = desk_with(two)
    desk.apply(two, vote("approve", "alice@example.com"))
    again = desk.apply(two, vote("approve", "alice@example.com"))
    assert (again.status, again.title) == (409, "Already approved by you")
    assert len(records.votes) == 1


def test_a_conflict_on_an_approval_that_expired_meanwhile_is_410() -> None:
    desk, store, _, _ = desk_with()
    store.close = lambda *a, **k: (_ for _ in ()).throw(RecordConflict("expired"))  # type: ignore[method-assign]
    store.add_approval = store.close  # type: ignore[method-assign, assignment]
    result = desk.apply(approval(), vote("approve", "alice@example.com"))
    assert (result.status, result.title, result.text) == (
        410,
        "Approval expired",
        "This approval expired at 2096-10-02 07:06 UTC; nothing was deployed.",
    )


def test_the_review_page_shows_everything_the_approver_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecs_handoff.models import CiDescription

    monkeypatch.setattr("ecs_handoff.logic.approval_page.time.time", lambda: EXPIRES - 5400.0)
    shown = approval(
        requester="arn:aws:sts::123456789012:assumed-role/ci/run-7",
        other_changes=["app memory: 512 -> 1024"],
        ci=CiDescription(summary="Fix the checkout", commit="0a1b2c3"),
        running_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:6",
        approvers=["alice@example.com", "bob@example.com"],
        approvals_required=2,
        approved_by=["bob@example.com"],
    )
    desk, *_ = desk_with(shown)
    html = desk.view(signed("ALICE@example.com"), "/approvals/x").html
    for expected in (
        "<h1>Deploy api to prod?</h1>", "This link is for alice@example.com and expires in 1 h 30 min.", "api-v1",
        "arn:aws:sts::123456789012:assumed-role/ci/run-7", "app memory: 512 -&gt; 1024",
        "Fix the checkout", "0a1b2c3", "prod-api:1", "prod-api:6", "alice@example.com", "1 h 30 min",
        "bob@example.com",
        '<input type=hidden name="approver" value="alice@example.com">',
        '<input type=hidden name="expires" value="4000000000">',
        f'<input type=hidden name="sig" value="{signed().signature}">',
    ):  # fmt: skip
        assert expected in html, expected


def test_the_workflow_is_told_the_approval_id_and_who_approved() -> None:
    import json

    workflow = Workflow()
    tell_workflow(approval(status=ApprovalStatus.APPROVED, approved_by=["alice@example.com"]), "t", workflow)  # type: ignore[arg-type]  # a fake client
    [(kind, told)] = workflow.told
    assert kind == "success" and json.loads(told["output"]) == {
        "approval_id": "a" * 32,
        "approved_by": ["alice@example.com"],
    }
    rejected = Workflow()
    tell_workflow(approval(status=ApprovalStatus.REJECTED), "t", rejected)  # type: ignore[arg-type]  # a fake client
    assert rejected.told[0][1]["cause"] == "rejected by an approver (no comment)"


def test_expiry_times_are_shown_in_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    clock.tzset()
    try:
        desk, *_ = desk_with(approval(status=ApprovalStatus.EXPIRED))
        assert desk.view(signed(), "/x").text == "This approval expired at 2096-10-02 07:06 UTC; nothing was deployed."
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()
