"""The workflow's input and output: what the intake starts an execution with, what each step returns into the
state, and each step's payload. statemachine/deployment.asl.json is held against these
(tests/unit/test_asl_contract.py)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ecs_handoff.models.base import Outcome, WorkflowModel, one_line
from ecs_handoff.models.registry import ServiceConfig


def parse_reference(image_uri: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference: `[host/]repository[:tag][@digest]` (a `:` in the host's
    port is not a tag)."""
    name, _, digest = image_uri.partition("@")
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    return repository, tag or None, digest or None


def split_reference(image_uri: str, host: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of an image on `host`."""
    return parse_reference(image_uri[len(host) + 1 :])


class ImageDefinition(WorkflowModel):
    """One entry of imagedefinitions.json (the CodePipeline format)."""

    name: str
    image_uri: str = Field(alias="imageUri")

    @property
    def tag(self) -> str | None:
        return parse_reference(self.image_uri)[1]


# Object metadata keys CI may set on the upload: CodePipeline's S3 source key for a revision summary
# (so a CI migrating from CodePipeline keeps working), and handoff's own.
CI_METADATA_KEYS = {
    "codepipeline-artifact-revision-summary": "summary",
    "commit": "commit",
    "url": "url",
    "uploader": "uploader",
    "commit-time": "committed_at",
}


class CiDescription(WorkflowModel):
    """What the uploader says about the change, from the object's metadata: shown labelled as such."""

    summary: str = ""
    commit: str = ""
    url: str = ""
    uploader: str = ""  # the principal CI says uploaded (handoff upload sets its caller's ARN)
    committed_at: str = ""  # when CI says the commit was made (ISO 8601): where `handoff stats`' lead time starts

    @field_validator("summary", "commit", "url", "uploader", "committed_at", mode="after")
    @classmethod
    def _one_line(cls, value: str, info: ValidationInfo) -> str:
        """One line however the description was built (from metadata, or a workflow input someone wrote): CI's
        words can never add a line that looks like what handoff checked."""
        return one_line(value, 1000 if info.field_name == "summary" else 300)

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

    @property
    def shown_after(self) -> str:
        """The image after, as people read it: the tag CI uploaded, and the digest it was pinned to."""
        return f"{self.requested} (pinned: {self.image_after})" if self.requested else self.image_after


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

    @property
    def approves_before_deploy(self) -> bool:
        """Whether the workflow asks the approvers before the deploy (approval_stage before_deploy); with
        before_production_traffic it asks when ECS pauses the deployment (the rollout's PAUSED verdict)."""
        return self.service.approves_before_deploy

    def workflow_input(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        data.update({name: getattr(self, name) for name in sorted(COMPUTED_FOR_WORKFLOW)})
        return data


# DeploymentRequest's properties the workflow input carries (the ASL's Choices and TimeoutSecondsPath read them).
COMPUTED_FOR_WORKFLOW = frozenset({"approval_wait_seconds", "has_release_gates", "has_bake", "approves_before_deploy"})


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


class TrafficAction(StrEnum):
    """What the workflow asks of a deployment ECS holds at its PAUSE hook."""

    CONTINUE = "continue"  # the approvers approved: production traffic moves
    ROLLBACK = "rollback"  # rejected, expired or superseded: ECS rolls back, traffic stays on blue


class TrafficResult(WorkflowModel):
    """What the ReleaseProductionTraffic / HoldProductionTraffic step did at the PAUSE hook."""

    action: TrafficAction
    service_deployment_arn: str = ""
    hook_id: str = ""
    at: str = ""
    reason: str = ""


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
    # Set by the workflow's ReleaseProductionTraffic step (approval before production traffic): the rollout
    # timeout counts from then, not across the approvers' wait.
    traffic: TrafficResult | None = None


class ApprovalResult(WorkflowModel):
    """What the approval gate returns when it opens (SendTaskSuccess output)."""

    approval_id: str
    approved_by: list[str]


class RolloutState(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    # ECS holds the deployment at its PAUSE hook, green on the test listener: the approvers decide now
    # (approval_stage before_production_traffic).
    PAUSED = "PAUSED"


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
    # ECS's own strategies (BLUE_GREEN, LINEAR, CANARY): the service deployment followed, and with PAUSED the
    # PAUSE hook that holds it.
    service_deployment_arn: str | None = None
    hook_id: str | None = None

    def counts(self) -> dict[str, int]:
        return {
            "running_count": self.running_count,
            "desired_count": self.desired_count,
            "pending_count": self.pending_count,
            "failed_tasks": self.failed_tasks,
        }


class RollbackAction(StrEnum):
    MOVED_ON = "MOVED_ON"  # the service runs a newer revision someone else deployed: left as it is
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
    traffic_error: WorkflowError | None = None  # the step at the PAUSE hook failed (ECS's hook timeout applies)
    rollback_error: WorkflowError | None = None
    gate: GateResult | None = None  # the release controls before the deploy
    bake: GateResult | None = None  # the alarms watched after the rollout COMPLETED
    bake_error: WorkflowError | None = None  # the bake could not be checked
    check_error: WorkflowError | None = None  # the last failed rollout check (it is looked at again)
    watch_timeout: WorkflowError | None = None  # the last wait for ECS's event that ended without one
    failed_checks: FailedChecks | None = None  # kept by the workflow (StartRolloutWatch, CountFailedCheck)
    # The outcome the ended-execution finalizer decided for an execution that ended without its Finalize step.
    ended_outcome: FinalizeResult | None = None
    finalized: FinalizeResult | None = None  # what the Finalize step recorded, read by the Outcome? choice
    finalize_error: WorkflowError | None = None  # Finalize failed even after its retries


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


class ApprovalInput(WorkflowModel):
    request: DeploymentRequest
    task_token: str = Field(repr=False)
    execution_arn: str


class TrafficInput(WorkflowModel):
    """ReleaseProductionTraffic's and HoldProductionTraffic's payload: the action is re-checked against the
    recorded approval (continue) and ECS's own service deployment (both) before anything is asked of ECS."""

    request: DeploymentRequest
    action: TrafficAction
