"""#4 SNS: a message to an email subscription is written to the outbox as the email a person gets, and one
to Amazon Q Developer in chat applications' endpoint as the notification it receives."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, replace


class Outbox:
    """Where every email handoff sends lands, one file per recipient and message."""

    def __init__(self, directory: Path, echo: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._count = itertools.count(1)

    def write(self, recipient: str, subject: str, body: str, topic_arn: str) -> Path:
        stamp = dt.datetime.now(dt.UTC)
        safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in recipient)
        path = self.directory / f"{stamp:%Y%m%dT%H%M%S}-{next(self._count):04d}-{safe}.txt"
        text = (
            f"To: {recipient}\nFrom: no-reply@sns.amazonaws.com\nDate: {stamp:%a, %d %b %Y %H:%M:%S +0000}\n"
            f"Subject: {subject}\nX-SNS-Topic: {topic_arn}\n\n{body}"
        )
        path.write_text(text, encoding="utf-8")
        if self.echo:
            self.echo(f"email to {recipient}: {subject} ({path})")
        return path

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.txt"))

    def write_chat(self, endpoint: str, message: str, topic_arn: str) -> Path:
        """What Amazon Q Developer in chat applications received (it would show it as a card)."""
        stamp = dt.datetime.now(dt.UTC)
        path = self.directory / "chat" / f"{stamp:%Y%m%dT%H%M%S}-{next(self._count):04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"endpoint": endpoint, "topic": topic_arn, "message": message}), encoding="utf-8")
        if self.echo:
            self.echo(f"chat notification ({path})")
        return path

    def chat_messages(self) -> list[dict[str, Any]]:
        """Each chat notification received, parsed as the chat service would parse it."""
        found = sorted((self.directory / "chat").glob("*.json"))
        return [json.loads(json.loads(p.read_text(encoding="utf-8"))["message"]) for p in found]


CHAT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"  # where Q Developer's subscriptions point


def install_email_outbox(outbox: Outbox) -> Undo:
    """Email and chat subscriptions deliver to the outbox (moto sends no email, and the chat service is
    not reachable): each gets the message SNS would give its protocol, MessageStructure=json included."""
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        chat = self.protocol == "https" and self.endpoint.rstrip("/") == CHAT_ENDPOINT
        if self.protocol not in ("email", "email-json") and not chat:
            original(self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs)
            return None
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if kwargs.get("message_structure") == "json":
            message = self._parse_message_structure(message, self.protocol)
        if chat:
            outbox.write_chat(self.endpoint, message, self.topic.arn)
        else:
            outbox.write(self.endpoint, subject or "(no subject)", message, self.topic.arn)
        return None

    return replace(Subscription, "publish", publish)
