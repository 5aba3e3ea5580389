"""RequestApproval is safe to retry: one approval per deployment, nobody emailed twice, the new token waits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.models import VoteDecision

from tests.integration.conftest import HandlerError, Stack
from tests.integration.test_workflow_steps import ARN_PREFIX, NEW, start

APPROVERS = ["alice@example.com", "bob@example.com"]


def approval_event(state: dict[str, Any], token: str) -> dict[str, Any]:
    request = json.loads(json.dumps(state["request"]))
    request["service"].update(approval_required=True, approvers=APPROVERS)
    return {"request": request, "task_token": token, "execution_arn": ARN_PREFIX + request["deployment_id"]}


def approval_emails(stack: Stack) -> list[str]:
    """Who each approval message published since the last call was for (its SNS filter attribute)."""
    sent = stack.approval_messages[:]
    stack.approval_messages.clear()
    return sorted(sent)


@pytest.fixture
def approval_messages(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records every message published to the approvals topic. (A queue subscribed to the topic would
    be exactly what the request step refuses to send links to.)"""
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish
    stack.approval_messages = []

    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        attributes = kwargs.get("message_attributes") or {}
        if "approver" in attributes:
            value = attributes["approver"]
            stack.approval_messages.append(value.get("Value") or value.get("StringValue"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", publish)


def test_request_approval_retried_reuses_the_approval_and_emails_nobody_twice(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN a deployment whose approval was requested once
    state = start(stack, NEW)
    first = stack.invoke("request-approval", approval_event(state, "token-first"))
    assert approval_emails(stack) == APPROVERS
    # WHEN Step Functions retries the step (a timeout after the emails went out), with a new token
    second = stack.invoke("request-approval", approval_event(state, "token-retry"))
    # THEN it is the same approval, nobody gets a second email, and the new token is the one that waits
    assert second["approval_id"] == first["approval_id"]
    assert approval_emails(stack) == []
    stored = ApprovalStore(stack.outputs["ApprovalsTableName"]).get(first["approval_id"])
    assert stored is not None
    assert (stored.task_token, sorted(stored.emailed)) == ("token-retry", APPROVERS)


def test_request_approval_retried_after_a_partial_send_emails_only_who_was_missed(
    stack: Stack, approval_messages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sns.models import SNSBackend

    # GIVEN an attempt that emailed alice, then failed publishing bob's link
    state = start(stack, NEW)
    original, calls = SNSBackend.publish, [0]  # the recording publish of approvals_queue

    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("injected: SNS unavailable")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", publish)
    with pytest.raises(HandlerError):
        stack.invoke("request-approval", approval_event(state, "token-first"))
    assert approval_emails(stack) == ["alice@example.com"]
    # WHEN the step is retried
    stack.invoke("request-approval", approval_event(state, "token-retry"))
    # THEN only bob is emailed now
    assert approval_emails(stack) == ["bob@example.com"]


def test_two_approvers_racing_for_the_last_approval_cannot_both_win(stack: Stack, approval_messages: None) -> None:
    from ecs_handoff.errors import RecordConflict
    from ecs_handoff.models import ApprovalVote

    # GIVEN an approval that needs one approval, and both approvers pressing Approve at once
    state = start(stack, NEW)
    created = stack.invoke("request-approval", approval_event(state, "token-first"))
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    alice = ApprovalVote(approver="alice@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:00.000Z")
    bob = ApprovalVote(approver="bob@example.com", decision=VoteDecision.APPROVE, at="2026-11-27T00:00:00.001Z")
    read = store.get(created["approval_id"])
    assert read is not None
    store.add_approval(read, alice)
    # WHEN bob's conditional write lands second  THEN it is refused: one approval, one story
    with pytest.raises(RecordConflict):
        store.add_approval(read, bob)
    stored = store.get(created["approval_id"])
    assert stored is not None and stored.approved_by == ["alice@example.com"]
