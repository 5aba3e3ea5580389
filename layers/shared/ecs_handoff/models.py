"""Typed boundaries: registry entries, workflow input/output, stored records."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ecs_handoff import limits

SERVICE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
"""Safe service ids: lowercase DNS-label style, 1-40 characters, so they fit in keys, SSM
names and execution names without escaping."""


EXECUTION_NAME_MAX = 80
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(service_id: str, version_id: str) -> str:
    """Deterministic Step Functions execution name (80 characters of [A-Za-z0-9_-]) for one upload."""
    clean = _EXECUTION_NAME_UNSAFE.sub("_", version_id)
    name = f"{service_id}-{clean}"
    if clean != version_id or len(name) > EXECUTION_NAME_MAX:
        digest = hashlib.sha256(version_id.encode()).hexdigest()[:16]
        name = f"{service_id}-{clean[: EXECUTION_NAME_MAX - len(service_id) - 18]}-{digest}"
    return name[:EXECUTION_NAME_MAX]


def without_controls(text: str) -> str:
    """Control and format characters (newlines, ANSI escapes, bidi overrides) replaced by spaces."""
    return "".join(" " if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" else c for c in text)


def one_line(text: str, limit: int = 1000) -> str:
    """Text a person typed, safe to put in an email line, a log or a terminal: no control or format
    characters, runs of space collapsed."""
    return " ".join(without_controls(text).split())[:limit]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC timestamp with milliseconds; sorts lexically in DynamoDB."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_iso(timestamp: str) -> datetime:
    """The instant an ISO 8601 timestamp names (iso()'s, or AWS's with a Z or an offset)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def seconds_since(timestamp: str) -> float:
    """Seconds from an iso() timestamp until now."""
    return max(0.0, (utcnow() - parse_iso(timestamp)).total_seconds())


class Outcome(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    INVALID = "INVALID"

    @property
    def terminal(self) -> bool:
        return self not in (Outcome.IN_PROGRESS, Outcome.AWAITING_APPROVAL)


class Phase(StrEnum):
    """Where a deployment is, on its record (and, with the time it was first reached, in its timeline)."""

    RECEIVED = "received"  # the intake is checking the upload
    QUEUED = "queued"  # the workflow started
    WAITING_FOR_LOCK = "waiting_for_lock"  # another deployment of the service runs
    LOCKED = "locked"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING_FOR_WINDOW = "waiting_for_window"  # outside every deploy window, or the change calendar CLOSED
    WAITING_FOR_ALARM = "waiting_for_alarm"  # a blocking alarm is in ALARM
    GATES_OPEN = "gates_open"
    DEPLOY_NOW = "deploy_now"  # `handoff deploy-now` started it past its release controls
    DEPLOYING = "deploying"
    ROLLING_OUT = "rolling_out"
    BAKING = "baking"
    ROLLED_BACK = "rolled_back"
    FINISHED = "finished"

    @property
    def held(self) -> bool:
        """Held by a release control (what `handoff deploy-now` may override)."""
        return self in (Phase.WAITING_FOR_WINDOW, Phase.WAITING_FOR_ALARM)


class Model(BaseModel):
    # defer_build: a model's validator is built when first used, so a function pays only for the models it
    # reads (a cold start cost, measured in `make bench`).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False, defer_build=True)


class WorkflowModel(Model):
    """What the state machine passes between its states: an unknown field is a renamed or misspelt path in
    statemachine/deployment.asl.json, refused where it is parsed instead of read as absent."""

    model_config = ConfigDict(extra="forbid")


class ImageDefinition(WorkflowModel):
    """One entry of imagedefinitions.json (the CodePipeline format)."""

    name: str
    image_uri: str = Field(alias="imageUri")

    @property
    def tag(self) -> str | None:
        ref = self.image_uri.split("@", 1)[0]
        last = ref.rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else None


class DeployWindow(Model):
    """When a service may be deployed: cron-style days and hours in a time zone."""

    model_config = ConfigDict(extra="forbid")

    days: str = Field(default="*", description="MON-FRI, MON,WED,FRI, SAT-SUN or * (every day)")
    hours: str = Field(description="HH:MM-HH:MM, end exclusive; 22:00-02:00 runs past midnight; 00:00-24:00 all day")
    time_zone: str = Field(default="UTC", description="an IANA time zone, e.g. Asia/Tokyo")

    @model_validator(mode="after")
    def _parses(self) -> DeployWindow:
        from ecs_handoff import windows

        windows.parse_days(self.days)
        windows.parse_hours(self.hours)
        windows.zone(self.time_zone)
        return self


class ServiceConfig(Model):
    """A registry entry, written by Terraform: which ECS service a service id deploys to, and how."""

    model_config = ConfigDict(extra="forbid")

    cluster: str = Field(min_length=1, max_length=255)
    service: str = Field(min_length=1, max_length=255)
    task_definition: str = Field(
        min_length=1,
        max_length=1600,
        description="Base task definition: an ARN with revision, family:revision, or a family "
        "(then the newest revision Terraform registered, i.e. one without handoff's tags).",
    )
    approval_required: bool = False
    approvers: list[str] = Field(default_factory=list)
    approvals_required: int = Field(default=1, ge=1, le=10)
    rollout_timeout_seconds: int = Field(default=1800, ge=5, le=86400)
    approval_timeout_seconds: int = Field(default=86400, ge=5, le=604800)
    poll_interval_seconds: int = Field(
        default=15, ge=1, le=300, description="How often a deployment waiting for the service's lock looks again."
    )
    rollout_check_seconds: int = Field(
        default=180,
        ge=1,
        le=3600,
        description="ECS's own deployment events decide the rollout; when none has arrived for this long "
        "(events can be lost or late, and FAILED comes only with the circuit breaker on), the workflow "
        "checks the deployment itself, and waits again, up to rollout_timeout_seconds.",
    )
    lock_timeout_seconds: int = Field(
        default=3600,
        ge=5,
        le=86400,
        description="How long a deployment waits for the one before it to finish before it gives up.",
    )
    approver_principals: dict[str, str] = Field(
        default_factory=dict,
        description="IAM principals (ARNs, * allowed) that may decide from the CLI, each mapped to the "
        "approver (an address in approvers) it acts as; nobody else can approve from the CLI.",
    )
    allowed_registries: list[str] | None = Field(
        default=None,
        description="Registry hosts images may come from (e.g. public.ecr.aws); absent: this account's "
        "ECR in this region only.",
    )
    containers: list[str] | None = Field(
        default=None,
        description="The containers CI may set; absent: every container of the base. Others keep "
        "Terraform's image (a sidecar such as a log router).",
    )
    pin_digests: bool = Field(
        default=True,
        description="Deploy this account's ECR images by the digest their tag had at intake, so a tag "
        "pushed again later cannot change what runs.",
    )
    keep_revisions: int = Field(
        default=10,
        ge=2,
        le=90,
        description="handoff deregisters its own revisions of this service beyond the newest N "
        "(never Terraform's, never the running or the previous one).",
    )

    # Release controls (CodePipeline V2's stage conditions); all optional, absent: none.
    deploy_windows: list[DeployWindow] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="When the service may be deployed; outside every window a deployment waits (approved or not).",
    )
    change_calendar: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:/-]{3,200}$",
        description="An AWS Systems Manager Change Calendar (name or ARN): deploy only while it is OPEN.",
    )
    blocking_alarms: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="CloudWatch alarm names: while any is in ALARM a deployment does not start, and one going "
        "to ALARM during the bake rolls the deployment back.",
    )
    bake_seconds: int = Field(
        default=0,
        ge=0,
        le=86400,
        description="After the rollout COMPLETED, watch blocking_alarms this long; ALARM rolls back.",
    )
    gate_poll_seconds: int = Field(
        default=60, ge=1, le=3600, description="How often a waiting release control, or the bake, looks again."
    )
    max_gate_wait_seconds: int = Field(
        default=86400,
        ge=1,
        le=604800,
        description="The longest a deployment waits for its window, calendar or alarms before it ends (EXPIRED).",
    )
    override_principals: list[str] = Field(
        default_factory=list,
        description="IAM principals (ARNs, * allowed) that may start a deployment held by a release control "
        "with `handoff deploy-now` (recorded with their reason); nobody else can.",
    )

    @property
    def has_release_gates(self) -> bool:
        return bool(self.deploy_windows or self.change_calendar or self.blocking_alarms)

    @property
    def has_bake(self) -> bool:
        return bool(self.bake_seconds and self.blocking_alarms)

    @model_validator(mode="after")
    def _release_controls_agree(self) -> ServiceConfig:
        if self.deploy_windows and self.change_calendar:
            raise ValueError("give deploy_windows or change_calendar, not both")
        if self.bake_seconds and not self.blocking_alarms:
            raise ValueError("bake_seconds watches blocking_alarms: name at least one alarm")
        for principal in self.override_principals:
            if not principal.startswith("arn:"):
                raise ValueError(f"override_principals: {principal!r} is not an IAM ARN (pattern)")
        return self

    @model_validator(mode="after")
    def _loops_fit_in_one_execution(self) -> ServiceConfig:
        # A standard execution keeps at most 25,000 history events; its loops must fit with margin.
        rollout_checks = self.rollout_timeout_seconds / self.rollout_check_seconds
        lock_waits = self.lock_timeout_seconds / self.poll_interval_seconds
        gate_waits = (self.max_gate_wait_seconds if self.has_release_gates else 0) / self.gate_poll_seconds
        bake_checks = (self.bake_seconds if self.has_bake else 0) / self.gate_poll_seconds
        events = limits.planned_events(rollout_checks, lock_waits, gate_waits, bake_checks)
        if events > limits.HISTORY_BUDGET:
            controls = ""
            if gate_waits or bake_checks:
                controls = (
                    f", release controls holding up to {self.max_gate_wait_seconds if gate_waits else 0} s and a "
                    f"{self.bake_seconds if bake_checks else 0} s bake looked at every {self.gate_poll_seconds} s"
                )
            raise ValueError(
                f"rollout_timeout_seconds {self.rollout_timeout_seconds} checked every {self.rollout_check_seconds} s "
                f"and lock_timeout_seconds {self.lock_timeout_seconds} polled every {self.poll_interval_seconds} s"
                f"{controls} could need {events} Step Functions history events; at most {limits.HISTORY_BUDGET} fit "
                f"in one execution (AWS's limit is {limits.HISTORY_EVENT_LIMIT}), so raise rollout_check_seconds, "
                "poll_interval_seconds or gate_poll_seconds, or lower the timeouts"
            )
        return self

    @property
    def rollout_check_every(self) -> int:
        """How long one wait for ECS's event lasts before the workflow checks by itself."""
        return min(self.rollout_check_seconds, self.rollout_timeout_seconds)

    @model_validator(mode="after")
    def _principals_act_as_approvers(self) -> ServiceConfig:
        known = {a.lower() for a in self.approvers}
        for principal, approver in self.approver_principals.items():
            if not principal.startswith("arn:"):
                raise ValueError(f"approver_principals: {principal!r} is not an IAM ARN (pattern)")
            if approver.lower() not in known:
                raise ValueError(f"approver_principals: {principal} acts as {approver!r}, who is not in approvers")
        return self

    @field_validator("allowed_registries")
    @classmethod
    def _registries_are_hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for host in value:
            if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?", host):
                raise ValueError(f"allowed registry {host!r} is not a registry host name (like public.ecr.aws)")
        return value

    @field_validator("approvers")
    @classmethod
    def _approvers_are_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"approver {address!r} is not an email address")
        return value


# Object metadata keys CI may set on the upload: CodePipeline's S3 source key for a revision summary
# (so a CI migrating from CodePipeline keeps working), and handoff's own.
CI_METADATA_KEYS = {
    "codepipeline-artifact-revision-summary": "summary",
    "commit": "commit",
    "url": "url",
    "uploader": "uploader",
}


class CiDescription(WorkflowModel):
    """What the uploader says about the change, from the object's metadata: shown labelled as such."""

    summary: str = ""
    commit: str = ""
    url: str = ""
    uploader: str = ""  # the principal CI says uploaded (handoff upload sets its caller's ARN)

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> CiDescription | None:
        values = {
            field: one_line(metadata[key], 300 if field != "summary" else 1000)
            for key, field in CI_METADATA_KEYS.items()
            if metadata.get(key)
        }
        return cls(**values) if values else None

    def lines(self) -> list[str]:
        shown = [("Summary", self.summary), ("Commit", self.commit), ("CI run", self.url), ("Uploader", self.uploader)]
        return [f"{label}: {value}" for label, value in shown if value]


class Source(WorkflowModel):
    """The exact S3 object version a deployment comes from."""

    bucket: str
    key: str
    object_version: str
    sequencer: str
    requester: str = ""
    source_ip: str = ""
    etag: str = ""
    size: int = 0
    event_time: str = ""
    ci: CiDescription | None = None  # what CI says about the change (object metadata), not verified


class ImageChange(WorkflowModel):
    container: str
    image_before: str | None = None
    image_after: str
    requested: str | None = None  # the tag CI uploaded, when handoff pinned it to image_after's digest


class DeploymentRequest(WorkflowModel):
    """The workflow input the intake starts each execution with."""

    @model_validator(mode="before")
    @classmethod
    def _without_computed(cls, data: Any) -> Any:
        # workflow_input() adds these for the state machine's Choices; they follow from the fields.
        if isinstance(data, dict) and COMPUTED_FOR_WORKFLOW & data.keys():
            return {k: v for k, v in data.items() if k not in COMPUTED_FOR_WORKFLOW}
        return data

    deployment_id: str
    env: str
    service_id: str
    service: ServiceConfig
    base_task_definition: str
    images: list[ImageDefinition]  # as deployed: this account's ECR images pinned by digest
    source: Source
    requested_at: str
    pinned_from: dict[str, str] = Field(default_factory=dict)  # container -> the tagged reference CI uploaded
    # What ran when the intake looked: lets the deploy step skip describing it again if nothing moved.
    running_task_definition: str | None = None
    running_images: dict[str, str] = Field(default_factory=dict)
    # RegisterTaskDefinition's arguments, rendered by the intake from the base revision it described.
    registration: dict[str, Any] | None = None

    @property
    def approval_wait_seconds(self) -> int:
        """How long the workflow waits for a decision: the links' lifetime plus a grace period, so a
        decision made just before a link expires still reaches a waiting workflow."""
        timeout = self.service.approval_timeout_seconds
        return timeout + min(60, timeout // 10)

    @property
    def has_release_gates(self) -> bool:
        """Whether the workflow looks at release controls before the deploy (else it skips those states)."""
        return self.service.has_release_gates

    @property
    def has_bake(self) -> bool:
        """Whether the workflow bakes after the rollout COMPLETED (else it finalizes at once)."""
        return self.service.has_bake

    def workflow_input(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        data.update({name: getattr(self, name) for name in sorted(COMPUTED_FOR_WORKFLOW)})
        return data


# DeploymentRequest's properties the workflow input carries (the ASL's Choices and TimeoutSecondsPath read them).
COMPUTED_FOR_WORKFLOW = frozenset({"approval_wait_seconds", "has_release_gates", "has_bake"})


class GateStatus(StrEnum):
    NEW = "NEW"  # set by the workflow before the first look
    OPEN = "OPEN"  # every release control allows the deployment: deploy
    WAIT = "WAIT"  # a control holds it (or the bake goes on): look again after wait_seconds
    EXPIRED = "EXPIRED"  # held longer than max_gate_wait_seconds: nothing deployed
    SUPERSEDED = "SUPERSEDED"  # a newer upload arrived while this one waited
    DONE = "DONE"  # the bake ended without an alarm
    ALARM = "ALARM"  # an alarm went to ALARM during the bake: roll back


class GateResult(WorkflowModel):
    """What one look at the release controls (or at the bake) found; the workflow passes it back in."""

    status: GateStatus
    reason: str = ""
    wait_seconds: int = 1
    since: str | None = None  # when the first look held the deployment (or the bake began)
    opens_at: str | None = None  # the deployment window's next opening, when that is what holds it
    alarm: str | None = None
    override: dict[str, str] | None = None  # the `handoff deploy-now` that opened it


class GateInput(WorkflowModel):
    request: DeploymentRequest
    previous: GateResult
    check: Literal["release", "bake"] = "release"  # before the deploy, or after the rollout COMPLETED


class LockStatus(StrEnum):
    ACQUIRED = "ACQUIRED"  # this deployment holds the service's lock
    WAIT = "WAIT"  # another one does: look again after poll_interval_seconds
    SUPERSEDED = "SUPERSEDED"  # a newer upload for the service exists: nothing deployed
    TIMED_OUT = "TIMED_OUT"  # waited lock_timeout_seconds


class LockResult(WorkflowModel):
    status: LockStatus
    reason: str = ""
    holder: str | None = None


class DeployResult(WorkflowModel):
    new_task_definition: str
    previous_task_definition: str
    ecs_deployment_id: str
    deployed_at: str
    # How long the workflow waits for ECS's event before it checks by itself (the registry's
    # rollout_check_seconds, at most the rollout timeout).
    check_every_seconds: int = 180
    # How many failed rollout checks amount to the rollout timeout (as many as it allows checks).
    max_failed_checks: int = 1
    images: list[ImageChange]


class ApprovalResult(WorkflowModel):
    """What the approval gate returns when it opens (SendTaskSuccess output)."""

    approval_id: str
    approved_by: list[str]


class RolloutState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class VerdictSource(StrEnum):
    """What decided a rollout: ECS's deployment event, or the workflow's own check of the deployment."""

    EVENT = "event"
    POLL = "poll"


class RolloutResult(WorkflowModel):
    state: RolloutState
    reason: str = ""
    running_count: int = 0
    desired_count: int = 0
    pending_count: int = 0
    failed_tasks: int = 0
    checked_at: str = ""
    decided_by: VerdictSource | None = None
    ecs_reported_at: str | None = None  # when ECS says the deployment reached this state
    unobservable: bool = False  # set by the workflow: no check succeeded before the rollout deadline

    def counts(self) -> dict[str, int]:
        return {
            "running_count": self.running_count,
            "desired_count": self.desired_count,
            "pending_count": self.pending_count,
            "failed_tasks": self.failed_tasks,
        }


class RollbackAction(StrEnum):
    NOT_NEEDED = "NOT_NEEDED"  # the new revision runs: nothing to undo
    ALREADY_ROLLED_BACK = "ALREADY_ROLLED_BACK"  # ECS's circuit breaker (or a person) put the previous one back
    ROLLED_BACK = "ROLLED_BACK"  # handoff put the previous revision back
    NOTHING_DEPLOYED = "NOTHING_DEPLOYED"  # the service was never changed


class RollbackResult(WorkflowModel):
    action: RollbackAction
    task_definition: str | None = None
    reason: str = ""


class WorkflowError(WorkflowModel):
    """What a Catch puts at $.error: the error name (our exception class) and its cause."""

    error: str = Field(default="", alias="Error")
    cause: str | None = Field(default="", alias="Cause")

    @property
    def message(self) -> str:
        """The human part of a Lambda error cause (a JSON document with errorMessage)."""
        import json

        if not self.cause:
            return self.error
        try:
            payload: Any = json.loads(self.cause)
        except (TypeError, ValueError):
            return self.cause or self.error
        if isinstance(payload, dict) and payload.get("errorMessage"):
            return str(payload["errorMessage"])
        return self.cause or self.error


class FinalizeResult(WorkflowModel):
    outcome: Outcome
    reason: str
    recorded: bool = True  # False when another finalizer had already recorded the outcome


class FailedChecks(WorkflowModel):
    count: int = 0


class WorkflowState(WorkflowModel):
    """The whole execution state as it flows through the ASL."""

    request: DeploymentRequest
    lock: LockResult | None = None
    approval: ApprovalResult | None = None
    deploy: DeployResult | None = None
    rollout: RolloutResult | None = None
    rollback: RollbackResult | None = None
    error: WorkflowError | None = None
    approval_error: WorkflowError | None = None
    rollback_error: WorkflowError | None = None
    gate: GateResult | None = None  # the release controls before the deploy
    bake: GateResult | None = None  # the alarms watched after the rollout COMPLETED
    bake_error: WorkflowError | None = None  # the bake could not be checked
    check_error: WorkflowError | None = None  # the last failed rollout check (it is looked at again)
    watch_timeout: WorkflowError | None = None  # the last wait for ECS's event that ended without one
    failed_checks: FailedChecks | None = None  # kept by the workflow (StartRolloutWatch, CountFailedCheck)
    result: FinalizeResult | None = None  # a verdict decided outside the steps (the ended-execution finalizer)
    outcome: FinalizeResult | None = None  # Finalize's own result, read by the Outcome? choice
    finalize_error: WorkflowError | None = None  # Finalize failed even after its retries


class DeploymentRecord(Model):
    """One row per deployment in the deployments table."""

    id: str
    env: str
    service: str
    outcome: Outcome
    reason: str = ""
    phase: Phase | None = None
    cluster: str = ""
    ecs_service: str = ""
    source: Source | None = None
    images: list[ImageChange] = Field(default_factory=list)
    other_changes: list[str] = Field(default_factory=list)  # differences outside images, in words
    base_task_definition: str | None = None
    new_task_definition: str | None = None
    previous_task_definition: str | None = None
    ecs_deployment_id: str | None = None
    execution_arn: str | None = None
    approval_id: str | None = None
    approvals: list[dict[str, Any]] = Field(default_factory=list)
    rollout: dict[str, int] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    timeline: dict[str, str] = Field(default_factory=dict)
    notified_at: str | None = None  # set by the one finalizer that sends the outcome notification
    notes: list[str] = Field(default_factory=list)  # what happened after the outcome (a late decision)
    revision_deregistered: bool = False  # new_task_definition was deregistered as older than keep_revisions
    verdict_by: VerdictSource | None = None  # what decided the rollout: ECS's event or handoff's own check
    ecs_reported_at: str | None = None  # when ECS reported the deployment COMPLETED or FAILED
    gate: dict[str, str] = Field(default_factory=dict)  # what a release control holds it for (reason, opens_at)
    override: dict[str, str] | None = None  # `handoff deploy-now`: who, why, when

    @property
    def object_version(self) -> str | None:
        return self.source.object_version if self.source else None

    @property
    def approved_by(self) -> list[str]:
        return [str(v["approver"]) for v in self.approvals if v.get("decision") == VoteDecision.APPROVE]

    def summary(self) -> dict[str, Any]:
        """The stable JSON shape the CLI prints (`handoff history --json`)."""
        return {
            "id": self.id,
            "env": self.env,
            "service": self.service,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "phase": self.phase.value if self.phase else "",
            "object_version": self.object_version,
            "requester": self.source.requester if self.source else None,
            "images": [c.model_dump() for c in self.images],
            "base_task_definition": self.base_task_definition,
            "task_definition": self.new_task_definition,
            "previous_task_definition": self.previous_task_definition,
            "ecs_deployment_id": self.ecs_deployment_id,
            "approval_id": self.approval_id,
            "approvals": self.approvals,
            "approved_by": self.approved_by,
            "rollout": self.rollout,
            "verdict_by": self.verdict_by.value if self.verdict_by else None,
            "ecs_reported_at": self.ecs_reported_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "timeline": self.timeline,
        }


class LockInput(WorkflowModel):
    request: DeploymentRequest
    execution_arn: str


class StepInput(WorkflowModel):
    request: DeploymentRequest


class DeployInput(WorkflowModel):
    request: DeploymentRequest
    attempt: int = 0  # $$.State.RetryCount: above 0 when Step Functions retries the step


class RolloutInput(WorkflowModel):
    """WatchRollout's payload: the task token the verdict is sent to, by an ECS event or by this check."""

    request: DeploymentRequest
    deploy: DeployResult
    task_token: str = Field(repr=False)
    # $$.State.EnteredTime and RetryCount: which wait is the newest, when a slow look outlives its own
    # wait and the next one has already begun.
    entered: str = ""
    attempt: int = 0

    @property
    def wait_order(self) -> str:
        return f"{self.entered}#{self.attempt:04d}"


class EcsDeploymentDetail(Model):
    """The detail of ECS's "ECS Deployment State Change" event (Amazon ECS developer guide)."""

    event_type: str = Field(default="", alias="eventType")
    event_name: str = Field(alias="eventName")
    deployment_id: str = Field(alias="deploymentId")
    updated_at: str = Field(default="", alias="updatedAt")
    reason: str = ""


class EcsDeploymentStateChange(Model):
    """EventBridge's envelope around an ECS deployment event; resources holds the service ARN."""

    id: str = ""
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str = ""
    region: str = ""
    time: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: EcsDeploymentDetail


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"  # the deployment ended some other way while the approval was open


class VoteDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalVote(Model):
    """One person's decision, as recorded for the audit trail."""

    approver: str
    decision: VoteDecision
    comment: str = ""

    @field_validator("comment")
    @classmethod
    def _comment_is_one_plain_line(cls, value: str) -> str:
        return one_line(value, 1000)

    at: str
    source_ip: str = ""
    user_agent: str = ""
    via: str = "link"  # link | cli
    principal: str = ""  # the IAM principal that decided from the CLI (approver is the person it acts as)


def approval_id_for(deployment_id: str) -> str:
    """One approval per deployment: a retried RequestApproval finds the one it already made. The id is
    no secret (links carry a signature bound to it and to one approver)."""
    return hashlib.sha256(f"approval:{deployment_id}".encode()).hexdigest()[:32]


class Approval(Model):
    """A pending (or decided) approval; the task token lives only here, never in a link, email or log."""

    approval_id: str
    deployment_id: str
    execution_arn: str
    task_token: str = Field(repr=False)
    env: str
    service_id: str
    changes: list[ImageChange]
    other_changes: list[str] = Field(default_factory=list)
    base_task_definition: str
    running_task_definition: str
    requester: str = ""
    ci: CiDescription | None = None  # what CI says about the change (object metadata), not verified
    requested_at: str
    expires_at: int
    approvers: list[str]
    approvals_required: int = 1
    status: ApprovalStatus = ApprovalStatus.PENDING
    votes: list[ApprovalVote] = Field(default_factory=list)
    approved_by: list[str] = Field(default_factory=list)
    decided_at: str | None = None
    superseded_by: str | None = None
    emailed: list[str] = Field(default_factory=list)  # approvers whose link has been sent
    approver_principals: dict[str, str] = Field(default_factory=dict)  # CLI: IAM ARN pattern -> approver
    resumed_at: str | None = None  # when the workflow was told the decision

    def summary(self) -> dict[str, Any]:
        """Everything but the task token."""
        return self.model_dump(mode="json", exclude={"task_token"})


class ApprovalInput(WorkflowModel):
    request: DeploymentRequest
    task_token: str = Field(repr=False)
    execution_arn: str


class ExecutionStatus(StrEnum):
    """A Step Functions execution's status (DescribeExecution, and the status change event's detail)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"


class ExecutionStatusDetail(Model):
    """The detail of EventBridge's "Step Functions Execution Status Change" event (the fields handoff reads)."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: ExecutionStatus
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(Model):
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: ExecutionStatusDetail
