"""A service made BLUE_GREEN/LINEAR/CANARY behind an ALB on moto, as Terraform would, with handoff's lifecycle hook:
the dev stack's `api` service, the gap's engine (gaps/ecs_deployments.py) running its deployments and calling the
real hook function through the stack's runner, on the test's clock."""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from ecs_handoff.logic import lifecycle_hook
from ecs_handoff.models import DeploymentRecord
from ecs_handoff_embedded import gaps, seed
from ecs_handoff_embedded.gaps.ecs_deployments import ServiceDeployments
from ecs_handoff_embedded.scenario import edit_registry_entry

from tests.integration.conftest import Stack
from tests.integration.steps import NEW, ecs_service, records, start

HOOK_FUNCTION = "handoff-dev-lifecycle-hook"
SCALE = 0.005  # one AWS minute lasts 0.3 s here; a callBackDelay of 1 s lasts 5 ms


@dataclass
class Traffic:
    """The api service as Terraform would make it LINEAR behind an ALB, with handoff's hook at
    PRE_PRODUCTION_TRAFFIC_SHIFT, and what the hook answered ECS."""

    stack: Stack
    elbv2: Any
    blue: str
    green: str
    production_rule: str
    deployments: ServiceDeployments
    clock: list[dt.datetime]
    answers: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    after_first_shift: list[Callable[[], None]] = field(default_factory=list)
    # Clear while deploy() runs the deploy step: the engine's hook calls wait for it (see traffic_world).
    deploy_step_done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.deploy_step_done.set()

    def deploy(self) -> tuple[str, str]:
        """A deployment through the intake, the lock and the real deploy step; (deployment id, service
        deployment ARN)."""
        state = start(self.stack, NEW)
        self.deploy_step_done.clear()
        try:
            self.stack.invoke("deploy", {"request": state["request"]})
        finally:
            self.deploy_step_done.set()
        listed = self.stack.client("ecs").list_service_deployments(cluster="dev", service="api")
        return state["request"]["deployment_id"], str(listed["serviceDeployments"][0]["serviceDeploymentArn"])

    def weights(self) -> tuple[int, int]:
        rule = self.elbv2.describe_rules(RuleArns=[self.production_rule])["Rules"][0]
        forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
        groups = {g["TargetGroupArn"]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.blue, 0), groups.get(self.green, 0)

    def record(self, deployment_id: str) -> DeploymentRecord:
        found = records(self.stack).get(deployment_id)
        assert found is not None
        return found

    def until(self, check: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.02)
        raise AssertionError(f"never happened; the hook answered: {[a for _, a in self.answers]}")

    def statuses(self) -> list[str]:
        return [str(a.get("hookStatus")) for _, a in self.answers]


def open_hours(now: dt.datetime) -> str:
    """A deployment window from an hour before `now` to two hours after (past midnight when it must be)."""
    return f"{(now - dt.timedelta(hours=1)):%H}:00-{(now + dt.timedelta(hours=2)):%H}:00"


@contextmanager
def traffic_world(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, configuration: dict[str, Any] | None = None
) -> Iterator[Traffic]:
    """The api service with `configuration` (default: LINEAR in two 50 % steps, a 1-minute bake between) and
    handoff's hook at PRE_PRODUCTION_TRAFFIC_SHIFT; registry: gate_poll_seconds 1, max_gate_wait_seconds 600."""
    elbv2 = stack.client("elbv2")
    balancer = seed.blue_green_load_balancer(stack, "api")
    blue, green = balancer.blue, balancer.green
    production_rule, test_rule = balancer.production_rule, balancer.test_rule
    service = ecs_service("api")
    service.load_balancers = [
        {
            "targetGroupArn": blue,
            "containerName": "app-container",
            "containerPort": 80,
            "advancedConfiguration": {
                "alternateTargetGroupArn": green,
                "productionListenerRule": production_rule,
                "testListenerRule": test_rule,
                "roleArn": stack.outputs["LifecycleHookRoleArn"],
            },
        }
    ]
    hook_arn = f"arn:aws:lambda:{seed.REGION}:{seed.ACCOUNT_ID}:function:{HOOK_FUNCTION}"
    service.deployment_configuration = {
        # a copy: a test may change its service's configuration, never the next test's
        **copy.deepcopy(
            configuration
            or {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1}}
        ),
        "lifecycleHooks": [
            {
                "hookTargetArn": hook_arn,
                "roleArn": stack.outputs["LifecycleHookRoleArn"],
                "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
            }
        ],
    }
    clock = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(lifecycle_hook, "utcnow", lambda: clock[0])
    deployments = ServiceDeployments()
    real = gaps.lambda_hook_invoker(stack.runner)
    world = Traffic(stack, elbv2, blue, green, production_rule, deployments, clock)

    def invoke(arn: str, payload: dict[str, Any]) -> Any:
        # The engine scales up green at once, so it could call the hook while the deploy step, between its
        # UpdateService and its write of the record, has not recorded the revision; the hook then rightly answers
        # IN_PROGRESS ("has not recorded its revision yet"), which these tests would take for a hold, by thread
        # scheduling (so only under load, in some orders). On AWS scaling up green and shifting test traffic take
        # minutes before PRE_PRODUCTION_TRAFFIC_SHIFT: the hook is called once the deploy step has returned.
        if not world.deploy_step_done.wait(60):
            raise AssertionError("the deploy step did not return within 60 s")
        answer = real(arn, payload)
        world.answers.append((payload, answer))
        if answer.get("hookStatus") == "SUCCEEDED" and sum(s == "SUCCEEDED" for s in world.statuses()) == 1:
            for act in world.after_first_shift:
                act()
        return answer

    undo = gaps.all_of(
        gaps.install_deployment_configuration_read_back(),
        gaps.install_ecs_deployments(lambda: SCALE, lambda event: None, invoke, deployments, gaps.hook_role_problem),
    )
    edit_registry_entry(stack.client("ssm"), "dev", "api", gate_poll_seconds=1, max_gate_wait_seconds=600)
    try:
        yield world
    finally:
        for running in list(deployments.by_arn.values()):
            running.superseded = True
        undo()


def operator_event(
    path: str, route: str, parameters: dict[str, str], body: dict[str, Any], caller_arn: str
) -> dict[str, Any]:
    """What API Gateway (HTTP API, AWS_IAM route) hands the operator function for a caller it authenticated."""
    http = {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "handoff-cli"}
    iam = {
        "accessKey": "ASIA",
        "accountId": seed.ACCOUNT_ID,
        "callerId": "AROA:x",
        "userArn": caller_arn,
        "userId": "AROA:x",
    }
    return {
        "version": "2.0",
        "routeKey": f"POST {route}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": seed.ACCOUNT_ID,
            "apiId": "api",
            "authorizer": {"iam": {**iam, "principalOrgId": None}},
            "domainName": "x",
            "domainPrefix": "x",
            "http": http,
            "requestId": "r",
            "routeKey": f"POST {route}",
            "stage": "$default",
            "time": "05/Dec/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "pathParameters": parameters,
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }
