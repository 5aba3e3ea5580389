"""Executions that end the hard way (stopped, failed checks, a lock that never frees) still end recorded,
notified once and unlocked; a failed rollout *check* is never mistaken for a failed rollout."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import entered, execution_ended, history, wait_for_entered
from tests.e2e.locks import lock_item


def finalize_runs(aws: EmbeddedAws, env: str) -> int:
    assert aws.runner is not None
    return sum(1 for i in aws.runner.invocations if i.function == f"handoff-{env}-finalize")


def test_stopping_an_execution_that_awaits_approval_records_it_closes_the_links_and_unlocks(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a prod deployment waiting for its approvers
    deployment_id = world.upload("prod", "api", artifact({"app-container": image("api", "prod-stop0001")}))
    waiting = world.wait_phase("prod", deployment_id, "awaiting_approval")
    link = world.approval_link("alice@example.com", deployment_id)
    # WHEN an operator stops the execution by hand
    embedded.client("stepfunctions").stop_execution(
        executionArn=waiting.execution_arn, error="Operator", cause="stopped by carol for INC-42"
    )
    record = world.wait("prod", deployment_id, timeout=30)
    # THEN it ends FAILED saying what happened, nothing deployed, one notification, links dead, lock free
    assert record.outcome is Outcome.FAILED
    assert "the workflow was stopped (StopExecution)" in record.reason
    assert "stopped by carol for INC-42" in record.reason
    assert record.reason.endswith("nothing was deployed")
    assert len(world.outcome_emails("prod", deployment_id)) == 1
    status, _ = world.decide(link, "approve")
    assert status in (409, 410)
    assert lock_item(embedded, "prod", "api") is None


def test_a_workflow_that_ends_failed_is_finalized_once_though_the_status_rule_also_runs(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a rollout the circuit breaker fails (the execution ends FAILED after its own Finalize)
    before = finalize_runs(embedded, "dev")
    record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "fail-once001")})))
    assert record.outcome is Outcome.FAILED
    assert record.execution_arn is not None
    execution_ended(embedded, record.execution_arn)
    assert embedded.wait_idle(60)
    # THEN the ended-execution rule ran the finalizer a second time, and it changed nothing
    assert finalize_runs(embedded, "dev") - before == 2
    after = world.records("dev").get(record.id)
    assert after is not None and (after.outcome, after.reason) == (record.outcome, record.reason)
    assert len(world.outcome_emails("dev", record.id)) == 1


def test_a_failed_rollout_check_is_looked_at_again_not_rolled_back(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN the rollout check fails twice (a permissions hiccup, a dead sandbox)
    assert embedded.runner is not None
    embedded.hold_rollouts()
    embedded.runner.inject_failure("handoff-dev-rollout", "AwsAccessError", "injected: access denied", times=2)
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "dev-check01")}))
    # (ECS finishes only after both failed checks, so neither could have been skipped by an early verdict)
    wait_for_entered(embedded, "dev", deployment_id, "CountFailedCheck", 2)
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id)
    # THEN the deployment still SUCCEEDED on ECS's own verdict, and Rollback never ran
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.execution_arn is not None
    events = history(embedded, record.execution_arn)
    assert len(entered(events, "CountFailedCheck")) == 2
    assert entered(events, "Rollback") == []


@pytest.mark.slow
def test_a_rollout_nobody_can_check_until_its_timeout_is_rolled_back(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a 5 s rollout timeout, a rollout that takes longer, and a check that always fails
    assert embedded.runner is not None
    registry("dev", "worker", rollout_timeout_seconds=5)
    before = world.running("dev", "worker")
    embedded.hold_rollouts()
    embedded.runner.inject_failure("handoff-dev-rollout", "AwsAccessError", "injected: access denied", times=100)
    try:
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-blind01")})))
    finally:
        embedded.runner._faults.pop("handoff-dev-rollout", None)
    # THEN it is treated as a timed-out rollout: rolled back, with the last check error named
    assert record.outcome is Outcome.FAILED
    assert record.reason.startswith(
        "the rollout could not be checked within its 5 s timeout (last error: AWS refused a call: injected: "
        "access denied)"
    )
    assert world.running("dev", "worker")["task_definition"] == before["task_definition"]


@pytest.mark.slow
def test_a_deployment_that_cannot_get_the_lock_in_time_ends_with_the_holder_named(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a deployment rolling out until ECS is told to finish it, and a lock timeout of 5 s
    registry("dev", "worker", lock_timeout_seconds=5)
    embedded.hold_rollouts()
    first = world.upload("dev", "worker", artifact({"app": image("worker", "dev-holder1")}))
    world.wait_phase("dev", first, "deploying")
    # WHEN a second upload waits behind it
    second = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-waiter1")})))
    # THEN the second gives up with a reason naming the holder, and the first still finishes
    assert second.outcome is Outcome.FAILED
    assert f"(lock_timeout_seconds) for {first} to finish deploying worker" in second.reason
    assert second.reason.endswith("nothing was deployed, upload again to retry")
    assert embedded.release_rollouts("dev/worker") == 1
    assert world.wait("dev", first, timeout=30).outcome is Outcome.SUCCEEDED


def test_a_function_timeout_or_crash_is_retried_not_rolled_back(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN the deploy function times out once and the lock function dies once (out of memory)
    assert embedded.runner is not None
    embedded.runner.inject_failure("handoff-dev-deploy", "Sandbox.Timedout", "Task timed out after 60.00 seconds")
    embedded.runner.inject_failure("handoff-dev-lock", "Lambda.Unknown", "Runtime exited: signal: killed")
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-retry01")})))
    # THEN both steps were retried and the deployment SUCCEEDED, with no rollback
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.execution_arn is not None
    events = history(embedded, record.execution_arn)
    failed = [e["lambdaFunctionFailedEventDetails"]["error"] for e in events if e["type"] == "LambdaFunctionFailed"]
    assert sorted(failed) == ["Lambda.Unknown", "Sandbox.Timedout"]
    assert entered(events, "Rollback") == []
