"""Deploy step: register Terraform's base with the new images, then point the service at it.

The first attempt makes three ECS calls (DescribeServices, RegisterTaskDefinition, UpdateService) and one
record write: the intake already described the base and rendered the registration (request.registration).
Safe to retry without that write: the new revision carries this deployment's id as a tag, and a retry asks
ECS what the first attempt did (its revision; whether the service already runs it) instead of doing it twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import DeployFailed, HandoffError, TransientAwsError
from ecs_handoff.models import DeploymentRequest, DeployResult, ImageChange, Outcome, Phase, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import (
    TAG_DEPLOYMENT_ID,
    render,
    revision_changes,
    short_name,
    with_requested,
)

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient


def deploy(
    request: DeploymentRequest, records: DeploymentRecords, ecs_client: ECSClient | None = None, attempt: int = 0
) -> DeployResult:
    """The lock's lease was taken long enough for the approval wait plus the rollout, and the rollout's
    looks renew it, so this step does not."""
    config, me = request.service, request.deployment_id
    if attempt > 0:
        record = records.get(me)
        if record is not None and record.ecs_deployment_id and record.new_task_definition:
            logger.info("an earlier attempt finished this step", ecs_deployment_id=record.ecs_deployment_id)
            return _result(
                request,
                record.new_task_definition,
                str(record.previous_task_definition),
                record.ecs_deployment_id,
                record.timeline.get("deploying", ""),
                record.images,
            )

    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    new_arn = None
    if attempt > 0:  # an earlier attempt may have registered, and even updated, before it could record
        new_arn = ecs_access.find_revision_tagged(request.base_task_definition, TAG_DEPLOYMENT_ID, me, ecs_client)
    ecs_deployment_id = _ours_running(service, new_arn)
    previous = _previous(service, new_arn, request) if ecs_deployment_id else str(service["taskDefinition"])
    spec = request.registration or _render_from_base(request, ecs_client)
    if new_arn:
        logger.warning("reusing the revision an earlier attempt registered", task_definition=new_arn)
    else:
        new_arn = ecs_access.register_task_definition(spec, ecs_client)
        logger.info("task definition registered", task_definition=new_arn)

    moved_on = previous != request.running_task_definition  # another deployment ran since the intake looked
    if moved_on:
        running, _ = ecs_access.describe_task_definition(previous, ecs_client)
    else:  # the images are all this step compares; the rest was compared at intake and approval
        running = {"containerDefinitions": [{"name": k, "image": v} for k, v in request.running_images.items()]}
    changes, other_changes = revision_changes(running, spec)
    changes = with_requested(changes, request.pinned_from)

    deployed_at = iso(utcnow())
    if not ecs_deployment_id:
        ecs_deployment_id = ecs_access.update_service(config.cluster, config.service, new_arn, ecs_client)
        logger.info("service updated", ecs_deployment_id=ecs_deployment_id, task_definition=short_name(new_arn))
    try:
        records.update(
            me,
            phase=Phase.DEPLOYING,
            at=deployed_at,
            new_task_definition=new_arn,
            previous_task_definition=previous,  # where rollback returns
            ecs_deployment_id=ecs_deployment_id,
            images=changes,
            other_changes=other_changes if moved_on else None,  # None: keep what intake and approval found
            outcome=Outcome.IN_PROGRESS,  # past the approval gate, if there was one
        )
    except TransientAwsError:
        raise  # retried: the retry finds the service on this revision and records it
    except HandoffError as exc:
        # Nobody could roll back a change the record does not show: undo it now, then fail.
        ecs_access.update_service(config.cluster, config.service, previous, ecs_client)
        raise DeployFailed(
            f"the deployment could not be recorded ({exc}); the service was put back on {short_name(previous)}"
        ) from exc
    return _result(request, new_arn, previous, ecs_deployment_id, deployed_at, changes)


def _result(
    request: DeploymentRequest,
    new_arn: str,
    previous: str,
    ecs_deployment_id: str,
    deployed_at: str,
    images: list[ImageChange],
) -> DeployResult:
    config = request.service
    return DeployResult(
        new_task_definition=new_arn,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_deployment_id,
        deployed_at=deployed_at or iso(utcnow()),
        check_every_seconds=config.rollout_check_every,
        max_failed_checks=max(1, config.rollout_timeout_seconds // config.rollout_check_every),
        images=images,
    )


def _render_from_base(request: DeploymentRequest, ecs_client: Any) -> dict[str, Any]:
    """For a request started without the intake's rendering (an execution older than that field)."""
    base, tags = ecs_access.describe_task_definition(request.base_task_definition, ecs_client)
    return render(base, tags, request.images, request.deployment_id, request.source.object_version)


def _ours_running(service: dict[str, Any], new_arn: str | None) -> str | None:
    """The ECS deployment of new_arn, when an earlier attempt already pointed the service at it."""
    if not new_arn or service.get("taskDefinition") != new_arn:
        return None
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    return next((str(d["id"]) for d in primary if d.get("taskDefinition") == new_arn), None)


def _previous(service: dict[str, Any], new_arn: str | None, request: DeploymentRequest) -> str:
    """What ran before an earlier attempt's UpdateService: the newest other deployment ECS still lists,
    else what the intake saw running."""
    others = sorted(
        (d for d in service.get("deployments", []) if d.get("taskDefinition") != new_arn),
        key=lambda d: str(d.get("createdAt", "")),
        reverse=True,
    )
    if others:
        return str(others[0]["taskDefinition"])
    return str(request.running_task_definition or service["taskDefinition"])
