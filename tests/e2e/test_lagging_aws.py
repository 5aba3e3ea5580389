"""Every workflow path with AWS as eventually consistent and as unordered as it documents: DescribeServices
shows a new deployment only a while after UpdateService created it (longer than the rollout itself), so the
workflow's first look and ECS's own event both come before ECS's reads agree; DynamoDB's global secondary
indexes show each table as it was a while ago; and EventBridge delivers every event (S3's, ECS's, Step
Functions') after a random delay, so they can arrive out of order. The outcomes are the same as without."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.models import Outcome, VerdictSource
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import wait_for_entered
from tests.e2e.people import ALICE
from tests.e2e.release_gates import ALARM, FAST, upload, wait_for
from tests.e2e.sweeping import SWEEPER, Hold, assert_finalized_as_stopped, stop, sweep

ECS_LAG_SECONDS = 1.0  # the rollout takes 0.5 s: ECS decides before its reads show it
INDEX_LAG_SECONDS = 1.0


def running(world: World, env: str, service: str) -> dict[str, Any]:
    """What the service runs, read once ECS's reads have caught up (this test's own DescribeServices lags too)."""
    time.sleep(ECS_LAG_SECONDS + 0.1)
    return world.running(env, service)


@pytest.fixture
def lagging(world: World, embedded: EmbeddedAws) -> Iterator[World]:
    embedded.ecs_listing_lag_seconds = ECS_LAG_SECONDS
    embedded.ddb_index_lag_seconds = INDEX_LAG_SECONDS
    embedded.event_delivery_max_delay_seconds = 0.5  # ECS's events of one rollout can swap places
    try:
        yield world
    finally:
        embedded.ecs_listing_lag_seconds = 0.0
        embedded.ddb_index_lag_seconds = 0.0
        embedded.event_delivery_max_delay_seconds = 0.0


def test_lagging_a_healthy_deployment_succeeds_instead_of_rolling_back(lagging: World) -> None:
    record = lagging.wait("dev", lagging.upload("dev", "api", artifact({"app-container": image("api", "dev-lag0001")})))
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.verdict_by in (VerdictSource.EVENT, VerdictSource.POLL)
    assert running(lagging, "dev", "api")["task_definition"] == record.new_task_definition


def test_lagging_a_failed_rollout_is_failed_and_rolled_back(lagging: World) -> None:
    before = running(lagging, "dev", "worker")["task_definition"]
    record = lagging.wait("dev", lagging.upload("dev", "worker", artifact({"app": image("worker", "fail-lag0002")})))
    assert record.outcome is Outcome.FAILED and "FAILED" in record.reason, record.reason
    assert running(lagging, "dev", "worker")["task_definition"] == before


def test_lagging_an_approved_deployment_succeeds(lagging: World) -> None:
    deployment_id = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0003")}))
    assert lagging.wait_phase("prod", deployment_id, "awaiting_approval").outcome is Outcome.AWAITING_APPROVAL
    assert lagging.decide(lagging.approval_link(ALICE, deployment_id), "approve")[0] == 200
    record = lagging.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED, record.reason


def test_lagging_a_rejected_deployment_deploys_nothing(lagging: World) -> None:
    before = running(lagging, "prod", "api")["task_definition"]
    deployment_id = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0004")}))
    assert lagging.wait_phase("prod", deployment_id, "awaiting_approval").outcome is Outcome.AWAITING_APPROVAL
    assert lagging.decide(lagging.approval_link(ALICE, deployment_id), "reject", "no")[0] == 200
    record = lagging.wait("prod", deployment_id)
    assert record.outcome is Outcome.REJECTED and running(lagging, "prod", "api")["task_definition"] == before


def test_lagging_an_invalid_upload_is_refused(lagging: World) -> None:
    record = lagging.wait("dev", lagging.upload("dev", "api", artifact({"nginx": image("nginx", "1")})))
    assert record.outcome is Outcome.INVALID


def test_lagging_a_newer_upload_supersedes_one_waiting_though_the_index_has_neither(
    lagging: World, embedded: EmbeddedAws
) -> None:
    # GIVEN an index far behind: nothing written during this test shows in it
    embedded.ddb_index_lag_seconds = 120.0
    older = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0005")}))
    assert lagging.wait_phase("prod", older, "awaiting_approval").outcome is Outcome.AWAITING_APPROVAL
    # WHEN a newer upload of the same service arrives
    newer = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0006")}))
    # THEN the waiting one is superseded all the same (the lock reads its approval from the table), and the
    # newer one deploys once approved
    record = lagging.wait("prod", older, timeout=30)
    assert record.outcome is Outcome.SUPERSEDED and newer in record.reason, record.reason
    lagging.wait_phase("prod", newer, "awaiting_approval")
    assert lagging.decide(lagging.approval_link(ALICE, newer), "approve")[0] == 200
    assert lagging.wait("prod", newer).outcome is Outcome.SUCCEEDED
    assert running(lagging, "prod", "api")["images"]["app-container"] == lagging.pinned(image("api", "prod-lag0006"))


def test_lagging_two_quick_uploads_end_with_the_newer_running_whatever_order_their_events_came(
    lagging: World,
) -> None:
    # GIVEN two uploads of one service a moment apart, whose S3 events EventBridge may deliver either way round
    older = lagging.upload("dev", "api", artifact({"app-container": image("api", "dev-lag0007")}))
    newer = lagging.upload("dev", "api", artifact({"app-container": image("api", "dev-lag0008")}))
    # WHEN the newer one has finished
    record = lagging.wait("dev", newer)
    # THEN it succeeded and runs; the older one never deployed after it (deployed first, superseded, or ignored)
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    first = lagging.records("dev").get(older)
    if first is not None and not first.outcome.terminal:
        first = lagging.wait("dev", older)
    assert first is None or first.outcome in (Outcome.SUCCEEDED, Outcome.SUPERSEDED), first
    assert running(lagging, "dev", "api")["images"]["app-container"] == lagging.pinned(image("api", "dev-lag0008"))


def test_lagging_the_sweeper_finalizes_a_deployment_whose_status_event_was_lost(
    lagging: World, embedded: EmbeddedAws, held: Hold
) -> None:
    # GIVEN a running deployment whose execution is stopped, its status event lost
    record = held("dev-lag0009")
    stop(embedded, record, lose_its_event=True)
    # WHEN the sweeper's schedule ticks (a record the index does not show yet is the next tick's)
    result = sweep(embedded)
    if record.id not in {swept["deployment_id"] for swept in result["finalized"]}:
        time.sleep(INDEX_LAG_SECONDS)
        result = sweep(embedded)
    # THEN it is finalized as without the lag: FAILED and why, one notification, the lock free
    assert record.id in {swept["deployment_id"] for swept in result["finalized"]}, (SWEEPER, result)
    assert_finalized_as_stopped(lagging, embedded, record.id)


def test_lagging_a_gate_held_by_an_alarm_deploys_once_it_clears(lagging: World, registry: Any, alarm: Any) -> None:
    # GIVEN dev api held by a blocking alarm in ALARM
    registry("dev", "api", blocking_alarms=[ALARM], **FAST)
    alarm("ALARM", "Threshold Crossed: 5xx")
    before = running(lagging, "dev", "api")["task_definition"]
    deployment = upload(lagging, "dev-lag0010")
    assert wait_for(lagging, deployment, "waiting_for_alarm").outcome is Outcome.IN_PROGRESS
    wait_for_entered(lagging.aws, "dev", deployment, "CheckReleaseGates", 2)
    assert running(lagging, "dev", "api")["task_definition"] == before
    # WHEN the alarm clears
    alarm("OK")
    # THEN it deploys and succeeds as without the lag
    record = lagging.wait("dev", deployment)
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert running(lagging, "dev", "api")["task_definition"] == record.new_task_definition


def test_lagging_an_alarm_during_the_bake_rolls_back(lagging: World, registry: Any, alarm: Any) -> None:
    # GIVEN a deployment baking for 30 s under a blocking alarm
    registry("dev", "api", blocking_alarms=[ALARM], bake_seconds=30, **FAST)
    alarm("OK")
    before = running(lagging, "dev", "api")["task_definition"]
    deployment = upload(lagging, "dev-lag0011")
    wait_for(lagging, deployment, "baking")
    # WHEN the alarm fires during the bake
    alarm("ALARM", "Threshold Crossed: 5xx after the deploy")
    # THEN the deployment is FAILED with the alarm named, and the service is back on the revision before it
    record = lagging.wait("dev", deployment)
    assert record.outcome is Outcome.FAILED and f"alarm {ALARM} went to ALARM during the 30 s bake" in record.reason
    assert "rolled the service back to" in record.reason, record.reason
    assert running(lagging, "dev", "api")["task_definition"] == before


def test_lagging_a_rollout_that_never_finishes_times_out_and_is_rolled_back(
    lagging: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a rollout ECS never finishes and a 5 s rollout timeout (the listing lag is 1 s of it)
    registry("dev", "worker", rollout_timeout_seconds=5)
    good = running(lagging, "dev", "worker")["task_definition"]
    embedded.hold_rollouts()
    record = lagging.wait(
        "dev", lagging.upload("dev", "worker", artifact({"app": image("worker", "dev-lag0012")})), timeout=60
    )
    # THEN FAILED by the timeout (not by the deployment missing from ECS's lagging reads), and rolled back
    assert record.outcome is Outcome.FAILED, record.reason
    assert "did not complete within 5 s" in record.reason and "handoff rolled the service back" in record.reason
    embedded.release_rollouts(timeout=0)
    assert running(lagging, "dev", "worker")["task_definition"] == good


def test_lagging_an_approval_nobody_gives_expires_and_deploys_nothing(lagging: World, registry: Any) -> None:
    # GIVEN prod worker, whose approvals expire after 5 s
    registry("prod", "worker", approval_timeout_seconds=5)
    before = running(lagging, "prod", "worker")["task_definition"]
    deployment = lagging.upload("prod", "worker", artifact({"app": image("worker", "prod-lag0013")}))
    # WHEN nobody decides
    record = lagging.wait("prod", deployment, timeout=60)
    # THEN EXPIRED, nothing deployed, and the link says so
    assert record.outcome is Outcome.EXPIRED and "nobody approved within 5 s" in record.reason, record.reason
    assert running(lagging, "prod", "worker")["task_definition"] == before
    assert lagging.decide(lagging.approval_link(ALICE, deployment), "approve")[0] == 410
