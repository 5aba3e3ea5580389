"""Step Functions' status events are best effort (a lost one, one without its input over 248 KB): the
finalizer reads a left-out input back from DescribeExecution, and the scheduled sweeper finalizes what no
event finalized, exactly once, beside the real finalizer, and leaves running executions alone."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ecs_handoff.models import Outcome, Phase
from ecs_handoff_cli.doctor import load_install, needed_permissions
from ecs_handoff_embedded import gaps
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

from tests.e2e.locks import lock_item
from tests.e2e.sweeping import SWEEPER, Hold, assert_finalized_as_stopped, stop, sweep


def test_a_deployment_whose_status_event_was_lost_is_finalized_by_the_sweeper(
    world: World, embedded: EmbeddedAws, held: Hold
) -> None:
    # GIVEN a running deployment that holds worker's lock
    record = held("dev-sweep001")
    # WHEN it is stopped and Step Functions' status event is lost on the way
    stop(embedded, record, lose_its_event=True)
    # THEN nothing finalized it: it is still IN_PROGRESS and still holds the lock
    stuck = world.records("dev").get(record.id)
    assert stuck is not None and stuck.outcome is Outcome.IN_PROGRESS
    lock = lock_item(embedded, "dev", "worker")
    assert lock is not None and lock["holder"]["S"] == record.id
    # WHEN the sweeper's schedule ticks
    result = sweep(embedded)
    # THEN it finalized it as the status event would have: FAILED and why, one notification, the lock free
    assert {"deployment_id": record.id, "execution_status": "ABORTED", "outcome": "FAILED", "recorded": True} in (
        result["finalized"]
    )
    assert_finalized_as_stopped(world, embedded, record.id)
    # AND every call it made is one `handoff doctor` checks its role for
    install, _ = load_install("dev")
    assert install is not None
    listed = {p.action for p in needed_permissions(install)["sweeper"]}
    used = embedded.authorizer.used[SWEEPER]
    assert "states:DescribeExecution" in used and used <= listed, used - listed


def test_a_status_event_without_its_input_is_finalized_from_describe_execution(
    world: World, embedded: EmbeddedAws, held: Hold
) -> None:
    # GIVEN a stopped deployment whose status event has not arrived yet
    record = held("dev-sweep002")
    event = stop(embedded, record, lose_its_event=True)
    # WHEN it arrives as AWS sends one whose input and output exceed 248 KB: without them
    event["detail"].update(input=None, output=None, inputDetails={"included": False})
    assert embedded.runner is not None
    gaps.put_event(ACCOUNT_ID, REGION, event, embedded.runner, embedded.deliveries)
    assert embedded.wait_idle(30)
    # THEN the finalizer read the input back from Step Functions and finalized it, lock released
    done = assert_finalized_as_stopped(world, embedded, record.id)
    assert "(Operator: stopped by dana for INC-77)" in done.reason  # the event's own error and cause


def test_a_forged_status_event_for_a_running_deployment_changes_nothing(
    world: World, embedded: EmbeddedAws, held: Hold
) -> None:
    # GIVEN a deployment whose execution runs (held by the calendar), and its lock
    record = held("dev-sweep009")
    assert record.execution_arn is not None
    described = embedded.client("stepfunctions").describe_execution(executionArn=record.execution_arn)
    # WHEN someone allowed to invoke the finalizer hands it a "FAILED" status event for that execution
    forged = gaps.aws_event(
        "aws.states",
        "Step Functions Execution Status Change",
        ACCOUNT_ID,
        REGION,
        [record.execution_arn],
        {
            "executionArn": record.execution_arn,
            "stateMachineArn": described["stateMachineArn"],
            "name": described["name"],
            "status": "FAILED",
            "input": described["input"],
            "inputDetails": {"included": True},
            "error": "States.Runtime",
            "cause": "forged",
        },
    )
    result = json.loads(
        embedded.client("lambda")
        .invoke(FunctionName="handoff-dev-finalize", Payload=json.dumps(forged).encode())["Payload"]
        .read()
    )
    # THEN Step Functions' own status decides: it runs, so nothing is recorded and the lock stays
    assert result == {"ignored": record.execution_arn}
    after = world.records("dev").get(record.id)
    assert after is not None and after.outcome is Outcome.IN_PROGRESS
    lock = lock_item(embedded, "dev", "worker")
    assert lock is not None and lock["holder"]["S"] == record.id
    stop(embedded, record, lose_its_event=False)
    assert_finalized_as_stopped(world, embedded, record.id)


def test_the_sweeper_leaves_a_running_deployment_alone(world: World, embedded: EmbeddedAws, held: Hold) -> None:
    # GIVEN a deployment whose execution runs (held by the calendar)
    record = held("dev-sweep003")
    # WHEN the sweeper runs
    result = sweep(embedded)
    # THEN it looked at it and left it: still running, unfinished, holding its lock
    assert result["running"] >= 1
    assert record.id not in [swept["deployment_id"] for swept in result["finalized"]]
    assert record.execution_arn is not None
    status = embedded.client("stepfunctions").describe_execution(executionArn=record.execution_arn)["status"]
    assert status == "RUNNING"
    after = world.records("dev").get(record.id)
    assert after is not None and after.outcome is Outcome.IN_PROGRESS and after.phase is Phase.WAITING_FOR_WINDOW
    lock = lock_item(embedded, "dev", "worker")
    assert lock is not None and lock["holder"]["S"] == record.id
    # (and the status rule ends it when it is stopped, as before)
    stop(embedded, record, lose_its_event=False)
    assert_finalized_as_stopped(world, embedded, record.id)


def test_the_sweeper_and_a_late_status_event_finalize_it_once(world: World, embedded: EmbeddedAws, held: Hold) -> None:
    # GIVEN a stopped deployment whose status event is late
    record = held("dev-sweep004")
    event = stop(embedded, record, lose_its_event=True)
    # WHEN two sweeps and the late event all finalize it at once
    assert embedded.runner is not None
    embedded.fire_schedule(SWEEPER)
    gaps.put_event(ACCOUNT_ID, REGION, event, embedded.runner, embedded.deliveries)
    embedded.fire_schedule(SWEEPER)
    assert embedded.wait_idle(30)
    # THEN it has one outcome and one notification, and the lock is free
    assert_finalized_as_stopped(world, embedded, record.id)


@pytest.mark.parametrize(("input_kb", "output_kb", "included"), [(100, 100, True), (200, 60, False), (250, 0, False)])
def test_the_embedded_status_event_leaves_out_input_and_output_over_248_kb(
    input_kb: int, output_kb: int, included: bool
) -> None:
    # GIVEN an execution whose input and output have these sizes
    execution = SimpleNamespace(
        exec_status=SimpleNamespace(value="SUCCEEDED"),
        exec_worker=None,
        error=None,
        cause=None,
        account_id=ACCOUNT_ID,
        region_name=REGION,
        exec_arn="arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:x",
        state_machine=SimpleNamespace(
            arn="arn:aws:states:ap-northeast-1:123456789012:stateMachine:handoff-dev-deployment"
        ),
        name="x",
        start_date=None,
        stop_date=None,
        input_data=json.dumps({"pad": "i" * input_kb * 1024}),
        output={"pad": "o" * output_kb * 1024},
    )
    # WHEN it ends  THEN its status event carries both only while together they fit in 248 KB
    detail = gaps.execution_status_event(execution)["detail"]
    assert detail["inputDetails"] == {"included": included}
    assert (detail["input"] is not None, detail["output"] is not None) == (included, included)
