"""Finalize step: decide the outcome from the workflow state, record it, notify, release the lock."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.metrics.exceptions import MetricValueError, SchemaValidationError

from ecs_handoff import notify
from ecs_handoff.approvals.page import human_duration
from ecs_handoff.aws import sfn as sfn_access
from ecs_handoff.aws import sns
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords, RecordFields
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import (
    ApprovalRejected,
    ApprovalSuperseded,
    ArtifactRejected,
    AwsAccessError,
    DeployFailed,
    DeploymentRefused,
    HandoffError,
    NotFound,
    RecordConflict,
    RollbackRefused,
    TaskEnded,
    TransientAwsError,
)
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.logic.revisions import prune_old_revisions
from ecs_handoff.models import (
    ApprovalStatus,
    DeploymentRecord,
    DeploymentRequest,
    ExecutionStatus,
    ExecutionStatusDetail,
    FinalizeResult,
    GateStatus,
    LockStatus,
    Outcome,
    Phase,
    RollbackAction,
    RolloutState,
    WorkflowError,
    WorkflowState,
    iso,
    parse_iso,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SFNClient, SNSClient


# What a step's error name (the project's exception class, or Step Functions' own) means, in the words a
# record's reason uses: people read the reason, the state machine matches on the name.
ERROR_WORDS = {
    AwsAccessError.__name__: "AWS refused a call",
    TransientAwsError.__name__: "AWS kept failing (throttled or unavailable) after retries",
    DeployFailed.__name__: "registering the revision or updating the service failed",
    NotFound.__name__: "something it needs does not exist",
    RecordConflict.__name__: "another write to handoff's tables got there first",
    TaskEnded.__name__: "the workflow had stopped waiting",
    RollbackRefused.__name__: "the rollback target was refused",
    ArtifactRejected.__name__: "it was refused",
    DeploymentRefused.__name__: "the deploy step refused it",
    "States.Timeout": "a step timed out",
    "States.TaskFailed": "a step failed",
    "States.Permissions": "Step Functions may not run a step",
    "Sandbox.Timedout": "a function ran out of time",
}


def in_words(error: str) -> str:
    """An error name as a reason says it; a name handoff does not expect (a bug) stays visible, labelled."""
    if error in ERROR_WORDS:
        return ERROR_WORDS[error]
    if error.startswith("Lambda."):
        return f"Lambda could not run the function ({error.removeprefix('Lambda.')})"
    return f"an unexpected error ({error or 'unnamed'})"


def decide(state: WorkflowState) -> FinalizeResult:
    """The one terminal outcome, with a reason a person can act on. Pure: every path is unit-tested."""
    if state.ended_outcome is not None:
        return state.ended_outcome
    rollback_note = _rollback_note(state)
    return (
        _step_error_outcome(state, rollback_note)
        or _held_outcome(state)
        or _rollout_outcome(state, rollback_note)
        or FinalizeResult(outcome=Outcome.FAILED, reason="the workflow ended without a rollout result")
    )


def _rollback_note(state: WorkflowState) -> str:
    """What the rollback did, appended to a failure's reason ("" when it did not run)."""
    if state.rollback_error is not None:
        return (
            f"; ROLLBACK FAILED ({in_words(state.rollback_error.error)}: {state.rollback_error.message}), "
            "check the service by hand"
        )
    return f"; {state.rollback.reason}" if state.rollback and state.rollback.reason else ""


def _step_error_outcome(state: WorkflowState, rollback_note: str) -> FinalizeResult | None:
    """The outcome when a step failed, or the approvers' or the traffic step's wait ended without a go-ahead."""
    if state.error is not None and state.error.error == DeploymentRefused.__name__:
        return FinalizeResult(
            outcome=Outcome.FAILED, reason=f"the deploy step refused it, nothing was deployed: {state.error.message}"
        )
    nothing_ran = state.deploy is None and state.rollback is None and state.rollback_error is None
    if state.error is not None and state.error.error == ArtifactRejected.__name__ and nothing_ran:
        # A refusal before anything changed (a registry entry naming an alarm CloudWatch does not have, say):
        # INVALID, as the intake records its refusals, not FAILED. Once Rollback has run (the deploy step's own
        # failures go there, and a retried step may have changed the service) it is FAILED, with what Rollback did.
        return FinalizeResult(outcome=Outcome.INVALID, reason=f"{state.error.message}; nothing was deployed")
    if state.error is not None:
        where = "before the service was changed" if state.deploy is None else "during the rollout"
        return FinalizeResult(
            outcome=Outcome.FAILED,
            reason=f"{in_words(state.error.error)} {where}: {state.error.message}{rollback_note}",
        )
    if state.approval_error is not None and state.deploy is not None:
        return _traffic_approval_outcome(state, state.approval_error, rollback_note)
    if state.approval_error is not None:
        return _approval_outcome(state, state.approval_error)
    if state.traffic_error is not None and state.rollout is not None and state.rollout.state is RolloutState.COMPLETED:
        # The release failed (its ContinueServiceDeployment may have gone through before the step died, or ECS was
        # let past its hook outside handoff) and ECS finished: the record must not deny that production moved.
        not_released = f"({_traffic_words(state.traffic_error)}: {state.traffic_error.message})"
        return FinalizeResult(
            outcome=Outcome.FAILED,
            reason=f"production traffic was not released by handoff {not_released}; but ECS finished the deployment"
            f"{_after_ecs_finished(state, rollback_note)}",
        )
    if state.traffic_error is not None:
        where = state.rollout.reason if state.rollout is not None and state.rollout.state is RolloutState.FAILED else ""
        return FinalizeResult(
            outcome=Outcome.FAILED,
            reason=f"production traffic was not released ({_traffic_words(state.traffic_error)}: "
            f"{state.traffic_error.message}){'; ' + where if where else ''}{rollback_note}",
        )
    return None


def _held_outcome(state: WorkflowState) -> FinalizeResult | None:
    """The outcome when the lock or the release controls ended the deployment before it deployed."""
    if state.lock is not None and state.lock.status is LockStatus.SUPERSEDED:
        return FinalizeResult(outcome=Outcome.SUPERSEDED, reason=state.lock.reason)
    if state.lock is not None and state.lock.status is LockStatus.TIMED_OUT:
        return FinalizeResult(outcome=Outcome.FAILED, reason=state.lock.reason)
    if state.gate is not None and state.gate.status is GateStatus.EXPIRED:
        return FinalizeResult(outcome=Outcome.EXPIRED, reason=state.gate.reason)
    if state.gate is not None and state.gate.status is GateStatus.SUPERSEDED:
        return FinalizeResult(outcome=Outcome.SUPERSEDED, reason=state.gate.reason)
    return None


def _rollout_outcome(state: WorkflowState, rollback_note: str) -> FinalizeResult | None:
    """The outcome from ECS's verdict on the rollout and the bake after it (None: there is no verdict)."""
    if state.rollout is not None and state.rollout.state is RolloutState.COMPLETED:
        if state.bake_error is not None:
            return FinalizeResult(
                outcome=Outcome.FAILED,
                reason=f"the ECS rollout COMPLETED, but its bake could not be checked "
                f"({in_words(state.bake_error.error)}: {state.bake_error.message}){rollback_note}",
            )
        if state.bake is not None and state.bake.status is GateStatus.ALARM:
            return FinalizeResult(outcome=Outcome.FAILED, reason=f"{state.bake.reason}{rollback_note}")
        approved = f" (approved by {', '.join(state.approval.approved_by)})" if state.approval else ""
        early = f"; started by {state.gate.reason}" if state.gate is not None and state.gate.override else ""
        baked = f"; {state.bake.reason}" if state.bake is not None and state.bake.status is GateStatus.DONE else ""
        # ECS's own strategies (BLUE_GREEN, LINEAR, CANARY) say which deployment ended how (rollout.reason).
        what = (
            state.rollout.reason
            if state.rollout.service_deployment_arn
            else "the ECS rollout of this deployment COMPLETED"
        )
        return FinalizeResult(outcome=Outcome.SUCCEEDED, reason=f"{what}{approved}{early}{baked}")
    if state.rollout is not None and state.rollout.state is RolloutState.FAILED:
        reason = state.rollout.reason
        if state.rollout.unobservable:
            timeout = state.request.service.rollout_timeout_seconds
            last = ""
            if state.check_error is not None:
                last = f" (last error: {in_words(state.check_error.error)}: {state.check_error.message})"
            reason = f"the rollout could not be checked within its {timeout} s timeout{last}"
        return FinalizeResult(outcome=Outcome.FAILED, reason=f"{reason}{rollback_note}")
    return None


def _traffic_words(error: WorkflowError) -> str:
    """Why the step at the PAUSE hook did not continue: its own refusal (the approval re-read, ECS's hook), or an
    error in words."""
    return "handoff refused to continue" if error.error == DeploymentRefused.__name__ else in_words(error.error)


def _traffic_approval_outcome(state: WorkflowState, error: WorkflowError, rollback_note: str) -> FinalizeResult:
    """The approvers' decision at the PAUSE hook (approval before production traffic) was not an approval: the
    new revision ran on the test listener only, and ECS rolled it back (what ECS said, when the workflow saw it)."""
    decided = _approval_outcome(state, error)
    # The approval step's own words say "nothing was deployed" (true before a deploy): here the new revision was
    # deployed and served the test listener, whichever way the approval ended (asking failed, too).
    why = decided.reason.removesuffix("; nothing was deployed").replace(", nothing was deployed:", ":")
    if decided.outcome is Outcome.INVALID:  # INVALID means refused before anything changed: not so here
        decided = decided.model_copy(update={"outcome": Outcome.FAILED})
    ecs = ""
    if state.rollout is not None and state.rollout.state is RolloutState.COMPLETED:
        # ECS was let past its PAUSE hook outside handoff (ContinueServiceDeployment from the console, say) and
        # finished before the rejection: the record must not say production never moved.
        return FinalizeResult(
            outcome=decided.outcome,
            reason=f"{why}; but ECS had already been let past its PAUSE hook outside handoff and finished"
            f"{_after_ecs_finished(state, rollback_note)}",
        )
    if state.rollout is not None and state.rollout.state is RolloutState.FAILED:
        ecs = f" ({state.rollout.reason})"
    elif state.traffic_error is not None:
        ecs = f" (ECS was not asked to roll back: {state.traffic_error.message}; the PAUSE hook's timeout rolls back)"
    return FinalizeResult(
        outcome=decided.outcome,
        reason=f"{why}; production traffic never left the running revision: the new one served only the test "
        f"listener{ecs}{rollback_note}",
    )


def _after_ecs_finished(state: WorkflowState, rollback_note: str) -> str:
    """What followed ECS finishing a deployment handoff did not release: the new revision serves production traffic
    (and how to put the previous one back), or what the bake found and what the rollback did."""
    assert state.rollout is not None
    if state.rollback is None and state.rollback_error is None:
        return (
            f": the new revision serves production traffic ({state.rollout.reason}); upload the previous build to put "
            "it back"
        )
    bake = ""
    if state.bake_error is not None:
        bake = f"; its bake could not be checked ({in_words(state.bake_error.error)}: {state.bake_error.message})"
    elif state.bake is not None and state.bake.status is GateStatus.ALARM:
        bake = f"; {state.bake.reason}"
    return f" ({state.rollout.reason}){bake}{rollback_note}"


def _approval_outcome(state: WorkflowState, error: WorkflowError) -> FinalizeResult:
    """The gate ended without an approval: why, in the vocabulary's words."""
    if error.error == "States.Timeout":
        timeout = state.request.service.approval_timeout_seconds
        return FinalizeResult(
            outcome=Outcome.EXPIRED,
            reason=f"nobody approved within {human_duration(timeout)}; nothing was deployed",
        )
    if error.error == ApprovalRejected.__name__:
        return FinalizeResult(outcome=Outcome.REJECTED, reason=f"{error.message}; nothing was deployed")
    if error.error == ApprovalSuperseded.__name__:
        return FinalizeResult(outcome=Outcome.SUPERSEDED, reason=error.message)
    if error.error == "ApprovalChannelUnsafe":
        return FinalizeResult(outcome=Outcome.FAILED, reason=f"{error.message}; nothing was deployed")
    if error.error == DeploymentRefused.__name__:
        return FinalizeResult(
            outcome=Outcome.FAILED, reason=f"refused before approval was asked, nothing was deployed: {error.message}"
        )
    if error.error == "ArtifactRejected":
        return FinalizeResult(outcome=Outcome.INVALID, reason=error.message)
    return FinalizeResult(
        outcome=Outcome.FAILED,
        reason=f"{in_words(error.error)} while requesting approval: {error.message}; nothing was deployed",
    )


def finalize(
    state: WorkflowState,
    records: DeploymentRecords,
    service_state: ServiceState,
    topic_arn: str,
    approvals: ApprovalStore | None = None,
    sns_client: SNSClient | None = None,
    ecs_client: ECSClient | None = None,
    registry_prefix: str | None = None,
) -> FinalizeResult:
    """Idempotent: the first finalizer records the outcome and sends the one notification; a retry or the
    ended-execution rule finds the outcome recorded and only makes sure the approval is closed and the lock free."""
    request = state.request
    result = decide(state)
    if state.ended_outcome is not None:
        result = _with_abandoned_hold_rolled_back(state, result, records, ecs_client)
    now = iso(utcnow())
    fields: RecordFields = {}
    if state.deploy is not None:
        fields["images"] = state.deploy.images
    if state.rollout is not None and state.rollout.decided_by is not None:  # the verdict, and the final counts
        fields["verdict_by"] = state.rollout.decided_by
        fields["ecs_reported_at"] = state.rollout.ecs_reported_at
        fields["rollout"] = state.rollout.counts() if state.rollout.desired_count else None
    recorded = records.finish(request.deployment_id, result.outcome, result.reason, now, **fields)
    record = records.get(request.deployment_id)
    if not recorded and record is not None and record.outcome.terminal:
        result = FinalizeResult(outcome=record.outcome, reason=record.reason, recorded=False)
    if recorded and record is not None:  # measured once, by the finalizer that recorded the outcome
        publish_delivery_metrics(record, delivery_measures(state, record, result.outcome, parse_iso(now)))
    if record is not None and record.approval_id and approvals is not None:
        _close_open_approval(approvals, record.approval_id, result, now)
    if record is not None and topic_arn and records.claim_notification(request.deployment_id, now):
        record = records.get(request.deployment_id) or record
        try:
            sns.publish(
                topic_arn, notify.subject(record), notify.body(record), sns=sns_client, chat=notify.chat(record)
            )
        except Exception:
            records.unclaim_notification(request.deployment_id)
            raise
    if recorded and result.outcome is Outcome.SUCCEEDED and state.deploy is not None:
        keep = {state.deploy.new_task_definition, state.deploy.previous_task_definition, request.base_task_definition}
        try:
            prune_old_revisions(request, records, keep=keep, ecs_client=ecs_client, registry_prefix=registry_prefix)
        except HandoffError as exc:  # housekeeping: the outcome stands, the next success tries again
            logger.warning("could not retire old revisions", error=str(exc))
    released = service_state.release_lock(request.service_id, request.deployment_id)
    logger.info(
        "deployment finished",
        outcome=result.outcome.value,
        reason=result.reason,
        recorded_now=recorded,
        lock_released=released,
    )
    return result


def _with_abandoned_hold_rolled_back(
    state: WorkflowState, result: FinalizeResult, records: DeploymentRecords, ecs_client: ECSClient | None
) -> FinalizeResult:
    """An execution that ended without its Finalize step while ECS held green at the approvers' PAUSE hook: the
    hold is rolled back (service_deployments.roll_back_abandoned_hold), and the reason says so. Which revision is
    read from the deployment's record (the deploy step wrote it), never from the execution's input."""
    config = state.request.service
    if not config.approves_before_production_traffic:
        return result
    record = records.get(state.request.deployment_id)
    if record is None or not record.new_task_definition or record.outcome.terminal:
        return result
    try:
        done = strategies.roll_back_abandoned_hold(
            config.cluster, config.service, record.new_task_definition, record.deploy_claimed_at, ecs_client
        )
    except HandoffError as exc:  # the outcome stands; the hook's own timeout (ROLLBACK) still ends the hold
        logger.warning("could not roll back the held deployment", error=str(exc))
        return result.model_copy(
            update={"reason": f"{result.reason}; ECS still holds it at its PAUSE hook until the hook times out ({exc})"}
        )
    return result.model_copy(update={"reason": f"{result.reason}; {done}"}) if done else result


def with_input(detail: ExecutionStatusDetail, sfn: SFNClient | None = None) -> ExecutionStatusDetail | None:
    """The ended execution as Step Functions describes it, never as the status change event says: the event may
    come from anyone allowed to invoke the function (a forged FAILED for a running deployment would otherwise
    record it and free its lock mid-deploy), and AWS leaves its input and output out when together they exceed
    248 KB (inputDetails.included false). DescribeExecution always has the input; its status, not the event's,
    is believed, and the event's error and cause are kept only where DescribeExecution has none. None when
    Step Functions has no such execution or it has not ended (it runs, or runs again after a redrive)."""
    described = sfn_access.describe_execution(detail.execution_arn, sfn)
    if described is None or not described.status.ended:
        logger.warning(
            "status event for an execution Step Functions does not show ended; ignored",
            execution_arn=detail.execution_arn,
            status=described.status.value if described else "NOT_FOUND",
            event_status=detail.status.value,
        )
        return None
    # The event carries the error and cause (StopExecution's, for one), which DescribeExecution may not.
    return described.model_copy(
        update={"error": described.error or detail.error, "cause": described.cause or detail.cause}
    )


def ended_execution_state(detail: ExecutionStatusDetail, records: DeploymentRecords) -> WorkflowState | None:
    """The workflow state for an execution that ended without its Finalize step (stopped, timed out,
    or failed on a Step Functions limit); None when the execution is not a deployment handoff knows.
    `detail` is the status change event's, or DescribeExecution's (the sweeper's) in the same fields."""
    try:
        request = DeploymentRequest.model_validate(json.loads(detail.input or "{}")["request"])
    except (ValueError, KeyError, TypeError):
        logger.warning("ended execution without a deployment request", execution_arn=detail.execution_arn)
        return None
    record = records.get(request.deployment_id)
    if record is None:
        return None
    if not _own_execution(detail.execution_arn, request, record):
        # Another execution started with this deployment's input (only the intake may start one, but whoever can
        # must not end, or roll back, a deployment whose own execution still runs).
        logger.warning(
            "ended execution is not the deployment's own; ignored",
            execution_arn=detail.execution_arn,
            deployment_id=request.deployment_id,
        )
        return None
    what = {
        ExecutionStatus.ABORTED: "was stopped (StopExecution)",
        ExecutionStatus.TIMED_OUT: "timed out",
        ExecutionStatus.SUCCEEDED: "ended",  # only the sweeper sees these: the status rule does not match them
    }.get(detail.status, "failed")
    why = ": ".join(part for part in (detail.error, detail.cause) if part)
    if record.ecs_deployment_id and record.new_task_definition:
        after = (
            f"; the service was already updated to {short_name(record.new_task_definition)} and may still be "
            "rolling out: check it with `handoff status`"
        )
    else:
        after = "; nothing was deployed"
    reason = f"the workflow {what} before it recorded an outcome{' (' + why + ')' if why else ''}{after}"
    return WorkflowState(request=request, ended_outcome=FinalizeResult(outcome=Outcome.FAILED, reason=reason))


def _own_execution(execution_arn: str, request: DeploymentRequest, record: DeploymentRecord) -> bool:
    """Whether the execution is the one the intake started for this deployment: named by its id, the one its record
    names (once the intake wrote it), of the record's own service and environment."""
    return (
        execution_arn.endswith(f":{request.deployment_id}")  # the execution's name (ids hold no ':')
        and record.execution_arn in (None, execution_arn)
        and (record.env, record.service) == (request.env, request.service_id)
    )


def _close_open_approval(approvals: ApprovalStore, approval_id: str, result: FinalizeResult, now: str) -> None:
    """A deployment that ended while its approval was open: its links must stop working."""
    status = {
        Outcome.EXPIRED: ApprovalStatus.EXPIRED,
        Outcome.SUPERSEDED: ApprovalStatus.SUPERSEDED,
    }.get(result.outcome, ApprovalStatus.CANCELLED)
    with contextlib.suppress(RecordConflict):  # already decided or superseded: nothing left open
        approvals.close(approval_id, status, now, require_unexpired=False)


# What finalize publishes for each deployment it records (namespace handoff, dimensions env and service, the
# service being the deployed service's id): the dashboard in template.yaml draws exactly these.
DELIVERY_METRICS = (
    *(f"Deployments{outcome.value.title()}" for outcome in Outcome if outcome.terminal),
    "UploadToVerdictSeconds",
    "ApprovalWaitSeconds",
    "HeldSeconds",
    "Rollbacks",
)


def delivery_measures(
    state: WorkflowState, record: DeploymentRecord, outcome: Outcome, finished: datetime
) -> dict[str, tuple[MetricUnit, float]]:
    """One deployment's delivery metrics: its outcome (a count), the time from its upload to its verdict, how
    long it waited for approval and was held by release controls (only when it did), and whether its rollout was
    rolled back (0 or 1, for a deployment that changed the service)."""
    upload = record.source.event_time if record.source and record.source.event_time else record.started_at
    measures = {
        f"Deployments{outcome.value.title()}": (MetricUnit.Count, 1.0),
        "UploadToVerdictSeconds": (MetricUnit.Seconds, max((finished - parse_iso(upload)).total_seconds(), 0.0)),
    }
    for name, phases in (
        ("ApprovalWaitSeconds", {Phase.AWAITING_APPROVAL.value}),
        ("HeldSeconds", {Phase.WAITING_FOR_WINDOW.value, Phase.WAITING_FOR_ALARM.value}),
    ):
        spent = _time_in(record.timeline, phases, finished)
        if spent is not None:
            measures[name] = (MetricUnit.Seconds, spent)
    if record.ecs_deployment_id is not None:
        rolled_back = state.rollback is not None and state.rollback.action in (
            RollbackAction.ROLLED_BACK,
            RollbackAction.ALREADY_ROLLED_BACK,
        )
        measures["Rollbacks"] = (MetricUnit.Count, 1.0 if rolled_back else 0.0)
    return measures


def _time_in(timeline: dict[str, str], phases: set[str], finished: datetime) -> float | None:
    """Seconds from the first of `phases` reached to the first other phase reached after it (the timeline keeps
    when each phase was first reached), or to the end; None when the deployment reached none of them."""
    entered = [parse_iso(at) for phase, at in timeline.items() if phase in phases]
    if not entered:
        return None
    start = min(entered)
    after = [parse_iso(at) for phase, at in timeline.items() if phase not in phases and parse_iso(at) > start]
    return max((min(after, default=finished) - start).total_seconds(), 0.0)


def publish_delivery_metrics(record: DeploymentRecord, measures: dict[str, tuple[MetricUnit, float]]) -> None:
    """Writes the measures as one CloudWatch embedded metric format line, with their own dimensions (env, and
    service = the deployed service), apart from the function's own metrics (dimension service = handoff)."""
    metrics = EphemeralMetrics(namespace="handoff", service=record.service)
    try:
        metrics.add_dimension(name="env", value=record.env)
        for name, (unit, value) in measures.items():
            metrics.add_metric(name=name, unit=unit, value=value)
        metrics.flush_metrics()
    except (MetricValueError, SchemaValidationError) as exc:  # a measurement: the outcome stands without it
        logger.warning("could not publish the delivery metrics", error=str(exc))
