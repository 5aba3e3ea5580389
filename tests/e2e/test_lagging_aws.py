"""Every workflow path with ECS as eventually consistent as AWS documents it: DescribeServices shows a new
deployment only a while after UpdateService created it (longer than the rollout itself), so the workflow's
first look and ECS's own event both come before ECS's reads agree. The outcomes are the same as without lag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ecs_handoff.models import Outcome, VerdictSource
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

ALICE = "alice@example.com"


@pytest.fixture
def lagging(world: World, embedded: EmbeddedAws) -> Iterator[World]:
    embedded.ecs_listing_lag_seconds = 1.0  # the rollout takes 0.5 s: ECS decides before its reads show it
    try:
        yield world
    finally:
        embedded.ecs_listing_lag_seconds = 0.0


def test_lagging_a_healthy_deployment_succeeds_instead_of_rolling_back(lagging: World) -> None:
    record = lagging.wait("dev", lagging.upload("dev", "api", artifact({"app-container": image("api", "dev-lag0001")})))
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.verdict_by in (VerdictSource.EVENT, VerdictSource.POLL)
    assert lagging.running("dev", "api")["task_definition"] == record.new_task_definition


def test_lagging_a_failed_rollout_is_failed_and_rolled_back(lagging: World) -> None:
    before = lagging.running("dev", "worker")["task_definition"]
    record = lagging.wait("dev", lagging.upload("dev", "worker", artifact({"app": image("worker", "fail-lag0002")})))
    assert record.outcome is Outcome.FAILED and "FAILED" in record.reason, record.reason
    assert lagging.running("dev", "worker")["task_definition"] == before


def test_lagging_an_approved_deployment_succeeds(lagging: World) -> None:
    deployment_id = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0003")}))
    assert lagging.wait_phase("prod", deployment_id, "awaiting_approval").outcome is Outcome.AWAITING_APPROVAL
    assert lagging.decide(lagging.approval_link(ALICE, deployment_id), "approve")[0] == 200
    record = lagging.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED, record.reason


def test_lagging_a_rejected_deployment_deploys_nothing(lagging: World) -> None:
    before = lagging.running("prod", "api")["task_definition"]
    deployment_id = lagging.upload("prod", "api", artifact({"app-container": image("api", "prod-lag0004")}))
    assert lagging.wait_phase("prod", deployment_id, "awaiting_approval").outcome is Outcome.AWAITING_APPROVAL
    assert lagging.decide(lagging.approval_link(ALICE, deployment_id), "reject", "no")[0] == 200
    record = lagging.wait("prod", deployment_id)
    assert record.outcome is Outcome.REJECTED and lagging.running("prod", "api")["task_definition"] == before


def test_lagging_an_invalid_upload_is_refused(lagging: World) -> None:
    record = lagging.wait("dev", lagging.upload("dev", "api", artifact({"nginx": image("nginx", "1")})))
    assert record.outcome is Outcome.INVALID
