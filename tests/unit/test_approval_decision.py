"""ApprovalDesk.apply when the workflow stopped waiting (moto cannot reproduce this: it accepts the token)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from ecs_handoff.errors import RecordConflict
from ecs_handoff.logic import approval_decision
from ecs_handoff.logic.approval_decision import ApprovalDesk
from ecs_handoff.models import Approval, ApprovalStatus, ApprovalVote, ImageChange


def approval(**changes: Any) -> Approval:
    values: dict[str, Any] = {
        "approval_id": "a" * 32,
        "deployment_id": "api-v1",
        "execution_arn": "arn:aws:states:ap-northeast-1:123456789012:execution:sm:api-v1",
        "task_token": "token",
        "env": "prod",
        "service_id": "api",
        "changes": [ImageChange(container="app", image_before="a:1", image_after="a:2")],
        "base_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
        "running_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
        "requested_at": "2026-11-26T00:00:00.000Z",
        "expires_at": 4_000_000_000,
        "approvers": ["alice@example.com"],
        **changes,
    }
    return Approval(**values)


class FakeStore:
    def __init__(self) -> None:
        self.current = approval()

    def add_approval(self, approval_id: str, vote: ApprovalVote) -> Approval:
        self.current = self.current.model_copy(update={"approved_by": [vote.approver], "votes": [vote]})
        return self.current

    def close(self, approval_id: str, status: ApprovalStatus, at: str, **_: Any) -> Approval:
        if self.current.status is not ApprovalStatus.PENDING:
            raise RecordConflict("closed already")
        self.current = self.current.model_copy(update={"status": status, "decided_at": at})
        return self.current

    def get(self, approval_id: str) -> Approval:
        return self.current

    def mark_resumed(self, approval_id: str, at: str) -> None:
        self.current = self.current.model_copy(update={"resumed_at": at})


class FakeRecords:
    def __init__(self) -> None:
        self.votes: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def append_vote(self, deployment_id: str, vote: dict[str, Any]) -> None:
        self.votes.append(vote)

    def append_note(self, deployment_id: str, note: str) -> None:
        self.notes.append(note)


class StoppedWorkflow:
    """A Step Functions client whose task has timed out already."""

    def send_task_success(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")

    send_task_failure = send_task_success


def test_approval_decision_reaching_an_ended_workflow_is_410_and_says_nothing_deployed():
    # GIVEN a pending approval whose workflow stopped waiting a moment ago
    records = FakeRecords()
    desk = ApprovalDesk(FakeStore(), records, key=b"k" * 64, sfn_client=StoppedWorkflow())  # type: ignore[arg-type]
    vote = ApprovalVote(approver="alice@example.com", decision="approve", at="2026-11-26T00:00:01.000Z")
    # WHEN alice approves  THEN a clear 410 page, not a server error, and her vote is still on record
    result = desk.apply(approval(), vote)
    assert result.status == 410 and "nothing was deployed" in result.html
    assert records.votes and records.votes[0]["approver"] == "alice@example.com"
    [note] = records.notes
    assert note.startswith("alice@example.com (approve) arrived at ")
    assert note.endswith(", after the workflow had stopped waiting; nothing was deployed")


class ThrottledWorkflow:
    """A Step Functions client that throttles the first `times` SendTask calls (after botocore's retries)."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, 0

    def send_task_success(self, **_: Any) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "SendTaskSuccess")

    send_task_failure = send_task_success


def vote_by_alice(decision: str = "approve") -> ApprovalVote:
    return ApprovalVote(approver="alice@example.com", decision=decision, at="2026-11-26T00:00:01.000Z")


def test_approval_throttled_resume_is_retried_before_the_page_answers(monkeypatch: Any):
    monkeypatch.setattr(approval_decision, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
    # GIVEN SendTaskSuccess throttled twice
    store, sfn = FakeStore(), ThrottledWorkflow(times=2)
    desk = ApprovalDesk(store, FakeRecords(), key=b"k" * 64, sfn_client=sfn)  # type: ignore[arg-type]
    # WHEN alice approves  THEN the third try resumes the workflow and the page says approved
    result = desk.apply(approval(), vote_by_alice())
    assert (result.status, result.title, sfn.calls) == (200, "Approved", 3)
    assert store.current.resumed_at is not None


def test_approval_still_throttled_is_recorded_503_and_the_next_post_resumes(monkeypatch: Any):
    monkeypatch.setattr(approval_decision, "RESUME_BACKOFF_SECONDS", (0.0, 0.0))
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
