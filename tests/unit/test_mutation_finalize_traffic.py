"""Finalize's outcomes where `make mutation` found them unpinned, without AWS: a deployment whose approvers decided
before production traffic (what the reason says served which traffic, and that ECS's verdict decides it), a step
at the PAUSE hook that failed, refusals before anything changed, the delivery metrics measured once and by the
finalizer that recorded the outcome, old revisions checked against the finalizer's registry, and status events
for executions Step Functions does not show ended (a forged event, or a redriven execution) logged as ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from ecs_handoff.errors import TransientAwsError
from ecs_handoff.logic import finalize as finalize_module
from ecs_handoff.logic.finalize import (
    decide,
    delivery_measures,
    ended_execution_state,
    finalize,
    publish_delivery_metrics,
    with_input,
)
from ecs_handoff.models import DeploymentRecord, FinalizeResult, Outcome, WorkflowState

from tests.helpers import LogRecorder
from tests.samples import REQUEST
from tests.unit.finalize_world import (
    ALREADY,
    BG_ROLLED_BACK,
    DEPLOYED,
    FAILED,
    ROLLED_BACK,
    TD,
    Executions,
    Lock,
    Records,
    change,
    error,
    state,
)

REJECTED_BY_BOB = {"Error": "ApprovalRejected", "Cause": "rejected by bob: no"}
# WatchRollout's verdict while ECS holds green at its PAUSE hook (what it saw before the approvers were asked)
PAUSED = {"state": "PAUSED", "reason": "ECS holds the BLUE_GREEN deployment x at its PAUSE hook",
          "service_deployment_arn": "s", "hook_id": "h"}  # fmt: skip
SUCCESSFUL = {"state": "COMPLETED", "reason": "ECS's BLUE_GREEN deployment x is SUCCESSFUL",
              "service_deployment_arn": "s", "decided_by": "event"}  # fmt: skip
TEST_LISTENER_ONLY = "production traffic never left the running revision: the new one served only the test listener"
EXECUTION = "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:api-v1"


def reason(**parts: Any) -> tuple[Outcome, str]:
    result = decide(state(**parts))
    return result.outcome, result.reason


# --- refused before anything changed -----------------------------------------------------------------------


def test_a_deploy_step_refusal_fails_and_says_nothing_was_deployed() -> None:
    assert reason(error=error("DeploymentRefused", "the registry entry changed since the upload")) == (
        Outcome.FAILED,
        "the deploy step refused it, nothing was deployed: the registry entry changed since the upload",
    )


def test_a_refusal_before_approval_was_asked_fails_and_says_nothing_was_deployed() -> None:
    assert reason(approval_error=error("DeploymentRefused", "no approver is subscribed")) == (
        Outcome.FAILED,
        "refused before approval was asked, nothing was deployed: no approver is subscribed",
    )


def test_an_error_without_a_name_is_called_an_unexpected_unnamed_error() -> None:
    assert reason(error={"Error": "", "Cause": "boom"}) == (
        Outcome.FAILED,
        "an unexpected error (unnamed) before the service was changed: boom",
    )


# --- approval before production traffic: green was deployed, on the test listener ---------------------------


def test_traffic_approval_refused_before_it_was_asked_no_longer_says_nothing_was_deployed() -> None:
    # GIVEN green deployed and held at the PAUSE hook, and the approval step refusing to ask; ECS rolled back
    found = reason(deploy=DEPLOYED, approval_error=error("DeploymentRefused", "no approver is subscribed"),
                   rollout=BG_ROLLED_BACK, rollback=ALREADY)  # fmt: skip
    # THEN the refusal is told without "nothing was deployed": green served the test listener
    assert found == (
        Outcome.FAILED,
        f"refused before approval was asked: no approver is subscribed; {TEST_LISTENER_ONLY} "
        "(ECS rolled back the BLUE_GREEN deployment: x); the service is back on dev-api:2",
    )


def test_traffic_approval_refused_by_the_artifact_check_is_failed_not_invalid() -> None:
    # GIVEN the approval step refusing the artifact after green was deployed (INVALID means nothing changed)
    found = reason(deploy=DEPLOYED, approval_error=error("ArtifactRejected", "the alarm x does not exist"),
                   rollout=BG_ROLLED_BACK, rollback=ALREADY)  # fmt: skip
    # THEN it is FAILED: the service was changed
    assert found == (
        Outcome.FAILED,
        f"the alarm x does not exist; {TEST_LISTENER_ONLY} (ECS rolled back the BLUE_GREEN deployment: x); "
        "the service is back on dev-api:2",
    )


def test_traffic_approval_rejected_with_no_ecs_verdict_names_none() -> None:
    # GIVEN a rejection, ECS last seen holding green at its hook, and no step at the hook that failed
    found = reason(deploy=DEPLOYED, approval_error=REJECTED_BY_BOB, rollout=PAUSED)
    # THEN the reason says what green served, and claims no verdict from ECS
    assert found == (Outcome.REJECTED, f"rejected by bob: no; {TEST_LISTENER_ONLY}")


def test_traffic_approval_rejected_after_ecs_was_let_past_its_hook_says_production_moved() -> None:
    # GIVEN a rejection, but ECS let past its PAUSE hook outside handoff (the console, say) and SUCCESSFUL
    found = reason(deploy=DEPLOYED, approval_error=REJECTED_BY_BOB, rollout=SUCCESSFUL)
    # THEN the record keeps the approvers' outcome and says the new revision serves production, and how to undo it
    assert found == (
        Outcome.REJECTED,
        "rejected by bob: no; but ECS had already been let past its PAUSE hook outside handoff and finished: the "
        "new revision serves production traffic (ECS's BLUE_GREEN deployment x is SUCCESSFUL); upload the previous "
        "build to put it back",
    )


def test_traffic_not_released_for_an_aws_error_says_the_error_in_words_and_no_ecs_verdict() -> None:
    # GIVEN approved, but both releasing and holding production traffic failed at the hook (Hold's Catch: Finalize)
    found = reason(deploy=DEPLOYED, approval={"approval_id": "a", "approved_by": ["alice"]}, rollout=PAUSED,
                   traffic_error=error("TransientAwsError", "throttled"))  # fmt: skip
    # THEN the error is said in words, and ECS's hold is not passed off as a verdict
    assert found == (
        Outcome.FAILED,
        "production traffic was not released (AWS kept failing (throttled or unavailable) after retries: throttled)",
    )


def test_traffic_not_released_by_handoff_but_finished_by_ecs_says_the_new_revision_serves_production() -> None:
    # GIVEN the traffic step failed (its ContinueServiceDeployment went through, then it died; or ECS was let past
    # its hook outside handoff), the hold could stop nothing, and ECS finished the deployment
    found = reason(deploy=DEPLOYED, approval={"approval_id": "a", "approved_by": ["alice"]}, rollout=SUCCESSFUL,
                   traffic_error=error("TransientAwsError", "throttled"))  # fmt: skip
    # THEN the record does not deny a release that happened: FAILED (handoff did not release it as asked), saying
    # the new revision serves production traffic and how to put the previous one back
    assert found == (
        Outcome.FAILED,
        "production traffic was not released by handoff (AWS kept failing (throttled or unavailable) after retries: "
        "throttled); but ECS finished the deployment: the new revision serves production traffic (ECS's BLUE_GREEN "
        "deployment x is SUCCESSFUL); upload the previous build to put it back",
    )


BAKE_ALARM = {"status": "ALARM", "reason": "alarm api-5xx went into ALARM during the bake"}


def test_a_release_ecs_finished_then_rolled_back_after_its_bake_says_so_not_to_upload_the_previous_build() -> None:
    # GIVEN the release failed, ECS finished the deployment, then the bake saw an alarm and handoff rolled back
    found = reason(deploy=DEPLOYED, approval={"approval_id": "a", "approved_by": ["alice"]}, rollout=SUCCESSFUL,
                   traffic_error=error("TransientAwsError", "throttled"), bake=BAKE_ALARM,
                   rollback=ROLLED_BACK)  # fmt: skip
    # THEN the record says what ECS did, why the bake failed and what the rollback did: nothing left to undo by hand
    assert found == (
        Outcome.FAILED,
        "production traffic was not released by handoff (AWS kept failing (throttled or unavailable) after retries: "
        "throttled); but ECS finished the deployment (ECS's BLUE_GREEN deployment x is SUCCESSFUL); alarm api-5xx "
        "went into ALARM during the bake; handoff rolled the service back to dev-api:2",
    )


def test_a_rejection_ecs_overtook_then_rolled_back_after_its_bake_says_so_not_to_upload_the_previous_build() -> None:
    # GIVEN rejected, but ECS had been let past its hook outside handoff and finished; the bake's alarm rolled back
    found = reason(deploy=DEPLOYED, approval_error=REJECTED_BY_BOB, rollout=SUCCESSFUL, bake=BAKE_ALARM,
                   rollback=ROLLED_BACK)  # fmt: skip
    assert found == (
        Outcome.REJECTED,
        "rejected by bob: no; but ECS had already been let past its PAUSE hook outside handoff and finished (ECS's "
        "BLUE_GREEN deployment x is SUCCESSFUL); alarm api-5xx went into ALARM during the bake; handoff rolled the "
        "service back to dev-api:2",
    )


@pytest.mark.parametrize("bake", [None, {"status": "DONE", "reason": "baked 60 s with no alarm"}])
def test_a_release_ecs_finished_then_rolled_back_without_a_bake_alarm_names_only_the_rollback(
    bake: dict[str, str] | None,
) -> None:
    found = reason(deploy=DEPLOYED, approval={"approval_id": "a", "approved_by": ["alice"]}, rollout=SUCCESSFUL,
                   traffic_error=error("TransientAwsError", "throttled"), bake=bake, rollback=ROLLED_BACK)  # fmt: skip
    assert found[1].endswith(
        "but ECS finished the deployment (ECS's BLUE_GREEN deployment x is SUCCESSFUL); handoff rolled the service "
        "back to dev-api:2"
    )


def test_a_release_ecs_finished_whose_rollback_failed_says_to_check_the_service_by_hand() -> None:
    found = reason(deploy=DEPLOYED, approval={"approval_id": "a", "approved_by": ["alice"]}, rollout=SUCCESSFUL,
                   traffic_error=error("TransientAwsError", "throttled"),
                   bake_error=error("TransientAwsError", "cloudwatch down"),
                   rollback_error=error("TransientAwsError", "ecs down"))  # fmt: skip
    assert found[0] is Outcome.FAILED
    assert found[1].endswith(
        "but ECS finished the deployment (ECS's BLUE_GREEN deployment x is SUCCESSFUL); its bake could not be checked "
        "(AWS kept failing (throttled or unavailable) after retries: cloudwatch down); ROLLBACK FAILED (AWS kept "
        "failing (throttled or unavailable) after retries: ecs down), check the service by hand"
    )


# --- an execution that ended without its Finalize step -----------------------------------------------------


def test_an_execution_that_succeeded_without_recording_an_outcome_is_said_to_have_ended() -> None:
    # GIVEN the sweeper's DescribeExecution of a SUCCEEDED execution whose record has no outcome
    ended = ended_execution_state(change("SUCCEEDED"), Records())  # type: ignore[arg-type]
    # THEN it "ended", neither stopped nor failed
    assert ended is not None and ended.ended_outcome is not None
    assert ended.ended_outcome.reason == "the workflow ended before it recorded an outcome; nothing was deployed"


# --- status events Step Functions does not confirm: an operator looks for these when an event changed nothing -----


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr(finalize_module, "logger", recorder)
    return recorder


@pytest.mark.parametrize(("executions", "status"), [(Executions("RUNNING"), "RUNNING"),
                                                    (Executions(exists=False), "NOT_FOUND")])  # fmt: skip
def test_a_status_event_step_functions_does_not_show_ended_is_logged_with_both_statuses(
    log: LogRecorder, executions: Executions, status: str
) -> None:
    # GIVEN an event saying FAILED for an execution that runs (a forged event, or a redrive), or does not exist
    assert with_input(change("FAILED"), executions) is None  # type: ignore[arg-type]
    # THEN the warning names the execution, what Step Functions says, and what the event claimed
    assert log.lines == [
        (
            "warning",
            "status event for an execution Step Functions does not show ended; ignored",
            {"execution_arn": EXECUTION, "status": status, "event_status": "FAILED"},
        )
    ]


# --- finalize(): measured once, pruned against its registry --------------------------------------------------


def metric_lines(out: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded metric format lines among what was written to stdout."""
    lines = [json.loads(text) for text in out.splitlines() if text.startswith("{")]
    return [line for line in lines if "_aws" in line]


def test_delivery_metrics_are_published_by_the_finalizer_that_records_the_outcome_only(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", lambda *a, **k: None)
    # GIVEN a deployment that changed the service and was rolled back
    changed = DeploymentRecord(id="api-v1", env="dev", service="api", outcome=Outcome.IN_PROGRESS,
                               started_at="2026-11-26T00:00:00.000Z", ecs_deployment_id="ecs-svc/1")  # fmt: skip
    records = Records(existing=changed)
    workflow = state(deploy=DEPLOYED, rollout=FAILED, rollback=ROLLED_BACK)
    # WHEN the first finalizer records it
    finalize(workflow, records, Lock(), "arn:topic")  # type: ignore[arg-type]
    # THEN one metric line counts the failure and the rollback
    (line,) = metric_lines(capsys.readouterr().out)
    assert (line["DeploymentsFailed"], line["Rollbacks"]) == ([1.0], [1.0])
    # AND a retry, which finds the outcome recorded, measures nothing again
    finalize(workflow, records, Lock(), "arn:topic")  # type: ignore[arg-type]
    assert metric_lines(capsys.readouterr().out) == []


def test_old_revisions_are_checked_against_the_registry_the_finalizer_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", lambda *a, **k: None)
    registries: list[str | None] = []
    monkeypatch.setattr(finalize_module, "prune_old_revisions", lambda *a, **k: registries.append(k["registry_prefix"]))
    workflow = state(deploy=DEPLOYED, rollout={"state": "COMPLETED"})
    finalize(workflow, Records(), Lock(), "arn:topic", registry_prefix="/handoff/dev/services")  # type: ignore[arg-type]
    assert registries == ["/handoff/dev/services"]


def test_a_measure_cloudwatch_would_refuse_is_logged_with_the_value_refused(log: LogRecorder) -> None:
    record = DeploymentRecord(id="api-v1", env="dev", service="api", outcome=Outcome.FAILED,
                              started_at="2026-11-26T00:00:00.000Z")  # fmt: skip
    publish_delivery_metrics(record, {"HeldSeconds": (MetricUnit.Seconds, "soon")})  # type: ignore[dict-item]
    assert log.lines == [("warning", "could not publish the delivery metrics", {"error": "soon is not a valid number"})]


def test_a_phase_reached_the_same_instant_a_hold_began_does_not_end_it() -> None:
    # GIVEN a lock taken and a window hold begun in the same millisecond, and the window opening 30 minutes later
    timeline = {"locked": "2026-11-26T00:20:00.000Z", "waiting_for_window": "2026-11-26T00:20:00.000Z",
                "gates_open": "2026-11-26T00:50:00.000Z"}  # fmt: skip
    record = DeploymentRecord(id="api-v1", env="dev", service="api", outcome=Outcome.SUCCEEDED,
                              started_at="2026-11-26T00:00:00.000Z", timeline=timeline)  # fmt: skip
    finished = datetime(2026, 11, 26, 1, 0, 0, tzinfo=UTC)
    # THEN it was held the 30 minutes, not none
    measures = delivery_measures(state(), record, Outcome.SUCCEEDED, finished)
    assert measures["HeldSeconds"] == (MetricUnit.Seconds, 1800.0)


# --- an execution that ended while ECS held green at the approvers' PAUSE hook --------------------------------

AT_TRAFFIC = {**REQUEST["service"], "approval_required": True, "approvers": ["alice@example.com"],
              "approval_stage": "before_production_traffic", "test_traffic": {"url": "http://green:8080"}}  # fmt: skip
STOPPED = FinalizeResult(outcome=Outcome.FAILED, reason="the workflow was stopped (StopExecution) before it recorded")
HELD = DeploymentRecord(id="api-v1", env="dev", service="api", outcome=Outcome.AWAITING_APPROVAL,
                        started_at="2026-11-26T00:00:00.000Z", new_task_definition=f"{TD}:7",
                        deploy_claimed_at="2026-11-26T00:01:00.000Z")  # fmt: skip


def ended(service: dict[str, Any] | None = None) -> WorkflowState:
    request = {**REQUEST, "service": service or AT_TRAFFIC}
    return WorkflowState.model_validate({"request": request, "ended_outcome": STOPPED.model_dump()})


@pytest.fixture
def rolled_back(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", lambda *a, **k: None)
    calls: list[tuple[Any, ...]] = []

    def roll_back(*args: Any) -> str:
        calls.append(args)
        return "handoff rolled it back there"

    monkeypatch.setattr("ecs_handoff.logic.service_deployments.roll_back_abandoned_hold", roll_back)
    return calls


def test_an_execution_stopped_while_green_was_held_rolls_the_hold_back_and_says_so(
    rolled_back: list[tuple[Any, ...]],
) -> None:
    ecs = object()
    records = Records(existing=HELD)
    result = finalize(ended(), records, Lock(), "arn:topic", ecs_client=ecs)  # type: ignore[arg-type]
    # THEN the revision and the time it was deployed come from the record, the service from the request
    assert rolled_back == [("dev", "api", f"{TD}:7", "2026-11-26T00:01:00.000Z", ecs)]
    assert result.reason == f"{STOPPED.reason}; handoff rolled it back there"
    assert records.finished[0]["reason"] == result.reason


@pytest.mark.parametrize(
    ("service", "record"),
    [({**REQUEST["service"]}, HELD),  # approvers asked before the deploy (or not at all): ECS holds nothing
     (None, HELD.model_copy(update={"new_task_definition": None})),  # nothing deployed
     (None, HELD.model_copy(update={"outcome": Outcome.FAILED}))],  # already finalized: a retry changes nothing
)  # fmt: skip
def test_nothing_is_rolled_back_where_no_hold_can_be_left(
    rolled_back: list[tuple[Any, ...]], service: dict[str, Any] | None, record: DeploymentRecord
) -> None:
    finalize(ended(service), Records(existing=record), Lock(), "arn:topic")  # type: ignore[arg-type]
    assert rolled_back == []


def test_the_workflows_own_finalize_step_never_touches_the_hold(rolled_back: list[tuple[Any, ...]]) -> None:
    workflow = WorkflowState.model_validate({"request": {**REQUEST, "service": AT_TRAFFIC}, "deploy": DEPLOYED,
                                             "rollout": FAILED})  # fmt: skip
    finalize(workflow, Records(existing=HELD), Lock(), "arn:topic")  # type: ignore[arg-type]
    assert rolled_back == []


def test_a_hold_that_cannot_be_rolled_back_is_left_to_the_hooks_timeout_and_said(
    monkeypatch: pytest.MonkeyPatch, log: LogRecorder
) -> None:
    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", lambda *a, **k: None)

    def refused(*args: Any) -> str:
        raise TransientAwsError("ECS throttled")

    monkeypatch.setattr("ecs_handoff.logic.service_deployments.roll_back_abandoned_hold", refused)
    result = finalize(ended(), Records(existing=HELD), Lock(), "arn:topic")  # type: ignore[arg-type]
    assert (
        result.reason
        == f"{STOPPED.reason}; ECS still holds it at its PAUSE hook until the hook times out (ECS throttled)"
    )
    assert ("warning", "could not roll back the held deployment", {"error": "ECS throttled"}) in log.lines


def test_a_hold_ecs_no_longer_shows_leaves_the_reason_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", lambda *a, **k: None)
    monkeypatch.setattr("ecs_handoff.logic.service_deployments.roll_back_abandoned_hold", lambda *a: None)
    assert finalize(ended(), Records(existing=HELD), Lock(), "arn:topic").reason == STOPPED.reason  # type: ignore[arg-type]


# --- only the deployment's own execution ends it -----------------------------------------------------------------

OWN = "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:api-v1"


def test_the_deployments_own_ended_execution_ends_it() -> None:
    record = DeploymentRecord(id="api-v1", env="dev", service="api", outcome=Outcome.IN_PROGRESS,
                              started_at="2026-11-26T00:00:00.000Z", execution_arn=OWN)  # fmt: skip
    assert ended_execution_state(change("ABORTED"), Records(existing=record)) is not None  # type: ignore[arg-type]
    # and before the intake wrote the execution's ARN on the record
    assert ended_execution_state(change("ABORTED"), Records()) is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("execution_arn", "record_changes"),
    [(OWN.replace(":api-v1", ":evil-1"), {}),  # another execution, started with this deployment's input
     (OWN, {"execution_arn": OWN.replace(":api-v1", ":api-v1-old")}),  # the record names another execution
     (OWN, {"env": "prod"}), (OWN, {"service": "worker"})],  # the record is another environment's or service's
)  # fmt: skip
def test_an_ended_execution_that_is_not_the_deployments_own_ends_nothing(
    execution_arn: str, record_changes: dict[str, str], log: LogRecorder
) -> None:
    record = DeploymentRecord.model_validate({"id": "api-v1", "env": "dev", "service": "api", "outcome": "IN_PROGRESS",
                                              "started_at": "2026-11-26T00:00:00.000Z", **record_changes})  # fmt: skip
    detail = change("FAILED").model_copy(update={"execution_arn": execution_arn})
    assert ended_execution_state(detail, Records(existing=record)) is None  # type: ignore[arg-type]
    assert log.lines == [
        ("warning", "ended execution is not the deployment's own; ignored",
         {"execution_arn": execution_arn, "deployment_id": "api-v1"}),
    ]  # fmt: skip
