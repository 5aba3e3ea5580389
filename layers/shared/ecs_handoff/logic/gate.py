"""Release controls (CodePipeline V2's stage conditions): before the deploy, the deployment windows or
change calendar and the blocking alarms; after the rollout COMPLETED, the bake that watches the alarms.

Each look is one Lambda invocation; the workflow waits between looks in Wait states (no function runs
while a deployment is held) and passes the last result back in, so `since` survives the waits. A held
deployment keeps its service's lock, and a newer upload still supersedes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ecs_handoff import principals
from ecs_handoff.approvals.overrides import OverrideClaims
from ecs_handoff.approvals.overrides import verify as signed_override
from ecs_handoff.approvals.page import human_duration
from ecs_handoff.aws import release_controls
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.release_controls import Overrides
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.logic.lock import lease_seconds
from ecs_handoff.models import (
    GateInput,
    GateResult,
    GateStatus,
    Phase,
    ServiceConfig,
    iso,
    one_line,
    parse_iso,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.windows import describe, window_state

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import CloudWatchClient, ECSClient, SSMClient

Clock = Callable[[], datetime]  # the gate's time; a test passes a fixed one


@dataclass(frozen=True)
class Hold:
    phase: Phase  # WAITING_FOR_WINDOW or WAITING_FOR_ALARM
    reason: str
    opens_at: datetime | None = None


def override_allowed(principal: str, patterns: list[str]) -> bool:
    """Whether this principal may start a held deployment with `handoff deploy-now`."""
    return principals.matching(principal, patterns) is not None


SigningKey = Callable[[], bytes]


def verified_override(
    overrides: Overrides, deployment_id: str, patterns: list[str], key: SigningKey
) -> tuple[OverrideClaims | None, str]:
    """The deploy-now stored for this deployment, only if the operator API signed exactly these claims
    (this deployment, this principal, reason and time) and the principal is still one the registry
    entry's override_principals names; else (None, why it was ignored), or (None, "") when there is none."""
    stored = overrides.get(deployment_id)
    if stored is None:
        return None, ""
    claims = stored.claims
    if not signed_override(key(), claims, stored.signature):
        why = "its signature is not the operator API's (written to the state table by something else)"
    elif not override_allowed(claims.principal, patterns):
        why = "that principal is not in the registry entry's override_principals"
    else:
        return claims, ""
    logger.warning("override ignored", deployment_id=deployment_id, principal=claims.principal, why=why)
    return None, f"a deploy-now naming {one_line(claims.principal, 200) or 'nobody'} was ignored: {why}"


def holds(
    config: ServiceConfig, now: datetime, cloudwatch: CloudWatchClient | None = None, ssm: SSMClient | None = None
) -> list[Hold]:
    """What keeps a deployment of this registry entry from starting now (nothing: it may start)."""
    found: list[Hold] = []
    if config.deploy_windows:
        is_open, opens = window_state(config.deploy_windows, now)
        if not is_open:
            windows = "; ".join(describe(w) for w in config.deploy_windows)
            when = f"; the next opens at {iso(opens)}" if opens else ""
            found.append(Hold(Phase.WAITING_FOR_WINDOW, f"outside the deployment windows ({windows}){when}", opens))
    if config.change_calendar:
        state, changes_at = release_controls.calendar_state(config.change_calendar, ssm)
        if state != "OPEN":
            opens = parse_iso(changes_at) if changes_at else None
            when = f" until {iso(opens)}" if opens else ""
            found.append(
                Hold(Phase.WAITING_FOR_WINDOW, f"change calendar {config.change_calendar} is {state}{when}", opens)
            )
    if config.blocking_alarms:
        for alarm in release_controls.alarm_states(config.blocking_alarms, cloudwatch):
            if alarm.state == "MISSING":
                raise ArtifactRejected(
                    f"blocking alarm {alarm.name!r} does not exist in CloudWatch; fix blocking_alarms in the "
                    "registry entry (a misspelt alarm would never hold a deployment)"
                )
            if alarm.state == "ALARM":
                found.append(Hold(Phase.WAITING_FOR_ALARM, f"alarm {alarm.name} is in ALARM: {alarm.reason}"))
    return found


def check_release(
    event: GateInput,
    records: DeploymentRecords,
    state: ServiceState,
    overrides: Overrides,
    key: SigningKey,
    now: Clock = utcnow,
    cloudwatch: CloudWatchClient | None = None,
    ssm: SSMClient | None = None,
) -> GateResult:
    """One look before the deploy: OPEN, WAIT (with how long), EXPIRED, or SUPERSEDED. `key` gives the
    link-signing key, read only when an override is stored (a deploy-now is the rare case)."""
    request, previous, current = event.request, event.previous, now()
    config, me = request.service, request.deployment_id
    latest = state.latest_deployment(request.service_id)
    if latest and latest != me:
        return GateResult(
            status=GateStatus.SUPERSEDED,
            reason=f"a newer upload ({latest}) for {request.service_id} arrived while this one waited for its "
            "release controls; it deploys instead",
        )
    if not state.renew_lock(request.service_id, me, lease_seconds(request)):
        return GateResult(
            status=GateStatus.SUPERSEDED,
            reason=f"{request.service_id}'s lock is no longer this deployment's (its lease ran out while it was "
            "held); nothing was deployed, upload again to retry",
        )
    override, ignored = verified_override(overrides, me, config.override_principals, key)
    if ignored and ignored not in previous.reason:
        # Said once on the record; the held result below carries it, so the next looks know it was said.
        records.append_note(me, f"{iso(current)} {ignored}; overrides come only from `handoff deploy-now`")
    if override is not None:
        shown = override.public()
        records.update(me, phase=Phase.DEPLOY_NOW, at=iso(current), override=shown, gate={})
        logger.info("release controls overridden", principal=override.principal, reason=override.reason)
        reason = f"deploy-now by {override.principal}: {override.reason}"
        return GateResult(status=GateStatus.OPEN, reason=reason, since=previous.since, override=shown)
    held = holds(config, current, cloudwatch, ssm)
    if not held:
        if previous.since:  # it was held: say so on the record
            records.update(me, phase=Phase.GATES_OPEN, at=iso(current), gate={})
        return GateResult(status=GateStatus.OPEN, reason="the release controls allow it", since=previous.since)
    return _held(held, ignored, config, previous.since or iso(current), current, records, me)


def _held(
    held: list[Hold],
    ignored: str,
    config: ServiceConfig,
    since: str,
    current: datetime,
    records: DeploymentRecords,
    me: str,
) -> GateResult:
    """A held deployment: EXPIRED once held max_gate_wait_seconds, else WAIT (recorded) until the next look,
    which comes no later than the moment every hold says it ends."""
    waited = (current - parse_iso(since)).total_seconds()
    reasons = "; ".join([*(h.reason for h in held), *([ignored] if ignored else [])])
    if waited >= config.max_gate_wait_seconds:
        return GateResult(
            status=GateStatus.EXPIRED,
            since=since,
            reason=f"held for {human_duration(waited)} (max_gate_wait_seconds) by its release controls: {reasons}; "
            "nothing was deployed",
        )
    opens = max((h.opens_at for h in held if h.opens_at), default=None)
    wait = min(config.gate_poll_seconds, config.max_gate_wait_seconds - waited)
    if opens is not None and all(h.opens_at for h in held):
        wait = min(wait, (opens - current).total_seconds())
    first = held[0]
    gate = {"reason": reasons, **({"opens_at": iso(opens)} if opens else {})}
    records.update(me, phase=first.phase, at=iso(current), gate=gate)
    return GateResult(
        status=GateStatus.WAIT,
        reason=reasons,
        wait_seconds=max(1, int(wait + 0.999)),
        since=since,
        opens_at=iso(opens) if opens else None,
    )


def check_bake(
    event: GateInput,
    records: DeploymentRecords,
    state: ServiceState,
    now: Clock = utcnow,
    cloudwatch: CloudWatchClient | None = None,
    ecs: ECSClient | None = None,
) -> GateResult:
    """One look during the bake: DONE, ALARM (roll back), or WAIT."""
    request, previous, current = event.request, event.previous, now()
    config, me = request.service, request.deployment_id
    since = previous.since or iso(current)
    state.renew_lock(request.service_id, me, lease_seconds(request))
    by_ecs = release_controls.ecs_watched_alarms(config.cluster, config.service, ecs)
    mine = [a for a in config.blocking_alarms or [] if a not in by_ecs]
    if not mine:
        return GateResult(
            status=GateStatus.DONE,
            since=since,
            reason="ECS watches every blocking alarm during its own deployments (deployment alarms); no bake needed",
        )
    for alarm in release_controls.alarm_states(mine, cloudwatch):
        if alarm.state == "ALARM":
            return GateResult(
                status=GateStatus.ALARM,
                since=since,
                alarm=alarm.name,
                reason=f"alarm {alarm.name} went to ALARM during the {human_duration(config.bake_seconds)} bake: "
                f"{alarm.reason}",
            )
    baked = (current - parse_iso(since)).total_seconds()
    if baked >= config.bake_seconds:
        return GateResult(
            status=GateStatus.DONE, since=since, reason=f"no alarm during the {human_duration(baked)} bake"
        )
    if not previous.since:
        records.update(me, phase=Phase.BAKING, at=iso(current), gate={"reason": f"watching {', '.join(mine)}"})
    return GateResult(
        status=GateStatus.WAIT,
        since=since,
        wait_seconds=max(1, int(min(config.gate_poll_seconds, config.bake_seconds - baked) + 0.999)),
        reason=f"baking: watching {', '.join(mine)} for {human_duration(config.bake_seconds)}",
    )
