"""The rollout's verdict: from ECS's own deployment events, or from the workflow's own look when no event
comes. Every path runs the real ASL; the simulated ECS sends its events through EventBridge to the rule."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.models import Outcome, VerdictSource
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import entered, execution, history
from tests.e2e.rollout_events import EVENT_FUNCTION, SLOW_CHECKS, ecs_events


@pytest.fixture
def events_dropped(embedded: EmbeddedAws) -> Iterator[None]:
    embedded.drop_ecs_events = True
    yield
    embedded.drop_ecs_events = False


def event_function_said(embedded: EmbeddedAws, since: int) -> list[str]:
    """What the rollout event function did with each event since then (or the error it raised)."""
    assert embedded.runner is not None
    said = [json.loads(i.output) for i in embedded.runner.invocations[since:] if i.function == EVENT_FUNCTION]
    return [str(s.get("done", s.get("errorMessage"))) for s in said]


def invocations(embedded: EmbeddedAws) -> int:
    assert embedded.runner is not None
    return len(embedded.runner.invocations)


def test_verdict_completed_comes_from_ecs_event(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    # GIVEN a rollout still running at the workflow's first look, which would look again only after a minute
    registry("dev", "worker", rollout_check_seconds=SLOW_CHECKS)
    embedded.hold_rollouts()
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "dev-evt001")}))
    world.wait_phase("dev", deployment_id, "rolling_out")
    # WHEN ECS finishes the rollout
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id)
    # THEN ECS's COMPLETED event decided it, long before the first look would have
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.verdict_by is VerdictSource.EVENT
    (completed,) = [
        e for e in ecs_events(embedded, record.ecs_deployment_id) if e["detail"]["eventName"].endswith("COMPLETED")
    ]
    assert record.ecs_reported_at == completed["detail"]["updatedAt"]
    # AND the record has the final task counts, and the workflow waited once
    assert record.rollout["running_count"] == record.rollout["desired_count"] == 1
    assert record.execution_arn is not None
    assert len(entered(history(embedded, record.execution_arn), "WatchRollout")) == 1


def test_verdict_failed_comes_from_ecs_event_and_rollback_events_are_ignored(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a service with the circuit breaker on, and images whose tasks never start
    registry("dev", "worker", rollout_check_seconds=SLOW_CHECKS)
    embedded.hold_rollouts()
    good = world.running("dev", "worker")
    since = invocations(embedded)
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "fail-evt002")}))
    world.wait_phase("dev", deployment_id, "rolling_out")
    # WHEN ECS gives up on the rollout
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id)
    # THEN ECS's FAILED event decided it, with ECS's reason, and ECS's rollback stands
    assert record.outcome is Outcome.FAILED and record.verdict_by is VerdictSource.EVENT
    assert "circuit breaker" in record.reason and "1 task failed" in record.reason
    assert world.running("dev", "worker")["task_definition"] == good["task_definition"]
    # AND ECS's events about its own rollback deployment found nobody waiting on them
    assert embedded.wait_idle(60)
    rollback_ids = {
        e["detail"]["deploymentId"]
        for e in embedded.ecs_events
        if "rolling back to deploymentId " + str(record.ecs_deployment_id) in e["detail"]["reason"]
    }
    (rollback_id,) = rollback_ids
    said = event_function_said(embedded, since)
    assert f"FAILED: sent to deployment {record.id}" in said
    assert any(f"ignored: nothing of service dev/worker waits on {rollback_id}" in s for s in said)


@pytest.mark.usefixtures("events_dropped")
@pytest.mark.parametrize(("tag", "outcome"), [("dev-poll003", Outcome.SUCCEEDED), ("fail-poll004", Outcome.FAILED)])
def test_verdict_without_any_event_comes_from_the_workflows_own_look(
    world: World, embedded: EmbeddedAws, tag: str, outcome: Outcome
) -> None:
    # GIVEN every ECS event is lost, and a rollout still running at the workflow's first look (2 s checks)
    embedded.hold_rollouts()
    since = invocations(embedded)
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", tag)}))
    world.wait_phase("dev", deployment_id, "rolling_out")
    # WHEN ECS decides after that look
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id, timeout=40)
    # THEN the workflow's own look after a timed-out wait reached the right verdict
    assert record.outcome is outcome, record.reason
    assert record.verdict_by is VerdictSource.POLL and record.ecs_reported_at is not None
    assert event_function_said(embedded, since) == []
    assert record.execution_arn is not None
    assert len(entered(history(embedded, record.execution_arn), "WatchRollout")) >= 2


def test_event_before_the_token_is_stored_is_decided_by_the_first_look(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN the rollout function is held until ECS has finished and its event has come and gone
    assert embedded.runner is not None
    registry("dev", "worker", rollout_check_seconds=SLOW_CHECKS)
    embedded.rollout_seconds = 0.1
    gate = embedded.runner.hold("handoff-dev-rollout")
    since = invocations(embedded)
    try:
        deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "dev-early005")}))
        ecs_id = world.wait_phase("dev", deployment_id, "deploying").ecs_deployment_id
        deadline = time.monotonic() + 10
        while not any(e["detail"]["eventName"].endswith("COMPLETED") for e in ecs_events(embedded, ecs_id)):
            assert time.monotonic() < deadline, "ECS never finished"
            time.sleep(0.05)
        assert embedded.wait_idle(60)
        said = event_function_said(embedded, since)
        assert any(f"ignored: nothing of service dev/worker waits on {ecs_id}" in s for s in said)
    finally:
        gate.set()
    # WHEN the token is stored after all  THEN the look right after it decides, without waiting a minute: the
    # workflow looked once (a second look would come only after SLOW_CHECKS)
    record = world.wait("dev", deployment_id, timeout=SLOW_CHECKS * 2)
    assert record.outcome is Outcome.SUCCEEDED and record.verdict_by is VerdictSource.POLL
    assert record.execution_arn is not None
    assert len(entered(history(embedded, record.execution_arn), "WatchRollout")) == 1


def test_foreign_and_duplicate_events_change_nothing(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    # GIVEN a rollout in progress that only ECS's own event may decide
    registry("dev", "worker", rollout_check_seconds=SLOW_CHECKS)
    embedded.hold_rollouts()  # ECS decides only when released below, after the foreign events
    since = invocations(embedded)
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "dev-dup006")}))
    ecs_id = world.wait_phase("dev", deployment_id, "rolling_out").ecs_deployment_id
    (started,) = ecs_events(embedded, ecs_id)  # IN_PROGRESS only: ECS has not decided yet
    # WHEN events arrive for another deployment, for this deployment id on another service, and one
    # that decides nothing
    foreign = copy.deepcopy(started)
    foreign["detail"].update(eventName="SERVICE_DEPLOYMENT_COMPLETED", deploymentId="ecs-svc/1111111111111111111")
    elsewhere = copy.deepcopy(started)
    elsewhere["detail"]["eventName"] = "SERVICE_DEPLOYMENT_FAILED"
    elsewhere["resources"] = [started["resources"][0].replace("service/dev/worker", "service/dev/api")]
    for event in (foreign, elsewhere):
        embedded.emit_ecs_event(event)
    assert embedded.wait_idle(60)
    assert world.records("dev").get(deployment_id).outcome is Outcome.IN_PROGRESS  # type: ignore[union-attr]
    # THEN the real event decides; a duplicate of it afterwards changes nothing
    assert embedded.release_rollouts("dev/worker") == 1
    assert world.wait("dev", deployment_id).outcome is Outcome.SUCCEEDED
    # (the record is final once the execution has ended: Finalize notifies after recording the outcome)
    assert execution(embedded, "dev", deployment_id)["status"] == "SUCCEEDED" and embedded.wait_idle(60)
    record = world.records("dev").get(deployment_id)
    assert record is not None and record.verdict_by is VerdictSource.EVENT
    (completed,) = [e for e in ecs_events(embedded, ecs_id) if e["detail"]["eventName"].endswith("COMPLETED")]
    embedded.emit_ecs_event(copy.deepcopy(completed))
    assert embedded.wait_idle(60)
    assert world.records("dev").get(deployment_id) == record
    said = event_function_said(embedded, since)
    assert any("ignored: nothing of service dev/worker waits on ecs-svc/1111111111111111111" in s for s in said)
    assert any(f"ignored: nothing of service dev/api waits on {ecs_id}" in s for s in said)
    assert sum(f"ignored: nothing of service dev/worker waits on {ecs_id}" in s for s in said) == 1  # duplicate


@pytest.mark.slow
def test_rollout_without_circuit_breaker_times_out_by_look_and_handoff_rolls_back(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a service without the circuit breaker: ECS keeps trying and never says FAILED
    ecs = embedded.client("ecs")
    off = {"deploymentCircuitBreaker": {"enable": False, "rollback": False}}
    ecs.update_service(cluster="dev", service="worker", deploymentConfiguration=off)
    registry("dev", "worker", rollout_timeout_seconds=5)
    good = world.running("dev", "worker")
    try:
        record = world.wait(
            "dev", world.upload("dev", "worker", artifact({"app": image("worker", "fail-nocb007")})), timeout=40
        )
    finally:
        on = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        ecs.update_service(cluster="dev", service="worker", deploymentConfiguration=on)
    # THEN the workflow's own look ended it at the rollout timeout, and handoff put the last good revision back
    assert record.outcome is Outcome.FAILED and record.verdict_by is VerdictSource.POLL
    assert "did not complete within 5 s" in record.reason and "handoff rolled the service back" in record.reason
    assert world.running("dev", "worker")["task_definition"] == good["task_definition"]
