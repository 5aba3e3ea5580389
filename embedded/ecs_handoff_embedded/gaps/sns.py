"""#4 SNS: a message to an email subscription is written to the outbox as the email a person gets, and one
to Amazon Q Developer in chat applications' endpoint as the notification it receives.
#16 SNS: "Additions or changes to a subscription filter policy require up to 15 minutes to fully take effect"
("Amazon SNS subscription filter policies"). With a lag set, a FilterPolicy set by SetSubscriptionAttributes
is stored and read back at once (GetSubscriptionAttributes shows it) but messages are filtered by the policy
the subscription had before until the lag has passed. handoff sets no filter policy (one topic per approver)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
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


class _LateFilter:
    """A subscription's filter while a change to it is not yet in effect: the policy before it decides until
    `applies_at` (time.monotonic()), the new one after; None on either side lets every message through."""

    def __init__(self, before: Any, after: Any, applies_at: float) -> None:
        self.before, self.after, self.applies_at = before, after, applies_at

    def current(self) -> Any:
        if time.monotonic() < self.applies_at:
            return self.before.current() if isinstance(self.before, _LateFilter) else self.before
        return self.after

    def matches(self, message_attributes: dict[str, Any] | None, message: str) -> bool:
        matcher = self.current()
        return matcher is None or bool(matcher.matches(message_attributes, message))


def install_filter_policy_lag(lag_seconds: Callable[[], float]) -> Undo:
    """A FilterPolicy change (SetSubscriptionAttributes) filters messages only `lag_seconds()` after it was made."""
    from moto.sns.models import SNSBackend

    original = SNSBackend.set_subscription_attributes

    def set_subscription_attributes(self: Any, arn: str, name: str, value: Any) -> None:
        subscription = next((s for s in self.subscriptions.values() if s.arn == arn), None)
        before = subscription._filter_policy_matcher if subscription is not None else None
        original(self, arn, name, value)
        lag = lag_seconds()
        if subscription is None or name != "FilterPolicy" or lag <= 0:
            return
        after = subscription._filter_policy_matcher
        subscription._filter_policy_matcher = _LateFilter(before, after, time.monotonic() + lag)

    return replace(SNSBackend, "set_subscription_attributes", set_subscription_attributes)
