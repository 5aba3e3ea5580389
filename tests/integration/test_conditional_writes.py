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
from tests.unit.test_approval_decision import approval


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
    assert holder is not None and (holder["holder"], holder["execution_arn"]) == ("api-v1", "arn:execution:api-v1")
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
            store.add_approval(pending.approval_id, bob)
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
