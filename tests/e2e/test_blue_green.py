"""ECS's own BLUE_GREEN, LINEAR and CANARY deployments through the real ASL, on the embedded world's `web`
services: prod's BLUE_GREEN asks its approvers while green serves only the test listener (a PAUSE hook at
POST_TEST_TRAFFIC_SHIFT), dev's LINEAR rolls back when its deployment alarm fires."""

from __future__ import annotations

import time
from typing import Any

from ecs_handoff.models import Outcome, Phase
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.people import ALICE, BOB
from tests.e2e.traffic import listeners, state_transitions


def release(world: World, tag: str) -> str:
    """Uploads a build of prod's web and waits until its approvers are asked (ECS holds green at the hook)."""
    deployment_id = world.upload("prod", "web", artifact({"app": image("web", tag)}))
    record = world.wait_phase("prod", deployment_id, "awaiting_approval", timeout=60)
    assert record.outcome is Outcome.AWAITING_APPROVAL, record.reason
    return deployment_id


def test_blue_green_approved_moves_production_traffic_only_after_the_decision(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN prod's web on blue
    rules = listeners(embedded, "prod")
    before = world.running("prod", "web")["task_definition"]
    # WHEN a build is uploaded
    deployment_id = release(world, "prod-b1a0001")
    # THEN the approvers are asked while green serves only the test listener: production stays 100/0 on blue
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (0, 100)
    email = world.approval_email(ALICE, deployment_id)
    assert "before production traffic moves" in email and "http://prod-web-" in email and ":8080" in email
    status, page = world.open(world.approval_link(ALICE, deployment_id))
    assert status == 200 and "Green is up on the test listener" in page and before.rsplit("/", 1)[-1] in page
    record = world.records("prod").get(deployment_id)
    assert record is not None and record.service_deployment["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert "ecs:POST_TEST_TRAFFIC_SHIFT" in record.timeline
    time.sleep(1.0)  # nothing moves while nobody has decided
    assert rules.weights("production") == (100, 0)
    # WHEN alice approves
    assert world.decide(world.approval_link(ALICE, deployment_id), "approve", "looks good on :8080")[0] == 200
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN ECS moves production traffic to green, and ECS's verdict is the outcome
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert "approved by alice@example.com" in record.reason and "SUCCESSFUL" in record.reason
    assert rules.weights("production") == (0, 100)
    assert world.running("prod", "web")["images"]["app"] == world.pinned(image("web", "prod-b1a0001"))
    # AND the workflow took no look per stage: a handful of state transitions, approval included
    entered = state_transitions(embedded, "prod", deployment_id)
    assert len(entered) <= 20, entered
    assert entered.count("RequestTrafficApproval") == 1 and "RequestApproval" not in entered
