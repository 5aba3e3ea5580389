"""A deployment held running and what ends it when no status event does: its execution stopped (the event lost on
the way, or not), one tick of the sweeper's schedule, and what a stopped deployment is finalized as (the `held`
fixture is in conftest.py)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

from ecs_handoff.models import DeploymentRecord, Outcome, Phase
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World

from tests.e2e.history import execution_ended
from tests.e2e.locks import lock_item

CALENDAR = "sweeper-freeze"  # the closed change calendar that holds a deployment
SWEEPER = "handoff-dev-sweeper"
Hold = Callable[[str], DeploymentRecord]


def stop(embedded: EmbeddedAws, record: DeploymentRecord, lose_its_event: bool) -> dict[str, Any]:
    """Stops the deployment's execution (its status event lost on the way, or not); returns that event."""
    arn = record.execution_arn
    assert arn is not None

    def emitted() -> list[dict[str, Any]]:
        return [e for e in embedded.execution_status_events if e["detail"]["executionArn"] == arn]

    embedded.drop_execution_status_events = lose_its_event
    try:
        embedded.client("stepfunctions").stop_execution(
            executionArn=arn, error="Operator", cause="stopped by dana for INC-77"
        )
        assert execution_ended(embedded, arn) == "ABORTED"
        deadline = time.monotonic() + 10  # the worker emits the event just after the status changes
        while not emitted():
            assert time.monotonic() < deadline, "the execution ended without a status event"
            time.sleep(0.02)
        assert embedded.wait_idle(60)
    finally:
        embedded.drop_execution_status_events = False
    [event] = emitted()
    return copy.deepcopy(event)


def sweep(embedded: EmbeddedAws) -> dict[str, Any]:
    """One tick of the sweeper's schedule; what that sweep returned."""
    assert embedded.runner is not None
    before = len(embedded.runner.invocations)
    embedded.fire_schedule(SWEEPER)
    assert embedded.wait_idle(30)
    [run] = [i for i in embedded.runner.invocations[before:] if i.function == SWEEPER]
    assert run.error is None, run.output
    result: dict[str, Any] = json.loads(run.output)
    return result


def assert_finalized_as_stopped(world: World, embedded: EmbeddedAws, deployment_id: str) -> DeploymentRecord:
    """FAILED saying it was stopped (with StopExecution's error and cause where what finalized it had them),
    notified once, the lock free."""
    done = world.records("dev").get(deployment_id)
    assert done is not None and done.outcome is Outcome.FAILED and done.phase is Phase.FINISHED
    assert done.reason.startswith("the workflow was stopped (StopExecution) before it recorded an outcome")
    assert done.reason.endswith("; nothing was deployed")
    assert len(world.outcome_emails("dev", deployment_id)) == 1
    assert lock_item(embedded, "dev", "worker") is None
    return done
