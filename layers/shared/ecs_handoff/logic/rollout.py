"""Rollout step: the truth about *this* deployment, from its own rolloutState, never "services stable"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic.lock import LEASE_MARGIN_SECONDS
from ecs_handoff.models import DeploymentRequest, DeployResult, RolloutResult, RolloutState, iso, utcnow
from ecs_handoff.taskdef import short_name


def check(
    request: DeploymentRequest,
    deployed: DeployResult,
    records: DeploymentRecords,
    state: ServiceState,
    ecs_client: Any = None,
) -> RolloutResult:
    config = request.service
    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    now = utcnow()
    state.renew_lock(request.service_id, request.deployment_id, config.rollout_timeout_seconds + LEASE_MARGIN_SECONDS)
    ours = next((d for d in service.get("deployments", []) if d.get("id") == deployed.ecs_deployment_id), None)
    if ours is None:
        return RolloutResult(
            state=RolloutState.FAILED,
            checked_at=iso(now),
            reason=(
                f"ECS deployment {deployed.ecs_deployment_id} is no longer on service {config.service}; "
                f"the service now runs {short_name(str(service.get('taskDefinition', '?')))}"
            ),
        )
    counts: dict[str, Any] = {
        "running_count": int(ours.get("runningCount", 0)),
        "desired_count": int(ours.get("desiredCount", 0)),
        "pending_count": int(ours.get("pendingCount", 0)),
        "failed_tasks": int(ours.get("failedTasks", 0)),
    }
    rollout_state = ours.get("rolloutState", "IN_PROGRESS")
    ecs_reason = ours.get("rolloutStateReason", "")
    if rollout_state == "COMPLETED":
        return RolloutResult(
            state=RolloutState.COMPLETED, checked_at=iso(now), reason=ecs_reason or "rollout completed", **counts
        )
    if rollout_state == "FAILED":
        return RolloutResult(
            state=RolloutState.FAILED,
            checked_at=iso(now),
            reason=(
                f"ECS reports the rollout FAILED: {ecs_reason or 'no reason given'} "
                f"({counts['failed_tasks']} task{'' if counts['failed_tasks'] == 1 else 's'} failed)"
            ),
            **counts,
        )
    elapsed = (now - datetime.fromisoformat(deployed.deployed_at.replace("Z", "+00:00"))).total_seconds()
    if elapsed > config.rollout_timeout_seconds:
        return RolloutResult(
            state=RolloutState.FAILED,
            checked_at=iso(now),
            reason=(
                f"the rollout did not complete within {config.rollout_timeout_seconds} s "
                f"({counts['running_count']}/{counts['desired_count']} tasks running)"
            ),
            **counts,
        )
    records.update(request.deployment_id, phase="rolling_out", at=iso(now), rollout=counts)
    return RolloutResult(state=RolloutState.IN_PROGRESS, checked_at=iso(now), reason=ecs_reason, **counts)
