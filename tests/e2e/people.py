"""The prod approvers and what they see: a release waiting for them, its approval's id and status."""

from __future__ import annotations

from ecs_handoff.models import ApprovalStatus, Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

ALICE, BOB = "alice@example.com", "bob@example.com"


def release(world: World, tag: str, service: str = "api") -> str:
    container = "app-container" if service == "api" else "app"
    deployment_id = world.upload("prod", service, artifact({container: image(service, tag)}))
    record = world.wait_phase("prod", deployment_id, "awaiting_approval")
    assert record.outcome is Outcome.AWAITING_APPROVAL, record.reason
    return deployment_id


def approval_status(embedded: EmbeddedAws, deployment_id: str) -> ApprovalStatus:
    from ecs_handoff.aws.approvals import ApprovalStore

    store = ApprovalStore(embedded.stacks["prod"].outputs["ApprovalsTableName"], embedded.client("dynamodb"))
    record_id = store.pending_for_deployment(deployment_id)
    if record_id is not None:
        return record_id.status
    table = embedded.client("dynamodb")
    items = table.scan(TableName=embedded.stacks["prod"].outputs["ApprovalsTableName"])["Items"]
    [item] = [i for i in items if i["deployment_id"]["S"] == deployment_id]
    return ApprovalStatus(item["status"]["S"])


def approval_of(world: World, deployment_id: str) -> str:
    record = world.records("prod").get(deployment_id)
    assert record is not None and record.approval_id
    return record.approval_id
