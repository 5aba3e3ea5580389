"""Each approver's own link channel: the topic's name, and when a link may go to it."""

from __future__ import annotations

import pytest
from ecs_handoff.approvals.channel import problem, topic_arn, topic_name
from ecs_handoff.aws.sns import Subscription

TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:handoff-prod-approver-ff8d9819fc0e12bf"
ALICE = Subscription(f"{TOPIC}:1111", "email", "alice@example.com")


def test_topic_name_is_the_env_and_a_hash_of_the_lowercased_address() -> None:
    # sha256("alice@example.com") starts ff8d9819fc0e12bf; capitals name the same topic; each env has its own
    assert topic_name("prod", "alice@example.com") == "handoff-prod-approver-ff8d9819fc0e12bf"
    assert topic_name("prod", "Alice@Example.COM") == topic_name("prod", "alice@example.com")
    assert topic_name("dev", "alice@example.com") == "handoff-dev-approver-ff8d9819fc0e12bf"
    assert topic_arn("arn:aws:sns:ap-northeast-1:123456789012", "prod", "alice@example.com") == TOPIC


@pytest.mark.parametrize("approver", ["alice@example.com", "ALICE@example.com"])
def test_problem_none_for_the_approvers_own_confirmed_email_alone(approver: str) -> None:
    assert problem(approver, TOPIC, [ALICE]) is None
    assert problem(approver, TOPIC, [Subscription(ALICE.arn, "email", "Alice@Example.com")]) is None


@pytest.mark.parametrize(
    ("subscriptions", "detail"),
    [
        (None, "alice@example.com has no approval topic: handoff-prod-approver-ff8d9819fc0e12bf does not exist"),
        ([], "alice@example.com's approval topic handoff-prod-approver-ff8d9819fc0e12bf has no subscription"),
        (
            [ALICE, Subscription(f"{TOPIC}:2222", "email", "mallory@evil.example")],
            f"subscription {TOPIC}:2222 (email mallory@evil.example) on alice@example.com's approval topic "
            "handoff-prod-approver-ff8d9819fc0e12bf is not theirs and would receive their links",
        ),
        (
            [ALICE, Subscription(f"{TOPIC}:3333", "email-json", "alice@example.com")],
            f"subscription {TOPIC}:3333 (email-json alice@example.com) on alice@example.com's approval topic "
            "handoff-prod-approver-ff8d9819fc0e12bf is not theirs and would receive their links",
        ),
        (
            [ALICE, Subscription("PendingConfirmation", "email", "mallory@evil.example")],
            "a subscription waiting for confirmation (email mallory@evil.example) on alice@example.com's approval "
            "topic handoff-prod-approver-ff8d9819fc0e12bf is not theirs, and once confirmed it would receive "
            "their links",
        ),
        (
            [Subscription("PendingConfirmation", "email", "alice@example.com")],
            "alice@example.com's subscription to handoff-prod-approver-ff8d9819fc0e12bf is not confirmed yet",
        ),
        (
            [ALICE, Subscription(f"{TOPIC}:4444", "email", "Alice@example.com")],
            "alice@example.com's approval topic handoff-prod-approver-ff8d9819fc0e12bf has 2 subscriptions for "
            "them, not one",
        ),
    ],
    ids=[
        "no-topic",
        "no-subscription",
        "another-address",
        "another-protocol",
        "pending-stranger",
        "own-pending",
        "two",
    ],
)
def test_problem_anything_but_exactly_their_confirmed_email_stops_the_links(
    subscriptions: list[Subscription] | None, detail: str
) -> None:
    found = problem("alice@example.com", TOPIC, subscriptions)
    assert found is not None and found.detail == detail


def test_problem_a_missing_topic_says_what_terraform_must_create() -> None:
    found = problem("alice@example.com", TOPIC, None)
    assert found is not None
    assert found.fix == (
        "Terraform must create handoff-prod-approver-ff8d9819fc0e12bf with alice@example.com's email "
        "subscription (examples/terraform)"
    )
