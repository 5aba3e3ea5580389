"""EventBridge events handoff reads: ECS deployment state changes and Step Functions execution status changes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ecs_handoff.models.base import Model, Outcome


class EcsDeploymentDetail(Model):
    """The detail of ECS's "ECS Deployment State Change" event, or of its "ECS Hook State Change" event (a
    lifecycle hook of a BLUE_GREEN, LINEAR or CANARY service deployment), as the Amazon ECS developer guide
    shows them: a deployment event names the service's deployment (deploymentId), a hook event the service
    deployment and the hook."""

    event_type: str = Field(default="", alias="eventType")
    event_name: str = Field(alias="eventName")
    deployment_id: str = Field(default="", alias="deploymentId")
    updated_at: str = Field(default="", alias="updatedAt")
    reason: str = ""
    service_deployment_arn: str = Field(default="", alias="serviceDeploymentArn")
    service_arn: str = Field(default="", alias="serviceArn")
    hook_id: str = Field(default="", alias="hookId")
    lifecycle_stage: str = Field(default="", alias="lifecycleStage")


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


class ExecutionStatus(StrEnum):
    """A Step Functions execution's status (DescribeExecution, and the status change event's detail)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"
    PENDING_REDRIVE = "PENDING_REDRIVE"

    @property
    def ended(self) -> bool:
        """Whether the execution is over: PENDING_REDRIVE is a redriven one about to run again."""
        return self not in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING_REDRIVE)


class InputDetails(Model):
    """Whether the event carries the execution's input: AWS leaves input and output out (null) when together
    they exceed 248 KB ("Step Functions Execution Status Change" events)."""

    included: bool = True


class ExecutionStatusDetail(Model):
    """The detail of EventBridge's "Step Functions Execution Status Change" event (the fields handoff reads)."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: ExecutionStatus
    input: str | None = None
    input_details: InputDetails | None = Field(default=None, alias="inputDetails")
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(Model):
    """EventBridge's envelope around a status change; DescribeExecution answers with the same detail fields."""

    detail_type: str = Field(alias="detail-type")
    source: str
    detail: ExecutionStatusDetail


class SweptDeployment(Model):
    """One deployment the sweeper finalized: the outcome its record has now, and whether this sweep wrote it."""

    deployment_id: str
    execution_status: ExecutionStatus
    outcome: Outcome
    recorded: bool


class SweepResult(Model):
    """What one sweep found among the registered services' newest unfinished records."""

    services: int = 0
    unfinished: int = 0  # records still IN_PROGRESS or AWAITING_APPROVAL that the sweep looked at
    running: int = 0  # their execution still runs: left alone
    not_started: list[str] = Field(default_factory=list)  # no execution of that name (yet): left alone
    finalized: list[SweptDeployment] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)  # deployment id -> the error that stopped its sweep
