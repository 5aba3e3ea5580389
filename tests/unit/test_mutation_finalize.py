"""The delivery metrics finalize publishes for each deployment, without AWS: the outcome counted, upload to
verdict, time waiting for approval and held by release controls (only when it did), and whether its rollout was
rolled back (only for a deployment that changed the service)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from ecs_handoff.logic import finalize as finalize_module
from ecs_handoff.logic.finalize import delivery_measures, publish_delivery_metrics
from ecs_handoff.models import DeploymentRecord, Outcome, WorkflowState

from tests.helpers import LogRecorder
from tests.samples import REQUEST

FINISHED = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)
SOURCE = {"bucket": "b", "key": "api/imagedefinitions.json.zip", "object_version": "v1", "sequencer": "01"}


def record(**fields: Any) -> DeploymentRecord:
    values: dict[str, Any] = {"id": "api-v1", "env": "dev", "service": "api", "outcome": "IN_PROGRESS",
                              "started_at": "2026-11-26T00:10:00.000Z", **fields}  # fmt: skip
    return DeploymentRecord.model_validate(values)


def measures(rec: DeploymentRecord, outcome: Outcome = Outcome.SUCCEEDED, **state: Any) -> dict[str, Any]:
    return delivery_measures(WorkflowState.model_validate({"request": REQUEST, **state}), rec, outcome, FINISHED)


def test_a_deployment_that_never_waited_counts_its_outcome_and_upload_to_verdict_only() -> None:
    assert measures(record(), Outcome.REJECTED) == {
        "DeploymentsRejected": (MetricUnit.Count, 1.0),
        "UploadToVerdictSeconds": (MetricUnit.Seconds, 3000.0),
    }


def test_upload_to_verdict_starts_at_the_upload_event_when_the_record_has_it() -> None:
    rec = record(source={**SOURCE, "event_time": "2026-11-26T00:00:00Z"})
    assert measures(rec)["UploadToVerdictSeconds"] == (MetricUnit.Seconds, 3600.0)
    # AND without an event time, at the record's start; never negative
    assert measures(record(source=SOURCE))["UploadToVerdictSeconds"] == (MetricUnit.Seconds, 3000.0)
    late = record(started_at="2026-11-26T02:00:00.000Z")
    assert measures(late)["UploadToVerdictSeconds"] == (MetricUnit.Seconds, 0.0)


@pytest.mark.parametrize(
    ("timeline", "approval", "held"),
    [
        # approval asked at 00:10, decided (LOCKED) at 00:25: 15 minutes
        ({"awaiting_approval": "2026-11-26T00:10:00.000Z", "locked": "2026-11-26T00:25:00.000Z"}, 900.0, None),
        # still waiting when it ended at 01:00
        ({"awaiting_approval": "2026-11-26T00:30:00.000Z"}, 1800.0, None),
        # held by a window, then an alarm, until GATES_OPEN: from the first hold to the first other phase after it
        ({"waiting_for_window": "2026-11-26T00:20:00.000Z", "waiting_for_alarm": "2026-11-26T00:30:00.000Z",
          "gates_open": "2026-11-26T00:50:00.000Z", "rolling_out": "2026-11-26T00:55:00.000Z"}, None, 1800.0),
        # a phase reached before the hold does not end it
        ({"locked": "2026-11-26T00:05:00.000Z", "waiting_for_window": "2026-11-26T00:20:00.000Z",
          "deploy_now": "2026-11-26T00:21:00.000Z"}, None, 60.0),
        # both
        ({"awaiting_approval": "2026-11-26T00:00:00.000Z", "waiting_for_window": "2026-11-26T00:40:00.000Z",
          "gates_open": "2026-11-26T00:45:00.000Z"}, 2400.0, 300.0),
        # a clock that went backwards counts nothing, not a negative time
        ({"waiting_for_alarm": "2026-11-26T02:00:00.000Z"}, None, 0.0),
    ],
)  # fmt: skip
def test_time_waiting_for_approval_and_held_by_release_controls(
    timeline: dict[str, str], approval: float | None, held: float | None
) -> None:
    found = measures(record(timeline=timeline))
    assert found.get("ApprovalWaitSeconds") == (None if approval is None else (MetricUnit.Seconds, approval))
    assert found.get("HeldSeconds") == (None if held is None else (MetricUnit.Seconds, held))


@pytest.mark.parametrize(
    ("rollback", "rolled_back"),
    [(None, 0.0), ({"action": "ROLLED_BACK"}, 1.0), ({"action": "ALREADY_ROLLED_BACK"}, 1.0),
     ({"action": "MOVED_ON"}, 0.0), ({"action": "NOTHING_DEPLOYED"}, 0.0)],
)  # fmt: skip
def test_a_deployment_that_changed_the_service_says_whether_it_was_rolled_back(
    rollback: dict[str, str] | None, rolled_back: float
) -> None:
    rec = record(ecs_deployment_id="ecs-svc/1")
    found = measures(rec, Outcome.FAILED, **({"rollback": rollback} if rollback else {}))
    assert found["Rollbacks"] == (MetricUnit.Count, rolled_back)
    assert found["DeploymentsFailed"] == (MetricUnit.Count, 1.0)


def test_a_deployment_that_never_changed_the_service_has_no_rollback_measure() -> None:
    assert "Rollbacks" not in measures(record(), Outcome.FAILED, rollback={"action": "NOTHING_DEPLOYED"})


def test_the_measures_are_published_as_one_metric_line_with_env_and_the_deployed_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    publish_delivery_metrics(
        record(env="prod"),
        {"DeploymentsSucceeded": (MetricUnit.Count, 1.0), "HeldSeconds": (MetricUnit.Seconds, 42.0)},
    )
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if text.strip()]
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "handoff"
    assert sorted(directive["Dimensions"][0]) == ["env", "service"]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {"DeploymentsSucceeded": "Count",
                                                                    "HeldSeconds": "Seconds"}  # fmt: skip
    shown = (line["env"], line["service"], line["DeploymentsSucceeded"], line["HeldSeconds"])
    assert shown == ("prod", "api", [1.0], [42.0])


def test_a_measure_cloudwatch_would_refuse_is_logged_and_the_outcome_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    log = LogRecorder()
    monkeypatch.setattr(finalize_module, "logger", log)
    publish_delivery_metrics(record(), {"HeldSeconds": (MetricUnit.Seconds, "soon")})  # type: ignore[dict-item]
    ((level, message, fields),) = log.lines
    assert (level, message) == ("warning", "could not publish the delivery metrics") and fields["error"]
