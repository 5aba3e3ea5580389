"""#17 ECS blue/green, linear and canary service deployments (deploymentConfiguration.strategy), which moto does
not have, as the Amazon ECS developer guide documents them (docs/embedded-aws.md lists the pages):

- UpdateService with a new task definition on a BLUE_GREEN, LINEAR or CANARY service starts a service
  deployment that walks the lifecycle stages in order (RECONCILE_SERVICE only when an earlier deployment is
  still running; PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT once per traffic step), moving test
  and production traffic on moto's ELBv2 listener rules (the forward action's weights between the blue and the
  green target group named in loadBalancers[].advancedConfiguration), with the step and bake times scaled down.
- Lambda hooks get ECS's payload and answer SUCCEEDED, FAILED or IN_PROGRESS (called again after callBackDelay,
  with the hookDetails they returned merged in); PAUSE hooks wait for ContinueServiceDeployment or their timeout.
- A failed hook, a deployment alarm in ALARM, the circuit breaker (a `fail-` image) or StopServiceDeployment
  (ROLLBACK) rolls back: production and test traffic back on blue, the traffic-shift hooks called again with
  the weights reversed.
- ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions (the task definition each revision
  runs), ContinueServiceDeployment and StopServiceDeployment;
  "ECS Deployment State Change" and, for PAUSE hooks, "ECS Hook State Change" events.
ROLLING services are left to gaps/ecs.py. The service's deploymentConfiguration itself is kept by
install_deployment_configuration_read_back (gaps/ecs.py), which must be installed too."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecs_handoff_embedded.gaps.ecs import FAIL_TAG_PREFIX, _deployment, _tags, ecs_deployment_event
from ecs_handoff_embedded.gaps.events import EventSink, aws_event
from ecs_handoff_embedded.gaps.patching import Undo, add, all_of, replace

STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
TRAFFIC_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
# The hookable stages (DeploymentLifecycleHookStage in the API model), in the order a deployment reaches them.
HOOK_STAGES = (
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
)
# "You can't use a pause hook at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT" (pause-lifecycle-hooks).
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
DEFAULT_CALLBACK_DELAY_SECONDS = 30  # lambda-lifecycle-hooks: "By default, the delay is 30 seconds"
DEFAULT_HOOK_TIMEOUT_MINUTES = 1440  # DeploymentLifecycleHookTimeoutConfiguration: "Default: 1440 (24 hours)"
LINEAR_DEFAULTS = {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6}
CANARY_DEFAULTS = {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10}
ALARM_POLL_SECONDS = 0.05  # how often a bake looks at the deployment alarms (and a stop request)

RoleCheck = Callable[[str, str], str | None]
"""(the hook's roleArn, its function ARN) -> why ECS could not invoke the function with that role, or None."""
HookInvoker = Callable[[str, dict[str, Any]], Any]
"""Invokes a hook's Lambda function (ARN, payload) and returns its decoded response; raises HookFunctionError
when the function errors."""


class HookFunctionError(Exception):
    """The hook's Lambda function errored (ECS rolls the deployment back)."""


def _client_error(code: str, message: str) -> Exception:
    """An ECS error moto serializes with ECS's model (an exception from moto.core would be looked up as 'core')."""
    from moto.core.exceptions import ServiceException

    error_class = type(code, (ServiceException,), {"code": code, "__module__": __name__})
    return error_class(message)  # type: ignore[no-any-return]


def _invalid(message: str) -> Exception:
    from moto.ecs.exceptions import InvalidParameterException

    error: Exception = InvalidParameterException(message)
    return error


class _RollBack(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Halt(Exception):
    """The deployment fails where it is, without rolling back (a deployment alarm whose rollback is off)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Superseded(Exception):
    """A newer deployment of the service took over: this one stops where it is."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _short_id() -> str:
    return uuid.uuid4().hex[:21]


@dataclass
class _Hook:
    """One run of one lifecycle hook at one stage (a new hookId each time, per step for LINEAR and CANARY)."""

    detail: dict[str, Any]  # DeploymentLifecycleHookDetail as DescribeServiceDeployments shows it
    decided: threading.Event = field(default_factory=threading.Event)
    action: str = ""


@dataclass
class Deployment:
    """One service deployment, with what DescribeServiceDeployments shows and the stages it went through."""

    arn: str
    backend: Any
    service: Any
    configuration: dict[str, Any]
    source_revision: dict[str, Any]
    target_revision: dict[str, Any]
    source_task_definition: str
    target_task_definition: str
    blue: str  # target group serving production when the deployment started
    green: str
    reconcile: bool
    status: str = "PENDING"
    status_reason: str = ""
    lifecycle_stage: str = ""
    stages: list[str] = field(default_factory=list)  # every stage entered, in order (rollback's too)
    hooks: list[_Hook] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    alarms: dict[str, Any] = field(default_factory=dict)
    circuit_breaker: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=_now)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None
    updated_at: dt.datetime = field(default_factory=_now)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    superseded: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    ecs_deployment: dict[str, Any] = field(default_factory=dict)  # its entry in DescribeServices' deployments
    weight_history: list[tuple[str, int, int]] = field(default_factory=list)  # (production|test, blue, green)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service.arn,
            "clusterArn": self.service.cluster_arn,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": [copy.deepcopy(self.source_revision)],
            "targetServiceRevision": copy.deepcopy(self.target_revision),
            "status": self.status,
            "deploymentConfiguration": copy.deepcopy(self.configuration),
            "lifecycleHookDetails": [copy.deepcopy(h.detail) for h in self.hooks],
            "alarms": copy.deepcopy(self.alarms),
            "deploymentCircuitBreaker": copy.deepcopy(self.circuit_breaker),
        }
        if self.lifecycle_stage:
            described["lifecycleStage"] = self.lifecycle_stage
        if self.status_reason:
            described["statusReason"] = self.status_reason
        for key, value in (
            ("startedAt", self.started_at),
            ("finishedAt", self.finished_at),
            ("stoppedAt", self.stopped_at),
        ):
            if value is not None:
                described[key] = value
        if self.rollback is not None:
            described["rollback"] = dict(self.rollback)
        return described

    def brief(self) -> dict[str, Any]:
        brief: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service.arn,
            "clusterArn": self.service.cluster_arn,
            "createdAt": self.created_at,
            "targetServiceRevisionArn": self.target_revision["arn"],
            "status": self.status,
        }
        if self.started_at is not None:
            brief["startedAt"] = self.started_at
        if self.finished_at is not None:
            brief["finishedAt"] = self.finished_at
        if self.status_reason:
            brief["statusReason"] = self.status_reason
        return brief


class ServiceDeployments:
    """Every service deployment the embedded ECS ran, by ARN, and each service's current revision."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.by_arn: dict[str, Deployment] = {}
        self.revisions: dict[str, dict[str, Any]] = {}  # service ARN -> its current (production) revision
        # service revision ARN -> what DescribeServiceRevisions shows of it (its task definition above all)
        self.revision_details: dict[str, dict[str, Any]] = {}

    def keep_revision(self, service: Any, revision: dict[str, Any], task_definition: str) -> None:
        if revision["arn"] not in self.revision_details:
            self.revision_details[revision["arn"]] = {
                "serviceRevisionArn": revision["arn"],
                "serviceArn": service.arn,
                "clusterArn": service.cluster_arn,
                "taskDefinition": task_definition,
                "loadBalancers": copy.deepcopy(service.load_balancers),
                "createdAt": _now(),
            }

    def of_service(self, service_arn: str) -> list[Deployment]:
        with self.lock:
            return [d for d in self.by_arn.values() if d.service.arn == service_arn]

    def get(self, arn: str) -> Deployment:
        with self.lock:
            found = self.by_arn.get(arn)
        if found is None:
            raise _client_error("ServiceDeploymentNotFoundException", f"Service deployment {arn} not found.")
        return found

    def wait(self, arn: str, timeout: float = 30.0) -> Deployment:
        """The deployment once it has ended (SUCCESSFUL, STOPPED or ROLLBACK_*); raises if it has not by then."""
        deployment = self.get(arn)
        if not deployment.done.wait(timeout):
            raise TimeoutError(f"service deployment {arn} still {deployment.status} at {deployment.lifecycle_stage}")
        return deployment


def _strategy(configuration: dict[str, Any] | None) -> str:
    return str((configuration or {}).get("strategy") or "ROLLING")


def validate_deployment_configuration(configuration: dict[str, Any], load_balancers: list[dict[str, Any]]) -> None:
    """Refuses what the API reference refuses (InvalidParameterException), so a test or a template that AWS
    would reject fails here too."""
    strategy = _strategy(configuration)
    if strategy not in STRATEGIES:
        raise _invalid(f"deploymentConfiguration.strategy must be one of {', '.join(STRATEGIES)}, not {strategy}")
    if strategy == "BLUE_GREEN" and configuration.get("bakeTimeInMinutes") is None:
        raise _invalid("bakeTimeInMinutes is required with the BLUE_GREEN deployment strategy")
    bake = configuration.get("bakeTimeInMinutes")
    if bake is not None and not 0 <= int(bake) <= 1440:
        raise _invalid("bakeTimeInMinutes must be between 0 and 1440")
    linear = configuration.get("linearConfiguration") or {}
    if linear and not 3.0 <= float(linear.get("stepPercent", 10.0)) <= 100.0:
        raise _invalid("linearConfiguration.stepPercent must be between 3.0 and 100.0")
    if linear and not 0 <= int(linear.get("stepBakeTimeInMinutes", 6)) <= 1440:
        raise _invalid("linearConfiguration.stepBakeTimeInMinutes must be between 0 and 1440")
    canary = configuration.get("canaryConfiguration") or {}
    if canary and not 0.1 <= float(canary.get("canaryPercent", 5.0)) <= 100.0:
        raise _invalid("canaryConfiguration.canaryPercent must be between 0.1 and 100.0")
    if canary and not 0 <= int(canary.get("canaryBakeTimeInMinutes", 10)) <= 1440:
        raise _invalid("canaryConfiguration.canaryBakeTimeInMinutes must be between 0 and 1440")
    hooks = configuration.get("lifecycleHooks") or []
    for kind in ("PAUSE", "AWS_LAMBDA"):
        if sum(1 for h in hooks if h.get("targetType", "AWS_LAMBDA") == kind) > 10:
            raise _invalid(f"a service can have at most 10 {kind} lifecycle hooks")
    for hook in hooks:
        kind = hook.get("targetType", "AWS_LAMBDA")
        stages = hook.get("lifecycleStages") or []
        if kind not in ("AWS_LAMBDA", "PAUSE"):
            raise _invalid(f"lifecycleHooks[].targetType must be AWS_LAMBDA or PAUSE, not {kind}")
        if not stages or any(stage not in HOOK_STAGES for stage in stages):
            raise _invalid(f"lifecycleHooks[].lifecycleStages must be among {', '.join(HOOK_STAGES)}: {stages}")
        if kind == "PAUSE" and any(stage in NO_PAUSE_STAGES for stage in stages):
            raise _invalid("a PAUSE hook cannot run at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT")
        if kind == "AWS_LAMBDA" and not (hook.get("hookTargetArn") and hook.get("roleArn")):
            raise _invalid("an AWS_LAMBDA lifecycle hook needs hookTargetArn and roleArn")
        timeout = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        if timeout is not None and not 1 <= int(timeout) <= 20160:
            raise _invalid("timeoutConfiguration.timeoutInMinutes must be between 1 and 20160")
    if strategy in TRAFFIC_STRATEGIES:
        advanced: list[dict[str, Any]] = [
            lb["advancedConfiguration"] for lb in load_balancers if lb.get("advancedConfiguration")
        ]
        if not advanced:
            raise _invalid(f"the {strategy} strategy needs loadBalancers[].advancedConfiguration")
        for config in advanced:
            missing = [k for k in ("alternateTargetGroupArn", "productionListenerRule", "roleArn") if not config.get(k)]
            if missing:
                raise _invalid(f"advancedConfiguration needs {', '.join(missing)}")


def production_steps(configuration: dict[str, Any]) -> list[tuple[float, float]]:
    """Each production traffic step as (green's percentage, the bake minutes after it): one step of 100 for
    BLUE_GREEN; equal steps for LINEAR (no bake after 100 %); the canary then the rest for CANARY."""
    strategy = _strategy(configuration)
    if strategy == "LINEAR":
        linear = {**LINEAR_DEFAULTS, **(configuration.get("linearConfiguration") or {})}
        step, bake = float(linear["stepPercent"]), float(linear["stepBakeTimeInMinutes"])
        count = math.ceil(round(100.0 / step, 6))
        weights = [min(100.0, round(step * (i + 1), 1)) for i in range(count)]
        return [(w, bake if w < 100.0 else 0.0) for w in weights]
    if strategy == "CANARY":
        canary = {**CANARY_DEFAULTS, **(configuration.get("canaryConfiguration") or {})}
        percent = float(canary["canaryPercent"])
        if percent >= 100.0:
            return [(100.0, 0.0)]
        return [(percent, float(canary["canaryBakeTimeInMinutes"])), (100.0, 0.0)]
    return [(100.0, 0.0)]


def _set_weights(backend: Any, rule_arn: str, blue: str, green: str, green_weight: float) -> None:
    """Forwards `green_weight` % of the rule's (or, for an NLB, the listener's) traffic to green, the rest to
    blue, on moto's ELBv2 listener rule, as ECS does with its advancedConfiguration.roleArn."""
    from moto.elbv2.models import FakeAction, elbv2_backends

    elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    green_share = round(green_weight)
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": blue, "Weight": 100 - green_share},
                {"TargetGroupArn": green, "Weight": green_share},
            ]
        },
    }
    if ":listener-rule/" in rule_arn:
        rule = elbv2.describe_rules(listener_arn=None, rule_arns=[rule_arn])[0]
        others = [a for a in rule.actions if a.type != "forward"]
        rule.actions = [*others, FakeAction(forward)]
    else:
        listener = elbv2.describe_listeners(load_balancer_arn=None, listener_arns=[rule_arn])[0]
        others = [a for a in listener.default_actions if a.type != "forward"]
        listener.default_actions = [*others, FakeAction(forward)]


def _forward_weights(backend: Any, rule_arn: str) -> dict[str, int]:
    from moto.elbv2.models import elbv2_backends

    elbv2 = elbv2_backends[backend.account_id][backend.region_name]
    if ":listener-rule/" in rule_arn:
        actions = elbv2.describe_rules(listener_arn=None, rule_arns=[rule_arn])[0].actions
    else:
        actions = elbv2.describe_listeners(load_balancer_arn=None, listener_arns=[rule_arn])[0].default_actions
    weights: dict[str, int] = {}
    for action in actions:
        if action.type != "forward":
            continue
        groups = (action.data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if not groups and action.data.get("TargetGroupArn"):
            groups = [{"TargetGroupArn": action.data["TargetGroupArn"], "Weight": 1}]
        for group in groups:
            weights[group["TargetGroupArn"]] = int(group.get("Weight", 1))
    return weights


def _alarms_in_alarm(backend: Any, names: list[str]) -> list[str]:
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    return [name for name in names if name in alarms and alarms[name].state_value == "ALARM"]


def _image_fails(backend: Any, task_definition: str) -> bool:
    images = [c.get("image", "") for c in backend.describe_task_definition(task_definition).container_definitions]
    return any(tag.startswith(FAIL_TAG_PREFIX) for image in images for tag in _tags(backend, image))


class _Runner:
    """Runs one deployment on its own thread, stage by stage."""

    def __init__(
        self,
        deployment: Deployment,
        scale: Callable[[], float],
        events: EventSink,
        invoke: HookInvoker,
        role_check: RoleCheck | None = None,
    ) -> None:
        self.d = deployment
        self.role_check = role_check
        self.scale = scale
        self.events = events
        self.invoke = invoke
        lb = next(lb for lb in deployment.service.load_balancers if lb.get("advancedConfiguration"))
        self.advanced = lb["advancedConfiguration"]
        self.production_weight = 0.0  # green's share of production traffic
        self.test_weight = 0.0
        self.rolling_back = False  # once rolling back, neither a stop request nor an alarm changes anything

    # --- time, stops and alarms -------------------------------------------------------------------------------
    def sleep(self, aws_seconds: float, watch_alarms: bool = True) -> None:
        """Waits `aws_seconds` scaled down, looking at the alarms and a stop request all along."""
        deadline = _monotonic() + aws_seconds * self.scale()
        while True:
            self.check(watch_alarms)
            remaining = deadline - _monotonic()
            if remaining <= 0:
                return
            if self.rolling_back:  # the stop request is set for good by then: it must not wake every wait
                time.sleep(min(remaining, ALARM_POLL_SECONDS))
            else:
                self.d.stop_requested.wait(min(remaining, ALARM_POLL_SECONDS))

    def check(self, watch_alarms: bool = True) -> None:
        if self.d.superseded:
            raise _Superseded()
        if self.rolling_back:
            return
        if self.d.stop_requested.is_set():
            raise _RollBack("Service deployment rolled back because of a StopServiceDeployment request.")
        alarms = self.d.configuration.get("alarms") or {}
        if watch_alarms and alarms.get("enable"):
            triggered = _alarms_in_alarm(self.d.backend, list(alarms.get("alarmNames") or []))
            if triggered:
                self.d.alarms.update(status="TRIGGERED", triggeredAlarmNames=triggered)
                if not alarms.get("rollback"):
                    raise _Halt(f"Service deployment stopped because alarm(s) {', '.join(triggered)} went into ALARM.")
                raise _RollBack(
                    f"Service deployment rolled back because alarm(s) {', '.join(triggered)} went into ALARM."
                )

    # --- stages ----------------------------------------------------------------------------------------------
    def enter(self, stage: str) -> None:
        self.check()
        with _LOCK:
            self.d.lifecycle_stage = stage
            self.d.stages.append(stage)
            self.d.updated_at = _now()

    def weights(self, share: float) -> dict[str, int]:
        return {
            self.d.source_revision["arn"]: 100 - round(share),
            self.d.target_revision["arn"]: round(share),
        }

    def shift(self, traffic: str, green_share: float) -> None:
        rule = self.advanced.get("productionListenerRule" if traffic == "production" else "testListenerRule")
        if rule:
            _set_weights(self.d.backend, rule, self.d.blue, self.d.green, green_share)
        if traffic == "production":
            self.production_weight = green_share
            self.d.target_revision["requestedProductionTrafficWeight"] = green_share
            self.d.source_revision["requestedProductionTrafficWeight"] = 100.0 - green_share
        else:
            self.test_weight = green_share
            self.d.target_revision["requestedTestTrafficWeight"] = green_share
            self.d.source_revision["requestedTestTrafficWeight"] = 100.0 - green_share
        self.d.weight_history.append((traffic, 100 - round(green_share), round(green_share)))

    def run_hooks(
        self, stage: str, test: dict[str, int] | None = None, production: dict[str, int] | None = None
    ) -> None:
        """Every hook configured for `stage`, in parallel; any rollback among them rolls the deployment back."""
        hooks = [
            h for h in self.d.configuration.get("lifecycleHooks") or [] if stage in (h.get("lifecycleStages") or [])
        ]
        if not hooks:
            return
        outcomes: list[str | None] = [None] * len(hooks)
        halted: list[_Halt] = []

        def one(index: int, hook: dict[str, Any]) -> None:
            try:
                if hook.get("targetType", "AWS_LAMBDA") == "PAUSE":
                    self.pause(hook, stage)
                else:
                    self.lambda_hook(hook, stage, test or {}, production or {})
            except _RollBack as exc:
                outcomes[index] = exc.reason
            except _Superseded:
                outcomes[index] = ""
            except _Halt as exc:
                halted.append(exc)
            except Exception as exc:  # a hook ECS cannot run (no such function...) rolls back
                outcomes[index] = f"Lifecycle hook at {stage} could not run: {exc!r}."

        threads = [threading.Thread(target=one, args=(i, h), daemon=True) for i, h in enumerate(hooks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.d.superseded:
            raise _Superseded()
        if halted:
            raise halted[0]
        reasons = [r for r in outcomes if r]
        if reasons:
            raise _RollBack(reasons[0])

    def new_hook(self, hook: dict[str, Any], kind: str, status: str) -> _Hook:
        timeout = hook.get("timeoutConfiguration") or {}
        minutes = float(timeout.get("timeoutInMinutes") or DEFAULT_HOOK_TIMEOUT_MINUTES)
        detail: dict[str, Any] = {
            "hookId": f"ecs-{'pause' if kind == 'PAUSE' else 'lambda'}-{uuid.uuid4().hex}",
            "targetType": kind,
            "status": status,
            # the timeout as the embedded ECS runs it (scaled like every other wait)
            "expiresAt": _now() + dt.timedelta(seconds=minutes * 60 * self.scale()),
            "timeoutAction": timeout.get("action") or "ROLLBACK",
        }
        if kind == "AWS_LAMBDA":
            detail["targetArn"] = hook["hookTargetArn"]
        entry = _Hook(detail)
        with _LOCK:
            self.d.hooks.append(entry)
        return entry

    def lambda_hook(self, hook: dict[str, Any], stage: str, test: dict[str, int], production: dict[str, int]) -> None:
        """Invokes the function until it answers SUCCEEDED (or FAILED, an error, no valid hookStatus: rollback)."""
        entry = self.new_hook(hook, "AWS_LAMBDA", "IN_PROGRESS")
        problem = self.role_check(hook["roleArn"], hook["hookTargetArn"]) if self.role_check else None
        if problem:
            entry.detail["status"] = "FAILED"
            raise _RollBack(f"Lifecycle hook {hook['hookTargetArn']} at {stage} could not be invoked: {problem}.")
        details: dict[str, Any] = copy.deepcopy(_json_object(hook.get("hookDetails")))
        arn = hook["hookTargetArn"]
        while True:
            payload = {
                "executionId": entry.detail["hookId"],
                "lifecycleStage": stage,
                "resourceArn": self.d.arn,
                "executionDetails": {
                    "serviceArn": self.d.service.arn,
                    "targetServiceRevisionArn": self.d.target_revision["arn"],
                    "testTrafficWeights": dict(test),
                    "productionTrafficWeights": dict(production),
                },
                "hookDetails": copy.deepcopy(details),
            }
            try:
                response = self.invoke(arn, payload)
            except HookFunctionError as exc:
                entry.detail["status"] = "FAILED"
                raise _RollBack(
                    f"Lifecycle hook {arn} at {stage} failed: the function returned an error ({exc})."
                ) from exc
            status = response.get("hookStatus") if isinstance(response, dict) else None
            if status == "SUCCEEDED":
                entry.detail["status"] = "SUCCEEDED"
                return
            if status == "FAILED":
                entry.detail["status"] = "FAILED"
                raise _RollBack(f"Lifecycle hook {arn} at {stage} returned FAILED.")
            if status != "IN_PROGRESS":
                entry.detail["status"] = "FAILED"
                raise _RollBack(f"Lifecycle hook {arn} at {stage} returned no valid hookStatus: {response!r}.")
            assert isinstance(response, dict)
            details.update(_json_object(response.get("hookDetails")))
            delay = float(response.get("callBackDelay") or DEFAULT_CALLBACK_DELAY_SECONDS)
            if _now() + dt.timedelta(seconds=delay * self.scale()) > entry.detail["expiresAt"]:
                self.time_out(entry, stage)
                return
            self.sleep(delay)

    def pause(self, hook: dict[str, Any], stage: str) -> None:
        """Waits for ContinueServiceDeployment (CONTINUE or ROLLBACK) or the hook's timeout."""
        entry = self.new_hook(hook, "PAUSE", "AWAITING_ACTION")
        self.hook_event(entry, stage, "HOOK_AWAITING_ACTION")
        while not entry.decided.is_set():
            self.check()
            remaining = (entry.detail["expiresAt"] - _now()).total_seconds()
            if remaining <= 0:
                self.time_out(entry, stage)
                return
            entry.decided.wait(min(remaining, ALARM_POLL_SECONDS))
        if entry.action == "ROLLBACK":
            entry.detail["status"] = "FAILED"
            self.hook_event(entry, stage, "HOOK_FAILED")
            raise _RollBack(f"Service deployment rolled back by ContinueServiceDeployment at {stage}.")
        entry.detail["status"] = "SUCCEEDED"
        self.hook_event(entry, stage, "HOOK_SUCCEEDED")

    def time_out(self, entry: _Hook, stage: str) -> None:
        entry.detail["status"] = "TIMED_OUT"
        if entry.detail["targetType"] == "PAUSE":
            self.hook_event(entry, stage, "HOOK_TIMED_OUT")
        if entry.detail["timeoutAction"] == "ROLLBACK":
            raise _RollBack(f"Lifecycle hook {entry.detail['hookId']} at {stage} timed out.")

    def hook_event(self, entry: _Hook, stage: str, name: str) -> None:
        d = self.d
        self.events(
            aws_event(
                "aws.ecs",
                "ECS Hook State Change",
                d.backend.account_id,
                d.backend.region_name,
                [d.arn],
                {
                    "eventType": "ERROR" if name in ("HOOK_FAILED", "HOOK_TIMED_OUT") else "INFO",
                    "eventName": name,
                    "hookId": entry.detail["hookId"],
                    "hookType": entry.detail["targetType"],
                    "expiresAt": _iso(entry.detail["expiresAt"]),
                    "lifecycleStage": stage,
                    "clusterArn": d.service.cluster_arn,
                    "serviceArn": d.service.arn,
                    "serviceDeploymentArn": d.arn,
                    "updatedAt": _iso(_now()),
                },
            )
        )

    # --- the deployment --------------------------------------------------------------------------------------
    def run(self) -> None:
        d = self.d
        try:
            self.forward()
        except _Superseded:
            pass
        except _RollBack as exc:
            self.roll_back(exc.reason)
        except _Halt as exc:
            self.halt(exc.reason)
        except Exception as exc:  # the emulator's own fault: the deployment must still end
            self.roll_back(f"Service deployment failed in the embedded ECS: {exc!r}")
        finally:
            d.done.set()

    def forward(self) -> None:
        d = self.d
        with _LOCK:
            d.started_at = _now()
            if d.status == "PENDING":  # not if a StopServiceDeployment came first
                d.status = "IN_PROGRESS"
        self.deployment_event("SERVICE_DEPLOYMENT_IN_PROGRESS", d.ecs_deployment["rolloutStateReason"])
        none: dict[str, int] = {}
        if d.reconcile:
            self.enter("RECONCILE_SERVICE")
            self.run_hooks("RECONCILE_SERVICE", none, none)
        self.enter("PRE_SCALE_UP")
        self.run_hooks("PRE_SCALE_UP", none, none)
        self.enter("SCALE_UP")
        self.scale_up()
        self.enter("POST_SCALE_UP")
        self.run_hooks("POST_SCALE_UP", none, none)
        self.enter("TEST_TRAFFIC_SHIFT")
        self.shift("test", 100.0)
        self.run_hooks("TEST_TRAFFIC_SHIFT", self.weights(100.0), none)
        self.enter("POST_TEST_TRAFFIC_SHIFT")
        self.run_hooks("POST_TEST_TRAFFIC_SHIFT", self.weights(100.0), none)
        for share, bake_minutes in production_steps(d.configuration):
            self.enter("PRE_PRODUCTION_TRAFFIC_SHIFT")
            self.run_hooks("PRE_PRODUCTION_TRAFFIC_SHIFT", none, self.weights(self.production_weight))
            self.enter("PRODUCTION_TRAFFIC_SHIFT")
            self.shift("production", share)
            self.run_hooks("PRODUCTION_TRAFFIC_SHIFT", none, self.weights(share))
            self.sleep(bake_minutes * 60)
        self.enter("POST_PRODUCTION_TRAFFIC_SHIFT")
        self.run_hooks("POST_PRODUCTION_TRAFFIC_SHIFT", none, self.weights(100.0))
        self.enter("BAKE_TIME")
        self.sleep(float(d.configuration.get("bakeTimeInMinutes") or 0) * 60)
        self.enter("CLEAN_UP")
        self.finish()

    def scale_up(self) -> None:
        """Green's tasks start; tasks of a `fail-` image never do: with the circuit breaker on the deployment
        rolls back once the failures reach its threshold, without it ECS keeps trying (until stopped)."""
        d = self.d
        if not _image_fails(d.backend, d.target_task_definition):
            d.target_revision.update(runningTaskCount=d.target_revision["requestedTaskCount"], pendingTaskCount=0)
            return
        breaker = d.configuration.get("deploymentCircuitBreaker") or {}
        if breaker.get("enable"):
            d.circuit_breaker.update(status="TRIGGERED", failureCount=d.circuit_breaker["threshold"])
            if breaker.get("rollback"):
                raise _RollBack("ECS deployment circuit breaker: tasks failed to start.")
        while True:  # ECS keeps launching tasks that fail
            self.sleep(1.0)

    def finish(self) -> None:
        d = self.d
        now = _now()
        with _LOCK:
            d.status, d.finished_at, d.updated_at = "SUCCESSFUL", now, now
            d.source_revision.update(runningTaskCount=0, pendingTaskCount=0, requestedTaskCount=0)
            if d.alarms.get("status") == "MONITORING":
                d.alarms["status"] = "MONITORING_COMPLETE"
            if d.circuit_breaker.get("status") == "MONITORING":
                d.circuit_breaker["status"] = "MONITORING_COMPLETE"
        ours = d.ecs_deployment
        ours.update(
            rolloutState="COMPLETED",
            runningCount=ours["desiredCount"],
            pendingCount=0,
            updatedAt=now,
            rolloutStateReason=f"ECS deployment {ours['id']} completed.",
        )
        d.service.deployments = [ours]
        self.deployment_event("SERVICE_DEPLOYMENT_COMPLETED", ours["rolloutStateReason"])

    def halt(self, reason: str) -> None:
        """STOPPED where it is: traffic stays as it was shifted, the service on the new revision."""
        d = self.d
        now = _now()
        with _LOCK:
            d.status, d.status_reason, d.stopped_at, d.finished_at, d.updated_at = "STOPPED", reason, now, now, now
        d.ecs_deployment.update(rolloutState="FAILED", updatedAt=now, rolloutStateReason=reason)
        self.deployment_event("SERVICE_DEPLOYMENT_FAILED", reason)

    def roll_back(self, reason: str) -> None:
        """Production and test traffic back on blue, the traffic-shift hooks run again with the weights
        reversed (lambda-lifecycle-hooks: on rollback ECS runs the TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT
        hooks), then blue is the service's revision again."""
        d = self.d
        self.rolling_back = True
        now = _now()
        with _LOCK:
            d.status = "ROLLBACK_IN_PROGRESS"
            d.status_reason = reason
            d.rollback = {"reason": reason, "startedAt": now, "serviceRevisionArn": d.source_revision["arn"]}
            d.updated_at = now
        ours = d.ecs_deployment
        ours.update(rolloutState="FAILED", status="ACTIVE", updatedAt=now, rolloutStateReason=reason)
        back = _deployment(d.service, d.source_task_definition, "IN_PROGRESS")
        d.service.task_definition = d.source_task_definition
        d.service.deployments = [back, ours]
        self.deployment_event("SERVICE_DEPLOYMENT_FAILED", reason)
        back_reason = f"ECS deployment rolling back to {d.source_revision['arn']}: {reason}"
        self.events(ecs_deployment_event(d.backend, d.service, back, "SERVICE_DEPLOYMENT_IN_PROGRESS", back_reason))
        none: dict[str, int] = {}
        try:
            self.enter("PRODUCTION_TRAFFIC_SHIFT")
            self.shift("production", 0.0)
            self.run_hooks("PRODUCTION_TRAFFIC_SHIFT", none, self.weights(0.0))
            self.enter("TEST_TRAFFIC_SHIFT")
            self.shift("test", 0.0)
            self.run_hooks("TEST_TRAFFIC_SHIFT", self.weights(0.0), none)
            self.enter("CLEAN_UP")
        except _Superseded:
            return
        except _RollBack as exc:
            with _LOCK:
                d.status, d.status_reason, d.finished_at = (
                    "ROLLBACK_FAILED",
                    f"{reason} Rollback failed: {exc.reason}",
                    _now(),
                )
            self.deployment_event("SERVICE_DEPLOYMENT_FAILED", d.status_reason)
            return
        done = _now()
        with _LOCK:
            d.status, d.finished_at, d.updated_at = "ROLLBACK_SUCCESSFUL", done, done
            d.target_revision.update(runningTaskCount=0, pendingTaskCount=0, requestedTaskCount=0)
        back.update(rolloutState="COMPLETED", pendingCount=0, runningCount=back["desiredCount"], updatedAt=done)
        self.events(ecs_deployment_event(d.backend, d.service, back, "SERVICE_DEPLOYMENT_COMPLETED", back_reason))

    def deployment_event(self, name: str, reason: str) -> None:
        d = self.d
        d.ecs_deployment["updatedAt"] = _now()
        self.events(ecs_deployment_event(d.backend, d.service, d.ecs_deployment, name, reason))


_LOCK = threading.RLock()


def _monotonic() -> float:
    return time.monotonic()


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json_object(value: Any) -> dict[str, Any]:
    """hookDetails is a JSON document (CloudFormation passes it as a string): a dict either way."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    return dict(value) if isinstance(value, dict) else {}


def _revision(service: Any, task_definition: str, count: int) -> dict[str, Any]:
    revision_id = f"{uuid.uuid4().int % 10**19:019d}"
    arn = (
        f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-revision/"
        f"{service.cluster_name}/{service.name}/{revision_id}"
    )
    return {
        "arn": arn,
        "requestedTaskCount": count,
        "runningTaskCount": 0,
        "pendingTaskCount": count,
        "requestedTestTrafficWeight": 0.0,
        "requestedProductionTrafficWeight": 0.0,
    }


def start_deployment(
    backend: Any,
    service: Any,
    previous: str,
    registry: ServiceDeployments,
    scale: Callable[[], float],
    events: EventSink,
    invoke: HookInvoker,
    role_check: RoleCheck | None = None,
) -> Deployment:
    """A service deployment from `previous` to the service's task definition, run on its own thread."""
    configuration = copy.deepcopy(getattr(service, "deployment_configuration", None) or {})
    validate_deployment_configuration(configuration, service.load_balancers)
    advanced = next(lb for lb in service.load_balancers if lb.get("advancedConfiguration"))
    primary, alternate = (
        advanced.get("targetGroupArn", ""),
        advanced["advancedConfiguration"]["alternateTargetGroupArn"],
    )
    production = _forward_weights(backend, advanced["advancedConfiguration"]["productionListenerRule"])
    blue, green = (
        (alternate, primary) if production.get(alternate, 0) > production.get(primary, 0) else (primary, alternate)
    )
    desired = int(service.desired_count)
    with registry.lock:
        running = [d for d in registry.of_service(service.arn) if not d.done.is_set()]
        for older in running:
            older.superseded = True
            older.status, older.status_reason = "STOPPED", "Superseded by a newer service deployment."
            older.stopped_at = older.finished_at = _now()
            older.done.set()
        source = registry.revisions.get(service.arn) or _revision(service, previous, desired)
        source = {**source, "runningTaskCount": desired, "pendingTaskCount": 0, "requestedTaskCount": desired}
        source.update(requestedProductionTrafficWeight=100.0, requestedTestTrafficWeight=100.0)
        target = _revision(service, service.task_definition, desired)
        registry.keep_revision(service, source, previous)
        registry.keep_revision(service, target, service.task_definition)
        cluster, name = service.cluster_name, service.name
        arn = (
            f"arn:aws:ecs:{service.region_name}:{service._account_id}:service-deployment/{cluster}/{name}/{_short_id()}"
        )
        alarms = configuration.get("alarms") or {}
        breaker = configuration.get("deploymentCircuitBreaker") or {}
        deployment = Deployment(
            arn=arn,
            backend=backend,
            service=service,
            configuration=configuration,
            source_revision=source,
            target_revision=target,
            source_task_definition=previous,
            target_task_definition=service.task_definition,
            blue=blue,
            green=green,
            reconcile=bool(running),
            alarms={
                "status": "MONITORING" if alarms.get("enable") else "DISABLED",
                "alarmNames": list(alarms.get("alarmNames") or []),
            },
            circuit_breaker={
                "status": "MONITORING" if breaker.get("enable") else "DISABLED",
                "failureCount": 0,
                # ECS's threshold: half the desired count, at least 3 and at most 200
                "threshold": min(200, max(3, math.ceil(desired / 2))),
            },
        )
        ours = _deployment(service, service.task_definition, "IN_PROGRESS")
        for old in service.deployments:
            old["status"] = "ACTIVE"
        service.deployments = [ours, *[d for d in service.deployments if d.get("rolloutState") != "FAILED"][:1]]
        deployment.ecs_deployment = ours
        registry.by_arn[arn] = deployment
        registry.revisions[service.arn] = target

    runner = _Runner(deployment, scale, events, invoke, role_check)

    def run() -> None:
        runner.run()
        if deployment.status == "ROLLBACK_SUCCESSFUL":
            with registry.lock:
                registry.revisions[service.arn] = deployment.source_revision

    threading.Thread(target=run, daemon=True, name="embedded-ecs-deployment").start()
    return deployment


def install_ecs_deployments(
    time_scale: Callable[[], float],
    events: EventSink,
    invoke: HookInvoker,
    registry: ServiceDeployments | None = None,
    role_check: RoleCheck | None = None,
) -> Undo:
    """UpdateService on a BLUE_GREEN, LINEAR or CANARY service runs a service deployment (time_scale(): embedded
    seconds per AWS second); the four service-deployment calls; Create/UpdateService refuse a configuration AWS
    refuses. ECS's events go to `events`, hooks to `invoke`, each Lambda hook's role through `role_check` first
    (hook_role_problem, where IAM is enforced)."""
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    deployments = registry if registry is not None else ServiceDeployments()
    original_update = EC2ContainerServiceBackend.update_service
    original_create_response = EC2ContainerServiceResponse.create_service
    original_update_response = EC2ContainerServiceResponse.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        cluster = service_properties.get("cluster", "default").split("/")[-1]
        name = service_properties.get("service", "").split("/")[-1]
        wanted = service_properties.get("task_definition")
        forced = bool(service_properties.get("force_new_deployment"))
        before = self.services.get(f"{cluster}:{name}")
        previous = before.task_definition if before is not None else None
        service = original_update(self, service_properties)
        configuration = getattr(service, "deployment_configuration", None) or {}
        if (
            wanted
            and (service.task_definition != previous or forced)
            and _strategy(configuration) in TRAFFIC_STRATEGIES
        ):
            start_deployment(self, service, str(previous), deployments, time_scale, events, invoke, role_check)
        return service

    def validating(original: Callable[..., Any], creating: bool) -> Callable[..., Any]:
        def handler(self: Any) -> Any:
            wanted = self._get_param("deploymentConfiguration")
            balancers = self._get_param("loadBalancers")
            if wanted is not None or balancers is not None:
                existing: Any = None
                if not creating:
                    cluster = str(self._get_param("cluster") or "default").split("/")[-1]
                    service_name = str(self._get_param("service")).split("/")[-1]
                    existing = self.ecs_backend.services.get(f"{cluster}:{service_name}")
                current = getattr(existing, "deployment_configuration", None) or {}
                configuration = {**current, **(wanted or {})}
                validate_deployment_configuration(
                    configuration, balancers if balancers is not None else getattr(existing, "load_balancers", [])
                )
                controller = (self._get_param("deploymentController") or {}).get("type", "ECS")
                if _strategy(configuration) != "ROLLING" and controller != "ECS":
                    raise _invalid("a deployment strategy needs deploymentController type ECS")
            return original(self)

        return handler

    def list_service_deployments(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cluster = str(self._get_param("cluster") or "default").split("/")[-1]
        service = self.ecs_backend._get_service(cluster, str(self._get_param("service")).split("/")[-1])
        statuses = self._get_param("status") or []
        created = self._get_param("createdAt") or {}
        limit = int(self._get_param("maxResults") or 20)
        if not 1 <= limit <= 100:
            raise _invalid("maxResults must be between 1 and 100")
        found = sorted(deployments.of_service(service.arn), key=lambda d: d.created_at, reverse=True)
        found = [d for d in found if not statuses or d.status in statuses]
        if created.get("after") is not None:
            found = [d for d in found if d.created_at >= _timestamp(created["after"])]
        if created.get("before") is not None:
            found = [d for d in found if d.created_at <= _timestamp(created["before"])]
        token = self._get_param("nextToken")
        start = int(token) if token else 0
        result: dict[str, Any] = {"serviceDeployments": [d.brief() for d in found[start : start + limit]]}
        if start + limit < len(found):
            result["nextToken"] = str(start + limit)
        return ActionResult(result)

    def describe_service_deployments(self: Any) -> Any:
        from moto.core.responses import ActionResult

        arns = list(self._get_param("serviceDeploymentArns") or [])
        if not 1 <= len(arns) <= 20:
            raise _invalid("serviceDeploymentArns must list 1 to 20 ARNs")
        found, failures = [], []
        for arn in arns:
            with deployments.lock:
                deployment = deployments.by_arn.get(arn)
            if deployment is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                with _LOCK:
                    found.append(deployment.describe())
        return ActionResult({"serviceDeployments": found, "failures": failures})

    def describe_service_revisions(self: Any) -> Any:
        from moto.core.responses import ActionResult

        arns = list(self._get_param("serviceRevisionArns") or [])
        if not 1 <= len(arns) <= 20:
            raise _invalid("serviceRevisionArns must list 1 to 20 ARNs")
        found, failures = [], []
        with deployments.lock:
            for arn in arns:
                revision = deployments.revision_details.get(arn)
                if revision is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(copy.deepcopy(revision))
        return ActionResult({"serviceRevisions": found, "failures": failures})

    def continue_service_deployment(self: Any) -> Any:
        from moto.core.responses import ActionResult

        deployment = deployments.get(str(self._get_param("serviceDeploymentArn")))
        hook_id = str(self._get_param("hookId"))
        action = str(self._get_param("action") or "CONTINUE")
        if action not in ("CONTINUE", "ROLLBACK"):
            raise _invalid(f"action must be CONTINUE or ROLLBACK, not {action}")
        if deployment.status != "IN_PROGRESS":
            raise _invalid(f"service deployment is {deployment.status}, not IN_PROGRESS")
        with _LOCK:
            hook = next((h for h in deployment.hooks if h.detail["hookId"] == hook_id), None)
            if hook is None or hook.detail["status"] != "AWAITING_ACTION" or hook.decided.is_set():
                raise _invalid(f"hook {hook_id} is not a PAUSE hook in AWAITING_ACTION on this service deployment")
            hook.action = action
            hook.decided.set()
        return ActionResult({"serviceDeploymentArn": deployment.arn})

    def stop_service_deployment(self: Any) -> Any:
        from moto.core.responses import ActionResult

        deployment = deployments.get(str(self._get_param("serviceDeploymentArn")))
        stop_type = str(self._get_param("stopType") or "ROLLBACK")
        if stop_type != "ROLLBACK":
            # The API reference documents only ROLLBACK ("The valid values are ROLLBACK"), though the model lists ABORT.
            raise _invalid(f"stopType must be ROLLBACK, not {stop_type}")
        with _LOCK:
            # stop-service-deployment: PENDING and IN_PROGRESS move to ROLLBACK_REQUESTED; a deployment already
            # stopping or rolling back carries on; one that has ended has nothing to stop.
            if deployment.status not in ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
                raise _client_error("ConflictException", f"service deployment is {deployment.status}: nothing to stop")
            if deployment.status in ("PENDING", "IN_PROGRESS"):
                deployment.status = "ROLLBACK_REQUESTED"
                deployment.stop_requested.set()
        return ActionResult({"serviceDeploymentArn": deployment.arn})

    return all_of(
        replace(EC2ContainerServiceBackend, "update_service", update_service),
        replace(EC2ContainerServiceResponse, "create_service", validating(original_create_response, True)),
        replace(EC2ContainerServiceResponse, "update_service", validating(original_update_response, False)),
        add(EC2ContainerServiceResponse, "list_service_deployments", list_service_deployments),
        add(EC2ContainerServiceResponse, "describe_service_deployments", describe_service_deployments),
        add(EC2ContainerServiceResponse, "describe_service_revisions", describe_service_revisions),
        add(EC2ContainerServiceResponse, "continue_service_deployment", continue_service_deployment),
        add(EC2ContainerServiceResponse, "stop_service_deployment", stop_service_deployment),
    )


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def lambda_hook_invoker(runner: Any) -> HookInvoker:
    """Invokes a hook's function synchronously through the embedded Lambda runner, as ECS does."""

    def invoke(arn: str, payload: dict[str, Any]) -> Any:
        from moto.awslambda.models import lambda_backends

        _, _, _, region, account, _, name = arn.split(":")[:7]
        fn = lambda_backends[account][region].get_function(name)
        body, errored, _ = runner.invoke(fn, payload)
        if errored:
            raise HookFunctionError(body)
        return json.loads(body) if body else None

    return invoke


def hook_role_problem(role_arn: str, function_arn: str) -> str | None:
    """Why ECS could not invoke a Lambda hook with its roleArn ("Permissions required for Lambda functions in
    Amazon ECS blue/green deployments": a role ECS may assume, allowed lambda:InvokeFunction on the function),
    or None when it can. Identity policies only, as iam.py evaluates them."""
    from moto.iam.exceptions import NotFoundException
    from moto.iam.models import iam_backends

    from ecs_handoff_embedded import iam

    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    try:
        role = iam_backends[account]["global"].get_role(name)
    except NotFoundException:
        return f"role {role_arn} does not exist"
    trust = _json_object(role.assume_role_policy_document)
    statements = trust.get("Statement") or []
    trusted = any(
        st.get("Effect") == "Allow"
        and "sts:AssumeRole" in _listed(st.get("Action"))
        and "ecs.amazonaws.com" in _listed((st.get("Principal") or {}).get("Service"))
        for st in (statements if isinstance(statements, list) else [statements])
    )
    if not trusted:
        return f"role {role_arn} does not let ecs.amazonaws.com assume it (sts:AssumeRole in its trust policy)"
    documents = iam.Authorizer(account).documents_for_role(name)
    if not iam.evaluate(documents, iam.Check("lambda:InvokeFunction", function_arn)):
        return f"role {role_arn} is not allowed lambda:InvokeFunction on {function_arn}"
    return None


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
