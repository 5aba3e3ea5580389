"""`handoff doctor`'s look at a service's own deployment strategy: whether ECS's configuration (strategy, lifecycle
hooks, their roles and timeouts) is what the registry entry needs: a PAUSE hook after test traffic for an approval
before production traffic, and handoff's lifecycle hook before each production traffic shift for release
controls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRAFFIC_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
APPROVAL_STAGE = "POST_TEST_TRAFFIC_SHIFT"  # green serves the test listener; production still on blue
RELEASE_STAGE = "PRE_PRODUCTION_TRAFFIC_SHIFT"  # before each production shift (each step of LINEAR and CANARY)
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440  # DeploymentLifecycleHookTimeoutConfiguration: "Default: 1440 (24 hours)"


@dataclass(frozen=True)
class StrategyProblem:
    detail: str
    fix: str


def approval_stage(config: Any) -> str:
    """The entry's approval_stage (before_deploy when the entry, or this handoff version, has none)."""
    value = getattr(config, "approval_stage", None)
    return str(getattr(value, "value", value) or "before_deploy")


def _function(arn: str) -> str:
    """A function ARN without a version or alias qualifier."""
    return ":".join(arn.split(":")[:7])


def _timeout_minutes(hook: dict[str, Any]) -> int:
    return int((hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES)


def handoff_hooks(service: dict[str, Any], hook_function: str) -> list[dict[str, Any]]:
    """The service's Lambda hooks that invoke handoff's lifecycle hook function."""
    hooks = (service.get("deploymentConfiguration") or {}).get("lifecycleHooks") or []
    return [
        h
        for h in hooks
        if h.get("targetType", "AWS_LAMBDA") == "AWS_LAMBDA"
        and _function(str(h.get("hookTargetArn", ""))) == _function(hook_function)
    ]


def strategy_problems(
    config: Any, service: dict[str, Any], outputs: dict[str, str]
) -> tuple[str, list[StrategyProblem]]:
    """(what the service's deployment is, in words; what does not match the registry entry)."""
    deployment = service.get("deploymentConfiguration") or {}
    strategy = str(deployment.get("strategy") or "ROLLING")
    hooks = deployment.get("lifecycleHooks") or []
    problems: list[StrategyProblem] = []
    said = [strategy]
    traffic = strategy in TRAFFIC_STRATEGIES
    if approval_stage(config) == "before_production_traffic":
        _check_approval_pause(config, strategy, hooks, said, problems)
    _check_unanswered_pauses(config, hooks, problems)
    hook_function = outputs.get("LifecycleHookFunctionArn", "")
    ours = handoff_hooks(service, hook_function) if hook_function else []
    if traffic and getattr(config, "has_release_gates", False):
        _check_release_hook(config, ours, said, problems)
    elsewhere = sorted({s for h in ours for s in h.get("lifecycleStages") or [] if s != RELEASE_STAGE})
    if elsewhere:
        problems.append(
            StrategyProblem(
                f"handoff's lifecycle hook also runs at {', '.join(elsewhere)}, where it only lets the deployment "
                "through (it holds production traffic shifts, nothing else)",
                f'lifecycle_stages = ["{RELEASE_STAGE}"]',
            )
        )
    return ", ".join(said), problems


def _check_approval_pause(
    config: Any, strategy: str, hooks: list[dict[str, Any]], said: list[str], problems: list[StrategyProblem]
) -> None:
    """An approval before production traffic needs a traffic strategy and a PAUSE hook after test traffic that
    lasts the approvers' wait."""
    traffic = strategy in TRAFFIC_STRATEGIES
    pauses = [h for h in hooks if h.get("targetType") == "PAUSE" and APPROVAL_STAGE in (h.get("lifecycleStages") or [])]
    if not traffic:
        problems.append(
            StrategyProblem(
                f"approval_stage is before_production_traffic but the service deploys {strategy}: there is no "
                "test traffic to approve on",
                'give the service deployment_configuration { strategy = "BLUE_GREEN" } (or LINEAR, CANARY) '
                "behind a production and a test listener (handoff-service's traffic)",
            )
        )
    elif not pauses:
        problems.append(
            StrategyProblem(
                f"approval_stage is before_production_traffic but no PAUSE hook runs at {APPROVAL_STAGE}: "
                "production traffic would move before anyone approved",
                f'lifecycle_hook {{ target_type = "PAUSE", lifecycle_stages = ["{APPROVAL_STAGE}"] }} in '
                "deployment_configuration",
            )
        )
    else:
        minutes = _timeout_minutes(pauses[0])
        timeout = int(getattr(config, "approval_timeout_seconds", 0))
        said.append(f"PAUSE hook at {APPROVAL_STAGE} ({minutes} min)")
        if minutes * 60 < timeout:
            problems.append(
                StrategyProblem(
                    f"the PAUSE hook at {APPROVAL_STAGE} times out after {minutes} min "
                    f"({(pauses[0].get('timeoutConfiguration') or {}).get('action') or 'ROLLBACK'}), before "
                    f"approval_timeout_seconds ({timeout} s): ECS would act before the approvers",
                    f"timeout_configuration {{ timeout_in_minutes = {-(-timeout // 60)} }} on the PAUSE hook, or "
                    "a shorter approval_timeout_seconds",
                )
            )


def _check_unanswered_pauses(config: Any, hooks: list[dict[str, Any]], problems: list[StrategyProblem]) -> None:
    """A PAUSE hook handoff never continues holds every deployment until ECS's timeout: handoff continues only the
    one at the approval stage, and only for an entry that asks its approvers before production traffic."""
    asks = approval_stage(config) == "before_production_traffic"
    for hook in hooks:
        if hook.get("targetType") != "PAUSE":
            continue
        stages = [s for s in hook.get("lifecycleStages") or [] if not (asks and s == APPROVAL_STAGE)]
        if not stages:
            continue
        action = (hook.get("timeoutConfiguration") or {}).get("action") or "ROLLBACK"
        problems.append(
            StrategyProblem(
                f"a PAUSE hook at {', '.join(stages)} holds every deployment until it times out "
                f"({_timeout_minutes(hook)} min, then {action}): handoff continues only a PAUSE hook at "
                f"{APPROVAL_STAGE}, for an entry whose approval_stage is before_production_traffic",
                'remove that PAUSE hook, or set approval_stage = "before_production_traffic" with the hook at '
                f"{APPROVAL_STAGE} only",
            )
        )


def _check_release_hook(
    config: Any, ours: list[dict[str, Any]], said: list[str], problems: list[StrategyProblem]
) -> None:
    """Release controls on a traffic strategy need handoff's lifecycle hook before each production shift, timing
    out after the gate's maximum wait and rolling back, and a rollout timeout longer than that wait."""
    before_shift = [h for h in ours if RELEASE_STAGE in (h.get("lifecycleStages") or [])]
    if not before_shift:
        problems.append(
            StrategyProblem(
                f"the entry has release controls but handoff's lifecycle hook does not run at {RELEASE_STAGE}: "
                "they apply before the deploy only, never to the production traffic shifts",
                f"lifecycle_hook {{ hook_target_arn = <stack output LifecycleHookFunctionArn>, role_arn = <stack "
                f'output LifecycleHookRoleArn>, lifecycle_stages = ["{RELEASE_STAGE}"] }} '
                "(handoff-service's traffic sets it)",
            )
        )
    else:
        minutes = _timeout_minutes(before_shift[0])
        wait = int(getattr(config, "max_gate_wait_seconds", 0))
        said.append(f"handoff's lifecycle hook at {RELEASE_STAGE} ({minutes} min)")
        if minutes * 60 < wait:
            problems.append(
                StrategyProblem(
                    f"handoff's lifecycle hook times out after {minutes} min, before max_gate_wait_seconds "
                    f"({wait} s): ECS rolls back a held shift before the release controls would",
                    f"a hook timeout of at least {-(-wait // 60)} min, or a shorter max_gate_wait_seconds",
                )
            )
        rollout = int(getattr(config, "rollout_timeout_seconds", 0))
        if rollout <= wait:
            # The workflow's rollout timeout counts from UpdateService, held shifts included: it ends a held
            # deployment (FAILED, handoff's rollback) before the hook's own maximum wait does.
            problems.append(
                StrategyProblem(
                    f"rollout_timeout_seconds ({rollout} s) is not longer than max_gate_wait_seconds ({wait} s): "
                    "a production traffic shift held by a release control fails the rollout "
                    f"{rollout} s after the deploy and handoff rolls it back, before the hook's maximum wait",
                    "a rollout_timeout_seconds above max_gate_wait_seconds plus the rollout's own time (steps and "
                    "bakes), or a shorter max_gate_wait_seconds",
                )
            )
        if (before_shift[0].get("timeoutConfiguration") or {}).get("action") == "CONTINUE":
            # The hook answers FAILED once max_gate_wait_seconds is up, but ECS's timer starts at its first
            # call and the registry's wait can grow later: a timeout must roll back, never go ahead.
            problems.append(
                StrategyProblem(
                    "handoff's lifecycle hook continues the deployment when it times out (timeout action "
                    f"CONTINUE): a hold that outlasts its {minutes} min moves production traffic while a "
                    "release control still holds it",
                    'timeout_configuration { action = "ROLLBACK" } on the hook (ROLLBACK is the default)',
                )
            )


def hook_roles(service: dict[str, Any], hook_function: str) -> list[str]:
    """The roles ECS invokes handoff's lifecycle hook with."""
    return sorted({str(h.get("roleArn", "")) for h in handoff_hooks(service, hook_function) if h.get("roleArn")})


def trusts_ecs(trust_policy: dict[str, Any]) -> bool:
    """Whether a role's trust policy lets ecs.amazonaws.com assume it (ECS invokes Lambda hooks with it)."""
    statements = trust_policy.get("Statement") or []
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action") or []
        services = (statement.get("Principal") or {}).get("Service") or []
        actions = [actions] if isinstance(actions, str) else actions
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions and "ecs.amazonaws.com" in services:
            return True
    return False
