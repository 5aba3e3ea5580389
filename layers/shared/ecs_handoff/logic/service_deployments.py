"""What an ECS service deployment (BLUE_GREEN, LINEAR, CANARY: ECS runs the strategy itself) means for handoff.

Terraform sets the service's strategy; handoff registers the revision and calls UpdateService as for a rolling
update, then follows the service deployment ECS made for that revision (found by its target revision's task
definition, read from ECS, never from a payload) to ECS's verdict: SUCCESSFUL is COMPLETED; ROLLBACK_* and
STOPPED are FAILED with ECS's reason. While it runs, its stage, the production and test traffic weights and the
hooks' states are what handoff shows. With approval before production traffic, a PAUSE hook AWAITING_ACTION at
POST_TEST_TRAFFIC_SHIFT is PAUSED: the approvers decide, and `act_at_pause` continues or rolls back there."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws import service_deployments as sd_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import DeploymentRefused, ServiceDeploymentMoved
from ecs_handoff.models import (
    DeploymentRecord,
    Outcome,
    Phase,
    RolloutResult,
    RolloutState,
    ServiceConfig,
    TrafficAction,
    TrafficInput,
    TrafficResult,
    VerdictSource,
    iso,
    parse_iso,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.approvals import ApprovalStore
    from ecs_handoff.aws.clients import ECSClient, SSMClient
    from ecs_handoff.logic.authority import Where

TRAFFIC_STRATEGIES = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
# Where the approvers decide (docs/approvals.md says why): green has its tasks and serves the test listener, and
# no production traffic has moved. ECS runs POST_TEST_TRAFFIC_SHIFT once per deployment, also for LINEAR and
# CANARY (PRE_PRODUCTION_TRAFFIC_SHIFT runs once per traffic step, so a PAUSE hook there would stop every step).
APPROVAL_HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"
# The stages after the approval hook: a deployment in one of them has been let past it.
PAST_APPROVAL_STAGES = frozenset({"PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"})
SUCCEEDED_STATUSES = frozenset({"SUCCESSFUL"})
FAILED_STATUSES = frozenset({"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"})
# A PAUSE hook's timeout when its timeoutConfiguration sets none (API_DeploymentLifecycleHookTimeoutConfiguration:
# 1440 minutes, then ROLLBACK, the action's default).
PAUSE_TIMEOUT_DEFAULT_MINUTES = 1440
# Clock skew between handoff and ECS when listing the deployments created since UpdateService.
LISTING_SKEW = dt.timedelta(minutes=5)


def strategy_of(service: dict[str, Any]) -> str:
    """The service's deployment strategy as DescribeServices shows it (ROLLING when none is set)."""
    return str((service.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING")


def follows_ecs_strategy(service: dict[str, Any]) -> bool:
    """Whether ECS runs the service's deployments itself (blue/green, linear, canary), with traffic shifts."""
    return strategy_of(service) in TRAFFIC_STRATEGIES


def approval_hook_problem(service: dict[str, Any], approval_timeout_seconds: int) -> str | None:
    """Why the service cannot hold a deployment for the approvers before production traffic, or None: it must
    be BLUE_GREEN, LINEAR or CANARY with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT whose timeout rolls back (a
    timeout that continues would move production traffic with nobody's approval) and lasts at least the
    approvers' wait (else ECS rolls back while they still decide, and their approval can only fail)."""
    strategy = strategy_of(service)
    if strategy not in TRAFFIC_STRATEGIES:
        return (
            f"its ECS service uses the {strategy} strategy; approval_stage before_production_traffic needs "
            "BLUE_GREEN, LINEAR or CANARY (deploymentConfiguration.strategy)"
        )
    hooks = (service.get("deploymentConfiguration") or {}).get("lifecycleHooks") or []
    pauses = [
        h for h in hooks if h.get("targetType") == "PAUSE" and APPROVAL_HOOK_STAGE in (h.get("lifecycleStages") or [])
    ]
    if not pauses:
        return (
            f"its ECS service has no PAUSE lifecycle hook at {APPROVAL_HOOK_STAGE}; approval_stage "
            "before_production_traffic needs one to hold green on the test listener while the approvers decide"
        )
    continuing = [h for h in pauses if (h.get("timeoutConfiguration") or {}).get("action") == "CONTINUE"]
    if continuing:
        return (
            f"its PAUSE hook at {APPROVAL_HOOK_STAGE} continues when it times out (timeoutConfiguration.action "
            "CONTINUE): production traffic would move with nobody's approval; set the action to ROLLBACK"
        )
    if not _test_traffic_route(service):
        return (
            "its ECS service has no test traffic route (loadBalancers[].advancedConfiguration.testListenerRule, or "
            "a Service Connect testTrafficRules): green would serve nothing the approvers could look at"
        )
    minutes = min(
        int((h.get("timeoutConfiguration") or {}).get("timeoutInMinutes") or PAUSE_TIMEOUT_DEFAULT_MINUTES)
        for h in pauses
    )
    if minutes * 60 < approval_timeout_seconds:
        return (
            f"its PAUSE hook at {APPROVAL_HOOK_STAGE} times out after {minutes} min, before the approvers' wait "
            f"(approval_timeout_seconds {approval_timeout_seconds}) ends: ECS would roll back while they decide; "
            f"set timeoutConfiguration.timeoutInMinutes to at least {-(-approval_timeout_seconds // 60)}"
        )
    return None


def _test_traffic_route(service: dict[str, Any]) -> bool:
    """Whether ECS sends test traffic to green: a test listener rule on the load balancer
    (AdvancedConfiguration.testListenerRule), or Service Connect test traffic rules (ServiceConnectClientAlias.
    testTrafficRules), as the ECS API reference names them."""
    if any(
        (lb.get("advancedConfiguration") or {}).get("testListenerRule") for lb in service.get("loadBalancers") or []
    ):
        return True
    return any(
        alias.get("testTrafficRules")
        for deployment in service.get("deployments") or []
        for connect in [deployment.get("serviceConnectConfiguration") or {}]
        for svc in connect.get("services") or []
        for alias in svc.get("clientAliases") or []
    )


@dataclass(frozen=True)
class Snapshot:
    """A service deployment as handoff shows it: one line of words, and the fields the record keeps."""

    arn: str
    strategy: str
    status: str
    stage: str
    production: tuple[int, int]  # (blue, green) percentages
    test: tuple[int, int]
    hooks: list[tuple[str, str, str]] = field(default_factory=list)  # (hook id, PAUSE | AWS_LAMBDA, status)
    reason: str = ""
    triggered_alarms: list[str] = field(default_factory=list)

    def words(self) -> str:
        parts = [f"{self.strategy} {self.status}", self.stage or "starting"]
        parts.append(f"production blue {self.production[0]} % / green {self.production[1]} %")
        parts.append(f"test blue {self.test[0]} % / green {self.test[1]} %")
        latest = self.hooks[-1] if self.hooks else None
        if latest:
            parts.append(f"{latest[1]} hook {latest[2]}")
        return " · ".join(parts)

    def fields(self) -> dict[str, str]:
        return {
            "arn": self.arn,
            "strategy": self.strategy,
            "status": self.status,
            "stage": self.stage,
            "production": f"{self.production[0]}/{self.production[1]}",
            "test": f"{self.test[0]}/{self.test[1]}",
            "hooks": ", ".join(f"{kind} {status}" for _, kind, status in self.hooks),
            "words": self.words(),
        }

    def awaiting_pause(self) -> str | None:
        """The id of a PAUSE hook AWAITING_ACTION at the approval stage, if ECS holds the deployment there."""
        if self.status != "IN_PROGRESS" or self.stage != APPROVAL_HOOK_STAGE:
            return None
        waiting = [h for h, kind, status in self.hooks if kind == "PAUSE" and status == "AWAITING_ACTION"]
        return waiting[-1] if waiting else None

    def released(self) -> bool:
        """Whether ECS has already let the deployment past the approval hook (production traffic moves or
        moved): what a retried release finds when its first attempt's ContinueServiceDeployment was accepted."""
        if self.status in SUCCEEDED_STATUSES:
            return True
        if self.status != "IN_PROGRESS":
            return False
        if self.stage in PAST_APPROVAL_STAGES:
            return True
        continued = any(kind == "PAUSE" and status == "SUCCEEDED" for _, kind, status in self.hooks)
        return self.stage == APPROVAL_HOOK_STAGE and continued and self.awaiting_pause() is None


def snapshot(described: dict[str, Any]) -> Snapshot:
    target = described.get("targetServiceRevision") or {}
    test_green = round(float(target.get("requestedTestTrafficWeight") or 0.0))
    production_green = round(float(target.get("requestedProductionTrafficWeight") or 0.0))
    rollback = described.get("rollback") or {}
    alarms = described.get("alarms") or {}
    return Snapshot(
        arn=str(described.get("serviceDeploymentArn", "")),
        strategy=strategy_of(described),
        status=str(described.get("status", "")),
        stage=str(described.get("lifecycleStage", "")),
        production=(100 - production_green, production_green),
        test=(100 - test_green, test_green),
        hooks=[
            (str(h.get("hookId", "")), str(h.get("targetType", "AWS_LAMBDA")), str(h.get("status", "")))
            for h in described.get("lifecycleHookDetails") or []
        ],
        reason=str(rollback.get("reason") or described.get("statusReason") or ""),
        triggered_alarms=[str(a) for a in alarms.get("triggeredAlarmNames") or []],
    )


def find(
    cluster: str,
    service: str,
    task_definition: str,
    since: str | None = None,
    ecs_client: ECSClient | None = None,
) -> dict[str, Any] | None:
    """The service deployment ECS made for `task_definition` (handoff registers a new revision per deployment,
    so its target revision's task definition names it), described; None when ECS does not list it (yet), or when
    no task definition is named (an empty name would match a deployment whose revision ECS did not describe)."""
    if not task_definition:
        return None
    after = parse_iso(since) - LISTING_SKEW if since else None
    listed = sd_access.list_for_service(cluster, service, after, ecs_client)
    targets = sd_access.revision_task_definitions(
        [str(d["targetServiceRevisionArn"]) for d in listed if d.get("targetServiceRevisionArn")], ecs_client
    )
    wanted = short_name(task_definition)
    for brief in listed:
        if short_name(targets.get(str(brief.get("targetServiceRevisionArn", "")), "")) == wanted:
            found = sd_access.describe([str(brief["serviceDeploymentArn"])], ecs_client)
            return found[0] if found else None
    return None


def verdict(
    described: dict[str, Any], pause_for_approval: bool, decided_by: VerdictSource, reported_at: str | None = None
) -> RolloutResult:
    """ECS's verdict on the service deployment: COMPLETED, FAILED (with ECS's reason), PAUSED (held at the
    approval hook, when this deployment asks its approvers there), else IN_PROGRESS. Pure."""
    shot = snapshot(described)
    base = RolloutResult(
        state=RolloutState.IN_PROGRESS,
        reason=shot.words(),
        checked_at=iso(utcnow()),
        decided_by=decided_by,
        service_deployment_arn=shot.arn,
    )
    if shot.status in SUCCEEDED_STATUSES:
        reason = f"ECS's {shot.strategy} deployment {shot.arn.rsplit('/', 1)[-1]} is SUCCESSFUL: production traffic "
        reason += "100 % on the new revision"
        return base.model_copy(
            update={"state": RolloutState.COMPLETED, "reason": reason, "ecs_reported_at": reported_at}
        )
    if shot.status in FAILED_STATUSES:
        update = {"state": RolloutState.FAILED, "reason": failed_reason(shot), "ecs_reported_at": reported_at}
        return base.model_copy(update=update)
    hook = shot.awaiting_pause() if pause_for_approval else None
    if hook is not None:
        reason = f"ECS holds the {shot.strategy} deployment at its PAUSE hook ({shot.stage}): green serves the test "
        reason += "listener, production traffic is still on blue"
        return base.model_copy(update={"state": RolloutState.PAUSED, "reason": reason, "hook_id": hook})
    return base


def failed_reason(shot: Snapshot) -> str:
    what = {
        "ROLLBACK_SUCCESSFUL": "rolled back (production and test traffic back on the previous revision)",
        "ROLLBACK_FAILED": "tried to roll back and FAILED (check the service by hand)",
        "STOPPED": "stopped (traffic left where it was)",
    }[shot.status]
    why = shot.reason or "no reason given"
    missing = [a for a in shot.triggered_alarms if a not in why]
    if missing:
        why += f" (alarms in ALARM: {', '.join(missing)})"
    return f"ECS {what} the {shot.strategy} deployment: {why}"


def act_at_pause(
    event: TrafficInput,
    where: Where,
    records: DeploymentRecords,
    approvals: ApprovalStore,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
) -> TrafficResult:
    """Continues the deployment ECS holds at its PAUSE hook (the approvers approved: re-read from the approvals
    table, never from the wait's output) or rolls it back (rejected, expired, superseded). What is held, and by
    which hook, is read from ECS. A rollback when no hook waits (it timed out, or ECS moved on) stops the
    deployment if it still runs; one that already ended is left as ECS left it."""
    from ecs_handoff.logic.authority import current_config, derive
    from ecs_handoff.logic.deploy import check_approval

    request, now = event.request, iso(utcnow())
    continuing = event.action is TrafficAction.CONTINUE
    if continuing:
        derived = derive(request, where, records, ecs_client, ssm_client)
        record, config, images = derived.record, derived.config, derived.images
    else:
        # Rolling back only keeps production on the revision it runs: it needs no authority to deploy, so a
        # registry entry or base Terraform changed during the approvers' wait (which derive() refuses, rightly, for
        # CONTINUE) must not leave green held at the hook until its timeout. Which service is read from the record
        # and the registry as they are now, never from the input.
        record = _record_of(request, where, records)
        config, images = current_config(record.service, where, ssm_client), []
    if not record.new_task_definition:
        raise DeploymentRefused(f"deployment {record.id} has deployed nothing: there is no traffic to move")
    found = find(config.cluster, config.service, record.new_task_definition, record.deploy_claimed_at, ecs_client)
    if found is None:
        raise DeploymentRefused(
            f"ECS lists no service deployment of {short_name(record.new_task_definition)} on {config.service}"
        )
    shot = snapshot(found)
    hook = shot.awaiting_pause()
    if continuing:
        if not config.approves_before_production_traffic:
            raise DeploymentRefused(
                f"{record.service}'s registry entry does not ask its approvers before production traffic"
            )
        check_approval(record.id, config, images, approvals)
        reason, found = _continue(found, hook, ecs_client)
        # past the approval gate: rolling out again
        records.update(
            record.id,
            phase=Phase.ROLLING_OUT,
            at=now,
            outcome=Outcome.IN_PROGRESS,
            service_deployment=snapshot_fields(config, found),
        )
    else:
        reason = _roll_back(shot, hook, ecs_client)
        records.update(record.id, service_deployment=snapshot_fields(config, found))
    logger.info("acted at the pause hook", action=event.action.value, hook_id=hook, reason=reason)
    return TrafficResult(
        action=event.action, service_deployment_arn=shot.arn, hook_id=hook or "", at=now, reason=reason
    )


def _continue(found: dict[str, Any], hook: str | None, ecs_client: ECSClient | None) -> tuple[str, dict[str, Any]]:
    """Lets ECS past the PAUSE hook the approved deployment waits at; why, in words, and the deployment as last
    described."""
    shot = snapshot(found)
    if hook is not None:
        try:
            sd_access.continue_at_hook(shot.arn, hook, sd_access.HookAction.CONTINUE, ecs_client)
        except ServiceDeploymentMoved:
            # DescribeServiceDeployments is eventually consistent: the hook may have been continued already.
            found = next(iter(sd_access.describe([shot.arn], ecs_client)), found)
            if not snapshot(found).released():
                raise
        return "production traffic released: ECS continues past the PAUSE hook", found
    if shot.released():
        # A retried step (its first attempt's ContinueServiceDeployment was accepted, then it died): the
        # approved build goes on; refusing here would make the workflow roll it back.
        return "production traffic already released: ECS had continued past the PAUSE hook", found
    raise DeploymentRefused(f"ECS does not hold the deployment at a PAUSE hook awaiting action (it is {shot.words()})")


def _roll_back(shot: Snapshot, hook: str | None, ecs_client: ECSClient | None) -> str:
    """Rolls the deployment back at its PAUSE hook, or stops it if it still runs past one; why, in words."""
    if hook is not None:
        sd_access.continue_at_hook(shot.arn, hook, sd_access.HookAction.ROLLBACK, ecs_client)
        return "ECS rolls the deployment back from the PAUSE hook: traffic stays on the running revision"
    if shot.status in ("PENDING", "IN_PROGRESS"):
        try:
            sd_access.stop(shot.arn, ecs_client)
        except ServiceDeploymentMoved as exc:  # it ended meanwhile: nothing left to stop
            logger.info("service deployment ended before it was stopped", reason=str(exc))
        return "ECS stops the deployment (StopServiceDeployment ROLLBACK): traffic back on the running revision"
    return f"nothing to roll back at the PAUSE hook: ECS shows the deployment {shot.status}"


def roll_back_abandoned_hold(
    cluster: str, service: str, task_definition: str, since: str | None, ecs_client: ECSClient | None = None
) -> str | None:
    """After a workflow ended without its verdict (stopped, timed out) while ECS held its revision at the approvers'
    PAUSE hook: the approval is closed with the workflow, so nobody can continue the hold and it can only end in
    ROLLBACK. It is rolled back there now, not at the hook's timeout (which may be days away, green serving the test
    listener meanwhile). StopServiceDeployment(ROLLBACK), which ECS accepts for a deployment IN_PROGRESS at a hook,
    not ContinueServiceDeployment: the roles that run this (finalize, sweeper) may then only ever roll a deployment
    back, never release one. What was done, in words; None when ECS holds nothing of this revision at such a hook."""
    found = find(cluster, service, task_definition, since, ecs_client)
    if found is None:
        return None
    shot = snapshot(found)
    hook = shot.awaiting_pause()
    if hook is None:
        return _released_meanwhile(shot)
    try:
        sd_access.stop(shot.arn, ecs_client)
    except ServiceDeploymentMoved as exc:  # the hook's own timeout, or someone else, acted first
        logger.info("the held deployment moved on before it was rolled back", reason=str(exc))
        again = next(iter(sd_access.describe([shot.arn], ecs_client)), None)
        return _released_meanwhile(snapshot(again)) if again is not None else None
    logger.info("abandoned hold rolled back", service_deployment_arn=shot.arn, hook_id=hook)
    return (
        "ECS held the new revision at its PAUSE hook for approvers nobody can ask any more: handoff rolled it back "
        "there (production traffic never left the running revision)"
    )


def _released_meanwhile(shot: Snapshot) -> str | None:
    """What the record says when ECS was let past the hook before the workflow ended (the approvers' release, or
    someone outside handoff): the new revision goes on to production traffic."""
    if not shot.released():
        return None
    return (
        "ECS had already been let past its PAUSE hook before the workflow ended: the new revision goes on to "
        f"production traffic ({shot.words()}); check it with `handoff status`"
    )


def _record_of(request: Any, where: Where, records: DeploymentRecords) -> DeploymentRecord:
    """The deployment's own record, if it is the request's service in this environment."""
    record = records.get(request.deployment_id)
    if record is None:
        raise DeploymentRefused(f"deployment {request.deployment_id} has no record: handoff's intake never accepted it")
    if record.env != where.env or record.service != request.service_id:
        raise DeploymentRefused(
            f"deployment {record.id} is {record.service} in {record.env}, not {request.service_id} in {where.env}"
        )
    return record


def snapshot_fields(config: ServiceConfig, described: dict[str, Any]) -> dict[str, str]:
    """What the deployment record keeps of the service deployment (and `handoff status`/`watch` show)."""
    fields = snapshot(described).fields()
    if config.test_traffic is not None:
        fields["test_traffic"] = config.test_traffic.words()
    return fields
