"""Rollback step: make sure the service is back on the revision it ran before this deployment."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.models import DeploymentRequest, Phase, RollbackAction, RollbackResult, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient


def rollback(
    request: DeploymentRequest, records: DeploymentRecords, ecs_client: ECSClient | None = None
) -> RollbackResult:
    """Reads what was done from the record (not the step input), so it also works after a failed step."""
    me, config = request.deployment_id, request.service
    record = records.get(me)
    if record is None or not record.previous_task_definition or not record.new_task_definition:
        return RollbackResult(action=RollbackAction.NOTHING_DEPLOYED, reason="the service was not changed")
    previous = record.previous_task_definition
    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    current = str(service.get("taskDefinition", ""))
    if current == previous:
        if not record.ecs_deployment_id:
            return RollbackResult(
                action=RollbackAction.NOTHING_DEPLOYED,
                task_definition=previous,
                reason=f"the service was not changed (still on {short_name(previous)})",
            )
        return RollbackResult(
            action=RollbackAction.ALREADY_ROLLED_BACK,
            task_definition=previous,
            reason=f"the service is back on {short_name(previous)} (ECS rolled it back)",
        )
    if current != record.new_task_definition:
        # Someone else moved the service on (a newer revision); putting ours back would fight them.
        return RollbackResult(
            action=RollbackAction.NOT_NEEDED,
            task_definition=current,
            reason=f"the service has moved on to {short_name(current)}, not ours; left as it is",
        )
    rollback_id = ecs_access.update_service(config.cluster, config.service, previous, ecs_client)
    records.update(me, phase=Phase.ROLLED_BACK, at=iso(utcnow()))
    logger.warning("rolled back", task_definition=short_name(previous), ecs_deployment_id=rollback_id)
    return RollbackResult(
        action=RollbackAction.ROLLED_BACK,
        task_definition=previous,
        reason=f"handoff rolled the service back to {short_name(previous)} (ECS deployment {rollback_id})",
    )
