"""Attack: the finalizer's status-event path believes only DescribeExecution, but its workflow path
(the payload the Finalize step passes) is taken as it comes. Anyone allowed to invoke the finalize
function hands it a WorkflowState for a running deployment with a verdict of their choosing."""

from __future__ import annotations

import json

from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World

from tests.e2e.locks import lock_item
from tests.e2e.sweeping import Hold, assert_finalized_as_stopped, stop


def test_a_forged_workflow_state_cannot_finish_a_running_deployment_or_free_its_lock(
    world: World, embedded: EmbeddedAws, held: Hold
) -> None:
    # GIVEN a deployment whose execution runs (held by a closed calendar) and holds worker's lock
    record = held("dev-atk2f01")
    assert record.execution_arn is not None
    described = embedded.client("stepfunctions").describe_execution(executionArn=record.execution_arn)
    request = json.loads(described["input"])["request"]
    # WHEN someone allowed to invoke the finalizer hands it the workflow's own shape, with a verdict
    forged = {"request": request, "ended_outcome": {"outcome": "FAILED", "reason": "forged: nothing to see"}}
    raw = (
        embedded.client("lambda")
        .invoke(FunctionName="handoff-dev-finalize", Payload=json.dumps(forged).encode())["Payload"]
        .read()
    )
    # THEN (as for a forged status event) Step Functions, not the payload, decides: it still runs, so
    # nothing is recorded and the lock stays with it
    after = world.records("dev").get(record.id)
    lock = lock_item(embedded, "dev", "worker")
    try:
        outcome = after.outcome if after is not None else None
        holder = lock["holder"]["S"] if lock is not None else None
        assert (outcome, holder) == (Outcome.IN_PROGRESS, record.id), (raw, after and after.reason)
    finally:
        stop(embedded, record, lose_its_event=False)
    assert_finalized_as_stopped(world, embedded, record.id)
