"""RequestApproval is safe to retry: one approval per deployment, nobody emailed twice, the new token waits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore

from tests.integration.conftest import HandlerError, Stack
from tests.integration.test_workflow_steps import ARN_PREFIX, NEW, start

APPROVERS = ["alice@example.com", "bob@example.com"]


def approval_event(state: dict[str, Any], token: str) -> dict[str, Any]:
    request = json.loads(json.dumps(state["request"]))
    request["service"].update(approval_required=True, approvers=APPROVERS)
    return {"request": request, "task_token": token, "execution_arn": ARN_PREFIX + request["deployment_id"]}


def approval_emails(stack: Stack) -> list[str]:
    """Who each approval message was for (the SNS filter attribute), read from a queue on the topic."""
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName="test-approvals")["QueueUrl"]
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages", []
    ):
        for message in batch:
            found.append(json.loads(message["Body"])["MessageAttributes"]["approver"]["Value"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return sorted(found)


@pytest.fixture
def approvals_queue(stack: Stack) -> None:
    sqs, sns = stack.client("sqs"), stack.client("sns")
    url = sqs.create_queue(QueueName="test-approvals")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.outputs["ApprovalsTopicArn"], Protocol="sqs", Endpoint=arn)


def test_request_approval_retried_reuses_the_approval_and_emails_nobody_twice(stack: Stack, approvals_queue: None):
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
    stack: Stack, approvals_queue: None, monkeypatch: pytest.MonkeyPatch
):
    from moto.sns.models import SNSBackend

    # GIVEN an attempt that emailed alice, then failed publishing bob's link
    state = start(stack, NEW)
    original, calls = SNSBackend.publish, [0]

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
