"""ECS's deployment events in the embedded AWS, and the function EventBridge hands them to."""

from __future__ import annotations

from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws

EVENT_FUNCTION = "handoff-dev-rollout-event"
SLOW_CHECKS = 60  # the workflow's own look comes only after a minute: a quick verdict is the event's


def ecs_events(embedded: EmbeddedAws, ecs_deployment_id: str | None) -> list[dict[str, Any]]:
    # (hook events, of BLUE_GREEN, LINEAR and CANARY services, name no deploymentId)
    return [e for e in embedded.ecs_events if e["detail"].get("deploymentId") == ecs_deployment_id]
