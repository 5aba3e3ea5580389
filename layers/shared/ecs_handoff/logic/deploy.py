"""Deploy step: register Terraform's base with the new images, then point the service at it.

Safe to retry: each side effect is recorded on the deployment record before the next, and a
retry reuses what was recorded instead of registering or updating twice."""

from __future__ import annotations

from typing import Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import NotFound
from ecs_handoff.models import DeploymentRequest, DeployResult, Outcome, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import (
    TAG_DEPLOYMENT_ID,
    new_revision,
    render,
    revision_changes,
    short_name,
    with_requested,
)


def deploy(
    request: DeploymentRequest, records: DeploymentRecords, ecs_client: Any = None, attempt: int = 0
) -> DeployResult:
    """Four ECS calls and three record operations on the first run; a retry skips what the record shows done.

    The lock's lease was taken long enough for the approval wait plus the rollout, and the rollout
    polls renew it, so this step does not."""
    config, me = request.service, request.deployment_id
    record = records.get(me)
    if record is None:
        raise NotFound(f"deployment record {me} is missing; the intake must create it first")

    previous = record.previous_task_definition or str(
        ecs_access.describe_service(config.cluster, config.service, ecs_client)["taskDefinition"]
    )
    moved_on = previous != request.running_task_definition  # another deployment ran since the intake looked
    if moved_on:
        running, _ = ecs_access.describe_task_definition(previous, ecs_client)
    else:  # the images are all this step compares; the rest was compared at intake and approval
        running = {"containerDefinitions": [{"name": k, "image": v} for k, v in request.running_images.items()]}
    changes = record.images

    new_arn = record.new_task_definition
    if not new_arn:
        base: dict[str, Any] | None = None
        if attempt > 0:
            # A retry whose earlier attempt may have registered before it could write the record.
            new_arn = ecs_access.find_revision_tagged(request.base_task_definition, TAG_DEPLOYMENT_ID, me, ecs_client)
        if new_arn:
            logger.warning("reusing the revision an earlier attempt registered", task_definition=new_arn)
        else:
            base, tags = ecs_access.describe_task_definition(request.base_task_definition, ecs_client)
            spec = render(base, tags, request.images, me, request.source.object_version)
            new_arn = ecs_access.register_task_definition(spec, ecs_client)
            logger.info("task definition registered", task_definition=new_arn)
        if base is None:
            base, _ = ecs_access.describe_task_definition(new_arn, ecs_client)
        changes, other_changes = revision_changes(running, new_revision(base, request.images))
        changes = with_requested(changes, request.pinned_from)
        # Recorded before UpdateService: a retry reuses this revision, and rollback knows where to return.
        records.update(
            me,
            phase="registered",
            at=iso(utcnow()),
            new_task_definition=new_arn,
            previous_task_definition=previous,
            images=[c.model_dump() for c in changes],
            other_changes=other_changes if moved_on else None,  # None: keep what intake and approval found
            outcome=Outcome.IN_PROGRESS.value,  # past the approval gate, if there was one
        )

    ecs_deployment_id = record.ecs_deployment_id
    deployed_at = record.timeline.get("deploying") or iso(utcnow())
    if not ecs_deployment_id:
        ecs_deployment_id = ecs_access.update_service(config.cluster, config.service, new_arn, ecs_client)
        records.update(me, phase="deploying", at=deployed_at, ecs_deployment_id=ecs_deployment_id)
        logger.info("service updated", ecs_deployment_id=ecs_deployment_id, task_definition=short_name(new_arn))
    return DeployResult(
        new_task_definition=new_arn,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_deployment_id,
        deployed_at=deployed_at,
        max_failed_checks=max(1, config.rollout_timeout_seconds // config.poll_interval_seconds),
        images=changes,
    )
