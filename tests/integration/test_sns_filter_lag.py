"""SNS applies a subscription filter policy change late ("Amazon SNS subscription filter policies": additions
or changes require up to 15 minutes to fully take effect). The embedded AWS can do the same; handoff does
not depend on a filter policy (each approver has a topic of their own), which the last test holds."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecs_handoff_embedded import gaps
from ecs_handoff_embedded.seed import REGION
from moto import mock_aws

from tests.helpers import ROOT

LAG = 1.5  # long beside the milliseconds a call takes, so a busy machine cannot make "early" late
ONLY_APPROVALS = json.dumps({"kind": ["approval"]})


@pytest.fixture
def sns(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any, str, str]]:
    """A topic with one SQS subscription (moto delivers to SQS itself), the filter lag on."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        sns, sqs = session.client("sns"), session.client("sqs")
        topic = sns.create_topic(Name="filter-lag")["TopicArn"]
        queue = sqs.create_queue(QueueName="filter-lag")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
        undo = gaps.install_filter_policy_lag(lambda: LAG)
        try:
            yield sns, sqs, topic, subscription
        finally:
            undo()


def received(sqs: Any) -> int:
    url = sqs.get_queue_url(QueueName="filter-lag")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(messages)


def test_sns_filter_lag_a_new_policy_filters_only_after_the_lag(sns: tuple[Any, Any, str, str]) -> None:
    client, sqs, topic, subscription = sns
    # GIVEN a filter policy just added to the subscription (read back at once, as SNS stores it at once)
    client.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=ONLY_APPROVALS
    )
    stored = client.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert json.loads(stored["FilterPolicy"]) == {"kind": ["approval"]}
    # WHEN a message the policy does not match is published at once, and again after the lag
    client.publish(TopicArn=topic, Message="outcome")
    early = received(sqs)
    time.sleep(LAG + 0.1)
    client.publish(TopicArn=topic, Message="outcome")
    late = received(sqs)
    # THEN the first still got through (the old, empty policy), the second was filtered out
    assert (early, late) == (1, 0)


def test_sns_filter_lag_a_removed_policy_still_filters_during_the_lag(sns: tuple[Any, Any, str, str]) -> None:
    client, sqs, topic, subscription = sns
    # GIVEN a policy in effect, then removed
    client.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=ONLY_APPROVALS
    )
    time.sleep(LAG + 0.1)
    client.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue="")
    # WHEN a message it does not match is published at once, and after the lag
    client.publish(TopicArn=topic, Message="outcome")
    early = received(sqs)
    time.sleep(LAG + 0.1)
    client.publish(TopicArn=topic, Message="outcome")
    # THEN the removal took effect only after the lag
    assert (early, received(sqs)) == (0, 1)


def test_handoff_sets_and_relies_on_no_filter_policy() -> None:
    # GIVEN everything handoff deploys or runs: the stack, the Terraform example, the functions and the layer
    sources = [ROOT / "template.yaml", *(ROOT / "examples").rglob("*.tf")]
    sources += [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers").rglob("*.py")]
    # WHEN searched for a subscription filter policy, or the message attributes one would match on
    pattern = re.compile(r"FilterPolicy|filter_policy|MessageAttributes|message_attributes")
    found = [
        f"{path.relative_to(ROOT)}:{match.group(0)}" for path in sources for match in pattern.finditer(path.read_text())
    ]
    # THEN there is none: who gets an approval link is decided by the approver's own topic, not a filter
    assert len(sources) > 10 and found == []
