"""Attacks through the real ASL with states:StartExecution: the workflow input decides which states run and what
the approval is built from. Each test asserts what should hold; a failing test is a hole."""

from __future__ import annotations

import json
import time
from typing import Any

from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ACCOUNT_ID

from tests.e2e.history import execution_ended
from tests.e2e.people import ALICE, BOB
from tests.e2e.release_gates import ALARM, FAST, upload, wait_for


def forged_execution(embedded: EmbeddedAws, execution_arn: str, edit: Any, suffix: str = "-x") -> str:
    """Reads a real execution's input (states:DescribeExecution) and starts another with it, edited."""
    sfn = embedded.client("stepfunctions")
    real = sfn.describe_execution(executionArn=execution_arn)
    data = json.loads(real["input"])
    edit(data)
    name = execution_arn.rsplit(":", 1)[1][:70] + suffix
    started = sfn.start_execution(stateMachineArn=real["stateMachineArn"], name=name, input=json.dumps(data))
    return str(started["executionArn"])


def test_start_execution_skipping_release_gates_deploys_during_a_firing_alarm(
    world: World, embedded: EmbeddedAws, registry: Any, alarm: Any
) -> None:
    # GIVEN a deployment held by a firing blocking alarm
    registry("dev", "api", blocking_alarms=[ALARM], **FAST)
    alarm("ALARM", "Threshold Crossed")
    before = world.running("dev", "api")["task_definition"]
    deployment = upload(world, "dev-atk0001")
    record = wait_for(world, deployment, "waiting_for_alarm")

    # WHEN someone starts the workflow again with the same request, saying it has no release gates
    def edit(data: dict[str, Any]) -> None:
        data["request"]["has_release_gates"] = False
        data["request"]["has_bake"] = False

    forged = forged_execution(embedded, str(record.execution_arn), edit)
    sfn = embedded.client("stepfunctions")
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=forged)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.1)
    running = world.running("dev", "api")["task_definition"]
    alarm("OK")  # let the legitimate one end
    # THEN nothing deploys while the alarm fires
    assert running == before, f"deployed {running} while {ALARM} was in ALARM (forged execution {forged})"


def test_start_execution_with_forged_approver_principals_cannot_make_one_person_two(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN prod api needs alice AND bob; Terraform lets alice's CLI role decide as alice only
    alice_role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver/alice"
    registry("prod", "api", approvals_required=2, approver_principals={alice_role: ALICE}, poll_interval_seconds=30)
    # AND a first release, approved by both, that is rolling out (it holds the lock until ECS is let finish)
    embedded.hold_rollouts()
    first = world.upload("prod", "api", artifact({"app-container": image("api", "prod-atk0001")}))
    world.wait_phase("prod", first, "awaiting_approval")
    world.decide(world.approval_link(ALICE, first), "approve")
    world.decide(world.approval_link(BOB, first), "approve")
    world.wait_phase("prod", first, "deploying")
    # AND a second release that waits for the lock
    second = world.upload("prod", "api", artifact({"app-container": image("api", "prod-atk0002")}))
    waiting = world.wait_phase("prod", second, "waiting_for_lock")

    # WHEN alice starts the same request with request.service saying her role acts as bob, polling every 1 s
    def edit(data: dict[str, Any]) -> None:
        data["request"]["service"]["approver_principals"] = {alice_role: BOB}
        data["request"]["service"]["poll_interval_seconds"] = 1

    forged = forged_execution(embedded, str(waiting.execution_arn), edit)
    embedded.rollout_seconds = 0.5
    assert embedded.release_rollouts("prod/api") == 1
    assert world.wait("prod", first, timeout=60).outcome is Outcome.SUCCEEDED
    before = world.running("prod", "api")["task_definition"]
    # THEN her execution is refused before any approval is asked (who approves comes from the registry) and ends
    # without touching the release: its Finalize, which the record's own execution did not hand that state, records
    # nothing, and its ended event is not the deployment's own execution's
    assert execution_ended(embedded, forged) == "FAILED"
    assert embedded.wait_idle(30)
    release = world.records("prod").get(second)
    assert release is not None and not release.outcome.terminal and release.approvals == [], release
    assert release.execution_arn == waiting.execution_arn
    assert world.running("prod", "api")["task_definition"] == before
    # AND the release's own execution still decides it (stopped here, so it records that; nothing more deployed)
    sfn = embedded.client("stepfunctions")
    sfn.stop_execution(executionArn=str(waiting.execution_arn), error="Test", cause="done")
    done = world.wait("prod", second, timeout=30)
    assert done.outcome is Outcome.FAILED and "the workflow was stopped (StopExecution)" in done.reason, done.reason
    assert world.running("prod", "api")["task_definition"] == before
