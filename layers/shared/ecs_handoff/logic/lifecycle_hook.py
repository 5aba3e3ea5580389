"""Release controls before each production traffic shift: ECS invokes handoff's lifecycle hook at
PRE_PRODUCTION_TRAFFIC_SHIFT (once for BLUE_GREEN, once per step for LINEAR and CANARY) and the hook answers
SUCCEEDED while the windows, change calendar and blocking alarms allow it (or a deploy-now overrides them),
IN_PROGRESS with a callBackDelay while one holds it, and FAILED (ECS rolls back) once the step has been held
max_gate_wait_seconds.

Anyone allowed to invoke the function can send ECS's payload, so the payload only names the service
deployment to look up: which handoff deployment it is comes from ECS (DescribeServiceDeployments, the target
revision's task definition and its handoff:deployment-id tag), the record and the registry entry; how long a
step has been held comes from handoff's own table, never from hookDetails. What the hook answers a forged
payload changes nothing (ECS reads only the answers to its own invocations); a refused payload writes nothing."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_handoff.approvals.page import human_duration
from ecs_handoff.aws import traffic_hooks
from ecs_handoff.aws.ecs import describe_task_definition
from ecs_handoff.aws.registry import load_service
from ecs_handoff.errors import ArtifactRejected, NotFound
from ecs_handoff.logic import gate
from ecs_handoff.models import DeploymentRecord, Outcome, Phase, ServiceConfig, iso, parse_iso, utcnow
from ecs_handoff.models.hooks import RELEASE_STAGE, HookStatus, LifecycleHookAnswer, LifecycleHookEvent
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import TAG_DEPLOYMENT_ID

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import CloudWatchClient, ECSClient, SSMClient
    from ecs_handoff.aws.records import DeploymentRecords
    from ecs_handoff.aws.release_controls import Overrides

# ECS's API is eventually consistent: when it does not show yet what its own invocation says (the stage, the
# record's new revision), the hook asks to be called again this soon instead of deciding on a stale read.
LOOK_AGAIN_SECONDS = 5
_SERVICE_DEPLOYMENT_ARN = re.compile(r"^arn:aws[\w-]*:ecs:[\w-]+:\d{12}:service-deployment/[\w-]+/[\w-]+/[\w-]+$")


@dataclass(frozen=True)
class HookDeployment:
    """The handoff deployment ECS is about to shift production traffic for, as re-derived from AWS."""

    record: DeploymentRecord
    config: ServiceConfig
    service_deployment_arn: str
    production_percent: float  # green's share of production traffic before this shift (0 at the first)


@dataclass(frozen=True)
class HookContext:
    """Where the hook reads and writes (tables, registry, signing key) and the AWS clients it uses."""

    records: DeploymentRecords
    holds: traffic_hooks.TrafficHolds
    overrides: Overrides
    registry_prefix: str
    key: gate.SigningKey
    ecs: ECSClient | None = None
    cloudwatch: CloudWatchClient | None = None
    ssm: SSMClient | None = None


def _answer(status: HookStatus, reason: str, delay: int | None = None) -> LifecycleHookAnswer:
    return LifecycleHookAnswer(hook_status=status, call_back_delay=delay, reason=reason)


def refused(reason: str) -> LifecycleHookAnswer:
    return _answer(HookStatus.FAILED, f"refused: {reason}")


def _last(arn_or_name: str) -> str:
    return arn_or_name.rsplit("/", 1)[-1]


def _service_of(service_arn: str) -> tuple[str, str]:
    """(cluster, service) of arn:aws:ecs:<region>:<account>:service/<cluster>/<service>."""
    parts = service_arn.split(":", 5)[-1].split("/")
    return (parts[1], parts[2]) if len(parts) == 3 else ("", _last(service_arn))


def identify(event: LifecycleHookEvent, ctx: HookContext) -> HookDeployment | LifecycleHookAnswer:
    """The handoff deployment ECS is shifting traffic for, or the answer for a payload handoff does not act on."""
    described = _at_release_stage(event, ctx)
    if isinstance(described, LifecycleHookAnswer):
        return described
    found = _record_of_revision(described, ctx)
    if isinstance(found, LifecycleHookAnswer):
        return found
    record, task_definition = found
    return _of_this_service(record, task_definition, described, ctx)


def _at_release_stage(event: LifecycleHookEvent, ctx: HookContext) -> dict[str, Any] | LifecycleHookAnswer:
    """The service deployment the payload names, as ECS describes it, if ECS agrees with the payload and runs it
    at the production traffic shift; else the answer (refused, or look again while ECS reaches the stage)."""
    arn = event.resource_arn
    if not _SERVICE_DEPLOYMENT_ARN.match(arn):
        return refused(f"resourceArn {arn[:200]!r} is not an ECS service deployment ARN")
    described = traffic_hooks.describe_service_deployment(arn, ctx.ecs)
    if described is None:
        return refused(f"ECS has no service deployment {arn}")
    service_arn = str(described.get("serviceArn", ""))
    target = str((described.get("targetServiceRevision") or {}).get("arn", ""))
    details = event.execution_details
    if details.service_arn != service_arn or details.target_service_revision_arn != target:
        return refused(
            f"the payload names service {details.service_arn[:200]!r} and revision "
            f"{details.target_service_revision_arn[:200]!r}; ECS says {arn} deploys {target} to {service_arn}"
        )
    status, stage = str(described.get("status", "")), str(described.get("lifecycleStage", ""))
    if status != "IN_PROGRESS":
        return refused(f"ECS says service deployment {arn} is {status}, not IN_PROGRESS")
    if stage != RELEASE_STAGE:
        return _answer(
            HookStatus.IN_PROGRESS,
            f"ECS shows {arn} at {stage or 'no stage'} yet, not {RELEASE_STAGE}; looking again",
            LOOK_AGAIN_SECONDS,
        )
    return described


def _record_of_revision(
    described: dict[str, Any], ctx: HookContext
) -> tuple[DeploymentRecord, str] | LifecycleHookAnswer:
    """The record of the deployment whose revision (read from ECS: the target revision's task definition and its
    handoff tag) the service deployment rolls out, and that task definition; else the answer (handoff's own
    rollback goes through, anything else is refused)."""
    service_arn = str(described.get("serviceArn", ""))
    target = str((described.get("targetServiceRevision") or {}).get("arn", ""))
    task_definition = traffic_hooks.service_revision_task_definition(target, ctx.ecs)
    if task_definition is None:
        return refused(f"ECS has no service revision {target}")
    try:
        _, tags = describe_task_definition(task_definition, ctx.ecs)
    except NotFound:
        return refused(f"task definition {task_definition} does not exist")
    deployment_id = _deployment_of(tags)
    record = ctx.records.get(deployment_id) if deployment_id else None
    if record is None or record.outcome.terminal:
        # Not a running deployment's revision: it may be handoff's own rollback (the rollback step's
        # UpdateService back to what a failed deployment replaced), which no release control holds.
        rollback = _handoff_rollback(described, task_definition, service_arn, ctx)
        if rollback is not None:
            return rollback
    if not deployment_id:
        return refused(
            f"{task_definition} is not a revision handoff registered (no {TAG_DEPLOYMENT_ID} tag): deployments of "
            "this service go through handoff"
        )
    if record is None:
        return refused(f"{task_definition} names deployment {deployment_id}, which handoff has no record of")
    return record, task_definition


def _of_this_service(
    record: DeploymentRecord, task_definition: str, described: dict[str, Any], ctx: HookContext
) -> HookDeployment | LifecycleHookAnswer:
    """The deployment, if its registry entry names the service ECS deploys, it still runs and it deployed this
    very revision; else the answer."""
    arn = str(described.get("serviceDeploymentArn", ""))  # the payload's resourceArn: ECS described that one
    service_arn = str(described.get("serviceArn", ""))
    try:
        config = load_service(ctx.registry_prefix, record.service, ctx.ssm)
    except ArtifactRejected as exc:
        return refused(f"deployment {record.id}: {exc}")
    cluster, service = _service_of(service_arn)
    if (_last(config.cluster), _last(config.service)) != (cluster, service):
        return refused(
            f"deployment {record.id} is of {record.service} ({config.service} in cluster {config.cluster}), "
            f"but {arn} deploys {service_arn}"
        )
    if record.outcome.terminal:
        return _answer(HookStatus.FAILED, f"deployment {record.id} already ended {record.outcome.value}")
    if record.new_task_definition is None:
        # The deploy step writes the record right after UpdateService: a hook can only be early by that much.
        return _answer(
            HookStatus.IN_PROGRESS, f"deployment {record.id} has not recorded its revision yet", LOOK_AGAIN_SECONDS
        )
    if record.new_task_definition != task_definition:
        return refused(f"deployment {record.id} deployed {record.new_task_definition}, not {task_definition}")
    percent = float((described.get("targetServiceRevision") or {}).get("requestedProductionTrafficWeight") or 0.0)
    return HookDeployment(record, config, arn, percent)


def _deployment_of(tags: list[Any]) -> str:
    return next((str(t.get("value", "")) for t in tags if t.get("key") == TAG_DEPLOYMENT_ID), "")


def _handoff_rollback(
    described: dict[str, Any], task_definition: str, service_arn: str, ctx: HookContext
) -> LifecycleHookAnswer | None:
    """The answer for a service deployment that takes the service from a handoff deployment's revision back to
    the one it replaced (`task_definition`), or None when it is not one. Read from ECS (the service deployment's
    source revisions, their task definitions and tags) and the record that names them: SUCCEEDED once handoff
    rolled that deployment back or it failed; IN_PROGRESS while it runs (the rollback step records its phase
    right after UpdateService)."""
    for source in described.get("sourceServiceRevisions") or []:
        source_task_definition = traffic_hooks.service_revision_task_definition(str(source.get("arn", "")), ctx.ecs)
        if not source_task_definition or source_task_definition == task_definition:
            continue
        try:
            _, tags = describe_task_definition(source_task_definition, ctx.ecs)
        except NotFound:
            continue
        deployment_id = _deployment_of(tags)
        record = ctx.records.get(deployment_id) if deployment_id else None
        if record is None or (record.new_task_definition, record.previous_task_definition) != (
            source_task_definition,
            task_definition,
        ):
            continue
        try:
            config = load_service(ctx.registry_prefix, record.service, ctx.ssm)
        except ArtifactRejected:
            continue
        if (_last(config.cluster), _last(config.service)) != _service_of(service_arn):
            continue
        if Phase.ROLLED_BACK.value in record.timeline or record.outcome is Outcome.FAILED:
            return _answer(
                HookStatus.SUCCEEDED,
                f"handoff's rollback of {record.id} to {task_definition}: release controls never hold a rollback",
            )
        if not record.outcome.terminal:
            return _answer(
                HookStatus.IN_PROGRESS,
                f"a deployment back from {record.id}'s revision, which has not recorded a rollback yet",
                LOOK_AGAIN_SECONDS,
            )
    return None


def decide(held: list[gate.Hold], since: datetime | None, now: datetime, config: ServiceConfig) -> LifecycleHookAnswer:
    """SUCCEEDED when nothing holds the shift; FAILED once it has been held max_gate_wait_seconds since `since`;
    else IN_PROGRESS, called again after gate_poll_seconds, or sooner when every hold says when it ends or the
    maximum wait ends first (at least 1 s)."""
    if not held:
        return _answer(HookStatus.SUCCEEDED, "the release controls allow it")
    reasons = "; ".join(h.reason for h in held)
    waited = max(0.0, (now - (since or now)).total_seconds())
    if waited >= config.max_gate_wait_seconds:
        return _answer(
            HookStatus.FAILED,
            f"held for {human_duration(waited)} (max_gate_wait_seconds) by its release controls: {reasons}; "
            "ECS rolls the deployment back",
        )
    delay = min(float(config.gate_poll_seconds), config.max_gate_wait_seconds - waited)
    opens = [h.opens_at for h in held]
    if all(opens):
        delay = min(delay, max((o - now).total_seconds() for o in opens if o is not None))
    return _answer(HookStatus.IN_PROGRESS, reasons, max(1, math.ceil(delay)))


def answer(
    event: LifecycleHookEvent, ctx: HookContext, now: Callable[[], datetime] | None = None
) -> LifecycleHookAnswer:
    """One invocation by ECS: what to answer, with holds and releases on the deployment record."""
    if event.lifecycle_stage != RELEASE_STAGE:
        # Configured at another stage (doctor says so): never hold what is not a production traffic shift,
        # least of all a rollback's TEST/PRODUCTION_TRAFFIC_SHIFT.
        return _answer(HookStatus.SUCCEEDED, f"release controls apply at {RELEASE_STAGE}, not {event.lifecycle_stage}")
    found = identify(event, ctx)
    if isinstance(found, LifecycleHookAnswer):
        return found
    current = (now or utcnow)()
    record, config, me = found.record, found.config, found.record.id
    step = f"{found.production_percent:g}"
    key = traffic_hooks.hold_key(found.service_deployment_arn, found.production_percent)
    override, _ = gate.verified_override(ctx.overrides, me, config.override_principals, ctx.key)
    try:
        held = [] if override is not None else gate.holds(config, current, ctx.cloudwatch, ctx.ssm)
    except ArtifactRejected as exc:
        if not _said(record, "refused", step):
            ctx.records.append_release_hold(me, _hold_event(current, "refused", step, str(exc)))
        return _answer(HookStatus.FAILED, str(exc))
    if not held:
        return _released(ctx, record, key, step, current, override)
    since, first = ctx.holds.first_held(key, iso(current))
    decided = decide(held, parse_iso(since), current, config)
    if decided.hook_status is HookStatus.FAILED:
        if not _said(record, "expired", step):
            ctx.records.append_release_hold(me, _hold_event(current, "expired", step, decided.reason))
            # No longer held: ECS rolls back and calls the hook no more, so deploy-now has nothing left to release
            # (it answers "Not held"); the workflow's rollout step follows the rollback to its verdict.
            shown = {"reason": decided.reason, "production_percent": step}
            ctx.records.update(me, phase=Phase.ROLLING_OUT, at=iso(current), gate=shown)
            logger.warning("traffic shift held too long", deployment_id=me, production_percent=step)
        return decided
    opens = max((h.opens_at for h in held if h.opens_at), default=None)
    shown = {"reason": decided.reason, "production_percent": step, **({"opens_at": iso(opens)} if opens else {})}
    ctx.records.update(me, phase=held[0].phase, at=iso(current), gate=shown)
    if first:
        ctx.records.append_release_hold(me, _hold_event(current, "held", step, decided.reason))
        logger.info("traffic shift held", deployment_id=me, production_percent=step, reason=decided.reason)
    return decided


def _released(
    ctx: HookContext, record: DeploymentRecord, key: str, step: str, current: datetime, override: Any
) -> LifecycleHookAnswer:
    """The shift may go on; a step that was held says so on the record, once."""
    me = record.id
    if not ctx.holds.release(key):
        if override is not None:
            return _answer(HookStatus.SUCCEEDED, f"deploy-now by {override.principal}: {override.reason}")
        return _answer(HookStatus.SUCCEEDED, "the release controls allow it")
    if override is not None:
        reason = f"deploy-now by {override.principal}: {override.reason}"
        ctx.records.update(me, phase=Phase.DEPLOY_NOW, at=iso(current), override=override.public(), gate={})
        ctx.records.append_release_hold(me, _hold_event(current, "overridden", step, reason))
    else:
        reason = "the release controls allow it"
        ctx.records.update(me, phase=Phase.ROLLING_OUT, at=iso(current), gate={})
        ctx.records.append_release_hold(me, _hold_event(current, "released", step, reason))
    logger.info("traffic shift released", deployment_id=me, production_percent=step, reason=reason)
    return _answer(HookStatus.SUCCEEDED, reason)


def _said(record: DeploymentRecord, what: str, step: str) -> bool:
    """Whether the record already says this step ended so: ECS calls no more after FAILED, but anyone allowed to
    invoke the function can, while ECS still shows the step (each call must not grow the record)."""
    return any(h.get("event") == what and h.get("production_percent") == step for h in record.release_holds)


def _hold_event(at: datetime, what: str, step: str, reason: str) -> dict[str, str]:
    return {"at": iso(at), "event": what, "production_percent": step, "reason": reason[:1000]}
