"""SNS access: one readable message per terminal outcome."""

from __future__ import annotations

from typing import Any

from ecs_handoff.aws.clients import aws_call, client


def publish(
    topic_arn: str, subject: str, message: str, attributes: dict[str, str] | None = None, sns: Any = None
) -> None:
    sns = sns or client("sns")
    kwargs: dict[str, Any] = {"TopicArn": topic_arn, "Subject": subject[:100], "Message": message}
    if attributes:
        kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
    with aws_call(f"publishing to {topic_arn}"):
        sns.publish(**kwargs)
