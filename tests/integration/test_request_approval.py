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
    return {"request": request, "task_token": token, "execution_arn": ARN_PREFIX + request["deployment_id"]}


def require_approval(stack: Stack) -> None:
    """Terraform's registry entry for api asks the approvers (before the upload, so the intake copies it)."""
    ssm, name = stack.client("ssm"), "/handoff/dev/services/api"
    entry = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    entry.update(approval_required=True, approvers=APPROVERS)
    ssm.put_parameter(Name=name, Value=json.dumps(entry), Type="String", Overwrite=True)


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

    require_approval(stack)
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


def subscribe(stack: Stack, endpoint: str, *, pending: bool = False) -> str:
    """An email subscription on the approvals topic, as anyone with sns:Subscribe could make it. moto confirms
    every subscription at once; `pending` shows it the way SNS lists one not yet confirmed (no ARN)."""
    from ecs_handoff_embedded import world
    from moto.sns.models import sns_backends

    topic = stack.outputs["ApprovalsTopicArn"]
    arn = str(stack.client("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint=endpoint)["SubscriptionArn"])
    if pending:
        sns_backends[world.ACCOUNT_ID][world.REGION].subscriptions[arn].arn = "PendingConfirmation"
    return arn


def stored_approval(stack: Stack, state: dict[str, Any]) -> Any:
    from ecs_handoff.models import approval_id_for

    return ApprovalStore(stack.outputs["ApprovalsTableName"]).get(approval_id_for(state["request"]["deployment_id"]))


def test_request_approval_a_pending_subscription_that_is_no_approvers_stops_the_gate(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN mallory's subscription to the approvals topic, not confirmed yet (its filter cannot be read)
    state = start(stack, NEW)
    subscribe(stack, "mallory@evil.example", pending=True)
    # WHEN approval is requested
    with pytest.raises(HandlerError) as refused:
        stack.invoke("request-approval", approval_event(state, "token-first"))
    # THEN no link goes out, nothing is stored, and the reason names the subscription
    assert refused.value.error_type == "ApprovalChannelUnsafe"
    assert "waiting for confirmation (email mallory@evil.example)" in str(refused.value)
    assert approval_emails(stack) == []
    assert stored_approval(stack, state) is None


def test_request_approval_an_approvers_own_pending_subscription_does_not_stop_the_gate(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN bob's own subscription, not confirmed yet
    state = start(stack, NEW)
    subscribe(stack, "Bob@example.com", pending=True)
    # WHEN approval is requested  THEN both approvers are sent their links
    stack.invoke("request-approval", approval_event(state, "token-first"))
    assert approval_emails(stack) == APPROVERS


def test_request_approval_checks_the_channel_before_each_link(
    stack: Stack, approval_messages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecs_handoff.models import ApprovalStatus
    from moto.sns.models import SNSBackend

    # GIVEN mallory subscribing (no filter policy) right after alice's link went out
    state = start(stack, NEW)
    original, sent = SNSBackend.publish, [0]  # the recording publish of approval_messages

    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        sent[0] += 1
        if sent[0] == 1:
            self.subscribe(stack.outputs["ApprovalsTopicArn"], "mallory@evil.example", "email")
        return result

    monkeypatch.setattr(SNSBackend, "publish", publish)
    # WHEN approval is requested
    with pytest.raises(HandlerError) as refused:
        stack.invoke("request-approval", approval_event(state, "token-first"))
    # THEN bob's link is not published (mallory would get it), and alice's stops working
    assert refused.value.error_type == "ApprovalChannelUnsafe"
    assert "mallory@evil.example" in str(refused.value)
    assert approval_emails(stack) == ["alice@example.com"]
    approval = stored_approval(stack, state)
    assert approval is not None and approval.status is ApprovalStatus.CANCELLED
