"""What the lifecycle hook and the operator's rollback read and change in AWS: ECS's service deployments and
service revisions, StopServiceDeployment, and the first time a production traffic step was held (state table,
item hookhold#<service deployment ARN>#<green's production percent>)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client, error_code
from ecs_handoff.aws.state import StateTable

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient

HOLD_KEEP_SECONDS = 8 * 86400  # TTL: past the longest hold a registry entry allows (max_gate_wait_seconds, 7 days)


def describe_service_deployment(arn: str, ecs: ECSClient | None = None) -> dict[str, Any] | None:
    """The service deployment as ECS describes it, or None when ECS does not know it (listed in `failures`)."""
    ecs = ecs or client("ecs")
    with aws_call(f"describing service deployment {arn}"):
        response = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    found = [d for d in response.get("serviceDeployments", []) if d.get("serviceDeploymentArn") == arn]
    return dict(found[0]) if found else None


def service_revision_task_definition(arn: str, ecs: ECSClient | None = None) -> str | None:
    """The task definition a service revision runs (DescribeServiceRevisions), or None when ECS does not know it."""
    ecs = ecs or client("ecs")
    with aws_call(f"describing service revision {arn}"):
        response = ecs.describe_service_revisions(serviceRevisionArns=[arn])
    found = [r for r in response.get("serviceRevisions", []) if r.get("serviceRevisionArn") == arn]
    return str(found[0]["taskDefinition"]) if found and found[0].get("taskDefinition") else None


def list_active_service_deployments(cluster: str, service: str, ecs: ECSClient | None = None) -> list[dict[str, Any]]:
    """The service's deployments ECS still runs (PENDING, IN_PROGRESS), newest first."""
    ecs = ecs or client("ecs")
    with aws_call(f"listing the service deployments of {service} in cluster {cluster}"):
        response = ecs.list_service_deployments(
            cluster=cluster, service=service, status=["PENDING", "IN_PROGRESS"], maxResults=20
        )
    return [dict(d) for d in response.get("serviceDeployments", [])]


def stop_service_deployment(arn: str, ecs: ECSClient | None = None) -> bool:
    """StopServiceDeployment(ROLLBACK): production and test traffic go back to blue at once, then clean-up.
    False when ECS answers ConflictException (the deployment has ended: nothing to stop)."""
    from botocore.exceptions import ClientError

    ecs = ecs or client("ecs")
    with aws_call(f"stopping service deployment {arn}"):
        try:
            ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
        except ClientError as exc:
            if error_code(exc) == "ConflictException":
                return False
            raise
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
