"""Lock step: one deployment per service at a time; newer uploads supersede older waiting ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import sfn
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import ApprovalSuperseded, RecordConflict, TaskEnded
from ecs_handoff.models import (
    ApprovalStatus,
    DeploymentRequest,
    LockResult,
    LockStatus,
    Phase,
    iso,
    seconds_since,
    utcnow,
)
from ecs_handoff.observability import logger

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SFNClient

LEASE_MARGIN_SECONDS = 600


def lease_seconds(request: DeploymentRequest) -> int:
    """Long enough for every wait the workflow may do while holding the lock, no longer."""
    config = request.service
    wait = config.approval_timeout_seconds if config.approval_required else 0
    held = config.max_gate_wait_seconds if config.has_release_gates else 0
    bake = config.bake_seconds if config.has_bake else 0
    return wait + held + config.rollout_timeout_seconds + bake + LEASE_MARGIN_SECONDS


def acquire(
    request: DeploymentRequest,
    execution_arn: str,
    records: DeploymentRecords,
    state: ServiceState,
    approvals: ApprovalStore | None = None,
    sfn_client: SFNClient | None = None,
) -> LockResult:
    service_id, me = request.service_id, request.deployment_id
    latest = state.latest_deployment(service_id)
    if latest and latest != me:
        return LockResult(
            status=LockStatus.SUPERSEDED,
            holder=latest,
            reason=f"a newer upload ({latest}) for {service_id} arrived before this one deployed; it deploys instead",
        )
    holder = state.acquire_lock(service_id, me, execution_arn, lease_seconds(request))
    if holder is None:
        records.update(me, phase=Phase.LOCKED, at=iso(utcnow()))
        return LockResult(status=LockStatus.ACQUIRED, reason="lock acquired")
    status = sfn.execution_status(holder.execution_arn, sfn_client) if holder.execution_arn else "NOT_FOUND"
    if status == "RUNNING" and approvals is not None:
        _supersede_waiting_approval(approvals, holder.holder, me, sfn_client)
    if status != "RUNNING" and state.take_over_lock(
        service_id, holder.holder, me, execution_arn, lease_seconds(request)
    ):
        logger.warning("took over lock from ended execution", previous_holder=holder.holder, holder_status=status)
        records.update(me, phase=Phase.LOCKED, at=iso(utcnow()))
        return LockResult(status=LockStatus.ACQUIRED, reason=f"took over the lock from {holder.holder} ({status})")
    waited = seconds_since(request.requested_at)
    if waited >= request.service.lock_timeout_seconds:
        return LockResult(
            status=LockStatus.TIMED_OUT,
            holder=holder.holder,
            reason=(
                f"waited {waited:.0f} s (lock_timeout_seconds) for {holder.holder} to finish deploying "
                f"{service_id}; nothing was deployed, upload again to retry"
            ),
        )
    records.update(me, phase=Phase.WAITING_FOR_LOCK, at=iso(utcnow()))
    return LockResult(
        status=LockStatus.WAIT,
        holder=holder.holder,
        reason=f"{service_id} is being deployed by {holder.holder}; waiting for it to finish",
    )


def _supersede_waiting_approval(approvals: ApprovalStore, holder: str, newer: str, sfn_client: Any) -> None:
    """An older upload still waiting for approval gives way to this newer one: its links stop working
    (conditional write) and its workflow ends SUPERSEDED. One already approved and deploying finishes."""
    pending = approvals.pending_for_deployment(holder)
    if pending is None:
        return
    try:
        approvals.close(
            pending.approval_id, ApprovalStatus.SUPERSEDED, iso(utcnow()), superseded_by=newer, require_unexpired=False
        )
    except RecordConflict:
        return  # decided a moment ago: it deploys, and this one waits its turn
    try:
        sfn.send_task_failure(
            pending.task_token,
            ApprovalSuperseded.__name__,
            f"a newer upload ({newer}) replaced this one while it waited for approval; its links no longer work",
            sfn_client,
        )
    except TaskEnded:
        return  # its workflow stopped waiting on its own (expired or stopped); the finalizer records that
    logger.info("superseded a deployment awaiting approval", superseded=holder, by=newer)
