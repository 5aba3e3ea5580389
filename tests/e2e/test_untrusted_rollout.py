"""Re-derive, don't trust (issue 23, finding 4) on the embedded stack: a forged "ECS Deployment State Change"
invoked straight on the rollout event function cannot decide a rollout that ECS is still running."""

from __future__ import annotations

import copy
import json
from typing import Any

from ecs_handoff.models import Outcome, VerdictSource
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.rollout_events import EVENT_FUNCTION, SLOW_CHECKS, ecs_events


def test_rollout_event_forged_completed_while_ecs_rolls_out_does_not_record_succeeded(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a rollout whose tasks never start (ECS's circuit breaker will call it FAILED), still in progress
    registry("dev", "worker", rollout_check_seconds=SLOW_CHECKS)
    embedded.hold_rollouts()  # ECS decides only when released, after the forged event
    good = world.running("dev", "worker")
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "fail-forge01")}))
    ecs_id = world.wait_phase("dev", deployment_id, "rolling_out").ecs_deployment_id
    (started,) = ecs_events(embedded, ecs_id)  # IN_PROGRESS only: ECS has not decided yet
    # WHEN someone allowed to invoke the function sends it a well-formed COMPLETED event for that deployment
    forged = copy.deepcopy(started)
    forged["detail"].update(eventName="SERVICE_DEPLOYMENT_COMPLETED", reason=f"ECS deployment {ecs_id} completed.")
    response = embedded.client("lambda").invoke(FunctionName=EVENT_FUNCTION, Payload=json.dumps(forged))
    said = json.loads(response["Payload"].read())
    # THEN the function ignores it, because ECS does not show the deployment COMPLETED
    assert said["done"].startswith(f"ignored: the event says COMPLETED, but ECS shows deployment {ecs_id} IN_PROGRESS")
    # AND ECS's own verdict decides: FAILED, with ECS's reason, and ECS's rollback stands
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id)
    assert record.outcome is Outcome.FAILED, record.reason
    assert record.verdict_by is VerdictSource.EVENT and "circuit breaker" in record.reason
    assert world.running("dev", "worker")["task_definition"] == good["task_definition"]
