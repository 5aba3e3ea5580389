"""The delivery dashboard: template.yaml's AWS::CloudWatch::Dashboard exists once the stack is provisioned, its
body is the JSON CloudWatch takes, and its widgets draw exactly the metrics finalize publishes for each deployment."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from ecs_handoff.logic.finalize import DELIVERY_METRICS, delivery_measures, publish_delivery_metrics
from ecs_handoff.models import DeploymentRecord, Outcome, Phase, WorkflowState, iso, parse_iso

from tests.integration.conftest import Stack
from tests.samples import REQUEST

SEARCHED = re.compile(r"SEARCH\('\{handoff,env,service\} env=\"(?P<env>[^\"]+)\" MetricName=\"(?P<name>\w+)\"'")
STARTED = "2026-12-05T10:00:00.000Z"


def dashboard(stack: Stack) -> dict[str, Any]:
    answer = stack.client("cloudwatch").get_dashboard(DashboardName=stack.outputs["DashboardName"])
    body: dict[str, Any] = json.loads(answer["DashboardBody"])
    return body


def drawn(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(env, metric name) of every SEARCH in the dashboard's metric widgets."""
    found = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []) if widget["type"] == "metric" else []:
            for item in row:
                found += [(m["env"], m["name"]) for m in SEARCHED.finditer(item.get("expression", ""))]
    return found


def test_dashboard_exists_after_provisioning_named_per_environment(stack: Stack) -> None:
    # GIVEN the dev stack as provisioned from template.yaml  WHEN its dashboard is read back (GetDashboard)
    answer = stack.client("cloudwatch").get_dashboard(DashboardName=stack.outputs["DashboardName"])
    # THEN it is the environment's, and its body is a JSON object of widgets in this region
    assert answer["DashboardName"] == "handoff-dev"
    body = json.loads(answer["DashboardBody"])
    assert body["widgets"] and all(
        {"type", "x", "y", "width", "height", "properties"} <= set(w) for w in body["widgets"]
    )
    assert {w["properties"]["region"] for w in body["widgets"] if w["type"] == "metric"} == {"ap-northeast-1"}
    assert "${" not in answer["DashboardBody"]  # every Fn::Sub variable was filled in


def test_dashboard_draws_every_metric_finalize_publishes_and_no_other(stack: Stack) -> None:
    # GIVEN the provisioned dashboard  WHEN its widgets' searches are read
    searches = drawn(dashboard(stack))
    # THEN each searches this environment's metrics, and together they draw exactly what finalize publishes
    assert {env for env, _ in searches} == {"dev"}
    assert {name for _, name in searches} == set(DELIVERY_METRICS)


def test_dashboard_widgets_cover_outcomes_verdict_time_approval_rollbacks_and_held_time(stack: Stack) -> None:
    titles = [w["properties"].get("title", "") for w in dashboard(stack)["widgets"]]
    for what in ("by outcome", "Upload to verdict", "Approval wait", "Rollbacks", "Held"):
        assert any(what in title for title in titles), (what, titles)


def record(**timeline: timedelta) -> DeploymentRecord:
    """A deployment uploaded at STARTED that reached each phase the given time after it."""
    return DeploymentRecord(
        id="api-00000001",
        env="dev",
        service="api",
        outcome=Outcome.FAILED,
        started_at=STARTED,
        ecs_deployment_id="ecs-svc/1",
        timeline={phase: iso(parse_iso(STARTED) + after) for phase, after in timeline.items()},
    )


def test_delivery_measures_time_the_approval_wait_the_hold_and_count_the_rollback() -> None:
    # GIVEN a deployment that waited 10 min for approval, was held 5 min by its window, was rolled back,
    # and was finalized 30 min after its upload
    minutes = timedelta(minutes=1)
    deployment = record(
        **{
            Phase.QUEUED.value: 0 * minutes,
            Phase.AWAITING_APPROVAL.value: 1 * minutes,
            Phase.WAITING_FOR_WINDOW.value: 11 * minutes,
            Phase.GATES_OPEN.value: 16 * minutes,
            Phase.ROLLED_BACK.value: 25 * minutes,
        }
    )
    rolled_back = WorkflowState.model_validate({"request": REQUEST, "rollback": {"action": "ROLLED_BACK"}})
    # WHEN its measures are taken
    measures = delivery_measures(rolled_back, deployment, Outcome.FAILED, parse_iso(STARTED) + 30 * minutes)
    # THEN each is one of the metrics the dashboard draws, with the times the timeline shows
    assert set(measures) <= set(DELIVERY_METRICS)
    assert {name: value for name, (_, value) in measures.items()} == {
        "DeploymentsFailed": 1.0,
        "UploadToVerdictSeconds": 1800.0,
        "ApprovalWaitSeconds": 600.0,
        "HeldSeconds": 300.0,
        "Rollbacks": 1.0,
    }


def test_delivery_measures_leave_out_waits_that_did_not_happen() -> None:
    # GIVEN a deployment that went straight through and succeeded
    deployment = record(**{Phase.QUEUED.value: timedelta(0), Phase.DEPLOYING.value: timedelta(seconds=5)})
    plain = WorkflowState.model_validate({"request": REQUEST})
    # WHEN its measures are taken
    measures = delivery_measures(plain, deployment, Outcome.SUCCEEDED, parse_iso(STARTED) + timedelta(minutes=2))
    # THEN it counts as SUCCEEDED, not rolled back, and has no approval wait or held time
    assert {name: value for name, (_, value) in measures.items()} == {
        "DeploymentsSucceeded": 1.0,
        "UploadToVerdictSeconds": 120.0,
        "Rollbacks": 0.0,
    }


def test_delivery_metrics_are_written_with_dimensions_env_and_service(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN metrics on (the embedded AWS turns them off)
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    deployment = record(**{Phase.QUEUED.value: timedelta(0)})
    # WHEN one deployment's measures are published
    plain = WorkflowState.model_validate({"request": REQUEST})
    publish_delivery_metrics(deployment, delivery_measures(plain, deployment, Outcome.SUCCEEDED, parse_iso(STARTED)))
    # THEN one embedded metric format line carries them in namespace handoff, dimensions env and service
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "handoff" and directive["Dimensions"] == [["env", "service"]]
    assert (line["env"], line["service"], line["DeploymentsSucceeded"]) == ("dev", "api", [1.0])
