"""Base resolution without a cliff: handoff retires its own old revisions and always finds Terraform's base."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.aws.ecs import SCAN_MARGIN
from ecs_handoff.logic.revisions import PRUNE_WINDOW
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import execution_ended

SERVICE = "churn"
DEPLOYMENTS = 30
FAMILY = f"dev-{SERVICE}"


def revisions(aws: EmbeddedAws, status: str) -> list[int]:
    ecs = aws.client("ecs")
    arns: list[str] = []
    kwargs = {"familyPrefix": FAMILY, "status": status}
    while True:
        page = ecs.list_task_definitions(**kwargs)
        arns += page["taskDefinitionArns"]
        if "nextToken" not in page:
            return sorted(int(a.rsplit(":", 1)[-1]) for a in arns)
        kwargs["nextToken"] = page["nextToken"]


@pytest.mark.slow
def test_thirty_deployments_then_a_terraform_base_change_deploys_from_the_new_base(
    world: World, embedded: EmbeddedAws, new_service: Any
) -> None:
    # GIVEN a service whose registry entry names a bare family (Terraform's revision 1), keep_revisions 10
    new_service("dev", SERVICE, image(SERVICE, "dev-base0001"))
    embedded.rollout_seconds = 0.05
    # WHEN 30 deployments run in a row: more than the 20 newest ACTIVE revisions base resolution scans
    # (keep_revisions + PRUNE_WINDOW + SCAN_MARGIN), so without pruning Terraform's revision 1 would be out of sight
    assert DEPLOYMENTS > 10 + PRUNE_WINDOW + SCAN_MARGIN
    for n in range(DEPLOYMENTS):
        record = world.wait("dev", world.upload("dev", SERVICE, artifact({"app": image(SERVICE, f"dev-{n:07x}")})))
        assert record.outcome is Outcome.SUCCEEDED, (n, record.reason)
    assert record.execution_arn is not None
    execution_ended(embedded, record.execution_arn)  # the finalizer retires old revisions after recording
    running = world.running("dev", SERVICE)["task_definition"]
    # THEN Terraform's revision and handoff's newest 10 stay ACTIVE, the older ones are INACTIVE but describable
    active = revisions(embedded, "ACTIVE")
    newest = DEPLOYMENTS + 1
    assert active == [1, *range(newest - 9, newest + 1)], active
    assert running.endswith(f":{newest}")
    inactive = revisions(embedded, "INACTIVE")
    assert inactive == list(range(2, newest - 9))
    described = embedded.client("ecs").describe_task_definition(taskDefinition=f"{FAMILY}:2")["taskDefinition"]
    assert described["status"] == "INACTIVE"

    # WHEN Terraform registers a new base (more memory), and CI uploads again
    ecs = embedded.client("ecs")
    new_base = ecs.register_task_definition(
        family=FAMILY,
        containerDefinitions=[{"name": "app", "image": image(SERVICE, "dev-base0002"), "memory": 512}],
        tags=[{"key": "managed-by", "value": "terraform"}],
    )["taskDefinition"]
    record = world.wait("dev", world.upload("dev", SERVICE, artifact({"app": image(SERVICE, "dev-after01")})))
    # THEN the deployment is built from the new base: its memory, the new image
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert record.base_task_definition == new_base["taskDefinitionArn"]
    deployed = ecs.describe_task_definition(taskDefinition=record.new_task_definition)["taskDefinition"]
    assert deployed["containerDefinitions"][0]["memory"] == 512
    assert deployed["containerDefinitions"][0]["image"] == world.pinned(image(SERVICE, "dev-after01"))
    # AND the previous revision (the rollback target) is still ACTIVE
    assert record.previous_task_definition is not None
    assert (
        ecs.describe_task_definition(taskDefinition=record.previous_task_definition)["taskDefinition"]["status"]
        == "ACTIVE"
    )
