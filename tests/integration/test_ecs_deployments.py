"""The embedded ECS runs BLUE_GREEN, LINEAR and CANARY service deployments as the Amazon ECS developer guide
documents them (gaps/ecs_deployments.py): stages, listener-rule weights, bake times, Lambda and PAUSE hooks,
rollbacks, the service-deployment calls and events. Each test builds its own ALB, target groups, listener rules
and service on moto, with a scripted hook function in place of Lambda."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.loaders import Loader
from ecs_handoff_embedded import gaps, seed
from ecs_handoff_embedded.gaps.ecs_deployments import HookFunctionError, ServiceDeployments
from ecs_handoff_embedded.scenario import set_alarm
from moto import mock_aws

HOOK = f"arn:aws:lambda:{seed.REGION}:{seed.ACCOUNT_ID}:function:hook"
ROLE = f"arn:aws:iam::{seed.ACCOUNT_ID}:role/ecs-hooks"
SCALE = 0.001  # one AWS minute lasts 60 ms here
ALL_HOOK_STAGES = [
    "PRE_SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRE_PRODUCTION_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
]


@dataclass
class Hooks:
    """The hook function: records every payload; `answer(payload)` says what it returns (SUCCEEDED by default)."""

    answer: Callable[[dict[str, Any]], Any] = lambda payload: {"hookStatus": "SUCCEEDED"}
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, arn: str, payload: dict[str, Any]) -> Any:
        assert arn == HOOK
        self.calls.append(payload)
        return self.answer(payload)

    def stages(self) -> list[str]:
        return [c["lifecycleStage"] for c in self.calls]


@dataclass
class World:
    ecs: Any
    elbv2: Any
    cloudwatch: Any
    blue: str
    green: str
    production_rule: str
    test_rule: str
    hooks: Hooks
    events: list[dict[str, Any]]
    deployments: ServiceDeployments
    scale: list[float]
    role_check: list[Callable[[str, str], str | None]]

    def service(self, image: str = "web:1", **configuration: Any) -> None:
        self.ecs.create_service(
            cluster="c",
            serviceName="web",
            taskDefinition=self.register(image),
            desiredCount=2,
            deploymentController={"type": "ECS"},
            loadBalancers=[
                {
                    "targetGroupArn": self.blue,
                    "containerName": "app",
                    "containerPort": 80,
                    "advancedConfiguration": {
                        "alternateTargetGroupArn": self.green,
                        "productionListenerRule": self.production_rule,
                        "testListenerRule": self.test_rule,
                        "roleArn": ROLE,
                    },
                }
            ],
            deploymentConfiguration=configuration,
        )

    def register(self, image: str) -> str:
        definition = {"name": "app", "image": image, "memory": 128}
        response = self.ecs.register_task_definition(family="web", containerDefinitions=[definition])
        return str(response["taskDefinition"]["taskDefinitionArn"])

    def deploy(self, image: str = "web:2") -> str:
        self.ecs.update_service(cluster="c", service="web", taskDefinition=self.register(image))
        listed = self.ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"]
        return str(listed[0]["serviceDeploymentArn"])

    def describe(self, arn: str) -> dict[str, Any]:
        found = self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"]
        assert len(found) == 1, f"no service deployment {arn}"
        return dict(found[0])

    def wait_until(self, arn: str, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.describe(arn)
            if check(described):
                return described
            time.sleep(0.01)
        raise AssertionError(f"service deployment never got there: {self.describe(arn)}")

    def end(self, arn: str) -> dict[str, Any]:
        self.deployments.wait(arn, timeout=10.0)
        return self.describe(arn)

    def weights(self, rule_arn: str) -> tuple[int, int]:
        """(blue, green) on the rule's forward action, as ELBv2's DescribeRules shows it."""
        rule = self.elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]
        forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
        groups = {g["TargetGroupArn"]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.blue, 0), groups.get(self.green, 0)

    def stages(self, arn: str) -> list[str]:
        return list(self.deployments.get(arn).stages)

    def alarm(self, name: str) -> None:
        """A CloudWatch alarm (state OK) on the ALB's target 5xx count, as the scenario makes one."""
        set_alarm(self.cloudwatch, name, "OK")

    def event_names(self, detail_type: str) -> list[str]:
        return [e["detail"]["eventName"] for e in self.events if e["detail-type"] == detail_type]


def hook(*stages: str, kind: str = "AWS_LAMBDA", **extra: Any) -> dict[str, Any]:
    if kind == "PAUSE":
        return {"targetType": "PAUSE", "lifecycleStages": list(stages), **extra}
    return {"targetType": kind, "hookTargetArn": HOOK, "roleArn": ROLE, "lifecycleStages": list(stages), **extra}


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        events: list[dict[str, Any]] = []
        hooks, deployments, scale = Hooks(), ServiceDeployments(), [SCALE]
        role_check: list[Callable[[str, str], str | None]] = [lambda role, function: None]
        undo = gaps.all_of(
            gaps.install_deployment_configuration_read_back(),
            gaps.install_ecs_deployments(
                lambda: scale[0], events.append, hooks, deployments, lambda r, f: role_check[0](r, f)
            ),
        )
        try:
            world = _build(hooks, events, deployments, scale)
            world.role_check = role_check
            yield world
        finally:
            for deployment in list(deployments.by_arn.values()):
                deployment.superseded = True  # a deployment still running stops with the test
            undo()


def _build(hooks: Hooks, events: list[dict[str, Any]], deployments: ServiceDeployments, scale: list[float]) -> World:
    region = seed.REGION
    elbv2 = boto3.client("elbv2", region_name=region)
    balancer = seed.blue_green_load_balancer(boto3.session.Session(region_name=region), "web")
    blue, green, rules = balancer.blue, balancer.green, [balancer.production_rule, balancer.test_rule]
    ecs = boto3.client("ecs", region_name=region)
    ecs.create_cluster(clusterName="c")
    return World(
        ecs=ecs,
        elbv2=elbv2,
        cloudwatch=boto3.client("cloudwatch", region_name=region),
        blue=blue,
        green=green,
        production_rule=rules[0],
        test_rule=rules[1],
        hooks=hooks,
        events=events,
        deployments=deployments,
        scale=scale,
        role_check=[],
    )


# --- each strategy's stages, in order ------------------------------------------------------------------------


def test_blue_green_runs_every_stage_in_order_and_moves_all_traffic_to_green(world: World) -> None:
    # GIVEN a BLUE_GREEN service with a hook at every hookable stage, all traffic on blue
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook(*ALL_HOOK_STAGES)])
    assert world.weights(world.production_rule) == (100, 0)
    # WHEN a new task definition is deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN ECS went through the documented stages in order, production and test traffic now on green
    assert ended["status"] == "SUCCESSFUL", ended
    assert world.stages(arn) == [
        "PRE_SCALE_UP",
        "SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
        "BAKE_TIME",
        "CLEAN_UP",
    ]
    assert world.hooks.stages() == ALL_HOOK_STAGES
    assert world.weights(world.production_rule) == (0, 100)
    assert world.weights(world.test_rule) == (0, 100)
    assert world.event_names("ECS Deployment State Change") == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]
    service = world.ecs.describe_services(cluster="c", services=["web"])["services"][0]
    assert [d["rolloutState"] for d in service["deployments"]] == ["COMPLETED"]


def test_blue_green_keeps_production_on_blue_until_the_production_shift(world: World) -> None:
    # GIVEN a hook at POST_TEST_TRAFFIC_SHIFT that looks at the listener rules when called
    seen: list[tuple[tuple[int, int], tuple[int, int]]] = []

    def answer(payload: dict[str, Any]) -> Any:
        seen.append((world.weights(world.production_rule), world.weights(world.test_rule)))
        return {"hookStatus": "SUCCEEDED"}

    world.hooks.answer = answer
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT")])
    # WHEN deployed
    world.end(world.deploy())
    # THEN green had all the test traffic and none of production's at that stage (100/0 -> 0/100 later)
    assert seen == [((100, 0), (0, 100))]


def test_linear_shifts_production_traffic_in_equal_steps(world: World) -> None:
    # GIVEN a LINEAR service shifting 25 % a step, with a hook before and at each production shift
    world.service(
        strategy="LINEAR",
        linearConfiguration={"stepPercent": 25.0, "stepBakeTimeInMinutes": 0},
        lifecycleHooks=[hook("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")],
    )
    # WHEN deployed
    arn = world.deploy()
    assert world.end(arn)["status"] == "SUCCESSFUL"
    # THEN the two stages ran once per step, production weight moving 25 % at a time
    steps = world.stages(arn)[world.stages(arn).index("POST_TEST_TRAFFIC_SHIFT") + 1 : -3]
    assert steps == ["PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] * 4
    production = [w for kind, *w in world.deployments.get(arn).weight_history if kind == "production"]
    assert production == [[75, 25], [50, 50], [25, 75], [0, 100]]
    shifted = [c["executionDetails"]["productionTrafficWeights"] for c in world.hooks.calls]
    target = world.describe(arn)["targetServiceRevision"]["arn"]
    assert [w[target] for w in shifted] == [0, 25, 25, 50, 50, 75, 75, 100]
    assert world.weights(world.production_rule) == (0, 100)


def test_canary_shifts_the_canary_then_the_rest(world: World) -> None:
    world.service(strategy="CANARY", canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 0})
    arn = world.deploy()
    assert world.end(arn)["status"] == "SUCCESSFUL"
    production = [w for kind, *w in world.deployments.get(arn).weight_history if kind == "production"]
    assert production == [[90, 10], [0, 100]]
    assert world.stages(arn).count("PRODUCTION_TRAFFIC_SHIFT") == 2


def test_linear_holds_each_step_for_its_bake_time(world: World) -> None:
    # GIVEN 50 % steps baking 1 minute each (0.5 s here), a rule weight read after the first shift
    world.scale[0] = 0.5 / 60
    world.service(strategy="LINEAR", linearConfiguration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 1})
    started = time.monotonic()
    arn = world.deploy()
    world.wait_until(arn, lambda d: d["targetServiceRevision"].get("requestedProductionTrafficWeight") == 50.0)
    # THEN production stays at 50/50 during the step's bake, and the bake is not applied after 100 %
    assert world.weights(world.production_rule) == (50, 50)
    assert world.end(arn)["status"] == "SUCCESSFUL"
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.95, elapsed


def test_blue_green_bakes_before_clean_up(world: World) -> None:
    world.scale[0] = 0.5 / 60
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=1)
    arn = world.deploy()
    baking = world.wait_until(arn, lambda d: d.get("lifecycleStage") == "BAKE_TIME")
    assert baking["status"] == "IN_PROGRESS"
    started = time.monotonic()
    assert world.end(arn)["status"] == "SUCCESSFUL"
    assert time.monotonic() - started >= 0.4


# --- Lambda hooks -------------------------------------------------------------------------------------------


def test_lambda_hook_in_progress_is_called_again_with_its_hook_details_merged(world: World) -> None:
    # GIVEN a hook that answers IN_PROGRESS three times (counting in hookDetails), then SUCCEEDED
    def answer(payload: dict[str, Any]) -> Any:
        count = int(payload["hookDetails"].get("count", 0))
        if count < 3:
            return {"hookStatus": "IN_PROGRESS", "callBackDelay": 10, "hookDetails": {"count": count + 1}}
        return {"hookStatus": "SUCCEEDED"}

    world.hooks.answer = answer
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT", hookDetails={"team": "web"})],
    )
    # WHEN deployed
    arn = world.deploy()
    assert world.end(arn)["status"] == "SUCCESSFUL"
    # THEN ECS called it four times, each time with the configured and the returned hookDetails
    calls = world.hooks.calls
    assert [c["hookDetails"] for c in calls] == [
        {"team": "web"},
        {"team": "web", "count": 1},
        {"team": "web", "count": 2},
        {"team": "web", "count": 3},
    ]
    first = calls[0]
    assert set(first) == {"executionId", "lifecycleStage", "resourceArn", "executionDetails", "hookDetails"}
    assert first["resourceArn"] == arn and first["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert set(first["executionDetails"]) == {
        "serviceArn",
        "targetServiceRevisionArn",
        "testTrafficWeights",
        "productionTrafficWeights",
    }
    assert len({c["executionId"] for c in calls}) == 1
    details = world.describe(arn)["lifecycleHookDetails"]
    assert [(h["targetType"], h["targetArn"], h["status"]) for h in details] == [("AWS_LAMBDA", HOOK, "SUCCEEDED")]


def test_lambda_hook_failed_rolls_back_with_traffic_back_on_blue(world: World) -> None:
    # GIVEN a hook that fails the deployment once production traffic is on green
    def answer(payload: dict[str, Any]) -> Any:
        failed = payload["lifecycleStage"] == "POST_PRODUCTION_TRAFFIC_SHIFT"
        return {"hookStatus": "FAILED" if failed else "SUCCEEDED"}

    world.hooks.answer = answer
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[hook("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")],
    )
    old = world.ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"]
    # WHEN deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN ECS rolled back: traffic on blue, the traffic-shift hooks called again with the weights reversed
    assert ended["status"] == "ROLLBACK_SUCCESSFUL", ended
    assert "POST_PRODUCTION_TRAFFIC_SHIFT" in ended["rollback"]["reason"]
    assert ended["rollback"]["serviceRevisionArn"] == ended["sourceServiceRevisions"][0]["arn"]
    assert world.weights(world.production_rule) == (100, 0)
    assert world.weights(world.test_rule) == (100, 0)
    source, target = ended["sourceServiceRevisions"][0]["arn"], ended["targetServiceRevision"]["arn"]
    rollback_calls = world.hooks.calls[3:]
    assert [c["lifecycleStage"] for c in rollback_calls] == ["PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"]
    assert rollback_calls[0]["executionDetails"]["productionTrafficWeights"] == {source: 100, target: 0}
    assert rollback_calls[1]["executionDetails"]["testTrafficWeights"] == {source: 100, target: 0}
    assert all(c["executionDetails"]["targetServiceRevisionArn"] == target for c in rollback_calls)
    assert world.ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"] == old
    assert world.event_names("ECS Deployment State Change") == [
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "SERVICE_DEPLOYMENT_IN_PROGRESS",
        "SERVICE_DEPLOYMENT_COMPLETED",
    ]


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(HookFunctionError('{"errorMessage": "boom"}'), id="function-error"),
        pytest.param({"status": "SUCCEEDED"}, id="no-hook-status"),
    ],
)
def test_lambda_hook_error_or_no_status_rolls_back(world: World, answer: Any) -> None:
    def respond(payload: dict[str, Any]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    world.hooks.answer = respond
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook("PRE_SCALE_UP")])
    arn = world.deploy()
    ended = world.end(arn)
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert "PRE_SCALE_UP" in ended["rollback"]["reason"]
    assert world.weights(world.production_rule) == (100, 0)


# --- PAUSE hooks, Continue and Stop ---------------------------------------------------------------------------


def test_pause_hook_waits_for_continue(world: World) -> None:
    # GIVEN a PAUSE hook after the test traffic shift
    world.service(
        strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT", kind="PAUSE")]
    )
    arn = world.deploy()
    # WHEN it is reached
    paused = world.wait_until(arn, lambda d: any(h["status"] == "AWAITING_ACTION" for h in d["lifecycleHookDetails"]))
    detail = paused["lifecycleHookDetails"][0]
    # THEN green serves the test listener only, and ECS said so with a hook event
    assert paused["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert (world.weights(world.production_rule), world.weights(world.test_rule)) == ((100, 0), (0, 100))
    assert set(detail) >= {"hookId", "targetType", "status", "expiresAt", "timeoutAction"}
    assert detail["targetType"] == "PAUSE" and detail["timeoutAction"] == "ROLLBACK" and "targetArn" not in detail
    awaiting = next(e for e in world.events if e["detail-type"] == "ECS Hook State Change")
    assert awaiting["resources"] == [arn]
    assert (
        awaiting["detail"]["eventName"] == "HOOK_AWAITING_ACTION" and awaiting["detail"]["hookId"] == detail["hookId"]
    )
    # AND a continue moves the deployment on to SUCCESSFUL
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"], action="CONTINUE")
    assert world.end(arn)["status"] == "SUCCESSFUL"
    assert world.event_names("ECS Hook State Change") == ["HOOK_AWAITING_ACTION", "HOOK_SUCCEEDED"]
    with pytest.raises(ClientError) as again:
        world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=detail["hookId"], action="CONTINUE")
    assert again.value.response["Error"]["Code"] == "InvalidParameterException"


def test_pause_hook_timeout_rolls_back(world: World) -> None:
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT", kind="PAUSE", timeoutConfiguration={"timeoutInMinutes": 1})],
    )
    arn = world.deploy()
    ended = world.end(arn)
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert ended["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert "HOOK_TIMED_OUT" in world.event_names("ECS Hook State Change")
    assert world.weights(world.test_rule) == (100, 0)


def test_stop_service_deployment_rolls_back_mid_deployment(world: World) -> None:
    # GIVEN a deployment paused with green on the test listener
    world.service(
        strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT", kind="PAUSE")]
    )
    arn = world.deploy()
    world.wait_until(arn, lambda d: d.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT" and d["lifecycleHookDetails"])
    # WHEN the operator stops it with ROLLBACK
    assert (
        world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")["serviceDeploymentArn"] == arn
    )
    ended = world.end(arn)
    # THEN traffic is back on blue and the rollback says why
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert "StopServiceDeployment" in ended["rollback"]["reason"]
    assert world.weights(world.test_rule) == (100, 0) and world.weights(world.production_rule) == (100, 0)
    with pytest.raises(ClientError) as again:
        world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert again.value.response["Error"]["Code"] == "ConflictException"


# --- alarms and the circuit breaker ---------------------------------------------------------------------------


def test_deployment_alarm_in_alarm_rolls_back(world: World) -> None:
    # GIVEN a LINEAR service watching web-5xx, which goes into ALARM once green has production traffic
    world.alarm("web-5xx")
    shifted = threading.Event()

    def answer(payload: dict[str, Any]) -> Any:
        world.cloudwatch.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx from green")
        shifted.set()
        return {"hookStatus": "SUCCEEDED"}

    world.hooks.answer = answer
    world.service(
        strategy="LINEAR",
        linearConfiguration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 0},
        alarms={"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
        lifecycleHooks=[hook("PRODUCTION_TRAFFIC_SHIFT")],
    )
    # WHEN deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN the alarm rolled it back before the second step, production back on blue
    assert shifted.is_set()
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert ended["alarms"]["status"] == "TRIGGERED" and ended["alarms"]["triggeredAlarmNames"] == ["web-5xx"]
    assert "web-5xx" in ended["rollback"]["reason"]
    production = [w for kind, *w in world.deployments.get(arn).weight_history if kind == "production"]
    assert production == [[50, 50], [100, 0]]
    assert world.weights(world.production_rule) == (100, 0)


def test_circuit_breaker_rolls_back_a_failing_image(world: World) -> None:
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        deploymentCircuitBreaker={"enable": True, "rollback": True},
    )
    arn = world.deploy(image="web:fail-2")
    ended = world.end(arn)
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert ended["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert "circuit breaker" in ended["rollback"]["reason"]
    assert "TEST_TRAFFIC_SHIFT" not in world.stages(arn)[: world.stages(arn).index("SCALE_UP") + 1]
    assert world.weights(world.production_rule) == (100, 0)


# --- the API's shapes and refusals ------------------------------------------------------------------------


def _members(shape: str) -> set[str]:
    model = Loader().load_service_model("ecs", "service-2")
    return set(model["shapes"][shape]["members"])


def test_list_and_describe_follow_the_api_model(world: World) -> None:
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    first = world.deploy()
    world.end(first)
    second = world.deploy(image="web:3")
    world.end(second)
    listed = world.ecs.list_service_deployments(cluster="c", service="web")["serviceDeployments"]
    assert [b["serviceDeploymentArn"] for b in listed] == [second, first]
    assert all(set(b) <= _members("ServiceDeploymentBrief") for b in listed)
    assert {"serviceDeploymentArn", "serviceArn", "clusterArn", "status", "targetServiceRevisionArn"} <= set(listed[0])
    paged = world.ecs.list_service_deployments(cluster="c", service="web", maxResults=1)
    assert len(paged["serviceDeployments"]) == 1 and "nextToken" in paged
    only_ok = world.ecs.list_service_deployments(cluster="c", service="web", status=["ROLLBACK_SUCCESSFUL"])
    assert only_ok["serviceDeployments"] == []
    missing = f"arn:aws:ecs:{seed.REGION}:{seed.ACCOUNT_ID}:service-deployment/c/web/nothere"
    described = world.ecs.describe_service_deployments(serviceDeploymentArns=[second, missing])
    assert described["failures"] == [{"arn": missing, "reason": "MISSING"}]
    deployment = described["serviceDeployments"][0]
    assert set(deployment) <= _members("ServiceDeployment")
    assert deployment["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    assert set(deployment["targetServiceRevision"]) <= _members("ServiceRevisionSummary")
    # the second deployment started from the first one's revision (green became the new blue)
    first_target = world.describe(first)["targetServiceRevision"]["arn"]
    assert deployment["sourceServiceRevisions"][0]["arn"] == first_target
    assert world.weights(world.production_rule) == (100, 0)


def test_describe_service_revisions_names_each_revisions_task_definition(world: World) -> None:
    # GIVEN a deployment from web:1 to web:2
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    before = world.ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"]
    arn = world.deploy()
    ended = world.end(arn)
    after = world.ecs.describe_services(cluster="c", services=["web"])["services"][0]["taskDefinition"]
    target, source = ended["targetServiceRevision"]["arn"], ended["sourceServiceRevisions"][0]["arn"]
    missing = target.rsplit("/", 1)[0] + "/0"
    # WHEN the revisions are described
    described = world.ecs.describe_service_revisions(serviceRevisionArns=[target, source, missing])
    # THEN each names the task definition it runs, in the model's shape; an unknown one is MISSING
    revisions = {r["serviceRevisionArn"]: r for r in described["serviceRevisions"]}
    assert (revisions[target]["taskDefinition"], revisions[source]["taskDefinition"]) == (after, before)
    assert all(set(r) <= _members("ServiceRevision") for r in revisions.values())
    assert revisions[target]["serviceArn"].endswith(":service/c/web")
    assert described["failures"] == [{"arn": missing, "reason": "MISSING"}]
    with pytest.raises(ClientError) as too_many:
        world.ecs.describe_service_revisions(serviceRevisionArns=[target] * 21)
    assert too_many.value.response["Error"]["Code"] == "InvalidParameterException"


@pytest.mark.parametrize(
    ("configuration", "why"),
    [
        (
            {
                "strategy": "BLUE_GREEN",
                "lifecycleHooks": [hook("PRODUCTION_TRAFFIC_SHIFT", kind="PAUSE")],
                "bakeTimeInMinutes": 0,
            },
            "PAUSE",
        ),
        ({"strategy": "BLUE_GREEN"}, "bakeTimeInMinutes"),
        ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 2.0}}, "stepPercent"),
        ({"strategy": "SIDEWAYS"}, "strategy"),
    ],
)
def test_create_service_refuses_what_aws_refuses(world: World, configuration: dict[str, Any], why: str) -> None:
    with pytest.raises(ClientError) as refused:
        world.service(**configuration)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert why in refused.value.response["Error"]["Message"]


def test_undo_puts_moto_back() -> None:
    # GIVEN moto's own ECS  WHEN the gap is installed and undone  THEN moto is as it was
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    before = (EC2ContainerServiceBackend.update_service, EC2ContainerServiceResponse.create_service)
    undo = gaps.install_ecs_deployments(lambda: SCALE, lambda event: None, Hooks())
    assert hasattr(EC2ContainerServiceResponse, "describe_service_deployments")
    undo()
    assert (EC2ContainerServiceBackend.update_service, EC2ContainerServiceResponse.create_service) == before
    assert not hasattr(EC2ContainerServiceResponse, "describe_service_deployments")


def test_deployment_alarm_without_rollback_stops_the_deployment_where_it_is(world: World) -> None:
    # GIVEN deployment alarms with rollback off, and an alarm already in ALARM
    world.alarm("web-latency")
    world.cloudwatch.set_alarm_state(AlarmName="web-latency", StateValue="ALARM", StateReason="slow")
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        alarms={"alarmNames": ["web-latency"], "enable": True, "rollback": False},
    )
    # WHEN deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN it is STOPPED (never SUCCESSFUL), not rolled back, and ECS says it failed
    assert ended["status"] == "STOPPED" and "web-latency" in ended["statusReason"]
    assert "rollback" not in ended
    assert world.event_names("ECS Deployment State Change")[-1] == "SERVICE_DEPLOYMENT_FAILED"


def test_rolling_services_keep_their_rollouts_and_get_no_service_deployment() -> None:
    # GIVEN the gaps installed in EmbeddedAws's order: the rolling rollouts first, the service deployments after
    with mock_aws():
        events: list[dict[str, Any]] = []
        deployments = ServiceDeployments()
        undo = gaps.all_of(
            gaps.install_ecs_rollouts(lambda: 0.01, events.append),
            gaps.install_ecs_deployments(lambda: SCALE, events.append, Hooks(), deployments),
            gaps.install_deployment_configuration_read_back(),
        )
        try:
            ecs = boto3.client("ecs", region_name=seed.REGION)
            ecs.create_cluster(clusterName="c")
            definition: Any = {"name": "app", "image": "web:1", "memory": 128}
            first = ecs.register_task_definition(family="api", containerDefinitions=[definition])
            second = ecs.register_task_definition(family="api", containerDefinitions=[definition])
            ecs.create_service(
                cluster="c",
                serviceName="api",
                taskDefinition=first["taskDefinition"]["taskDefinitionArn"],
                desiredCount=1,
                deploymentConfiguration={"strategy": "ROLLING", "maximumPercent": 200},
            )
            # WHEN a ROLLING service is updated
            ecs.update_service(cluster="c", service="api", taskDefinition=second["taskDefinition"]["taskDefinitionArn"])
            deadline = time.monotonic() + 5
            while len(events) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            # THEN gaps/ecs.py's rollout ran as before, and no service deployment was started
            assert [e["detail"]["eventName"] for e in events] == [
                "SERVICE_DEPLOYMENT_IN_PROGRESS",
                "SERVICE_DEPLOYMENT_COMPLETED",
            ]
            assert ecs.list_service_deployments(cluster="c", service="api")["serviceDeployments"] == []
        finally:
            undo()


HOOK_SOURCE = """
def handler(event, context):
    if event["lifecycleStage"] == "POST_PRODUCTION_TRAFFIC_SHIFT":
        raise RuntimeError("green answers 500")
    if not event["hookDetails"].get("seen"):
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 1, "hookDetails": {"seen": True}}
    return {"hookStatus": "SUCCEEDED"}
"""


def test_lambda_hook_runs_through_the_embedded_lambda_runner(world: World, tmp_path: Any) -> None:
    # GIVEN the hook deployed as a Lambda function, run by the embedded runner as EmbeddedAws wires it
    import io
    import zipfile

    from ecs_handoff_embedded.runner import FunctionRunner

    (tmp_path / "hook.py").write_text(HOOK_SOURCE, encoding="utf-8")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("hook.py", HOOK_SOURCE)
    iam = boto3.client("iam", region_name=seed.REGION)
    role = iam.create_role(RoleName="hook", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    boto3.client("lambda", region_name=seed.REGION).create_function(
        FunctionName="hook",
        Runtime="python3.12",
        Role=role,
        Handler="hook.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    runner = FunctionRunner({})
    runner.register("hook", tmp_path)
    invoke = gaps.lambda_hook_invoker(runner)
    world.hooks.answer = lambda payload: invoke(HOOK, payload)
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[hook("POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")],
    )
    # WHEN deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN the function ran (IN_PROGRESS, then SUCCEEDED), and its error at POST_PRODUCTION_TRAFFIC_SHIFT rolled back
    assert [i.error for i in runner.invocations] == [None, None, "RuntimeError"]
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert "green answers 500" in ended["rollback"]["reason"]
    assert world.weights(world.production_rule) == (100, 0)


def test_lambda_hook_role_must_let_ecs_invoke_the_function(world: World) -> None:
    # GIVEN IAM enforced on hook roles, and a role ECS may assume but that has no lambda:InvokeFunction
    world.role_check[0] = gaps.hook_role_problem
    iam = boto3.client("iam", region_name=seed.REGION)
    trust: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    iam.create_role(RoleName="ecs-hooks", AssumeRolePolicyDocument=json.dumps(trust))
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[hook("PRE_SCALE_UP")])
    # WHEN deployed
    arn = world.deploy()
    ended = world.end(arn)
    # THEN ECS could not invoke the hook: rolled back with the reason, the function never called
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    assert "not allowed lambda:InvokeFunction" in ended["rollback"]["reason"]
    assert world.hooks.calls == []
    # AND once the role allows it (and is trusted by ECS), the hook runs
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": HOOK}],
    }
    iam.put_role_policy(RoleName="ecs-hooks", PolicyName="invoke", PolicyDocument=json.dumps(allow))
    assert gaps.hook_role_problem(ROLE, HOOK) is None
    assert world.end(world.deploy(image="web:3"))["status"] == "SUCCESSFUL"
    assert world.hooks.stages() == ["PRE_SCALE_UP"]
    # AND a role ECS may not assume is refused too
    lambda_trust = {**trust, "Statement": [{**trust["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}
    iam.update_assume_role_policy(RoleName="ecs-hooks", PolicyDocument=json.dumps(lambda_trust))
    assert "ecs.amazonaws.com" in str(gaps.hook_role_problem(ROLE, HOOK))


def test_rollback_hooks_answering_in_progress_are_called_again(world: World) -> None:
    # GIVEN a TEST_TRAFFIC_SHIFT hook that answers IN_PROGRESS once per run, and a pause after the test shift
    def answer(payload: dict[str, Any]) -> Any:
        if not payload["hookDetails"].get("seen"):
            return {"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {"seen": True}}
        return {"hookStatus": "SUCCEEDED"}

    world.hooks.answer = answer
    world.service(
        strategy="BLUE_GREEN",
        bakeTimeInMinutes=0,
        lifecycleHooks=[hook("TEST_TRAFFIC_SHIFT"), hook("POST_TEST_TRAFFIC_SHIFT", kind="PAUSE")],
    )
    arn = world.deploy()
    world.wait_until(arn, lambda d: any(h["status"] == "AWAITING_ACTION" for h in d["lifecycleHookDetails"]))
    # WHEN the operator stops it
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    ended = world.end(arn)
    # THEN the rollback's run of the hook was called again until it succeeded, with the weights reversed
    assert ended["status"] == "ROLLBACK_SUCCESSFUL"
    source = ended["sourceServiceRevisions"][0]["arn"]
    rollback_calls = world.hooks.calls[2:]
    assert [c["hookDetails"] for c in rollback_calls] == [{}, {"seen": True}]
    assert all(c["executionDetails"]["testTrafficWeights"][source] == 100 for c in rollback_calls)


def test_failing_image_without_circuit_breaker_keeps_trying_until_stopped(world: World) -> None:
    # GIVEN no circuit breaker  WHEN green's image never starts
    world.service(strategy="BLUE_GREEN", bakeTimeInMinutes=0)
    arn = world.deploy(image="web:fail-2")
    world.wait_until(arn, lambda d: d.get("lifecycleStage") == "SCALE_UP")
    time.sleep(0.2)
    # THEN ECS keeps trying: still IN_PROGRESS at SCALE_UP, no traffic moved, until the operator stops it
    stuck = world.describe(arn)
    assert (stuck["status"], stuck["lifecycleStage"]) == ("IN_PROGRESS", "SCALE_UP")
    assert stuck["deploymentCircuitBreaker"]["status"] == "DISABLED"
    assert world.weights(world.test_rule) == (100, 0)
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert world.end(arn)["status"] == "ROLLBACK_SUCCESSFUL"
