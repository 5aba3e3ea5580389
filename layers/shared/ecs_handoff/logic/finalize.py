"""Finalize step: decide the outcome from the workflow state, record it, notify, release the lock."""

from __future__ import annotations

from typing import Any

from ecs_handoff import notify
from ecs_handoff.aws import sns
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.models import FinalizeResult, Outcome, RolloutState, WorkflowState, iso, utcnow
from ecs_handoff.observability import logger


def decide(state: WorkflowState) -> FinalizeResult:
    """The one terminal outcome, with a reason a person can act on. Pure: every path is unit-tested."""
    if state.result and state.result.get("outcome"):
        return FinalizeResult(outcome=Outcome(state.result["outcome"]), reason=str(state.result.get("reason", "")))
    rollback_note = f"; {state.rollback.reason}" if state.rollback and state.rollback.reason else ""
    if state.rollback_error is not None:
        rollback_note = (
            f"; ROLLBACK FAILED ({state.rollback_error.error}: {state.rollback_error.message}), "
            "check the service by hand"
        )
    if state.error is not None:
        where = "before the service was changed" if state.deploy is None else "during the rollout"
        return FinalizeResult(
            outcome=Outcome.FAILED,
            reason=f"{state.error.error} {where}: {state.error.message}{rollback_note}",
        )
    if state.lock is not None and state.lock.status == "SUPERSEDED":
        return FinalizeResult(outcome=Outcome.SUPERSEDED, reason=state.lock.reason)
    if state.rollout is not None and state.rollout.state is RolloutState.COMPLETED:
        return FinalizeResult(outcome=Outcome.SUCCEEDED, reason="the ECS rollout of this deployment COMPLETED")
    if state.rollout is not None and state.rollout.state is RolloutState.FAILED:
        return FinalizeResult(outcome=Outcome.FAILED, reason=f"{state.rollout.reason}{rollback_note}")
    return FinalizeResult(outcome=Outcome.FAILED, reason="the workflow ended without a rollout result")


def finalize(
    state: WorkflowState,
    records: DeploymentRecords,
    service_state: ServiceState,
    topic_arn: str,
    sns_client: Any = None,
) -> FinalizeResult:
    request = state.request
    result = decide(state)
    now = iso(utcnow())
    fields: dict[str, Any] = {"outcome": result.outcome.value, "reason": result.reason, "finished_at": now}
    if state.deploy is not None:
        fields["images"] = [c.model_dump() for c in state.deploy.images]
    records.update(request.deployment_id, phase="finished", at=now, **fields)
    record = records.get(request.deployment_id)
    if record is not None and topic_arn:
        sns.publish(topic_arn, notify.subject(record), notify.body(record), sns=sns_client)
    released = service_state.release_lock(request.service_id, request.deployment_id)
    logger.info("deployment finished", outcome=result.outcome.value, reason=result.reason, lock_released=released)
    return result
