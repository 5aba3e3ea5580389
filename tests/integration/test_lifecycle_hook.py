"""handoff's lifecycle hook (functions/lifecycle_hook) invoked by the embedded ECS before each production traffic
shift of a LINEAR deployment of the dev stack's `api` service: the real deploy step updates the service, the
gap's engine (gaps/ecs_deployments.py) runs the deployment and calls the real hook function through the runner.
The hook's clock is the test's, so a deployment window can close between two steps."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.aws import traffic_hooks
from ecs_handoff.logic import deploy as deploy_step
from ecs_handoff_embedded.scenario import edit_registry_entry, set_alarm

from tests.integration.conftest import Stack
from tests.integration.steps import ARN_PREFIX, NEW, ecs_service, start, watch
from tests.integration.traffic import Traffic, open_hours, operator_event, traffic_world

ALARM = "dev-api-5xx"


@pytest.fixture
def traffic(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    with traffic_world(stack, monkeypatch) as world:
        yield world


def test_lifecycle_hook_window_closing_between_linear_steps_holds_the_next_shift(traffic: Traffic) -> None:
    # GIVEN a window open now, which closes right after the first production shift (50 %)
    now = traffic.clock[0]
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", deploy_windows=[{"hours": open_hours(now)}])
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
    edit_registry_entry(ssm, "dev", "api", deploy_windows=[{"hours": open_hours(now)}], max_gate_wait_seconds=60)
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


def test_lifecycle_hook_a_step_held_past_max_wait_is_no_longer_held_for_deploy_now(traffic: Traffic) -> None:
    # GIVEN a step held past max_gate_wait_seconds: the hook answered FAILED, and ECS calls it no more
    now = traffic.clock[0]
    oncall = "arn:aws:sts::123456789012:assumed-role/oncall/erin"
    ssm = traffic.stack.client("ssm")
    edit_registry_entry(
        ssm, "dev", "api", deploy_windows=[{"hours": open_hours(now)}], max_gate_wait_seconds=60,
        override_principals=[oncall],
    )  # fmt: skip
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    traffic.clock[0] = now + dt.timedelta(hours=6, seconds=61)
    assert traffic.deployments.wait(arn, timeout=15).status == "ROLLBACK_SUCCESSFUL"
    # THEN the record no longer says held, and deploy-now answers that nothing is held instead of "recorded"
    record = traffic.record(deployment_id)
    assert record.phase is not None and not record.phase.held, record.phase
    path = f"/deployments/{deployment_id}/deploy-now"
    event = operator_event(
        path, "/deployments/{deployment_id}/deploy-now", {"deployment_id": deployment_id}, {"reason": "INC-4"}, oncall
    )
    answer = traffic.stack.invoke("operator-api", event)
    assert answer["statusCode"] == 409, answer
    assert "Not held" in answer["body"]


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
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", deploy_windows=[{"hours": open_hours(now)}])
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


def test_lifecycle_hook_deploy_now_releases_a_held_shift(traffic: Traffic) -> None:
    # GIVEN a deployment held at its second shift by a closed window, and an on-call role allowed to override
    now = traffic.clock[0]
    oncall = "arn:aws:sts::123456789012:assumed-role/oncall/erin"
    ssm = traffic.stack.client("ssm")
    edit_registry_entry(ssm, "dev", "api", deploy_windows=[{"hours": open_hours(now)}], override_principals=[oncall])
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    # WHEN the on-call person uses deploy-now through the operator API
    path = f"/deployments/{deployment_id}/deploy-now"
    event = operator_event(
        path, "/deployments/{deployment_id}/deploy-now", {"deployment_id": deployment_id}, {"reason": "INC-3"}, oncall
    )
    answer = traffic.stack.invoke("operator-api", event)
    assert answer["statusCode"] == 200, answer
    # THEN the next call lets the shift go on, the window still closed, and the record says who let it
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    record = traffic.record(deployment_id)
    assert [h["event"] for h in record.release_holds] == ["held", "overridden"]
    assert record.release_holds[-1]["reason"] == f"deploy-now by {oncall}: INC-3"
    assert record.override is not None and record.override["principal"] == oncall


def test_lifecycle_hook_lets_handoffs_own_rollback_through(traffic: Traffic) -> None:
    # GIVEN a deployment ECS completed, then rolled back by handoff's rollback step (a bake alarm: UpdateService
    # back to the revision the service ran before), while the same alarm blocks new releases
    cloudwatch = traffic.stack.client("cloudwatch")
    set_alarm(cloudwatch, ALARM, "OK")
    edit_registry_entry(traffic.stack.client("ssm"), "dev", "api", blocking_alarms=[ALARM])
    previous = ecs_service("api").task_definition
    deployment_id, arn = traffic.deploy()
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    set_alarm(cloudwatch, ALARM, "ALARM", "5xx above 10")
    execution = traffic.stack.client("stepfunctions").describe_execution(executionArn=ARN_PREFIX + deployment_id)
    rolled = traffic.stack.invoke("rollback", {"request": json.loads(execution["input"])["request"]})
    assert rolled["action"] == "ROLLED_BACK", rolled
    listed = traffic.stack.client("ecs").list_service_deployments(cluster="dev", service="api")
    rollback_arn = next(
        d["serviceDeploymentArn"] for d in listed["serviceDeployments"] if d["serviceDeploymentArn"] != arn
    )
    # WHEN ECS reaches the rollback's production traffic shifts
    ended = traffic.deployments.wait(rollback_arn, timeout=15)
    # THEN the hook lets them through (neither refused as a deployment handoff did not make, nor held by the
    # alarm that caused the rollback): the service is back on the revision it ran before
    assert ended.status == "SUCCESSFUL", traffic.answers[-1]
    assert ecs_service("api").task_definition == previous


def test_lifecycle_hook_says_a_step_expired_once_however_often_it_is_invoked(
    traffic: Traffic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a step held past its maximum wait, ECS answered FAILED, while DescribeServiceDeployments still shows
    # the deployment IN_PROGRESS at the shift (eventually consistent)
    now = traffic.clock[0]
    ssm = traffic.stack.client("ssm")
    edit_registry_entry(ssm, "dev", "api", deploy_windows=[{"hours": open_hours(now)}], max_gate_wait_seconds=60)
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    held = traffic.stack.client("ecs").describe_service_deployments(serviceDeploymentArns=[arn])
    stale = dict(held["serviceDeployments"][0])
    monkeypatch.setattr(traffic_hooks, "describe_service_deployment", lambda *_: stale)
    traffic.clock[0] = now + dt.timedelta(hours=6, seconds=61)
    traffic.until(lambda: traffic.statuses()[-1] == "FAILED")
    # WHEN someone allowed to invoke the function sends ECS's payload again and again
    for _ in range(5):
        assert traffic.stack.invoke("lifecycle-hook", _hook_payload(arn, stale)) == {"hookStatus": "FAILED"}
    # THEN the record says the step expired once: the calls cannot grow it (an item holds at most 400 KB)
    assert [h["event"] for h in traffic.record(deployment_id).release_holds] == ["held", "expired"]


def test_lifecycle_hook_called_before_the_deploy_step_recorded_asks_again_and_holds_nothing(
    traffic: Traffic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN ECS at the first production shift while the deploy step, past its UpdateService, has not written the
    # record yet (on AWS scale-up makes this rare; the traffic world's engine waits for the deploy step)
    early: list[tuple[Any, list[Any], str | None]] = []
    record_or_undo = deploy_step._record_or_undo

    def call_the_hook_first(records: Any, me: str, *args: Any, **kwargs: Any) -> None:
        ecs = traffic.stack.client("ecs")
        arn = ecs.list_service_deployments(cluster="dev", service="api")["serviceDeployments"][0]
        arn = arn["serviceDeploymentArn"]
        traffic.until(lambda: traffic.deployments.get(arn).lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT")
        described = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
        # WHEN the hook is called with ECS's payload then
        answer = traffic.stack.invoke("lifecycle-hook", _hook_payload(arn, described))
        unrecorded = records.get(me)
        early.append((answer, unrecorded.release_holds, unrecorded.new_task_definition))
        record_or_undo(records, me, *args, **kwargs)

    monkeypatch.setattr(deploy_step, "_record_or_undo", call_the_hook_first)
    deployment_id, arn = traffic.deploy()
    # THEN it asks ECS to call again shortly and writes no hold; the deployment then goes on unheld
    assert early == [({"hookStatus": "IN_PROGRESS", "callBackDelay": 5}, [], None)]
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    assert traffic.statuses() == ["SUCCEEDED", "SUCCEEDED"]
    assert traffic.record(deployment_id).release_holds == []


def test_lifecycle_hook_a_rollout_look_leaves_a_held_shift_held(traffic: Traffic) -> None:
    # GIVEN a deployment whose second shift the hook holds (a closed window; ECS calls again in an hour), and an
    # on-call role allowed to override
    now = traffic.clock[0]
    oncall = "arn:aws:sts::123456789012:assumed-role/oncall/erin"
    edit_registry_entry(
        traffic.stack.client("ssm"),
        "dev",
        "api",
        deploy_windows=[{"hours": open_hours(now)}],
        override_principals=[oncall],
        gate_poll_seconds=3600,
    )
    traffic.after_first_shift.append(lambda: traffic.clock.__setitem__(0, now + dt.timedelta(hours=6)))
    state = start(traffic.stack, NEW)
    deployed = traffic.stack.invoke("deploy", {"request": state["request"]})
    deployment_id = state["request"]["deployment_id"]
    traffic.until(lambda: "IN_PROGRESS" in traffic.statuses())
    traffic.until(lambda: str(traffic.record(deployment_id).phase) == "waiting_for_window")
    # WHEN the workflow's rollout look runs meanwhile (every rollout_check_seconds while ECS deploys)
    assert watch(traffic.stack, state, deployed)["state"] == "IN_PROGRESS"
    # THEN the record still says what holds the shift, and deploy-now (which needs a held deployment) takes
    assert str(traffic.record(deployment_id).phase) == "waiting_for_window"
    path = f"/deployments/{deployment_id}/deploy-now"
    event = operator_event(
        path, "/deployments/{deployment_id}/deploy-now", {"deployment_id": deployment_id}, {"reason": "INC-4"}, oncall
    )
    answer = traffic.stack.invoke("operator-api", event)
    assert answer["statusCode"] == 200, answer
