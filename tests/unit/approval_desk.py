"""An approval desk without AWS for the approval page's unit tests: a fake approvals table, records and
workflow, signed links and votes (tests/unit/test_approval_decision.py, test_approval_review.py and
test_mutation_approval_page.py share them)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from ecs_handoff.approvals import links
from ecs_handoff.errors import RecordConflict
from ecs_handoff.logic.approval_page import ApprovalDesk, LinkRequest
from ecs_handoff.models import Approval, ApprovalStatus, ApprovalVote, VoteDecision

from tests.samples import approval


class FakeStore:
    """The approvals table for one approval; every call must name it."""

    def __init__(self) -> None:
        self.current = approval()
        self.closed_at: list[str] = []

    def _mine(self, approval_id: str) -> None:
        assert approval_id == self.current.approval_id, approval_id

    def add_approval(self, approval: Approval, vote: ApprovalVote) -> Approval:
        self._mine(approval.approval_id)
        if vote.approver in self.current.approved_by or approval.approved_by != self.current.approved_by:
            raise RecordConflict("voted already, or not as read", self.current)
        if self.current.status is not ApprovalStatus.PENDING:
            raise RecordConflict("closed already", self.current)
        approved = [*self.current.approved_by, vote.approver]
        update: dict[str, Any] = {"approved_by": approved, "votes": [*self.current.votes, vote]}
        if len(approved) >= self.current.approvals_required:  # the deciding vote closes it in the same write
            update |= {"status": ApprovalStatus.APPROVED, "decided_at": vote.at}
            self.closed_at.append(vote.at)
        self.current = self.current.model_copy(update=update)
        return self.current

    def close(
        self, approval_id: str, status: ApprovalStatus, at: str, vote: ApprovalVote | None = None, **_: Any
    ) -> Approval:
        self._mine(approval_id)
        self.closed_at.append(at)
        if self.current.status is not ApprovalStatus.PENDING:
            raise RecordConflict("closed already", self.current)
        votes = [*self.current.votes, vote] if vote is not None else self.current.votes
        self.current = self.current.model_copy(update={"status": status, "decided_at": at, "votes": votes})
        return self.current

    def get(self, approval_id: str) -> Approval | None:
        return self.current if approval_id == self.current.approval_id else None

    def mark_resumed(self, approval_id: str, at: str) -> None:
        self._mine(approval_id)
        self.current = self.current.model_copy(update={"resumed_at": at})


class FakeRecords:
    def __init__(self) -> None:
        self.votes: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def append_vote(self, deployment_id: str, vote: ApprovalVote) -> None:
        assert deployment_id == "api-v1", deployment_id
        self.votes.append(vote.model_dump(mode="json"))

    def append_note(self, deployment_id: str, note: str) -> None:
        assert deployment_id == "api-v1", deployment_id
        self.notes.append(note)


class StoppedWorkflow:
    """A Step Functions client whose task has timed out already."""

    def send_task_success(self, **_: Any) -> None:
        raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")

    send_task_failure = send_task_success


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
    return ApprovalVote(approver="alice@example.com", decision=VoteDecision(decision), at="2026-11-26T00:00:01.000Z")


KEY = b"k" * 64


EXPIRES = 4_000_000_000


class Workflow:
    """A Step Functions client that records what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, **kwargs: Any) -> None:
        self.told.append(("success", kwargs))

    def send_task_failure(self, **kwargs: Any) -> None:
        self.told.append(("failure", kwargs))


def signed(
    approver: str = "alice@example.com", expires: int = EXPIRES, key: bytes = KEY, **override: str
) -> LinkRequest:
    claims = links.LinkClaims("a" * 32, approver.lower(), expires)
    values = {
        "approval_id": "a" * 32,
        "approver": approver,
        "expires": str(expires),
        "signature": links.sign(key, claims),
    }
    return LinkRequest(**{**values, **override})


def desk_with(
    current: Approval | None = None, found: bool = True
) -> tuple[ApprovalDesk, FakeStore, FakeRecords, Workflow]:
    store, records, workflow = FakeStore(), FakeRecords(), Workflow()
    if current is not None:
        store.current = current
    if not found:
        store.get = lambda approval_id: None  # type: ignore[method-assign]
    return ApprovalDesk(store, records, key=KEY, sfn_client=workflow), store, records, workflow  # type: ignore[arg-type]


def vote(decision: str, approver: str = "bob@example.com", at: str = "2026-11-26T00:00:05.000Z") -> ApprovalVote:
    return ApprovalVote(approver=approver, decision=VoteDecision(decision), at=at)
