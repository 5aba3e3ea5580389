"""Intake: turns an S3 "Object Created" event into a started deployment, or a recorded refusal."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ecs_handoff import notify
from ecs_handoff.artifact import MAX_ZIP_BYTES, read_upload
from ecs_handoff.aws import ecr, registry, s3, sfn, sns
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import EventOrder, ServiceState
from ecs_handoff.errors import ArtifactRejected, NotFound
from ecs_handoff.logic.service_deployments import approval_hook_problem
from ecs_handoff.models import (
    SERVICE_ID_PATTERN,
    ApprovalStage,
    CiDescription,
    DeploymentRecord,
    DeploymentRequest,
    ImageDefinition,
    Model,
    Outcome,
    Phase,
    ServiceConfig,
    Source,
    execution_name,
    iso,
    split_reference,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.settings import IntakeSettings
from ecs_handoff.taskdef import (
    check_containers,
    check_policy,
    image_changes,
    new_revision,
    registry_host,
    revision_changes,
    with_requested,
)

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECRClient, ECSClient, S3Client, SFNClient, SNSClient, SSMClient
    from ecs_handoff.models.records import Provenance
    from ecs_handoff.models.registry import PromotionRule

KEY_SUFFIX = "imagedefinitions.json.zip"


class IntakeAction(StrEnum):
    STARTED = "STARTED"  # the workflow runs
    DUPLICATE = "DUPLICATE"  # a redelivered event: already started or refused
    INVALID = "INVALID"  # refused, recorded, notified
    STALE = "STALE"  # older than an upload already handled: recorded SUPERSEDED
    IGNORED = "IGNORED"  # not an upload handoff deploys (another bucket, another key)


class IntakeResult(Model):
    """What the intake did with one event (the intake function's output)."""

    action: IntakeAction
    reason: str
    deployment_id: str | None = None


def service_id_from_key(key: str) -> str | None:
    """The service id of a handoff key (<service_id>/imagedefinitions.json.zip), None if the key is not handoff's."""
    if key == KEY_SUFFIX:
        return ""
    if not key.endswith("/" + KEY_SUFFIX):
        return None
    return key[: -len(KEY_SUFFIX) - 1]


class Intake:
    def __init__(
        self,
        settings: IntakeSettings,
        records: DeploymentRecords | None = None,
        state: ServiceState | None = None,
        s3_client: S3Client | None = None,
        ssm_client: SSMClient | None = None,
        ecs_client: ECSClient | None = None,
        sfn_client: SFNClient | None = None,
        sns_client: SNSClient | None = None,
        ecr_client: ECRClient | None = None,
    ) -> None:
        self.settings = settings
        self.ecr = ecr_client
        self.records = records or DeploymentRecords(settings.deployments_table)
        self.state = state or ServiceState(settings.state_table)
        self.s3, self.ssm, self.ecs, self.sfn, self.sns = s3_client, ssm_client, ecs_client, sfn_client, sns_client

    def handle(self, event: dict[str, Any]) -> IntakeResult:
        from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel

        try:
            parsed = S3EventNotificationEventBridgeModel.model_validate(event)
        except ValidationError:
            return self._ignored("not an S3 event delivered by EventBridge", event=str(event)[:200])
        if parsed.source != "aws.s3" or parsed.detail_type != "Object Created":
            return self._ignored("not an S3 Object Created event", detail_type=parsed.detail_type)
        bucket, obj = parsed.detail.bucket.name, parsed.detail.object
        if bucket != self.settings.bucket:
            return self._ignored("event for another bucket", bucket=bucket)
        service_id = service_id_from_key(obj.key)
        if service_id is None:
            return self._ignored("key is not <service_id>/imagedefinitions.json.zip", key=obj.key[:300])
        source = Source(
            bucket=bucket,
            key=obj.key,
            object_version=obj.version_id or "",
            sequencer=obj.sequencer or "",
            requester=parsed.detail.requester,
            source_ip=parsed.detail.source_ip_address or "",
            etag=obj.etag,
            size=int(obj.size or 0),
            event_time=iso(parsed.time),
        )
        return self._intake(service_id, source)

    def _ignored(self, reason: str, **context: Any) -> IntakeResult:
        logger.info("event ignored", reason=reason, **context)
        return IntakeResult(action=IntakeAction.IGNORED, reason=reason)

    def _intake(self, service_id: str, source: Source) -> IntakeResult:
        safe_service = service_id if SERVICE_ID_PATTERN.match(service_id) else "_invalid"
        version = source.object_version if source.object_version not in ("", "null") else ""
        deployment_id = execution_name(safe_service, version or source.etag or "unversioned")
        logger.set_correlation_id(deployment_id)
        now = iso(utcnow())
        record = DeploymentRecord(
            id=deployment_id,
            env=self.settings.env,
            service=safe_service,
            outcome=Outcome.IN_PROGRESS,
            source=source,
            started_at=now,
            phase=Phase.RECEIVED,
            timeline={"received": now},
        )
        try:
            if safe_service != service_id:
                raise ArtifactRejected(
                    f"the service id {service_id[:80]!r} in key {source.key[:120]!r} is not a safe name "
                    "(lowercase letters, digits and '-', 1-40 characters)"
                )
            if not version:
                raise ArtifactRejected(
                    f"bucket {source.bucket} is not versioned (the event carries no version id); "
                    "handoff deploys exact object versions only, so turn on versioning"
                )
            if not source.sequencer:
                raise ArtifactRejected("the event carries no S3 sequencer, so its order cannot be checked")
            order, newest = self.state.observe_event(source.key, source.sequencer, version)
            if order is EventOrder.STALE:
                return self._stale(record, newest)
            request = self._validate(deployment_id, service_id, source, record)
        except ArtifactRejected as exc:
            return self._refuse(record, str(exc))

        record.phase = Phase.QUEUED
        record.timeline[Phase.QUEUED] = iso(utcnow())
        created = self.records.create(record)
        self.state.mark_latest_deployment(service_id, source.sequencer, deployment_id)
        payload = json.dumps({"request": request.workflow_input()}, sort_keys=True)
        arn = sfn.start_execution(self.settings.state_machine_arn, deployment_id, payload, self.sfn)
        if arn is not None:
            self.records.update(deployment_id, execution_arn=arn)
        if arn is None or not created:
            # A redelivered event, or a retry after a failure between writing the record and the start.
            logger.info("duplicate event, deployment already started", deployment_id=deployment_id)
            return IntakeResult(
                action=IntakeAction.DUPLICATE,
                reason="this upload is already being deployed",
                deployment_id=deployment_id,
            )
        logger.info("deployment started", deployment_id=deployment_id, service=service_id, version=version)
        return IntakeResult(action=IntakeAction.STARTED, reason="deployment started", deployment_id=deployment_id)

    def _validate(
        self, deployment_id: str, service_id: str, source: Source, record: DeploymentRecord
    ) -> DeploymentRequest:
        data, metadata = s3.read_version(source.bucket, source.key, source.object_version, MAX_ZIP_BYTES, self.s3)
        source.ci = CiDescription.from_metadata(metadata)
        images, evidence = read_upload(data)
        record.images = image_changes(None, images)
        prefix, floor = self.settings.registry_prefix, self.settings.require_approval
        config = registry.load_for_environment(prefix, service_id, floor, self.ssm)
        record.cluster, record.ecs_service = config.cluster, config.service
        allowed = config.allowed_registries or [self.settings.default_registry]
        check_policy(allowed, config.containers, service_id, images)
        base, _ = self._base(config, images)
        record.base_task_definition = base["taskDefinitionArn"]
        running = self._running(config)
        if config.promotion is not None:
            record.promoted_from = promoted(config.promotion, service_id, images, evidence, self.settings.env)
        images, pinned_from = self._pin(config, images)
        record.validated_images = images
        changes, record.other_changes = revision_changes(running, new_revision(base, images))
        record.images = with_requested(changes, pinned_from)
        return DeploymentRequest(
            running_task_definition=running.get("taskDefinitionArn") if running else None,
            running_images={c["name"]: c.get("image", "") for c in (running or {}).get("containerDefinitions", [])},
            deployment_id=deployment_id,
            env=self.settings.env,
            service_id=service_id,
            service=config,
            base_task_definition=base["taskDefinitionArn"],
            images=images,
            pinned_from=pinned_from,
            source=source,
            requested_at=record.started_at,
        )

    def _base(
        self, config: ServiceConfig, images: list[ImageDefinition]
    ) -> tuple[dict[str, Any], list[dict[str, str]]]:
        return checked_base(config, images, self.ecs)

    def _pin(
        self, config: ServiceConfig, images: list[ImageDefinition]
    ) -> tuple[list[ImageDefinition], dict[str, str]]:
        return pin_images(images, self.settings.default_registry, config.pin_digests, self.ecr)

    def _running(self, config: ServiceConfig) -> dict[str, Any] | None:
        try:
            service = ecs_access.describe_service(config.cluster, config.service, self.ecs)
        except NotFound as exc:
            raise ArtifactRejected(
                f"the registry points at ECS service {config.service!r} in cluster {config.cluster!r}, "
                f"which does not exist: {exc}"
            ) from exc
        if config.approval_stage is ApprovalStage.BEFORE_PRODUCTION_TRAFFIC:
            problem = approval_hook_problem(service, config.approval_timeout_seconds)
            if problem is not None:
                raise ArtifactRejected(
                    f"{config.service}'s registry entry asks its approvers before production traffic, but {problem}"
                )
        running, _ = ecs_access.describe_task_definition(service["taskDefinition"], self.ecs)
        return running

    def _refuse(self, record: DeploymentRecord, reason: str) -> IntakeResult:
        record.outcome, record.reason = Outcome.INVALID, reason
        record.phase = Phase.FINISHED
        record.finished_at = iso(utcnow())
        record.timeline[Phase.FINISHED] = record.finished_at
        if not self.records.create(record):
            return IntakeResult(
                action=IntakeAction.DUPLICATE, reason="this upload was already refused", deployment_id=record.id
            )
        logger.warning("artifact refused", deployment_id=record.id, reason=reason)
        self._notify(record)
        return IntakeResult(action=IntakeAction.INVALID, reason=reason, deployment_id=record.id)

    def _stale(self, record: DeploymentRecord, newest: str) -> IntakeResult:
        reason = (
            f"this event is older than one already handled for {record.source.key if record.source else '?'} "
            f"(newest version {newest}); it was ignored and nothing was deployed"
        )
        record.outcome, record.reason, record.phase = Outcome.SUPERSEDED, reason, Phase.FINISHED
        record.finished_at = iso(utcnow())
        if self.records.create(record):
            logger.warning("stale event ignored", deployment_id=record.id, newest_version=newest)
        return IntakeResult(action=IntakeAction.STALE, reason=reason, deployment_id=record.id)

    def _notify(self, record: DeploymentRecord) -> None:
        topic = self.settings.topic_arn
        if topic:
            sns.publish(topic, notify.subject(record), notify.body(record), sns=self.sns, chat=notify.chat(record))


def promoted(
    rule: PromotionRule, service_id: str, images: list[ImageDefinition], evidence: bytes | None, env: str
) -> Provenance:
    """The registry's promotion rule: the upload must carry a statement its source environment signed for
    exactly these digests, after the soak (checked here, with the public key the rule names: no call to the
    source account). A rule whose source is this environment itself would let anything that once ran here be
    its own proof: refused, naming the registry entry to fix."""
    from ecs_handoff import promotion  # loads cryptography only for entries with a promotion rule

    if rule.from_env == env:
        raise ArtifactRejected(
            f"{service_id}'s promotion rule names {env}, this environment, as where images come from: a promotion "
            "comes from another environment; set promotion.from in its registry entry to the one before it"
        )
    if evidence is None:
        raise ArtifactRejected(
            f"{service_id} accepts only images promoted from {rule.from_env} (the registry's promotion rule), and "
            f"this upload carries no {promotion.EVIDENCE_MEMBER}; run `handoff promote <{rule.from_env} deployment> "
            "--to <this environment>`"
        )
    return promotion.verify(evidence, rule, service_id, {i.name: i.image_uri for i in images}, utcnow())


def checked_base(
    config: ServiceConfig, images: list[ImageDefinition], ecs: ECSClient | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Terraform's base task definition and its tags, refused unless it has every container the upload names."""
    try:
        base, tags = ecs_access.resolve_base(config.task_definition, ecs, config.keep_revisions)
    except NotFound as exc:
        raise ArtifactRejected(
            f"the base task definition {config.task_definition!r} in the registry cannot be used: {exc}"
        ) from exc
    check_containers(base, images)
    return base, tags


def pin_images(
    images: list[ImageDefinition], host: str, pin_digests: bool, ecr_client: ECRClient | None = None
) -> tuple[list[ImageDefinition], dict[str, str]]:
    """This account's ECR images must exist; with pin_digests (the default) each is deployed by the
    digest its tag has now, so a tag pushed again after approval cannot change what runs. Images in
    other registries are deployed as uploaded (shown as not pinned)."""
    registry_id = host.split(".", 1)[0]
    pinned: list[ImageDefinition] = []
    pinned_from: dict[str, str] = {}
    for image in images:
        if registry_host(image.image_uri) != host:
            pinned.append(image)
            continue
        repository, tag, digest = split_reference(image.image_uri, host)
        found = ecr.image_digest(registry_id, repository, tag, digest, ecr_client)
        if pin_digests and not digest:
            pinned.append(ImageDefinition(name=image.name, image_uri=f"{host}/{repository}@{found}"))
            pinned_from[image.name] = image.image_uri
        else:
            pinned.append(image)
    return pinned, pinned_from
