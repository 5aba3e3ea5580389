"""Each approver's own link channel: an SNS topic for that one address, whose only subscription is theirs.

A link goes to the approver's topic, never to a shared one, so no filter policy decides who receives it
(SNS applies filter changes up to 15 minutes late, so a filter that reads as safe proves nothing). A
subscription's endpoint is fixed when it is made, so a topic whose one subscription is the approver's
confirmed email address delivers to that address and nobody else. Terraform creates the topics
(examples/terraform's handoff-environment module); request-approval and `handoff doctor` check them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ecs_handoff.aws.sns import Subscription


def topic_name(env: str, approver: str) -> str:
    """handoff-<env>-approver-<first 16 hex digits of sha256 of the lowercased address>. Terraform names the
    topic the same way: "handoff-${env}-approver-${substr(sha256(lower(address)), 0, 16)}" (sha256 of the
    UTF-8 text, lowercase hex, as here). A hash, because an address may hold characters a topic name may
    not; 64 bits, so two addresses sharing a name would take billions of approvers."""
    return f"handoff-{env}-approver-{hashlib.sha256(approver.lower().encode()).hexdigest()[:16]}"


def topic_arn(sns_arn_prefix: str, env: str, approver: str) -> str:
    """The topic's ARN, from arn:<partition>:sns:<region>:<account> (where handoff runs)."""
    return f"{sns_arn_prefix}:{topic_name(env, approver)}"


@dataclass(frozen=True)
class ChannelProblem:
    """Why a link may not go to this approver's topic, and what fixes it."""

    detail: str
    fix: str


def problem(approver: str, topic: str, subscriptions: Sequence[Subscription] | None) -> ChannelProblem | None:
    """None when the topic's subscriptions are exactly one: the approver's own address, by email, confirmed.
    `subscriptions` is None when the topic does not exist. Anything else stops the links: a subscription
    that is not theirs (another address, another protocol) would receive them, confirmed now or later; one
    not confirmed yet receives nothing, so the approver would wait for a link that never comes."""
    approver = approver.lower()
    name = topic.rsplit(":", 1)[-1]
    create = f"Terraform must create {name} with {approver}'s email subscription (examples/terraform)"
    if subscriptions is None:
        return ChannelProblem(f"{approver} has no approval topic: {name} does not exist", create)
    if not subscriptions:
        return ChannelProblem(f"{approver}'s approval topic {name} has no subscription", create)
    theirs = [s for s in subscriptions if s.protocol == "email" and s.endpoint.lower() == approver]
    for other in (s for s in subscriptions if s not in theirs):
        if not other.confirmed:
            return ChannelProblem(
                f"a subscription waiting for confirmation ({other.protocol} {other.endpoint}) on {approver}'s "
                f"approval topic {name} is not theirs, and once confirmed it would receive their links",
                "have it removed (or the topic recreated by Terraform)",
            )
        return ChannelProblem(
            f"subscription {other.arn} ({other.protocol} {other.endpoint}) on {approver}'s approval topic {name} "
            "is not theirs and would receive their links",
            f"remove it (aws sns unsubscribe --subscription-arn {other.arn})",
        )
    if len(theirs) > 1:
        return ChannelProblem(
            f"{approver}'s approval topic {name} has {len(theirs)} subscriptions for them, not one",
            "keep only the one Terraform manages",
        )
    if not theirs[0].confirmed:
        return ChannelProblem(
            f"{approver}'s subscription to {name} is not confirmed yet",
            f'{approver} clicks "Confirm subscription" in the email AWS sent them',
        )
    return None
