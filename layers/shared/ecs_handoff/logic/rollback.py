"""Rollback step: make sure the service is back on the revision it ran before this deployment.

Its input may come from anyone allowed to invoke it, and the record from anyone who can write the table, so
it re-derives what it acts on: the cluster and service from the registry entry, the service's state from
ECS, and the target is checked in ECS before anything changes (checked_target)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import registry
from ecs_handoff.aws import service_deployments as sd_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ArtifactRejected, AwsAccessError, NotFound, RollbackRefused, ServiceDeploymentMoved
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.models import DeploymentRequest, Phase, RollbackAction, RollbackResult, ServiceConfig, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import is_handoff_revision, short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SSMClient


def rollback(
    request: DeploymentRequest,
    records: DeploymentRecords,
    registry_prefix: str,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
) -> RollbackResult:
    """Reads what was done from the record (not the step input), so it also works after a failed step; puts
    back only a target that checked_target accepts, else raises RollbackRefused and changes nothing."""
    me = request.deployment_id
    record = records.get(me)
    if record is None or not record.previous_task_definition or not record.new_task_definition:
        return RollbackResult(action=RollbackAction.NOTHING_DEPLOYED, reason="the service was not changed")
    if record.service != request.service_id:
        raise RollbackRefused(
            f"deployment {me} is a deployment of {record.service!r}, not of {request.service_id!r}; nothing changed"
        )
    try:
        config = registry.load_service(registry_prefix, request.service_id, ssm_client)
    except ArtifactRejected as exc:
        raise RollbackRefused(f"{exc}; nothing changed") from exc
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
            action=RollbackAction.MOVED_ON,
            task_definition=current,
            reason=f"the service has moved on to {short_name(current)}, not ours; left as it is",
        )
    if strategies.follows_ecs_strategy(service):
        stopped = _stop_service_deployment(
            record.new_task_definition, previous, record.deploy_claimed_at, config, ecs_client
        )
        if stopped is not None:
            records.update(me, phase=Phase.ROLLED_BACK, at=iso(utcnow()))
            return stopped
    target = checked_target(previous, config, service, request.service_id, ecs_client)
    rollback_id = ecs_access.update_service(config.cluster, config.service, target, ecs_client)
    records.update(me, phase=Phase.ROLLED_BACK, at=iso(utcnow()))
    logger.warning("rolled back", task_definition=short_name(target), ecs_deployment_id=rollback_id)
    return RollbackResult(
        action=RollbackAction.ROLLED_BACK,
        task_definition=target,
        reason=f"handoff rolled the service back to {short_name(target)} (ECS deployment {rollback_id})",
    )


def _stop_service_deployment(
    new_task_definition: str, previous: str, since: str | None, config: ServiceConfig, ecs_client: Any
) -> RollbackResult | None:
    """A BLUE_GREEN, LINEAR or CANARY deployment still running (handoff's own timeout, say): ECS is asked to
    roll it back (StopServiceDeployment), which puts traffic back on blue at once. UpdateService back to the
    previous revision would start another service deployment instead, one that a PAUSE hook could hold and
    whose own rollback would return to the new revision. None when ECS's deployment has already ended."""
    found = strategies.find(config.cluster, config.service, new_task_definition, since, ecs_client)
    if found is None or str(found.get("status")) not in ("PENDING", "IN_PROGRESS"):
        return None
    arn = str(found["serviceDeploymentArn"])
    try:
        sd_access.stop(arn, ecs_client)
    except ServiceDeploymentMoved:
        return None  # it ended meanwhile: the service is where ECS left it, handled as a rolling update would be
    logger.warning("stopped the service deployment", service_deployment=arn)
    return RollbackResult(
        action=RollbackAction.ROLLED_BACK,
        task_definition=previous,
        reason=f"handoff asked ECS to roll back its {strategies.strategy_of(found)} deployment "
        f"(StopServiceDeployment): traffic goes back to {short_name(previous)}",
    )


def checked_target(
    target: str, config: ServiceConfig, service: dict[str, Any], service_id: str, ecs_client: Any = None
) -> str:
    """The target's ARN when ECS shows it is an ACTIVE revision of the registry base's family and either the
    registry's base, a revision handoff registered (its deployment tag), or one the service's own deployments
    run right now (ECS lists it: what the service ran before this deployment). Else RollbackRefused."""
    family = ecs_access.family_of(config.task_definition)
    name = short_name(target)
    try:
        described, tags = ecs_access.describe_task_definition(target, ecs_client)
    except (NotFound, AwsAccessError) as exc:
        raise RollbackRefused(
            f"the rollback target {name} could not be read from ECS ({exc}); nothing changed"
        ) from exc
    arn = str(described.get("taskDefinitionArn", target))
    if described.get("family") != family:
        raise RollbackRefused(
            f"the rollback target {name} is not a revision of {family}, the family of {service_id}'s base "
            "in the registry; nothing changed"
        )
    if described.get("status", "ACTIVE") != "ACTIVE":
        raise RollbackRefused(f"the rollback target {name} is {described.get('status')}, not ACTIVE; nothing changed")
    if is_handoff_revision(tags):
        return arn
    running = {short_name(str(d.get("taskDefinition", ""))) for d in service.get("deployments", [])}
    if short_name(arn) in running:
        return arn
    base = _registry_base(config, ecs_client)
    if short_name(arn) == short_name(base):
        return arn
    raise RollbackRefused(
        f"the rollback target {name} is neither the registry's base ({short_name(base)}) nor a revision handoff "
        "registered, and the service does not run it; nothing changed"
    )


def _registry_base(config: ServiceConfig, ecs_client: Any) -> str:
    """The exact base the registry names, or for a bare family the revision a deployment would build from."""
    if ecs_access.family_of(config.task_definition) != short_name(config.task_definition):
        return config.task_definition
    base, _ = ecs_access.resolve_base(config.task_definition, ecs_client, config.keep_revisions)
    return str(base.get("taskDefinitionArn", ""))
