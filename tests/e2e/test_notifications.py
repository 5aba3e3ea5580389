"""Outcome notifications: readable text for email, a custom-notification card for a chat channel
(Amazon Q Developer in chat applications), from one SNS publish with MessageStructure=json."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.gaps import CHAT_ENDPOINT
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image


@pytest.fixture
def chat_channel(embedded: EmbeddedAws) -> Iterator[None]:
    """The dev notifications topic subscribed to a chat channel, as the chat service's console does it."""
    sns = embedded.client("sns")
    topic = embedded.stacks["dev"].outputs["NotificationsTopicArn"]
    arn = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=CHAT_ENDPOINT)["SubscriptionArn"]
    yield
    sns.unsubscribe(SubscriptionArn=arn)


def chat_cards(embedded: EmbeddedAws, deployment_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in embedded.outbox.chat_messages() if m.get("id") == deployment_id]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_outcome_reaches_email_as_text_and_chat_as_a_card(
    world: World, embedded: EmbeddedAws, chat_channel: None
) -> None:
    images = {"app-container": image("api", "dev-chat001")}
    record = world.wait("dev", world.upload("dev", "api", artifact(images)))
    assert record.outcome is Outcome.SUCCEEDED
    # email: the plain text, not the JSON structure
    [email] = world.outcome_emails("dev", record.id)
    assert "Outcome:     SUCCEEDED" in email and '"default"' not in email
    # chat: the documented custom-notification schema
    [card] = chat_cards(embedded, record.id)
    assert (card["version"], card["source"]) == ("1.0", "custom")
    content = card["content"]
    assert content["textType"] == "client-markdown"
    assert content["title"] == ":white_check_mark: api in dev: SUCCEEDED"
    assert (
        "*app-container:* `123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api:dev-chat001`" in content["description"]
    )
    assert f"*Deployment:* `{record.id}`" in content["description"]
    assert content["nextSteps"][0] == "`handoff history --env dev --service api`"
    assert "states/home?region=ap-northeast-1#/v2/executions/details/arn:aws:states:" in content["nextSteps"][1]
    assert content["keywords"] == ["dev", "api", "SUCCEEDED"]
    assert card["metadata"]["threadId"] == "handoff-dev-api"


def test_refusal_text_cannot_ping_a_channel(world: World, embedded: EmbeddedAws, chat_channel: None) -> None:
    # a refused upload whose reason quotes what CI sent: a Slack mention in it stays text
    record = world.wait("dev", world.upload("dev", "api", artifact({"<!channel>": image("api", "dev-chat002")})))
    assert record.outcome is Outcome.INVALID
    [card] = chat_cards(embedded, record.id)
    assert card["content"]["title"] == ":no_entry: api in dev: INVALID"
    assert "<!channel>" not in card["content"]["description"]
    assert "&lt;!channel&gt;" in card["content"]["description"]
