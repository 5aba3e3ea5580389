"""Rollout step: the truth about *this* deployment (its ECS deployment id), never "services stable".

ECS decides, and says so with an "ECS Deployment State Change" event. The workflow waits on a task
token stored under the ECS deployment id (WatchRollout); `on_event` ends the wait when ECS's event
arrives and DescribeServices bears it out (the event itself may be forged: it only says when to look).
Events can be lost or late, and FAILED comes only with the circuit breaker on, so `watch` also checks
the deployment itself: once right after storing the token (an event may have come before it), then
each time the wait times out, up to the rollout timeout. Exactly one of them sends the verdict: the one
that takes the stored wait first (RolloutWaits.take).

A BLUE_GREEN, LINEAR or CANARY service (ECS runs the strategy) is followed through its service deployment
(logic/service_deployments.py) instead of DescribeServices' rolloutState: ECS's verdict comes when the whole
deployment has ended (traffic on green, or back on blue), and "ECS Hook State Change" events wake the wait too,
so a deployment that asks its approvers before production traffic gets its PAUSED verdict when ECS holds it at
the PAUSE hook. No look per stage or per traffic step: events decide, the look every rollout_check_seconds is
the fallback."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import sfn as sfn_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import RolloutWait, RolloutWaits, ServiceState
from ecs_handoff.errors import HandoffError, NotFound, TaskEnded
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.logic.lock import LEASE_MARGIN_SECONDS
from ecs_handoff.models import (
    DeployResult,
    EcsDeploymentStateChange,
    RolloutInput,
    RolloutResult,
    RolloutState,
    ServiceConfig,
    VerdictSource,
    iso,
    parse_iso,
    seconds_since,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SFNClient

# What ECS's own deployment events carry (Amazon ECS developer guide, "Amazon ECS service deployment events"):
# anything else reaching the rollout event function was not sent by ECS's rule, and is refused.
ECS_EVENT_SOURCE = "aws.ecs"
ECS_EVENT_DETAIL_TYPE = "ECS Deployment State Change"
# A lifecycle hook's state change (BLUE_GREEN, LINEAR, CANARY): a PAUSE hook AWAITING_ACTION is when the
# approvers of a deployment that asks them before production traffic are asked.
ECS_HOOK_DETAIL_TYPE = "ECS Hook State Change"
HOOK_EVENTS_THAT_WAKE = frozenset({"HOOK_AWAITING_ACTION"})
# When DescribeServices does not yet show what ECS's event says, it is asked again after these waits (the
# function's timeout allows them) before the event is left to the workflow's next look.
AGREEMENT_RETRY_SECONDS = (1.0, 2.0)
# ECS's event names for the end of a deployment (Amazon ECS developer guide, service deployment events).
ECS_EVENT_VERDICTS = {
    "SERVICE_DEPLOYMENT_COMPLETED": RolloutState.COMPLETED,
    "SERVICE_DEPLOYMENT_FAILED": RolloutState.FAILED,
}


def _counts(deployment: dict[str, Any]) -> dict[str, int]:
    return {
        "running_count": int(deployment.get("runningCount", 0)),
        "desired_count": int(deployment.get("desiredCount", 0)),
        "pending_count": int(deployment.get("pendingCount", 0)),
        "failed_tasks": int(deployment.get("failedTasks", 0)),
    }


def _failed_reason(ecs_reason: str, counts: dict[str, int]) -> str:
    failed = counts.get("failed_tasks", 0)
    tasks = f"{failed} task{'' if failed == 1 else 's'} failed"
    return f"ECS reports the rollout FAILED: {ecs_reason or 'no reason given'} ({tasks})"


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            return iso(parse_iso(value))
    return None


# How long a deployment UpdateService created may be missing from DescribeServices before it counts as gone.
LISTING_GRACE_SECONDS = 60
# DescribeServices gives rolloutState only for rolling updates not behind a Classic Load Balancer (ECS API
# reference, Deployment.rolloutState); for the others, the verdict comes from the task counts.
NO_ROLLOUT_STATE_COMPLETED = (
    "ECS reports no rolloutState for this service (a Classic Load Balancer): all {running} tasks of this "
    "deployment run and no other deployment remains"
)


def _state_from_counts(ours: dict[str, Any], deployments: list[dict[str, Any]]) -> str:
    """COMPLETED once this deployment is the only one and runs all its tasks, as ECS's rolloutState would say;
    else IN_PROGRESS (the rollout timeout still applies)."""
    done = (
        ours.get("status") == "PRIMARY"
        and len(deployments) == 1
        and int(ours.get("runningCount", 0)) >= int(ours.get("desiredCount", 0))
        and int(ours.get("pendingCount", 0)) == 0
    )
    return "COMPLETED_FROM_COUNTS" if done else "IN_PROGRESS"


def judge(service: dict[str, Any], deployed: DeployResult, config: ServiceConfig) -> RolloutResult:
    """This deployment's state as DescribeServices shows it. Pure, so every verdict is unit-tested."""
    now = utcnow()
    deployments = service.get("deployments", [])
    ours = next((d for d in deployments if d.get("id") == deployed.ecs_deployment_id), None)
    if ours is None:
        since = seconds_since(deployed.deployed_at)
        # ECS's API is eventually consistent: a deployment UpdateService just created may not show yet.
        not_yet = since < LISTING_GRACE_SECONDS
        return RolloutResult(
            state=RolloutState.IN_PROGRESS if not_yet else RolloutState.FAILED,
            checked_at=iso(now),
            decided_by=VerdictSource.POLL,
            reason=(
                f"ECS does not list deployment {deployed.ecs_deployment_id} yet ({since:.0f} s after UpdateService)"
                if not_yet
                else f"ECS deployment {deployed.ecs_deployment_id} is not on service {config.service} "
                f"{since:.0f} s after UpdateService; "
                f"the service now runs {short_name(str(service.get('taskDefinition', '?')))}"
            ),
        )
    counts = _counts(ours)
    rollout_state = ours.get("rolloutState") or _state_from_counts(ours, deployments)
    ecs_reason = str(ours.get("rolloutStateReason", ""))
    looked = RolloutResult.model_validate(
        {
            "state": RolloutState.IN_PROGRESS,
            "reason": ecs_reason,
            "checked_at": iso(now),
            "decided_by": "poll",
            **counts,
        }
    )
    reported = _timestamp(ours.get("updatedAt"))
    if rollout_state == "COMPLETED_FROM_COUNTS":
        reason = NO_ROLLOUT_STATE_COMPLETED.format(running=counts["running_count"])
        return looked.model_copy(update={"state": RolloutState.COMPLETED, "reason": reason})
    if rollout_state == "COMPLETED":
        verdict = {"reason": ecs_reason or "rollout completed", "ecs_reported_at": reported}
        return looked.model_copy(update={"state": RolloutState.COMPLETED, **verdict})
    if rollout_state == "FAILED":
        verdict = {"reason": _failed_reason(ecs_reason, counts), "ecs_reported_at": reported}
        return looked.model_copy(update={"state": RolloutState.FAILED, **verdict})
    if seconds_since(deployed.deployed_at) > config.rollout_timeout_seconds:
        reason = (
            f"the rollout did not complete within {config.rollout_timeout_seconds} s "
            f"({counts['running_count']}/{counts['desired_count']} tasks running)"
        )
        return looked.model_copy(update={"state": RolloutState.FAILED, "reason": reason})
    return looked


def watch(
    turn: RolloutInput,
    records: DeploymentRecords,
    waits: RolloutWaits,
    state: ServiceState,
    ecs_client: ECSClient | None = None,
    sfn_client: SFNClient | None = None,
) -> RolloutResult | None:
    """One WatchRollout turn: store the token, look once, send the verdict if ECS already decided.
    None when a newer turn has begun (this one outlived its wait): that one looks instead."""
    request, deployed, task_token = turn.request, turn.deploy, turn.task_token
    config, ecs_id = request.service, deployed.ecs_deployment_id
    expires = int(time.time()) + config.rollout_timeout_seconds + LEASE_MARGIN_SECONDS
    path = service_path(config.cluster, config.service)
    pause = config.approves_before_production_traffic and deployed.traffic is None
    stored = waits.wait(
        ecs_id,
        task_token,
        turn.wait_order,
        request.deployment_id,
        path,
        expires,
        task_definition=deployed.new_task_definition,
        pause=pause,
    )
    if not stored:
        logger.info("a newer wait for this rollout has begun; it looks instead", ecs_deployment_id=ecs_id)
        return None
    # Before production traffic is released the approvers may still be asked at the PAUSE hook: the lease covers
    # their wait too, or it would run out while ECS holds green and a newer upload would take the lock and deploy
    # over it instead of superseding it.
    lease = config.rollout_timeout_seconds + LEASE_MARGIN_SECONDS + (config.approval_timeout_seconds if pause else 0)
    state.renew_lock(request.service_id, request.deployment_id, lease)
    # Looked at after the token is stored: an event that came before it finds no token, but ECS's
    # state already shows what it said.
    described = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    # rolling_out leaves a production traffic shift the lifecycle hook holds as held (its phase is what `status`
    # shows and what `handoff deploy-now` acts on).
    if strategies.follows_ecs_strategy(described):
        result, seen = follow(deployed, config, pause, ecs_client)
        if seen:
            fields = strategies.snapshot_fields(config, seen)
            records.rolling_out(request.deployment_id, result.checked_at, service_deployment=fields)
        else:
            records.rolling_out(request.deployment_id, result.checked_at)
    else:
        result = judge(described, deployed, config)
        if result.state is RolloutState.IN_PROGRESS:
            records.rolling_out(request.deployment_id, result.checked_at, rollout=result.counts())
    if result.state is RolloutState.IN_PROGRESS:
        return result
    # The wait taken may be a newer turn's (this look was slow): the verdict is the same for every turn.
    taken = waits.take(ecs_id)
    if taken is not None:  # else ECS's event, or another look, took it first and sent the same verdict
        _send(ecs_id, taken, result, sfn_client)
    return result


def follow(
    deployed: DeployResult, config: ServiceConfig, pause: bool, ecs_client: Any = None
) -> tuple[RolloutResult, dict[str, Any] | None]:
    """The verdict on the service deployment ECS runs for this deployment's revision (BLUE_GREEN, LINEAR,
    CANARY), and the deployment as described (None when ECS does not list it yet). The rollout timeout counts
    from UpdateService, or from when production traffic was released after the approvers' decision."""
    found = strategies.find(
        config.cluster, config.service, deployed.new_task_definition, deployed.deployed_at, ecs_client
    )
    since = seconds_since(deployed.deployed_at)
    if found is None:
        not_yet = since < LISTING_GRACE_SECONDS
        reason = (
            f"ECS lists no service deployment of {short_name(deployed.new_task_definition)} yet ({since:.0f} s after "
            "UpdateService)"
            if not_yet
            else f"ECS lists no service deployment of {short_name(deployed.new_task_definition)} on "
            f"{config.service} {since:.0f} s after UpdateService"
        )
        state = RolloutState.IN_PROGRESS if not_yet else RolloutState.FAILED
        return RolloutResult(state=state, checked_at=iso(utcnow()), decided_by=VerdictSource.POLL, reason=reason), None
    reported = _timestamp(found.get("finishedAt") or found.get("stoppedAt") or found.get("updatedAt"))
    result = strategies.verdict(found, pause, VerdictSource.POLL, reported)
    started = deployed.traffic.at if deployed.traffic is not None and deployed.traffic.at else deployed.deployed_at
    if result.state is RolloutState.IN_PROGRESS and seconds_since(started) > config.rollout_timeout_seconds:
        reason = f"the rollout did not complete within {config.rollout_timeout_seconds} s ({result.reason})"
        result = result.model_copy(update={"state": RolloutState.FAILED, "reason": reason})
    return result, found


def _send(ecs_id: str, wait: RolloutWait, result: RolloutResult, sfn_client: Any) -> None:
    try:
        sfn_access.send_task_success(wait.token, result.model_dump(mode="json"), sfn=sfn_client)
    except TaskEnded:  # the wait timed out meanwhile: the next WatchRollout looks again
        logger.info("the rollout wait had already ended", ecs_deployment_id=ecs_id)
    else:
        logger.info("rollout verdict sent", ecs_deployment_id=ecs_id, state=result.state.value, by=result.decided_by)


def on_event(
    change: EcsDeploymentStateChange,
    waits: RolloutWaits,
    ecs_client: ECSClient | None = None,
    sfn_client: SFNClient | None = None,
    records: DeploymentRecords | None = None,
) -> str:
    """ECS's event ends the wait of the deployment it names, but only with ECS's agreement: the event may
    come from anyone allowed to invoke the function, so its word decides nothing. Returns what was done, for
    the log. Ignored: an event that is not ECS's deployment event (refused), one for a deployment nobody waits
    on (not handoff's, or already decided), and one that DescribeServices does not (yet) bear out: the
    workflow's own look decides those, from ECS's state, never from the event alone."""
    refused = _not_ecs_event(change)
    if refused is not None:
        return refused
    detail = change.detail
    if change.detail_type == ECS_HOOK_DETAIL_TYPE:
        return _on_hook_event(detail, waits, ecs_client, sfn_client, records)
    ecs_id = detail.deployment_id
    state = ECS_EVENT_VERDICTS.get(detail.event_name)
    if state is None:
        return f"ignored: {detail.event_name} decides nothing"
    service = next((r.split(":service/", 1)[1] for r in change.resources if ":service/" in r), "")
    wait = _take_wait(waits, ecs_id, service)
    if wait is None:
        # A BLUE_GREEN, LINEAR or CANARY service's rollback deployment ends handoff's wait too.
        woken = _wake_service(service, waits, ecs_client, sfn_client, records) if "/" in service else None
        if woken is not None:
            return woken
        return f"ignored: nothing of service {service or '?'} waits on {ecs_id} (not handoff's, or already decided)"
    return _decide_from_event(ecs_id, wait, state, waits, ecs_client, sfn_client, records)


def _not_ecs_event(change: EcsDeploymentStateChange) -> str | None:
    """Why the event is refused (logged), if it is not ECS's deployment or hook event."""
    if change.source == ECS_EVENT_SOURCE and change.detail_type in (ECS_EVENT_DETAIL_TYPE, ECS_HOOK_DETAIL_TYPE):
        return None
    field, value = (
        ("source", change.source) if change.source != ECS_EVENT_SOURCE else ("detail-type", change.detail_type)
    )
    done = (
        f"refused: {field} is {value!r}, not ECS's deployment or hook event ({ECS_EVENT_SOURCE}, "
        f"{ECS_EVENT_DETAIL_TYPE} or {ECS_HOOK_DETAIL_TYPE})"
    )
    logger.warning("event refused", reason=done, ecs_deployment_id=change.detail.deployment_id)
    return done


def _on_hook_event(
    detail: Any, waits: RolloutWaits, ecs_client: Any, sfn_client: Any, records: DeploymentRecords | None
) -> str:
    """A PAUSE hook AWAITING_ACTION wakes the waits of the service it names (judged from ECS, never the event)."""
    if detail.event_name not in HOOK_EVENTS_THAT_WAKE:
        return f"ignored: {detail.event_name} decides nothing"
    path = _path_of_arn(detail.service_arn)
    if "/" not in path:
        return f"ignored: the hook event names no service ARN with its cluster ({detail.service_arn!r})"
    return (
        _wake_service(path, waits, ecs_client, sfn_client, records) or f"ignored: nothing of service {path} waits on it"
    )


def _take_wait(waits: RolloutWaits, ecs_id: str, service: str) -> RolloutWait | None:
    """The wait stored under the event's deployment id, if it is of the event's service."""
    if "/" in service:
        return waits.take(ecs_id, service)
    # an old-format service ARN (service/<name>, no cluster): the name must match the stored wait's
    wait = waits.take(ecs_id)
    if wait is not None and wait.service.rsplit("/", 1)[-1] != service:
        waits.give_back(ecs_id, wait)
        return None
    return wait


def _decide_from_event(
    ecs_id: str,
    wait: RolloutWait,
    state: RolloutState,
    waits: RolloutWaits,
    ecs_client: Any,
    sfn_client: Any,
    records: DeploymentRecords | None,
) -> str:
    """Sends the event's verdict if ECS bears it out (asked again while its API catches up), or the service
    deployment's for a service ECS runs the strategy of; gives the wait back otherwise."""
    first: dict[str, Any] | None = None  # the first look, which also says whether ECS runs the strategy
    if wait.task_definition:
        cluster, name = wait.service.split("/", 1)
        try:
            first = ecs_access.describe_service(cluster, name, ecs_client)
        except NotFound:
            first = None
        except HandoffError:
            waits.give_back(ecs_id, wait)
            raise
        if first is not None and strategies.follows_ecs_strategy(first):
            return _decide_from_service_deployment(ecs_id, wait, waits, ecs_client, sfn_client, records)
    try:
        # The service handoff stored with its own wait (equal to the event's: take checked it).
        result, disagreement = _as_ecs_shows_it(wait.service, ecs_id, state, ecs_client, first)
        for delay in AGREEMENT_RETRY_SECONDS:  # ECS's API is eventually consistent: its event can come first
            if result is not None:
                break
            time.sleep(delay)
            result, disagreement = _as_ecs_shows_it(wait.service, ecs_id, state, ecs_client)
        if result is None:
            waits.give_back(ecs_id, wait)
            logger.warning("event not borne out by ECS", reason=disagreement, ecs_deployment_id=ecs_id)
            return f"ignored: {disagreement}; the workflow's own look decides"
        _send(ecs_id, wait, result, sfn_client)
    except HandoffError:
        waits.give_back(ecs_id, wait)  # EventBridge retries the event; the workflow's check is the backstop
        raise
    return f"{state.value}: sent to deployment {wait.deployment_id}"


def _wake_service(
    path: str, waits: RolloutWaits, ecs_client: Any, sfn_client: Any, records: DeploymentRecords | None
) -> str | None:
    """An event about a BLUE_GREEN, LINEAR or CANARY service (a hook's state, or a deployment of the service
    nobody waits on, such as ECS's rollback deployment): each of the service's deployments handoff waits on is
    judged from its service deployment, as ECS shows it (the event itself says only when to look). None when the
    service is not one ECS runs a strategy for (or ECS shows no such service): nothing to wake."""
    cluster, service = path.split("/", 1)
    try:
        described = ecs_access.describe_service(cluster, service, ecs_client)
    except NotFound:
        return None
    if not strategies.follows_ecs_strategy(described):
        return None
    done = []
    for deployment in described.get("deployments", []):
        ecs_id = str(deployment.get("id", ""))
        wait = waits.take(ecs_id, path) if ecs_id else None
        if wait is not None:
            done.append(_decide_from_service_deployment(ecs_id, wait, waits, ecs_client, sfn_client, records))
    return "; ".join(done) or f"ignored: nothing of service {path} waits on a deployment ECS lists"


def _decide_from_service_deployment(
    ecs_id: str,
    wait: RolloutWait,
    waits: RolloutWaits,
    ecs_client: Any,
    sfn_client: Any,
    records: DeploymentRecords | None = None,
) -> str:
    """Sends the verdict ECS's service deployment for the wait's revision shows (COMPLETED, FAILED, or PAUSED
    for a deployment that asks its approvers before production traffic); gives the wait back otherwise."""
    cluster, service = wait.service.split("/", 1)
    try:
        found = strategies.find(cluster, service, wait.task_definition, None, ecs_client)
        result = (
            strategies.verdict(
                found,
                wait.pause,
                VerdictSource.EVENT,
                _timestamp(found.get("finishedAt") or found.get("stoppedAt") or found.get("updatedAt")),
            )
            if found is not None
            else None
        )
        if found is not None and records is not None and result is not None:
            # What ECS shows (stage, weights, hooks) on the record: `handoff watch` and `status` read it.
            seen = strategies.snapshot(found).fields()
            records.update(wait.deployment_id, at=result.checked_at, service_deployment=seen)
        if result is None or result.state is RolloutState.IN_PROGRESS:
            waits.give_back(ecs_id, wait)
            shown = result.reason if result is not None else "no service deployment of its revision yet"
            return f"ignored: ECS shows {shown}; the workflow's own look decides"
        _send(ecs_id, wait, result, sfn_client)
    except HandoffError:
        waits.give_back(ecs_id, wait)
        raise
    return f"{result.state.value}: sent to deployment {wait.deployment_id}"


def _path_of_arn(service_arn: str) -> str:
    """cluster/service from a service ARN (empty when it is none)."""
    return service_arn.partition(":service/")[2]


def _as_ecs_shows_it(
    path: str, ecs_id: str, claimed: RolloutState, ecs_client: Any, looked: dict[str, Any] | None = None
) -> tuple[RolloutResult | None, str]:
    """The verdict as DescribeServices shows it (`looked`: what it showed a moment ago, else asked now), when
    ECS agrees with the event's; else None and why not. ECS is eventually consistent: a deployment it does not
    show decided yet is left to the workflow's look."""
    cluster, service = path.split("/", 1)
    try:
        described = looked if looked is not None else ecs_access.describe_service(cluster, service, ecs_client)
    except NotFound:
        return None, f"the event says {claimed.value}, but ECS shows no service {path}"
    ours = next((d for d in described.get("deployments", []) if d.get("id") == ecs_id), None)
    if ours is None:
        return None, f"the event says {claimed.value}, but ECS shows no deployment {ecs_id} on {path}"
    shown = str(ours.get("rolloutState", "IN_PROGRESS"))
    if shown != claimed.value:
        return None, f"the event says {claimed.value}, but ECS shows deployment {ecs_id} {shown}"
    counts = _counts(ours)
    ecs_reason = str(ours.get("rolloutStateReason", ""))
    result = RolloutResult.model_validate(
        {
            "state": claimed,
            "reason": (ecs_reason or "rollout completed")
            if claimed is RolloutState.COMPLETED
            else _failed_reason(ecs_reason, counts),
            "checked_at": iso(utcnow()),
            "decided_by": VerdictSource.EVENT,
            "ecs_reported_at": _timestamp(ours.get("updatedAt")),
            **counts,
        }
    )
    return result, ""


def service_path(cluster: str, service: str) -> str:
    """cluster/service, as the end of the service ARN ECS names in its events."""
    return f"{cluster.rsplit('/', 1)[-1]}/{service.rsplit('/', 1)[-1]}"
