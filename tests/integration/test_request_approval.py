"""RequestApproval: safe to retry (one approval per deployment, nobody emailed twice, the new token waits), and
each link goes to its approver's own topic only when that topic reaches exactly that approver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.models import VoteDecision

from tests.integration.approvals import APPROVERS, approval_emails, topic_of
from tests.integration.conftest import HandlerError, Stack
from tests.integration.steps import ARN_PREFIX, NEW, edit_registry, start


def approval_event(state: dict[str, Any], token: str) -> dict[str, Any]:
    request = json.loads(json.dumps(state["request"]))
    return {"request": request, "task_token": token, "execution_arn": ARN_PREFIX + request["deployment_id"]}


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


def subscribe(stack: Stack, approver: str, endpoint: str, protocol: str = "email", *, pending: bool = False) -> str:
    """A subscription on the approver's topic, as anyone with sns:Subscribe could make it. moto confirms every
    subscription at once; `pending` shows it the way SNS lists one not yet confirmed (no ARN)."""
    arn = str(
        stack.client("sns").subscribe(TopicArn=topic_of(stack, approver), Protocol=protocol, Endpoint=endpoint)[
            "SubscriptionArn"
        ]
    )
    if pending:
        make_pending(arn)
    return arn


def make_pending(arn: str) -> None:
    from ecs_handoff_embedded import seed
    from moto.sns.models import sns_backends

    sns_backends[seed.ACCOUNT_ID][seed.REGION].subscriptions[arn].arn = "PendingConfirmation"


def own_subscription(stack: Stack, approver: str) -> str:
    [subscription] = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic_of(stack, approver))[
        "Subscriptions"
    ]
    return str(subscription["SubscriptionArn"])


def stored_approval(stack: Stack, state: dict[str, Any]) -> Any:
    from ecs_handoff.models import approval_id_for

    return ApprovalStore(stack.outputs["ApprovalsTableName"]).get(approval_id_for(state["request"]["deployment_id"]))


def refused(stack: Stack, state: dict[str, Any]) -> str:
    """Requests approval, expecting the gate to stop: no link to anyone, nothing stored. The reason."""
    with pytest.raises(HandlerError) as stopped:
        stack.invoke("request-approval", approval_event(state, "token-first"))
    assert stopped.value.error_type == "ApprovalChannelUnsafe"
    assert approval_emails(stack) == []
    assert stored_approval(stack, state) is None
    return str(stopped.value).removeprefix("ApprovalChannelUnsafe: ")


def test_request_approval_sends_each_link_to_its_approvers_own_topic_only(
    stack: Stack, approval_messages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sns.models import SNSBackend

    # GIVEN each approver's topic with their own confirmed email subscription (as Terraform makes it)
    state = start(stack, NEW)
    bodies: dict[str, str] = {}
    original = SNSBackend.publish

    def publish(self: Any, message: str, *args: Any, **kwargs: Any) -> Any:
        bodies[kwargs["arn"]] = message
        return original(self, message, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", publish)
    # WHEN approval is requested
    stack.invoke("request-approval", approval_event(state, "token-first"))
    # THEN each topic got one message: the link for its own approver, and no one else's
    assert sorted(bodies) == sorted(topic_of(stack, a) for a in APPROVERS)
    for approver in APPROVERS:
        assert f"this link is for {approver} only" in bodies[topic_of(stack, approver)]
        assert all(other not in bodies[topic_of(stack, approver)] for other in APPROVERS if other != approver)


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [("email", "mallory@evil.example"), ("email-json", "bob@example.com")],
    ids=["a-second-address", "another-protocol"],
)
def test_request_approval_a_second_subscription_on_an_approvers_topic_stops_the_gate(
    stack: Stack, approval_messages: None, protocol: str, endpoint: str
) -> None:
    # GIVEN another subscription, confirmed, on bob's topic
    state = start(stack, NEW)
    arn = subscribe(stack, "bob@example.com", endpoint, protocol)
    # WHEN approval is requested  THEN nobody gets a link, and the reason names the subscription and its fix
    reason = refused(stack, state)
    name = topic_of(stack, "bob@example.com").rsplit(":", 1)[1]
    assert reason == (
        f"no approval link was sent: subscription {arn} ({protocol} {endpoint}) on bob@example.com's approval "
        f"topic {name} is not theirs and would receive their links; remove it (aws sns unsubscribe "
        f"--subscription-arn {arn}), then upload again"
    )


def test_request_approval_a_pending_subscription_on_an_approvers_topic_stops_the_gate(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN mallory's subscription to alice's topic, not confirmed yet
    state = start(stack, NEW)
    subscribe(stack, "alice@example.com", "mallory@evil.example", pending=True)
    # WHEN approval is requested  THEN nobody gets a link, and the reason names the subscription
    assert "a subscription waiting for confirmation (email mallory@evil.example) on alice@example.com's" in refused(
        stack, state
    )


def test_request_approval_an_approvers_own_unconfirmed_subscription_stops_the_gate(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN bob has not confirmed his subscription yet (his link would reach nobody)
    state = start(stack, NEW)
    make_pending(own_subscription(stack, "bob@example.com"))
    # WHEN approval is requested  THEN nobody gets a link, and the reason says what bob must do
    name = topic_of(stack, "bob@example.com").rsplit(":", 1)[1]
    assert refused(stack, state) == (
        f"no approval link was sent: bob@example.com's subscription to {name} is not confirmed yet; "
        'bob@example.com clicks "Confirm subscription" in the email AWS sent them, then upload again'
    )


def test_request_approval_an_approver_without_a_topic_stops_the_gate_naming_the_topic_to_create(
    stack: Stack, approval_messages: None
) -> None:
    from ecs_handoff.approvals import channel

    # GIVEN carol added to the registry's approvers before Terraform made her topic
    edit_registry(stack, approvers=[*APPROVERS, "carol@example.com"])
    state = start(stack, NEW)
    # WHEN approval is requested  THEN nobody gets a link, and the reason names the topic Terraform must create
    topic = channel.topic_name("dev", "carol@example.com")
    assert refused(stack, state) == (
        f"no approval link was sent: carol@example.com has no approval topic: {topic} does not exist; "
        f"Terraform must create {topic} with carol@example.com's email subscription (examples/terraform), "
        "then upload again"
    )


def test_request_approval_an_approvers_topic_without_a_subscription_stops_the_gate(
    stack: Stack, approval_messages: None
) -> None:
    # GIVEN alice's topic with her subscription removed
    state = start(stack, NEW)
    stack.client("sns").unsubscribe(SubscriptionArn=own_subscription(stack, "alice@example.com"))
    # WHEN approval is requested  THEN nobody gets a link; the reason says Terraform must subscribe her
    reason = refused(stack, state)
    assert "alice@example.com's approval topic handoff-dev-approver-" in reason and "has no subscription" in reason
    assert "with alice@example.com's email subscription" in reason


def test_request_approval_checks_the_approvers_topic_before_each_link(
    stack: Stack, approval_messages: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecs_handoff.models import ApprovalStatus
    from moto.sns.models import SNSBackend

    # GIVEN mallory subscribing to bob's topic right after alice's link went out
    state = start(stack, NEW)
    original, sent = SNSBackend.publish, [0]  # the recording publish of approval_messages

    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        sent[0] += 1
        if sent[0] == 1:
            self.subscribe(topic_of(stack, "bob@example.com"), "mallory@evil.example", "email")
        return result

    monkeypatch.setattr(SNSBackend, "publish", publish)
    # WHEN approval is requested
    with pytest.raises(HandlerError) as stopped:
        stack.invoke("request-approval", approval_event(state, "token-first"))
    # THEN bob's link is not published (mallory would get it), and alice's stops working
    assert stopped.value.error_type == "ApprovalChannelUnsafe"
    assert str(stopped.value).startswith(
        "ApprovalChannelUnsafe: no further approval link was sent, and the links sent to alice@example.com no "
        "longer work: subscription "
    )
    assert "(email mallory@evil.example) on bob@example.com's approval topic" in str(stopped.value)
    assert approval_emails(stack) == ["alice@example.com"]
    approval = stored_approval(stack, state)
    assert approval is not None and approval.status is ApprovalStatus.CANCELLED
