"""ECS's Lambda lifecycle hook: the payload ECS invokes the hook with and the answer it reads back
("Lambda hooks for Amazon ECS service deployments", lambda-lifecycle-hooks in the ECS developer guide)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from ecs_handoff.models.base import Model

# The stage before each production traffic shift: once for BLUE_GREEN, once per step for LINEAR and CANARY.
RELEASE_STAGE = "PRE_PRODUCTION_TRAFFIC_SHIFT"


class HookStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"  # the deployment moves on to the next stage
    FAILED = "FAILED"  # ECS rolls the deployment back
    IN_PROGRESS = "IN_PROGRESS"  # ECS calls the hook again after callBackDelay


class ExecutionDetails(Model):
    model_config = ConfigDict(extra="ignore")

    service_arn: str = Field(default="", alias="serviceArn")
    target_service_revision_arn: str = Field(default="", alias="targetServiceRevisionArn")
    test_traffic_weights: dict[str, float] = Field(default_factory=dict, alias="testTrafficWeights")
    production_traffic_weights: dict[str, float] = Field(default_factory=dict, alias="productionTrafficWeights")


class LifecycleHookEvent(Model):
    """What ECS sends. Anyone allowed to invoke the function can send the same: the hook only reads it to know
    which service deployment to look up, and checks every other field against ECS."""

    model_config = ConfigDict(extra="ignore")

    execution_id: str = Field(default="", alias="executionId", max_length=200)
    lifecycle_stage: str = Field(alias="lifecycleStage", max_length=64)
    resource_arn: str = Field(alias="resourceArn", min_length=1, max_length=1600)
    execution_details: ExecutionDetails = Field(default_factory=ExecutionDetails, alias="executionDetails")
    hook_details: dict[str, Any] | str | None = Field(default=None, alias="hookDetails")


class LifecycleHookAnswer(Model):
    """What the hook returns: hookStatus, and with IN_PROGRESS the seconds until ECS calls again."""

    hook_status: HookStatus = Field(serialization_alias="hookStatus")
    call_back_delay: int | None = Field(default=None, serialization_alias="callBackDelay")
    reason: str = Field(default="", exclude=True)  # logged and recorded; ECS reads only the fields above

    def response(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
