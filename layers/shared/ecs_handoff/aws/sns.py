"""SNS access: one readable message per terminal outcome; who is subscribed to a topic, and how."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client, error_code
from ecs_handoff.errors import NotFound

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SNSClient


MAX_SUBJECT = 99  # fewer than 100 characters


def publish(
    topic_arn: str,
    subject: str,
    message: str,
    sns: SNSClient | None = None,
    chat: dict[str, Any] | None = None,
) -> None:
    """message to every subscriber; with chat, one publish with MessageStructure=json: the text for email
    (and every other protocol), the chat card for HTTPS subscribers (Amazon Q Developer in chat
    applications subscribes to a topic over HTTPS)."""
    sns = sns or client("sns")
    # SNS: "Constraints: Subjects must be ... less than 100 characters long".
    kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Subject": subject[:MAX_SUBJECT], "Message": message}
    if chat is not None:
        kwargs["MessageStructure"] = "json"
        kwargs["Message"] = json.dumps({"default": message, "email": message, "https": json.dumps(chat)})
    with aws_call(f"publishing to {topic_arn}"):
        sns.publish(**kwargs)


@dataclass(frozen=True)
class Subscription:
    arn: str  # "PendingConfirmation" until the address confirms
    protocol: str
    endpoint: str  # fixed when the subscription is made: SNS has no call that changes it

    @property
    def confirmed(self) -> bool:
        return self.arn.startswith("arn:")


def subscriptions(topic_arn: str, sns: SNSClient | None = None) -> list[Subscription]:
    """Every subscription on the topic, pending ones included; NotFound when there is no such topic."""
    from botocore.exceptions import ClientError

    sns = sns or client("sns")
    found: list[Subscription] = []
    with aws_call(f"listing the subscriptions of {topic_arn}"):
        try:
            for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
                for item in page.get("Subscriptions", []):
                    arn, protocol = str(item.get("SubscriptionArn", "")), str(item.get("Protocol", ""))
                    found.append(Subscription(arn, protocol, str(item.get("Endpoint", ""))))
        except ClientError as exc:
            if error_code(exc) != "NotFound":  # SNS's code for a topic that does not exist
                raise
            raise NotFound(f"topic {topic_arn} does not exist") from exc
    return found


def topic_policy(topic_arn: str, sns: SNSClient | None = None) -> dict[str, Any]:
    """The topic's access policy (its resource policy), parsed."""
    sns = sns or client("sns")
    with aws_call(f"reading the attributes of {topic_arn}"):
        attributes = sns.get_topic_attributes(TopicArn=topic_arn).get("Attributes", {})
    return dict(json.loads(attributes.get("Policy") or "{}"))
