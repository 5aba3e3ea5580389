"""Deploy step: register Terraform's base with the new images, then point the service at it.

The step trusts nothing its input says: anyone allowed to invoke it (or to start the workflow, or to end its
approval wait with a task token) could have written that input. Before it changes anything it re-derives what
to deploy from what only handoff and Terraform write (authorize): the deployment's record (the images the
intake validated and pinned), the registry entry (cluster, service, base, containers, registries, approval),
Terraform's base task definition from ECS, and, where approval is required, the approval as the approval
functions recorded it. A mismatch is DeploymentRefused, naming it; nothing is registered or updated.

Safe to retry: the new revision carries this deployment's id as a tag, and a retry asks ECS what the first
attempt did (its revision; whether the service already runs it) instead of doing it twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import registry
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ArtifactRejected, DeployFailed, DeploymentRefused, HandoffError, TransientAwsError
from ecs_handoff.models import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentRequest,
    DeployResult,
    ImageChange,
    ImageDefinition,
    Outcome,
    Phase,
    ServiceConfig,
    VoteDecision,
    approval_id_for,
    iso,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import (
    TAG_DEPLOYMENT_ID,
    check_containers,
    check_policy,
    is_handoff_revision,
    registry_host,
    render,
    revision_changes,
    short_name,
    split_reference,
    with_requested,
)

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SSMClient
    from ecs_handoff.settings import DeploySettings


@dataclass(frozen=True)
class Authorized:
    """What the deploy step may do, as it re-derived it: never taken from its input."""

    config: ServiceConfig  # the registry entry (with the environment's approval floor)
    images: list[ImageDefinition]  # as the intake validated and pinned them
    registration: dict[str, Any]  # Terraform's base with those images, rendered here
    base_task_definition: str


def authorize(
    request: DeploymentRequest,
    settings: DeploySettings,
    records: DeploymentRecords,
    approvals: ApprovalStore,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
) -> Authorized:
    """Re-derives the deployment from the record, the registry, the base and the approval; DeploymentRefused
    (naming what did not hold) unless the request asks for exactly that."""
    me = request.deployment_id
    record = records.get(me)
    if record is None:
        raise DeploymentRefused(f"deployment {me} has no record: handoff's intake never accepted it")
    _check_record(request, record, settings.env)
    images = record.validated_images or []
    try:
        config = registry.load_service(settings.registry_prefix, record.service, ssm_client)
    except ArtifactRejected as exc:
        raise DeploymentRefused(f"the registry no longer allows deploying {record.service}: {exc}") from exc
    if settings.require_approval and not config.approval_required:
        config = config.model_copy(update={"approval_required": True})  # the environment's floor
    if (request.service.cluster, request.service.service) != (config.cluster, config.service):
        raise DeploymentRefused(
            f"the request names service {request.service.service!r} in cluster {request.service.cluster!r}, but "
            f"the registry entry of {record.service} names {config.service!r} in {config.cluster!r}"
        )
    try:
        check_policy(
            config.allowed_registries or [settings.default_registry], config.containers, record.service, images
        )
    except ArtifactRejected as exc:
        raise DeploymentRefused(f"the registry entry of {record.service} no longer allows these images: {exc}") from exc
    _check_pinned(images, config, settings.default_registry)
    base, tags = _checked_base(record, config, ecs_client)
    if config.approval_required:
        _check_approval(me, config, images, approvals)
    registration = render(base, tags, images, me, record.source.object_version if record.source else "")
    return Authorized(config, images, registration, str(base["taskDefinitionArn"]))


def _check_record(request: DeploymentRequest, record: DeploymentRecord, env: str) -> None:
    if record.env != env or record.service != request.service_id:
        raise DeploymentRefused(
            f"deployment {record.id} is {record.service} in {record.env}, not {request.service_id} in {env}"
        )
    if record.outcome.terminal:
        raise DeploymentRefused(f"deployment {record.id} already ended {record.outcome.value}; nothing to deploy")
    if not record.validated_images:
        raise DeploymentRefused(f"the record of {record.id} holds no images the intake validated")
    if [i.model_dump() for i in request.images] != [i.model_dump() for i in record.validated_images]:
        raise DeploymentRefused(
            f"the request's images ({_listed(request.images)}) are not the ones the intake validated for "
            f"{record.id} ({_listed(record.validated_images)})"
        )
    if record.source is None or request.source.object_version != record.source.object_version:
        raise DeploymentRefused(f"the request names another upload than the one deployment {record.id} received")


def _check_pinned(images: list[ImageDefinition], config: ServiceConfig, host: str) -> None:
    if not config.pin_digests:
        return
    for image in images:
        if registry_host(image.image_uri) == host and not split_reference(image.image_uri, host)[2]:
            raise DeploymentRefused(f"{image.image_uri} is not pinned by digest, as the registry entry requires")


def _checked_base(
    record: DeploymentRecord, config: ServiceConfig, ecs_client: ECSClient | None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The base the intake resolved, if it still is Terraform's base of the registry's family."""
    named = record.base_task_definition or ""
    wanted = short_name(config.task_definition)  # family:revision, or a bare family (its newest base)
    family = wanted.split(":", 1)[0]
    if ":" in wanted and short_name(named) != wanted:
        raise DeploymentRefused(f"the registry's base is {wanted}, not {short_name(named) or 'none'}")
    base, tags = ecs_access.describe_task_definition(named, ecs_client)
    if str(base.get("family")) != family or is_handoff_revision(tags):
        raise DeploymentRefused(f"{short_name(named)} is not Terraform's base of family {family}")
    try:
        check_containers(base, record.validated_images or [])
    except ArtifactRejected as exc:
        raise DeploymentRefused(str(exc)) from exc
    return base, tags


def _check_approval(
    deployment_id: str, config: ServiceConfig, images: list[ImageDefinition], approvals: ApprovalStore
) -> None:
    """The approval as the approval functions recorded it (a consistent read), never the wait's output."""
    approval = approvals.get(approval_id_for(deployment_id))
    if approval is None or approval.deployment_id != deployment_id:
        raise DeploymentRefused(f"deployment {deployment_id} needs approval and none was requested or recorded")
    if approval.status is not ApprovalStatus.APPROVED:
        raise DeploymentRefused(
            f"the approval wait ended, but the approval is {approval.status.value}, not APPROVED: the wait was "
            "ended by something other than the approvers' decision"
        )
    voted = {v.approver for v in approval.votes if v.decision is VoteDecision.APPROVE}
    people = [a for a in dict.fromkeys(approval.approved_by) if a in voted and a in config.approvers]
    required = max(config.approvals_required, approval.approvals_required)
    if len(people) < required:
        raise DeploymentRefused(
            f"the approval has {len(people)} recorded approval(s) from the registry's approvers "
            f"({', '.join(people) or 'none'}); {required} required"
        )
    approved = {c.container: c.image_after for c in approval.changes}
    running = {i.name: i.image_uri for i in images}
    differs = [name for name, image in approved.items() if name in running and running[name] != image]
    if differs:
        raise DeploymentRefused(f"what was approved is not what would run (container {', '.join(differs)})")


def _listed(images: list[ImageDefinition]) -> str:
    return ", ".join(f"{i.name}={i.image_uri}" for i in images)


def deploy(
    request: DeploymentRequest,
    allowed: Authorized,
    records: DeploymentRecords,
    ecs_client: ECSClient | None = None,
    attempt: int = 0,
) -> DeployResult:
    """Deploys what authorize() allowed. The lock's lease was taken long enough for the approval wait plus the
    rollout, and the rollout's looks renew it, so this step does not."""
    config, me = allowed.config, request.deployment_id
    if attempt > 0:
        record = records.get(me)
        if record is not None and record.ecs_deployment_id and record.new_task_definition:
            logger.info("an earlier attempt finished this step", ecs_deployment_id=record.ecs_deployment_id)
            return _result(
                config,
                record.new_task_definition,
                str(record.previous_task_definition),
                record.ecs_deployment_id,
                record.timeline.get("deploying", ""),
                record.images,
            )

    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    new_arn = None
    if attempt > 0:  # an earlier attempt may have registered, and even updated, before it could record
        new_arn = ecs_access.find_revision_tagged(allowed.base_task_definition, TAG_DEPLOYMENT_ID, me, ecs_client)
    ecs_deployment_id = _ours_running(service, new_arn)
    previous = _previous(service, new_arn, request) if ecs_deployment_id else str(service["taskDefinition"])
    spec = allowed.registration
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
    return _result(config, new_arn, previous, ecs_deployment_id, deployed_at, changes)


def _result(
    config: ServiceConfig,
    new_arn: str,
    previous: str,
    ecs_deployment_id: str,
    deployed_at: str,
    images: list[ImageChange],
) -> DeployResult:
    return DeployResult(
        new_task_definition=new_arn,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_deployment_id,
        deployed_at=deployed_at or iso(utcnow()),
        check_every_seconds=config.rollout_check_every,
        max_failed_checks=max(1, config.rollout_timeout_seconds // config.rollout_check_every),
        images=images,
    )


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
