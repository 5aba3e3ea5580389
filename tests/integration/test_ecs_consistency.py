"""ECS's API is eventually consistent (Amazon ECS API reference, "Request eventual consistency"): the
embedded AWS can show a service as it was before an UpdateService for a while, as AWS may."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from ecs_handoff_embedded import gaps

from tests.integration.conftest import Stack
from tests.integration.steps import ecs_service

LAG = {"seconds": 0.0}


@pytest.fixture
def lagging(stack: Stack) -> Iterator[Stack]:
    undo = gaps.install_ecs_listing_lag(lambda: LAG["seconds"])
    try:
        yield stack
    finally:
        undo()
        LAG["seconds"] = 0.0


def test_describe_services_lags_behind_update_service_while_a_lag_is_set(lagging: Stack) -> None:
    ecs = lagging.client("ecs")
    base = ecs.describe_task_definition(taskDefinition="dev-api")["taskDefinition"]
    spec = {k: base[k] for k in ("family", "containerDefinitions", "taskRoleArn", "executionRoleArn") if k in base}
    new = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    before = ecs.describe_services(cluster="dev", services=["api"])["services"][0]
    ecs_service().deployments[0]["createdAt"] -= dt.timedelta(hours=1)  # Terraform's deployment, long done
    # GIVEN reads lag 60 s behind writes
    LAG["seconds"] = 60.0
    # WHEN the service is updated
    created = ecs.update_service(cluster="dev", service="api", taskDefinition=new)["service"]["deployments"][0]["id"]
    # THEN a read right after does not show the new deployment yet: the service as it was
    seen = ecs.describe_services(cluster="dev", services=["api"])["services"][0]
    assert created not in [d["id"] for d in seen["deployments"]]
    assert seen["taskDefinition"] == before["taskDefinition"]
    # AND once the lag has passed (here: set back to none) it does
    LAG["seconds"] = 0.0
    now = ecs.describe_services(cluster="dev", services=["api"])["services"][0]
    assert created in [d["id"] for d in now["deployments"]] and now["taskDefinition"] == new
