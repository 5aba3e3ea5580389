"""What the lifecycle hook and the operator's rollback read and change in AWS: one service deployment or revision at
a time and StopServiceDeployment, in the shapes they use (the calls themselves are aws/service_deployments.py's),
and the first time a production traffic step was held (state table, item hookhold#<service deployment ARN>#<green's
production percent>)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import service_deployments
from ecs_handoff.aws.state import StateTable
from ecs_handoff.errors import ServiceDeploymentMoved

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient

HOLD_KEEP_SECONDS = 8 * 86400  # TTL: past the longest hold a registry entry allows (max_gate_wait_seconds, 7 days)


def describe_service_deployment(arn: str, ecs: ECSClient | None = None) -> dict[str, Any] | None:
    """The service deployment as ECS describes it (only that ARN's), or None when ECS does not know it."""
    return next((d for d in service_deployments.describe([arn], ecs) if d.get("serviceDeploymentArn") == arn), None)


def service_revision_task_definition(arn: str, ecs: ECSClient | None = None) -> str | None:
    """The task definition a service revision runs (DescribeServiceRevisions), or None when ECS does not know it."""
    return service_deployments.revision_task_definitions([arn], ecs).get(arn) or None


def list_active_service_deployments(cluster: str, service: str, ecs: ECSClient | None = None) -> list[dict[str, Any]]:
    """The service's deployments ECS still runs (PENDING, IN_PROGRESS), newest first."""
    return service_deployments.list_for_service(cluster, service, ecs=ecs, statuses=("PENDING", "IN_PROGRESS"))


def stop_service_deployment(arn: str, ecs: ECSClient | None = None) -> bool:
    """StopServiceDeployment(ROLLBACK): production and test traffic go back to blue at once, then clean-up.
    False when ECS refuses because the deployment has moved on (ended: nothing to stop)."""
    try:
        service_deployments.stop(arn, ecs)
    except ServiceDeploymentMoved:
        return False
    return True


def hold_key(service_deployment_arn: str, production_percent: float) -> str:
    return f"hookhold#{service_deployment_arn}#{production_percent:g}"


class TrafficHolds(StateTable):
    """When each production traffic step was first held: the hook answers IN_PROGRESS again and again, and
    each answer must know how long the step has waited (hookDetails, which anyone may write, is not used)."""

    def first_held(self, key: str, at: str) -> tuple[str, bool]:
        """The time the step was first held: `at` if this is the first hold (True), else the stored one."""
        written = self.attempt(
            "put_item",
            f"recording a held traffic step ({key})",
            Item={
                "pk": {"S": key},
                "held_at": {"S": at},
                "expires_at": {"N": str(int(time.time()) + HOLD_KEEP_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        if written.ok:
            return at, True
        return str((written.current or {}).get("held_at", {}).get("S") or at), False

    def held_since(self, key: str) -> str | None:
        item = self._get(key)
        return str(item["held_at"]["S"]) if item.get("held_at") else None

    def release(self, key: str) -> bool:
        """Forgets the hold once the step is released; True when there was one (the release is said once)."""
        return self._written(
            "delete_item",
            f"releasing a held traffic step ({key})",
            Key={"pk": {"S": key}},
            ConditionExpression="attribute_exists(pk)",
        )
