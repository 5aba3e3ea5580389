"""SNS access: one readable message per terminal outcome; who is subscribed to a topic, and how."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SNSClient


def publish(
    topic_arn: str,
    subject: str,
    message: str,
    attributes: dict[str, str] | None = None,
    sns: SNSClient | None = None,
    chat: dict[str, Any] | None = None,
) -> None:
    """message to every subscriber; with chat, one publish with MessageStructure=json: the text for email
    (and every other protocol), the chat card for HTTPS subscribers (Amazon Q Developer in chat
    applications subscribes to a topic over HTTPS)."""
    sns = sns or client("sns")
    kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Subject": subject[:100], "Message": message}
    if chat is not None:
        kwargs["MessageStructure"] = "json"
        kwargs["Message"] = json.dumps({"default": message, "email": message, "https": json.dumps(chat)})
    if attributes:
        kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
    with aws_call(f"publishing to {topic_arn}"):
        sns.publish(**kwargs)


@dataclass(frozen=True)
class Subscription:
    arn: str  # "PendingConfirmation" until the address confirms
    protocol: str
    endpoint: str
    filter_policy: Any  # the parsed policy; None when there is none

    @property
    def confirmed(self) -> bool:
        return self.arn.startswith("arn:")

    @property
    def email(self) -> bool:
        return self.protocol in ("email", "email-json")

    def own_filter(self, attribute: str) -> dict[str, list[str]]:
        """The only filter policy under which this subscription receives just the messages meant for it."""
        return {attribute: [self.endpoint.lower()]}

    def receives_only_its_own(self, attribute: str) -> bool:
        """An email address filtered to exactly its own messages (approval links, one approver each)."""
        return self.email and self.filter_policy == self.own_filter(attribute)


def subscriptions(topic_arn: str, sns: SNSClient | None = None) -> list[Subscription]:
    """Every subscription on the topic, with its filter policy (confirmed ones; a pending one has no ARN yet)."""
    sns = sns or client("sns")
    found: list[Subscription] = []
    with aws_call(f"listing the subscriptions of {topic_arn}"):
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for item in page.get("Subscriptions", []):
                arn, policy = str(item.get("SubscriptionArn", "")), None
                if arn.startswith("arn:"):
                    attributes = sns.get_subscription_attributes(SubscriptionArn=arn).get("Attributes", {})
                    policy = json.loads(attributes["FilterPolicy"]) if attributes.get("FilterPolicy") else None
                found.append(Subscription(arn, str(item.get("Protocol", "")), str(item.get("Endpoint", "")), policy))
    return found
