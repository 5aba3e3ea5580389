"""dev's api behind release controls: the blocking alarm's name, gate settings that look every second, an upload
and a wait for a phase (the `alarm` fixture that sets the alarm is in conftest.py)."""

from __future__ import annotations

from ecs_handoff.models import DeploymentRecord
from ecs_handoff_embedded.scenario import World, artifact, image

ALARM = "dev-api-5xx"
FAST = {"gate_poll_seconds": 1, "max_gate_wait_seconds": 120}


def upload(world: World, tag: str) -> str:
    return world.upload("dev", "api", artifact({"app-container": image("api", tag)}))


def wait_for(world: World, deployment_id: str, phase: str) -> DeploymentRecord:
    record = world.wait_phase("dev", deployment_id, phase)
    assert record.phase == phase, (record.phase, record.outcome, record.reason)
    return record
