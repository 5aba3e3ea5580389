"""`handoff rollback` during a blue/green, linear or canary deployment: the operator API's rollback route
(functions/operator_api) stops the ECS service deployment that runs the deployment's revision with
StopServiceDeployment(ROLLBACK), for a caller the registry entry's override_principals name, as API Gateway's IAM
authorization identifies them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.scenario import edit_registry_entry

from tests.integration.conftest import Stack
from tests.integration.steps import ecs_service, records
from tests.integration.traffic import Traffic, operator_event, traffic_world

ONCALL = "arn:aws:sts::123456789012:assumed-role/oncall/erin"
INTRUDER = "arn:aws:sts::123456789012:assumed-role/developer/mallory"
# Production's second step waits 1000 AWS minutes (5 min here): every test ends the deployment long before, so
# it can act while at 50 % however busy the machine is.
LONG_STEPS = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1000}}


@pytest.fixture
def traffic(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traffic]:
    with traffic_world(stack, monkeypatch, LONG_STEPS) as world:
        edit_registry_entry(stack.client("ssm"), "dev", "api", override_principals=[ONCALL])
        yield world


def rollback(
    stack: Stack, deployment_id: str, caller: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    path = f"/deployments/{deployment_id}/rollback"
    event = operator_event(
        path,
        "/deployments/{deployment_id}/rollback",
        {"deployment_id": deployment_id},
        body or {"reason": "INC-7 5xx"},
        caller,
    )
    answer = stack.invoke("operator-api", event)
    return int(answer["statusCode"]), dict(json.loads(answer["body"]))


def test_operator_rollback_stops_the_service_deployment_and_moves_traffic_back(traffic: Traffic) -> None:
    # GIVEN a LINEAR deployment with half of production on green
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: traffic.weights() == (50, 50))
    # WHEN the on-call operator rolls it back (a body naming some other service deployment is ignored)
    status, said = rollback(traffic.stack, deployment_id, ONCALL, {"reason": "INC-7 5xx", "serviceDeploymentArn": "x"})
    # THEN ECS stopped exactly that deployment and put production and test traffic back on blue
    assert (status, said["stopped"], said["service_deployment"], said["principal"]) == (200, True, arn, ONCALL)
    ended = traffic.deployments.wait(arn, timeout=15)
    assert ended.status == "ROLLBACK_SUCCESSFUL"
    assert ended.rollback is not None and "StopServiceDeployment" in ended.rollback["reason"]
    assert traffic.weights() == (100, 0)
    # and the record says who rolled it back, and why
    notes = traffic.record(deployment_id).notes
    assert len(notes) == 1 and f"rollback by {ONCALL}: INC-7 5xx ({arn} stopped)" in notes[0]


def test_operator_rollback_refuses_a_caller_not_on_call(traffic: Traffic) -> None:
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: traffic.weights() == (50, 50))
    # WHEN someone the registry does not name asks
    status, said = rollback(traffic.stack, deployment_id, INTRUDER)
    # THEN nothing is stopped and the answer says why
    assert (status, said["title"], said["stopped"]) == (403, "Not allowed to roll back", False)
    assert "override_principals" in said["message"]
    assert traffic.deployments.get(arn).status == "IN_PROGRESS"
    assert traffic.record(deployment_id).notes == []


def test_operator_rollback_needs_a_reason(traffic: Traffic) -> None:
    deployment_id, _ = traffic.deploy()
    status, said = rollback(traffic.stack, deployment_id, ONCALL, {"reason": "  "})
    assert (status, said["title"]) == (400, "Reason required")


def test_operator_rollback_of_a_deployment_ecs_no_longer_runs_is_refused(traffic: Traffic) -> None:
    # GIVEN a deployment ECS finished (its record not final yet: the workflow has not looked)
    ecs_service("api").deployment_configuration["linearConfiguration"]["stepBakeTimeInMinutes"] = 0
    deployment_id, arn = traffic.deploy()
    assert traffic.deployments.wait(arn, timeout=15).status == "SUCCESSFUL"
    # WHEN the operator asks to roll it back
    status, said = rollback(traffic.stack, deployment_id, ONCALL)
    # THEN there is nothing to stop (`handoff rollback` deploys an earlier release then)
    assert (status, said["title"], said["stopped"]) == (409, "Not in progress", False)
    assert "nothing to stop" in said["message"]


def test_operator_rollback_of_an_unknown_deployment_is_not_found(traffic: Traffic) -> None:
    status, said = rollback(traffic.stack, "api-nope", ONCALL)
    assert (status, said["title"]) == (404, "Deployment not found")


def test_operator_rollback_after_the_deployment_ended_is_refused(traffic: Traffic) -> None:
    # GIVEN a deployment whose record is final (the workflow finalized it)
    deployment_id, _ = traffic.deploy()
    assert records(traffic.stack).finish(
        deployment_id, Outcome.FAILED, "rolled back by ECS", "2026-12-05T00:00:00.000Z"
    )
    # WHEN the operator asks THEN it is refused, pointing at the rollback that deploys an earlier release
    status, said = rollback(traffic.stack, deployment_id, ONCALL)
    assert (status, said["title"]) == (409, "Not in progress")
    assert said["message"].startswith(f"deployment {deployment_id} ended FAILED; roll back by deploying an earlier")


def test_operator_rollback_replayed_stops_nothing_more(traffic: Traffic) -> None:
    # GIVEN a LINEAR deployment the on-call operator just rolled back
    deployment_id, arn = traffic.deploy()
    traffic.until(lambda: traffic.weights() == (50, 50))
    assert rollback(traffic.stack, deployment_id, ONCALL)[0] == 200
    # WHEN the same request comes again (a retry, a replay), while ECS rolls back and after
    again = rollback(traffic.stack, deployment_id, ONCALL)
    traffic.deployments.wait(arn, timeout=15)
    after = rollback(traffic.stack, deployment_id, ONCALL)
    # THEN neither stops anything (ECS runs no deployment of that revision any more) and the record says it once
    assert [(s, said["stopped"]) for s, said in (again, after)] == [(409, False), (409, False)]
    assert len(traffic.record(deployment_id).notes) == 1
