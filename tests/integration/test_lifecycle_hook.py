"""handoff's lifecycle hook (functions/lifecycle_hook) invoked by the embedded ECS before each production traffic
shift of a LINEAR deployment of the dev stack's `api` service: the real deploy step updates the service, the
gap's engine (gaps/ecs_deployments.py) runs the deployment and calls the real hook function through the runner.
The hook's clock is the test's, so a deployment window can close between two steps."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from ecs_handoff.logic import lifecycle_hook
from ecs_handoff.models import DeploymentRecord
from ecs_handoff_embedded import gaps, seed
from ecs_handoff_embedded.gaps.ecs_deployments import ServiceDeployments
from ecs_handoff_embedded.scenario import edit_registry_entry, set_alarm

from tests.integration.conftest import Stack
from tests.integration.steps import NEW, ecs_service, records, start

HOOK_FUNCTION = "handoff-dev-lifecycle-hook"
SCALE = 0.005  # one AWS minute lasts 0.3 s here; a callBackDelay of 1 s lasts 5 ms
ALARM = "dev-api-5xx"


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

    def deploy(self) -> tuple[str, str]:
        """A deployment through the intake, the lock and the real deploy step; (deployment id, service
        deployment ARN)."""
        state = start(self.stack, NEW)
        self.stack.invoke("deploy", {"request": state["request"]})
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

    def until(self, check: Callable[[], bool], timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.02)
        raise AssertionError(f"never happened; the hook answered: {[a for _, a in self.answers]}")

    def statuses(self) -> list[str]:
        return [str(a.get("hookStatus")) for _, a in self.answers]


def _load_balancer(stack: Stack) -> tuple[Any, str, str, str, str]:
    """An ALB with a production and a test listener, each with a rule forwarding to blue 100 / green 0."""
    ec2, elbv2 = stack.client("ec2"), stack.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{seed.REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate("ac")
    ]
    lb = elbv2.create_load_balancer(Name="api", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    blue, green = (
        elbv2.create_target_group(Name=n, Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")["TargetGroups"][0][
            "TargetGroupArn"
        ]
        for n in ("api-blue", "api-green")
    )
    rules = []
    for port in (80, 8080):
        listener = elbv2.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]["ListenerArn"]
        forward = {"TargetGroups": [{"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]}
        rules.append(
            elbv2.create_rule(
                ListenerArn=listener,
                Priority=1,
                Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                Actions=[{"Type": "forward", "ForwardConfig": forward}],
            )["Rules"][0]["RuleArn"]
        )
    return elbv2, blue, green, rules[0], rules[1]


def _open_hours(now: dt.datetime) -> str:
    """A deployment window from an hour before `now` to two hours after (past midnight when it must be)."""
    return f"{(now - dt.timedelta(hours=1)):%H}:00-{(now + dt.timedelta(hours=2)):%H}:00"


@pytest.fixture
def traffic(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    elbv2, blue, green, production_rule, test_rule = _load_balancer(stack)
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
        "strategy": "LINEAR",
        "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1},
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


def test_lifecycle_hook_window_closing_between_linear_steps_holds_the_next_shift(traffic: Traffic) -> None:
    # GIVEN a window open now, which closes right after the first production shift (50 %)
    now = traffic.clock[0]
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", deploy_windows=[{"hours": _open_hours(now)}])
    closed = now + dt.timedelta(hours=6)
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, closed))
    # WHEN handoff deploys
    deployment_id, arn = traffic.deploy()
    # THEN the second shift is held: production stays 50/50, the hook answers IN_PROGRESS, the record says why
    traffic.until(lambda: traffic.statuses().count("IN_PROGRESS") >= 3)
    assert traffic.weights() == (50, 50)
    assert traffic.deployments.get(arn).status == "IN_PROGRESS"
    held = traffic.record(deployment_id)
    assert held.phase is not None and held.phase.value == "waiting_for_window"
    assert "outside the deployment windows" in held.gate["reason"] and held.gate["production_percent"] == "50"
    assert [(h["event"], h["production_percent"]) for h in held.release_holds] == [("held", "50")]
    assert all(a.get("callBackDelay") == 1 for _, a in traffic.answers if a["hookStatus"] == "IN_PROGRESS")
    # WHEN the window opens again
    traffic.clock[0] = now
    # THEN the shift goes on and the deployment succeeds, the release on the record's timeline
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    assert traffic.weights() == (0, 100)
    released = traffic.record(deployment_id)
    assert [(h["event"], h["production_percent"]) for h in released.release_holds] == [
        ("held", "50"),
        ("released", "50"),
    ]
    assert released.gate == {}


def test_lifecycle_hook_alarm_in_alarm_holds_the_shift(traffic: Traffic) -> None:
    # GIVEN a blocking alarm, OK at the deploy, which goes to ALARM after the first shift
    cloudwatch = traffic.stack.client("cloudwatch")
    set_alarm(cloudwatch, ALARM, "OK")
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", blocking_alarms=[ALARM])
    traffic.after_first_shift.append(lambda: set_alarm(cloudwatch, ALARM, "ALARM", "5xx above 10"))
    # WHEN handoff deploys
    deployment_id, arn = traffic.deploy()
    # THEN the next shift waits while the alarm is in ALARM
    traffic.until(lambda: traffic.statuses().count("IN_PROGRESS") >= 2)
    assert traffic.weights() == (50, 50)
    held = traffic.record(deployment_id)
    assert held.phase is not None and held.phase.value == "waiting_for_alarm"
    assert f"alarm {ALARM} is in ALARM: 5xx above 10" in held.gate["reason"]
    # WHEN the alarm is OK again THEN the deployment finishes
    set_alarm(cloudwatch, ALARM, "OK")
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    assert [h["event"] for h in traffic.record(deployment_id).release_holds] == ["held", "released"]


def test_lifecycle_hook_held_past_max_wait_rolls_back(traffic: Traffic) -> None:
    # GIVEN a window that closes after the first shift, and at most 60 s of waiting for it
    now = traffic.clock[0]
    ssm = traffic.stack.client("ssm")
    edit_registry_entry(ssm, "dev", "api", deploy_windows=[{"hours": _open_hours(now)}], max_gate_wait_seconds=60)
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    # WHEN the step has been held for 61 s (by the hook's clock)
    traffic.clock[0] = now + dt.timedelta(hours=6, seconds=61)
    # THEN the hook answers FAILED and ECS rolls back: production traffic back on blue
    ended = traffic.deployments.wait(arn, timeout=15)
    assert ended.status == "ROLLBACK_SUCCESSFUL"
    assert traffic.statuses()[-1] == "FAILED"
    assert traffic.weights() == (100, 0)
    assert ended.rollback is not None and "returned FAILED" in ended.rollback["reason"]
    record = traffic.record(deployment_id)
    assert [h["event"] for h in record.release_holds] == ["held", "expired"]
    assert "held for 1 min (max_gate_wait_seconds)" in record.release_holds[-1]["reason"]
    assert "max_gate_wait_seconds" in record.gate["reason"]


def _hook_payload(arn: str, described: dict[str, Any]) -> dict[str, Any]:
    return {
        "executionId": "ecs-lambda-forged",
        "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "resourceArn": arn,
        "executionDetails": {
            "serviceArn": described["serviceArn"],
            "targetServiceRevisionArn": described["targetServiceRevision"]["arn"],
            "testTrafficWeights": {},
            "productionTrafficWeights": {},
        },
        "hookDetails": {},
    }


def test_lifecycle_hook_refuses_a_forged_payload_and_writes_nothing(traffic: Traffic) -> None:
    # GIVEN a deployment held at its second shift (the window closed)
    now = traffic.clock[0]
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", deploy_windows=[{"hours": _open_hours(now)}])
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    described = traffic.stack.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])
    real = _hook_payload(arn, described["serviceDeployments"][0])
    before = traffic.record(deployment_id)
    worker = traffic.stack.client("ecs").describe_services(cluster="dev", services=["worker"])["services"][0]
    forged = {
        # this deployment, but claiming another service
        "another service": {
            **real,
            "executionDetails": {**real["executionDetails"], "serviceArn": worker["serviceArn"]},
        },
        # another revision of the same service
        "another revision": {
            **real,
            "executionDetails": {
                **real["executionDetails"],
                "targetServiceRevisionArn": arn.replace("deployment", "revision"),
            },
        },
        # a service deployment ECS has never heard of
        "unknown deployment": {**real, "resourceArn": arn.rsplit("/", 1)[0] + "/0000000000000000000000"},
        "not an ARN": {**real, "resourceArn": "api"},
    }
    for name, payload in forged.items():
        # WHEN someone allowed to invoke the function sends it
        answer = traffic.stack.invoke("lifecycle-hook", payload)
        # THEN it is refused (FAILED, with nothing looked up past the mismatch) and the record is untouched
        assert answer == {"hookStatus": "FAILED"}, name
    after = traffic.record(deployment_id)
    assert (after.release_holds, after.gate, after.phase) == (before.release_holds, before.gate, before.phase)
    # and the real deployment is still held, not rolled back, by the forged answers
    assert traffic.deployments.get(arn).status == "IN_PROGRESS"
    assert traffic.weights() == (50, 50)


def test_lifecycle_hook_refuses_a_deployment_handoff_did_not_make(traffic: Traffic) -> None:
    # GIVEN a service deployment of api whose revision handoff never registered (someone ran UpdateService)
    ecs = traffic.stack.client("ecs")
    base = ecs.describe_task_definition(taskDefinition=ecs_service("api").task_definition)["taskDefinition"]
    keep = ("family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities")
    other = ecs.register_task_definition(**{k: base[k] for k in keep if k in base})["taskDefinition"]
    ecs.update_service(cluster="dev", service="api", taskDefinition=other["taskDefinitionArn"])
    arn = ecs.list_service_deployments(cluster="dev", service="api")["serviceDeployments"][0]["serviceDeploymentArn"]
    # WHEN ECS reaches the first production shift
    ended = traffic.deployments.wait(arn, timeout=15)
    # THEN the hook refused it and ECS rolled it back
    assert traffic.statuses() == ["FAILED"]
    assert ended.status == "ROLLBACK_SUCCESSFUL"
    assert traffic.weights() == (100, 0)


def test_lifecycle_hook_at_another_stage_never_holds(traffic: Traffic) -> None:
    # GIVEN a payload for a stage that shifts no production traffic (a rollback's PRODUCTION_TRAFFIC_SHIFT)
    payload = {"lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT", "resourceArn": "arn:aws:ecs:x", "executionDetails": {}}
    # WHEN the hook is invoked THEN it lets it through without looking anything up
    assert traffic.stack.invoke("lifecycle-hook", payload) == {"hookStatus": "SUCCEEDED"}


def test_lifecycle_hook_not_an_ecs_payload_is_refused(traffic: Traffic) -> None:
    assert traffic.stack.invoke("lifecycle-hook", {"hello": "world"}) == {"hookStatus": "FAILED"}
