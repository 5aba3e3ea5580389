"""What a deployment may do, re-derived from what only handoff and Terraform write, never from a step's input.

Anyone allowed to invoke a step's function, start the workflow, or end one of its waits with a task token can
write that input. So the steps that act on a deployment's authority (request-approval, which decides who
approves what; deploy, which changes ECS) re-derive it here: the deployment's record (the images the intake
validated and pinned, written once when it was created), the registry entry as it is now (with the
environment's approval floor), and Terraform's base task definition as ECS has it. The request must agree
with all of it; anything else is DeploymentRefused, naming what did not hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import registry
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ArtifactRejected, DeploymentRefused
from ecs_handoff.models import DeploymentRecord, DeploymentRequest, ImageDefinition, ServiceConfig, split_reference
from ecs_handoff.taskdef import (
    check_containers,
    check_policy,
    is_handoff_revision,
    registry_host,
    short_name,
)

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SSMClient

# The registry fields that only say how long to wait or look, and how many revisions to keep. Every other
# field decides who approves, what may run where, or what holds a deployment: a request whose copy of those
# differs from the registry entry (forged, or Terraform changed the entry since the upload) is refused.
TIMING_FIELDS = frozenset(
    {
        "rollout_timeout_seconds",
        "approval_timeout_seconds",
        "poll_interval_seconds",
        "rollout_check_seconds",
        "lock_timeout_seconds",
        "keep_revisions",
        "gate_poll_seconds",
        "max_gate_wait_seconds",
    }
)


@dataclass(frozen=True)
class Where:
    """Where the deployment's authority is read: the environment and its registry."""

    env: str
    registry_prefix: str
    require_approval: bool
    default_registry: str


@dataclass(frozen=True)
class Derived:
    """The deployment as handoff's record, the registry and ECS have it."""

    record: DeploymentRecord
    config: ServiceConfig  # the registry entry, with the environment's approval floor
    images: list[ImageDefinition]  # as the intake validated and pinned them
    base: dict[str, Any]  # Terraform's base task definition
    base_tags: list[dict[str, str]]


def derive(
    request: DeploymentRequest,
    where: Where,
    records: DeploymentRecords,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
) -> Derived:
    me = request.deployment_id
    record = records.get(me)
    if record is None:
        raise DeploymentRefused(f"deployment {me} has no record: handoff's intake never accepted it")
    _check_record(request, record, where.env)
    images = record.validated_images or []
    config = current_config(record.service, where, ssm_client)
    differs = authority_differences(request.service, config)
    if differs:
        raise DeploymentRefused(
            f"the request's registry entry differs from the registry's for {record.service} "
            f"({', '.join(differs)}): forged, or Terraform changed the entry since the upload; upload again"
        )
    try:
        check_policy(config.allowed_registries or [where.default_registry], config.containers, record.service, images)
    except ArtifactRejected as exc:
        raise DeploymentRefused(f"the registry entry of {record.service} no longer allows these images: {exc}") from exc
    _check_pinned(images, config, where.default_registry)
    base, tags = _checked_base(record, config, ecs_client)
    return Derived(record, config, images, base, tags)


def current_config(service_id: str, where: Where, ssm_client: SSMClient | None = None) -> ServiceConfig:
    """The registry entry as it is now, with the environment's approval floor."""
    try:
        return registry.load_for_environment(where.registry_prefix, service_id, where.require_approval, ssm_client)
    except ArtifactRejected as exc:
        raise DeploymentRefused(f"the registry no longer allows deploying {service_id}: {exc}") from exc


def authority_differences(claimed: ServiceConfig, config: ServiceConfig) -> list[str]:
    """The fields that decide authority in which the request's copy of the registry entry is not the registry's."""
    mine, theirs = claimed.model_dump(mode="json"), config.model_dump(mode="json")
    return sorted(f for f in theirs if f not in TIMING_FIELDS and mine.get(f) != theirs[f])


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
            f"the request's images ({listed(request.images)}) are not the ones the intake validated for "
            f"{record.id} ({listed(record.validated_images)})"
        )
    if record.source is None or request.source.object_version != record.source.object_version:
        raise DeploymentRefused(f"the request names another upload than the one deployment {record.id} received")
    if request.base_task_definition != record.base_task_definition:
        raise DeploymentRefused(f"the request names another base than the one the intake resolved for {record.id}")


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


def listed(images: list[ImageDefinition]) -> str:
    return ", ".join(f"{i.name}={i.image_uri}" for i in images)
