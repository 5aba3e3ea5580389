"""A finalizer's world without AWS for the finalize unit tests (test_finalize.py and
test_mutation_finalize_traffic.py share it): workflow states and their parts, fake deployment records, lock and
approvals tables, status change events and DescribeExecution."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError
from ecs_handoff.aws.records import as_stored
from ecs_handoff.errors import RecordConflict
from ecs_handoff.models import (
    ApprovalStatus,
    DeploymentRecord,
    ExecutionStatusChange,
    ExecutionStatusDetail,
    InputDetails,
    Outcome,
    WorkflowState,
)

from tests.samples import REQUEST

TD = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api"
AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DEPLOYED = {
    "new_task_definition": f"{TD}:3",
    "previous_task_definition": f"{TD}:2",
    "ecs_deployment_id": "ecs-svc/1",
    "deployed_at": "2026-11-26T00:01:00.000Z",
    "images": [{"container": "app", "image_before": "nginx:1", "image_after": "nginx:2"}],
}
COMPLETED = {"state": "COMPLETED", "decided_by": "event", "ecs_reported_at": "2026-11-26T00:05:00.000Z",
             "running_count": 2, "desired_count": 2}  # fmt: skip
FAILED = {"state": "FAILED", "reason": "ECS reports the rollout FAILED: tasks failed to start"}
ROLLED_BACK = {"action": "ROLLED_BACK", "reason": "handoff rolled the service back to dev-api:2"}
BG_ROLLED_BACK = {
    "state": "FAILED",
    "reason": "ECS rolled back the BLUE_GREEN deployment: x",
    "service_deployment_arn": "s",
}
ALREADY = {"action": "ALREADY_ROLLED_BACK", "reason": "the service is back on dev-api:2"}


def state(**parts: Any) -> WorkflowState:
    return WorkflowState.model_validate({"request": REQUEST, **parts})


def error(name: str, message: str) -> dict[str, str]:
    return {"Error": name, "Cause": f'{{"errorMessage": "{message}", "errorType": "{name}"}}'}


class Records:
    """The deployments table for api-v1: what finish wrote (as stored), and the notification claim."""

    def __init__(self, existing: DeploymentRecord | None = None, claimed: bool = False) -> None:
        self.record = existing or DeploymentRecord(
            id="api-v1", env="dev", service="api", outcome=Outcome.IN_PROGRESS, started_at="2026-11-26T00:00:00.000Z"
        )
        self.finished: list[dict[str, Any]] = []
        self.claimed, self.unclaimed = claimed, 0

    def finish(self, deployment_id: str, outcome: str, reason: str, at: str, **fields: Any) -> bool:
        assert deployment_id == "api-v1" and AT.fullmatch(at), (deployment_id, at)
        # as the real table stores them: JSON values
        self.finished.append({"outcome": str(outcome), "reason": reason, "at": at, **as_stored(fields)})
        if self.record.outcome.terminal:
            return False
        self.record = self.record.model_copy(update={"outcome": Outcome(outcome), "reason": reason})
        return True

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        assert deployment_id == "api-v1", deployment_id
        return self.record

    def claim_notification(self, deployment_id: str, at: str) -> bool:
        assert deployment_id == "api-v1" and AT.fullmatch(at), (deployment_id, at)
        if self.claimed:
            return False
        self.claimed = True
        return True

    def unclaim_notification(self, deployment_id: str) -> None:
        assert deployment_id == "api-v1"
        self.claimed = False
        self.unclaimed += 1


class Lock:
    """The service lock: who released it."""

    def __init__(self) -> None:
        self.released: list[tuple[str, str]] = []

    def release_lock(self, service_id: str, holder: str) -> bool:
        self.released.append((service_id, holder))
        return True


class Approvals:
    """The approvals table: which approvals were closed how (or a conflict: decided already)."""

    def __init__(self, conflict: bool = False) -> None:
        self.closed: list[tuple[str, ApprovalStatus, bool]] = []
        self.conflict = conflict

    def close(self, approval_id: str, status: ApprovalStatus, at: str, require_unexpired: bool = True) -> None:
        assert AT.fullmatch(at), at
        if self.conflict:
            raise RecordConflict("decided already")
        self.closed.append((approval_id, status, require_unexpired))


def change(status: str, error_name: str = "", cause: str = "", input_text: str | None = None) -> ExecutionStatusDetail:
    """The detail of the status change event for api-v1's execution."""
    detail = {
        "executionArn": "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:api-v1",
        "stateMachineArn": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:handoff-dev-deployment",
        "name": "api-v1",
        "status": status,
        "input": json.dumps({"request": REQUEST}) if input_text is None else input_text,
        "error": error_name,
        "cause": cause,
    }
    return ExecutionStatusChange.model_validate(
        {"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": detail}
    ).detail


class Executions:
    """DescribeExecution as Step Functions answers it: the input always included."""

    def __init__(self, status: str = "ABORTED", exists: bool = True, states_error: bool = True) -> None:
        self.status, self.exists, self.states_error = status, exists, states_error
        self.described: list[str] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.described.append(executionArn)
        if not self.exists:
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": "no"}}, "DescribeExecution")
        return {
            "executionArn": executionArn,
            "stateMachineArn": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:handoff-dev-deployment",
            "name": "api-v1",
            "status": self.status,
            "input": json.dumps({"request": REQUEST}),
            "inputDetails": {"included": True},
            **({"error": "Ops", "cause": "stopped by carol"} if self.states_error else {}),
        }


def without_input(status: str = "ABORTED") -> ExecutionStatusDetail:
    detail = change(status)
    return detail.model_copy(update={"input": None, "input_details": InputDetails(included=False)})
