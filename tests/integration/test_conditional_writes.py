"""A conditional write that loses says what it lost to, from DynamoDB's own answer
(ReturnValuesOnConditionCheckFailure=ALL_OLD), not from a second read that could see a later state."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.clients import client
from ecs_handoff.aws.state import EventOrder, ServiceState
from ecs_handoff.errors import RecordConflict
from ecs_handoff.models import ApprovalStatus, ApprovalVote, VoteDecision

from tests.integration.conftest import Stack
from tests.samples import approval


class Counting:
    """The DynamoDB client, counting the calls of each operation."""

    def __init__(self) -> None:
        self.inner = client("dynamodb")
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


def test_a_lock_held_by_another_names_its_holder_without_reading_it_again(stack: Stack) -> None:
    ddb = Counting()
    state = ServiceState(stack.outputs["StateTableName"], ddb)  # type: ignore[arg-type]  # a fake client
    assert state.acquire_lock("api", "api-v1", "arn:execution:api-v1", 600) is None
    holder = state.acquire_lock("api", "api-v2", "arn:execution:api-v2", 600)
    assert holder is not None and (holder.holder, holder.execution_arn) == ("api-v1", "arn:execution:api-v1")
    assert ddb.calls == ["put_item", "put_item"]


def test_a_duplicate_and_a_stale_event_are_told_apart_from_the_failed_write_alone(stack: Stack) -> None:
    ddb = Counting()
    state = ServiceState(stack.outputs["StateTableName"], ddb)  # type: ignore[arg-type]  # a fake client
    key = "api/imagedefinitions.json.zip"
    assert state.observe_event(key, "0062E99A88DC407460", "v2") == (EventOrder.NEW, "v2")
    assert state.observe_event(key, "0062E99A88DC407460", "v2") == (EventOrder.DUPLICATE, "v2")
    assert state.observe_event(key, "0062E99A88DC407400", "v1") == (EventOrder.STALE, "v2")
    assert ddb.calls == ["update_item"] * 3


@pytest.mark.parametrize("second", [VoteDecision.APPROVE, VoteDecision.REJECT])
def test_a_vote_that_loses_the_race_gets_the_approval_as_the_winner_left_it(stack: Stack, second: VoteDecision) -> None:
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    pending = approval(approvers=["alice@example.com", "bob@example.com"])
    assert store.create(pending)
    store.close(pending.approval_id, ApprovalStatus.REJECTED, "2026-11-27T00:00:00.000Z")
    bob = ApprovalVote(approver="bob@example.com", decision=second, at="2026-11-27T00:00:01.000Z")
    with pytest.raises(RecordConflict) as lost:
        if second is VoteDecision.APPROVE:
            store.add_approval(pending, bob)
        else:
            store.close(pending.approval_id, ApprovalStatus.REJECTED, bob.at, vote=bob)
    assert lost.value.current is not None
    assert (lost.value.current.status, lost.value.current.decided_at) == (
        ApprovalStatus.REJECTED,
        "2026-11-27T00:00:00.000Z",
    )


def test_a_conflict_on_an_approval_that_is_gone_has_nothing_to_show(stack: Stack) -> None:
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    with pytest.raises(RecordConflict) as lost:
        store.close("f" * 32, ApprovalStatus.REJECTED, "2026-11-27T00:00:00.000Z")
    assert lost.value.current is None


class FakeWorkflow:
    """Step Functions as the desk sees it: the task tokens it was told about."""

    def __init__(self) -> None:
        self.succeeded: list[str] = []

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        self.succeeded.append(taskToken)
        return {}


class Votes:
    """The deployments table's vote list of one deployment."""

    def __init__(self) -> None:
        self.votes: list[dict[str, Any]] = []

    def append_vote(self, deployment_id: str, vote: ApprovalVote) -> None:
        self.votes.append(vote.model_dump(mode="json"))


class DyingVotes:
    def append_vote(self, deployment_id: str, vote: ApprovalVote) -> None:
        raise RuntimeError("the function stopped here")


class DiesAfterOneWrite:
    """The approvals table of a function that dies right after its first write to it."""

    def __init__(self, store: ApprovalStore) -> None:
        self.store, self.writes = store, 0

    def __getattr__(self, name: str) -> Any:
        if name == "get":
            return self.store.get
        self.writes += 1
        if self.writes > 1:
            raise RuntimeError("the function stopped here")
        return getattr(self.store, name)


def test_the_deciding_vote_closes_the_approval_in_the_same_write(stack: Stack) -> None:
    from ecs_handoff.logic.approval_page import ApprovalDesk

    # GIVEN an approval that needs two approvals, one already given
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    two = approval(approvers=["alice@example.com", "bob@example.com"], approvals_required=2)
    assert store.create(two)
    alice = ApprovalVote(approver="alice@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:00.000Z")
    store.add_approval(two, alice)
    # WHEN bob's approval is written and the function dies before anything else happens
    workflow = FakeWorkflow()
    dying = ApprovalDesk(DiesAfterOneWrite(store), DyingVotes(), b"k" * 32, workflow)  # type: ignore[arg-type]  # fakes
    bob = ApprovalVote(approver="bob@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:01.000Z")
    read = store.get(two.approval_id)
    assert read is not None
    with pytest.raises(RuntimeError):
        dying.apply(read, bob)
    assert workflow.succeeded == []
    # THEN the approval is APPROVED, not stranded pending with all its votes
    stored = store.get(two.approval_id)
    assert stored is not None
    assert (stored.status, stored.approved_by, stored.decided_at) == (
        ApprovalStatus.APPROVED,
        ["alice@example.com", "bob@example.com"],
        bob.at,
    )
    # AND the next approver's POST tells the waiting workflow instead of answering 409/410
    desk = ApprovalDesk(store, Votes(), b"k" * 32, workflow)  # type: ignore[arg-type]  # fakes
    again = desk.apply(stored, ApprovalVote(approver="alice@example.com", decision=VoteDecision.APPROVE, at=bob.at))
    assert (again.status, again.title) == (200, "Resumed")
    assert workflow.succeeded == [two.task_token]


def test_a_vote_that_races_another_approvers_vote_is_written_after_it(stack: Stack) -> None:
    from ecs_handoff.logic.approval_page import ApprovalDesk

    # GIVEN an approval that needs two approvals, read by alice and bob at the same moment
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    two = approval(approvers=["alice@example.com", "bob@example.com"], approvals_required=2)
    assert store.create(two)
    read_by_bob = store.get(two.approval_id)
    assert read_by_bob is not None
    alice = ApprovalVote(approver="alice@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:00.000Z")
    store.add_approval(read_by_bob, alice)
    # WHEN bob's vote is written against the approval as he read it (no votes)
    workflow = FakeWorkflow()
    votes = Votes()
    desk = ApprovalDesk(store, votes, b"k" * 32, workflow)  # type: ignore[arg-type]  # fakes
    bob = ApprovalVote(approver="bob@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:01.000Z")
    result = desk.apply(read_by_bob, bob)
    # THEN it is written after alice's and decides: approved by both, the workflow told once
    assert (result.status, result.title) == (200, "Approved")
    stored = store.get(two.approval_id)
    assert stored is not None and stored.status is ApprovalStatus.APPROVED
    assert stored.approved_by == ["alice@example.com", "bob@example.com"]
    assert workflow.succeeded == [two.task_token]
