"""The sweep without AWS: which unfinished records it finalizes (ended executions only, through the same
finalizer as the status event), which it leaves, and that one failure does not stop the others."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.errors import TransientAwsError
from ecs_handoff.logic import sweeper as sweeper_module
from ecs_handoff.logic.sweeper import NEWEST_PER_SERVICE, Sweeper
from ecs_handoff.models import DeploymentRecord, ExecutionStatusDetail, FinalizeResult, Outcome, WorkflowState
from pytest import MonkeyPatch

from tests.samples import REQUEST

MACHINE = "arn:aws:states:ap-northeast-1:123456789012:stateMachine:handoff-dev-deployment"


def record(deployment_id: str, outcome: Outcome = Outcome.IN_PROGRESS) -> DeploymentRecord:
    return DeploymentRecord(
        id=deployment_id, env="dev", service="api", outcome=outcome, started_at="2026-11-26T00:00:00.000Z"
    )


class Records:
    """The deployments table as the sweep and ended_execution_state read it."""

    def __init__(self, *unfinished: DeploymentRecord) -> None:
        self.records = {r.id: r for r in unfinished}
        self.queried: list[tuple[str, int]] = []

    def unfinished(self, service: str, newest: int) -> list[DeploymentRecord]:
        self.queried.append((service, newest))
        return list(self.records.values())

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        return self.records.get(deployment_id)


@pytest.fixture
def executions(monkeypatch: MonkeyPatch) -> dict[str, str]:
    """Step Functions' executions by name -> status (a name missing: no such execution)."""
    statuses: dict[str, str] = {}

    def describe(arn: str, sfn: Any = None) -> ExecutionStatusDetail | None:
        assert arn.startswith(MACHINE.replace(":stateMachine:", ":execution:") + ":"), arn
        name = arn.rsplit(":", 1)[-1]
        if name not in statuses:
            return None
        request = {**REQUEST, "deployment_id": name}
        return ExecutionStatusDetail.model_validate(
            {
                "executionArn": arn,
                "stateMachineArn": MACHINE,
                "name": name,
                "status": statuses[name],
                "input": json.dumps({"request": request}),
            }
        )

    monkeypatch.setattr("ecs_handoff.aws.sfn.describe_execution", describe)
    monkeypatch.setattr(sweeper_module, "list_service_ids", lambda prefix, ssm=None: ["api"])
    return statuses


@pytest.fixture
def finalized(monkeypatch: MonkeyPatch) -> list[WorkflowState]:
    """What the sweep handed to the finalizer; a deployment id listed in `failing` makes it raise."""
    handed: list[WorkflowState] = []

    def finalize(state: WorkflowState, *args: Any, **kwargs: Any) -> FinalizeResult:
        if state.request.deployment_id == "api-broken":
            raise TransientAwsError("publishing the outcome: throttled")
        handed.append(state)
        assert state.ended_outcome is not None
        return state.ended_outcome

    monkeypatch.setattr(sweeper_module, "finalize", finalize)
    return handed


def sweep(records: Records) -> Any:
    return Sweeper("/handoff/dev/services", MACHINE, records, None, None, "arn:topic").sweep()  # type: ignore[arg-type]


def test_an_ended_execution_is_finalized_as_its_status_event_would_be(
    executions: dict[str, str], finalized: list[WorkflowState]
) -> None:
    # GIVEN an unfinished record whose execution Step Functions says timed out
    executions["api-v1"] = "TIMED_OUT"
    records = Records(record("api-v1"))
    # WHEN the sweep runs
    result = sweep(records)
    # THEN the finalizer got the state the status event would have given it
    [state] = finalized
    assert state.request.deployment_id == "api-v1" and state.ended_outcome is not None
    assert state.ended_outcome.outcome is Outcome.FAILED
    assert state.ended_outcome.reason == "the workflow timed out before it recorded an outcome; nothing was deployed"
    assert [(s.deployment_id, s.execution_status, s.recorded) for s in result.finalized] == [
        ("api-v1", "TIMED_OUT", True)
    ]
    assert records.queried == [("api", NEWEST_PER_SERVICE)]


@pytest.mark.parametrize("status", ["RUNNING", "PENDING_REDRIVE"])
def test_a_running_execution_is_left_alone(
    status: str, executions: dict[str, str], finalized: list[WorkflowState]
) -> None:
    executions["api-v1"] = status
    result = sweep(Records(record("api-v1")))
    assert finalized == [] and result.running == 1 and result.finalized == []


def test_a_record_whose_execution_never_started_is_left_alone(
    executions: dict[str, str], finalized: list[WorkflowState]
) -> None:
    result = sweep(Records(record("api-v1")))
    assert finalized == [] and result.not_started == ["api-v1"]


def test_one_deployment_the_sweep_cannot_finalize_does_not_stop_the_others(
    executions: dict[str, str], finalized: list[WorkflowState]
) -> None:
    # GIVEN two ended executions, the first of which the finalizer fails on
    executions.update({"api-broken": "ABORTED", "api-v1": "FAILED"})
    # WHEN the sweep runs
    result = sweep(Records(record("api-broken"), record("api-v1")))
    # THEN the second is finalized, and the first is named with its error
    assert [s.request.deployment_id for s in finalized] == ["api-v1"]
    assert result.failed == {"api-broken": "TransientAwsError: publishing the outcome: throttled"}
