"""EventBridge events handoff reads: ECS deployment state changes and Step Functions execution status changes."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ecs_handoff.models.base import Model


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
