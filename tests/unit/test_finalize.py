"""Finalize without AWS: the outcome table (outcome and reason for every path), and finalize() itself
with fakes: what it records, closes, notifies, prunes and releases, first time and on a retry."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.errors import AwsAccessError
from ecs_handoff.logic import finalize as finalize_module
from ecs_handoff.logic.finalize import decide, ended_execution_state, finalize, with_input
from ecs_handoff.models import ApprovalStatus, DeploymentRecord, FinalizeResult, InputDetails, Outcome, WorkflowState
from pytest import MonkeyPatch

from tests.helpers import LogRecorder as Log
from tests.samples import REQUEST
from tests.unit.finalize_world import (
    ALREADY,
    BG_ROLLED_BACK,
    COMPLETED,
    DEPLOYED,
    FAILED,
    ROLLED_BACK,
    TD,
    Approvals,
    Executions,
    Lock,
    Records,
    change,
    error,
    state,
    without_input,
)


@pytest.mark.parametrize(
    ("parts", "outcome", "reason"),
    [
        ({"ended_outcome": {"outcome": "FAILED", "reason": "stopped by hand"}}, Outcome.FAILED, "stopped by hand"),
        ({"lock": {"status": "SUPERSEDED", "reason": "a newer upload"}}, Outcome.SUPERSEDED, "a newer upload"),
        ({"lock": {"status": "TIMED_OUT", "reason": "waited 3600 s"}}, Outcome.FAILED, "waited 3600 s"),
        ({"error": error("AwsAccessError", "denied")}, Outcome.FAILED,
         "AWS refused a call before the service was changed: denied"),
        ({"deploy": DEPLOYED, "error": error("AwsAccessError", "denied"), "rollback": ROLLED_BACK}, Outcome.FAILED,
         "AWS refused a call during the rollout: denied; handoff rolled the service back to dev-api:2"),
        ({"deploy": DEPLOYED, "error": error("AwsAccessError", "denied"),
          "rollback_error": error("TransientAwsError", "throttled")}, Outcome.FAILED,
         "AWS refused a call during the rollout: denied; ROLLBACK FAILED (AWS kept failing (throttled or unavailable) "
         "after retries: throttled), "
         "check the service by hand"),
        ({"approval_error": {"Error": "States.Timeout", "Cause": ""}}, Outcome.EXPIRED,
         "nobody approved within 2 h 0 min; nothing was deployed"),
        ({"approval_error": {"Error": "ApprovalRejected", "Cause": "rejected by bob: no"}}, Outcome.REJECTED,
         "rejected by bob: no; nothing was deployed"),
        ({"approval_error": {"Error": "ApprovalSuperseded", "Cause": "a newer upload"}}, Outcome.SUPERSEDED,
         "a newer upload"),
        ({"approval_error": {"Error": "ApprovalChannelUnsafe", "Cause": "carol is subscribed"}}, Outcome.FAILED,
         "carol is subscribed; nothing was deployed"),
        ({"approval_error": error("ArtifactRejected", "bad entry")}, Outcome.INVALID, "bad entry"),
        ({"approval_error": error("AwsAccessError", "denied")}, Outcome.FAILED,
         "AWS refused a call while requesting approval: denied; nothing was deployed"),
        ({"deploy": DEPLOYED, "rollout": COMPLETED}, Outcome.SUCCEEDED, "the ECS rollout of this deployment COMPLETED"),
        ({"deploy": DEPLOYED, "rollout": COMPLETED, "approval": {"approval_id": "a", "approved_by": ["alice", "bob"]}},
         Outcome.SUCCEEDED, "the ECS rollout of this deployment COMPLETED (approved by alice, bob)"),
        ({"deploy": DEPLOYED, "rollout": FAILED, "rollback": ROLLED_BACK}, Outcome.FAILED,
         "ECS reports the rollout FAILED: tasks failed to start; handoff rolled the service back to dev-api:2"),
        ({"deploy": DEPLOYED, "rollout": {**FAILED, "unobservable": True}, "rollback": ROLLED_BACK}, Outcome.FAILED,
         "the rollout could not be checked within its 600 s timeout; handoff rolled the service back to dev-api:2"),
        ({"deploy": DEPLOYED, "rollout": {**FAILED, "unobservable": True}, "check_error": error("AwsAccessError", "x"),
          "rollback": {"action": "NOTHING_DEPLOYED", "reason": ""}}, Outcome.FAILED,
         "the rollout could not be checked within its 600 s timeout (last error: AWS refused a call: x)"),
        ({}, Outcome.FAILED, "the workflow ended without a rollout result"),
        ({"deploy": DEPLOYED}, Outcome.FAILED, "the workflow ended without a rollout result"),
        # ECS's own strategies: its verdict says which deployment ended how
        ({"deploy": DEPLOYED, "rollout": {**COMPLETED, "reason": "ECS's BLUE_GREEN deployment x is SUCCESSFUL",
          "service_deployment_arn": "arn:sd/x"}, "approval": {"approval_id": "a", "approved_by": ["alice"]}},
         Outcome.SUCCEEDED, "ECS's BLUE_GREEN deployment x is SUCCESSFUL (approved by alice)"),
        # approval before production traffic: green served only the test listener, and ECS rolled it back
        ({"deploy": DEPLOYED, "approval_error": {"Error": "ApprovalRejected", "Cause": "rejected by bob: no"},
          "rollout": {**BG_ROLLED_BACK}, "rollback": ALREADY}, Outcome.REJECTED,
         "rejected by bob: no; production traffic never left the running revision: the new one served only the test "
         "listener (ECS rolled back the BLUE_GREEN deployment: x); the service is back on dev-api:2"),
        ({"deploy": DEPLOYED, "approval_error": {"Error": "States.Timeout", "Cause": ""}, "rollout": {**BG_ROLLED_BACK},
          "rollback": ALREADY}, Outcome.EXPIRED,
         "nobody approved within 2 h 0 min; production traffic never left the running revision: the new one served "
         "only the test listener (ECS rolled back the BLUE_GREEN deployment: x); the service is back on dev-api:2"),
        ({"deploy": DEPLOYED, "approval_error": {"Error": "ApprovalSuperseded", "Cause": "a newer upload"},
          "traffic_error": error("TransientAwsError", "throttled")}, Outcome.SUPERSEDED,
         "a newer upload; production traffic never left the running revision: the new one served only the test "
         "listener (ECS was not asked to roll back: throttled; the PAUSE hook's timeout rolls back)"),
        ({"deploy": DEPLOYED, "traffic_error": error("DeploymentRefused", "the approval is PENDING"),
          "rollout": {**BG_ROLLED_BACK}, "rollback": ALREADY}, Outcome.FAILED,
         "production traffic was not released (handoff refused to continue: the approval is PENDING); "
         "ECS rolled back the BLUE_GREEN deployment: x; the service is back on dev-api:2"),
    ],
)  # fmt: skip
def test_decide(parts: dict[str, Any], outcome: Outcome, reason: str) -> None:
    result = decide(state(**parts))
    assert (result.outcome, result.reason) == (outcome, reason)


# --- finalize() with fakes -------------------------------------------------------------------------------


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def publish(topic: str, subject: str, message: str, **kwargs: Any) -> None:
        sent.append({"topic": topic, "subject": subject, "message": message, **kwargs})

    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", publish)
    return sent


@pytest.fixture
def pruned(monkeypatch: pytest.MonkeyPatch) -> list[set[str]]:
    kept: list[set[str]] = []

    def prune(request: Any, records: Any, keep: set[str], ecs_client: Any, registry_prefix: str | None) -> None:
        assert request.deployment_id == "api-v1" and isinstance(records, Records) and ecs_client == "ECS"
        kept.append(keep)

    monkeypatch.setattr(finalize_module, "prune_old_revisions", prune)
    return kept


def run(workflow: WorkflowState, records: Records, approvals: Approvals | None = None, topic: str = "arn:topic") -> Any:
    lock = Lock()
    result = finalize(workflow, records, lock, topic, approvals, sns_client="SNS", ecs_client="ECS")  # type: ignore[arg-type]
    return result, lock


def test_first_finalize_records_notifies_prunes_and_releases(
    published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    records = Records()
    result, lock = run(state(deploy=DEPLOYED, rollout=COMPLETED), records)
    assert (result.outcome, result.recorded) == (Outcome.SUCCEEDED, True)
    [finished] = records.finished
    assert finished["outcome"] == "SUCCEEDED" and finished["reason"] == "the ECS rollout of this deployment COMPLETED"
    assert finished["images"] == [{"container": "app", "image_before": "nginx:1", "image_after": "nginx:2",
                                   "requested": None}]  # fmt: skip
    assert (finished["verdict_by"], finished["ecs_reported_at"]) == ("event", "2026-11-26T00:05:00.000Z")
    assert finished["rollout"] == {"running_count": 2, "desired_count": 2, "pending_count": 0, "failed_tasks": 0}
    [message] = published
    assert (message["topic"], message["subject"]) == ("arn:topic", "[handoff dev] api: SUCCEEDED")
    assert message["message"].startswith("Deployment api-v1\nService:     api (env dev)\nOutcome:     SUCCEEDED\n")
    assert message["sns"] == "SNS"
    assert message["chat"]["content"]["title"] == ":white_check_mark: api in dev: SUCCEEDED"
    assert pruned == [{f"{TD}:3", f"{TD}:2", f"{TD}:1"}]
    assert lock.released == [("api", "api-v1")]


def test_a_verdict_without_counts_records_none(published: list[dict[str, Any]], pruned: list[set[str]]) -> None:
    records = Records()
    run(state(deploy=DEPLOYED, rollout={**COMPLETED, "desired_count": 0, "running_count": 0}), records)
    assert records.finished[0]["rollout"] is None


def test_a_failure_is_recorded_and_notified_but_nothing_is_pruned(
    published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    records = Records()
    result, lock = run(state(deploy=DEPLOYED, rollout=FAILED, rollback=ROLLED_BACK), records)
    assert result.outcome is Outcome.FAILED and published[0]["subject"] == "[handoff dev] api: FAILED"
    assert pruned == [] and lock.released == [("api", "api-v1")]


def test_nothing_deployed_records_no_images_and_no_verdict(
    published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    records = Records()
    run(state(lock={"status": "TIMED_OUT", "reason": "waited"}), records)
    assert set(records.finished[0]) == {"outcome", "reason", "at"}


def test_a_retry_keeps_the_first_outcome_and_sends_nothing_again(
    published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    done = DeploymentRecord(
        id="api-v1", env="dev", service="api", outcome=Outcome.FAILED, reason="the first verdict",
        started_at="2026-11-26T00:00:00.000Z",
    )  # fmt: skip
    records = Records(existing=done, claimed=True)
    result, lock = run(state(deploy=DEPLOYED, rollout=COMPLETED), records)
    assert (result.outcome, result.reason, result.recorded) == (Outcome.FAILED, "the first verdict", False)
    assert published == [] and pruned == []
    assert lock.released == [("api", "api-v1")]  # the lock is released by every finalizer


@pytest.mark.parametrize(
    ("parts", "status"),
    [
        ({"approval_error": {"Error": "States.Timeout", "Cause": ""}}, ApprovalStatus.EXPIRED),
        ({"approval_error": {"Error": "ApprovalSuperseded", "Cause": "newer"}}, ApprovalStatus.SUPERSEDED),
        ({"lock": {"status": "SUPERSEDED", "reason": "newer"}}, ApprovalStatus.SUPERSEDED),
        ({"error": error("AwsAccessError", "denied")}, ApprovalStatus.CANCELLED),
        ({"deploy": DEPLOYED, "rollout": COMPLETED}, ApprovalStatus.CANCELLED),
    ],
)
def test_an_open_approval_is_closed_so_its_links_stop_working(
    parts: dict[str, Any], status: ApprovalStatus, published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    records = Records()
    records.record = records.record.model_copy(update={"approval_id": "f" * 32})
    approvals = Approvals()
    run(state(**parts), records, approvals)
    assert approvals.closed == [("f" * 32, status, False)]


def test_an_approval_decided_already_is_left_alone(published: list[dict[str, Any]], pruned: list[set[str]]) -> None:
    records = Records()
    records.record = records.record.model_copy(update={"approval_id": "f" * 32})
    result, lock = run(state(deploy=DEPLOYED, rollout=COMPLETED), records, Approvals(conflict=True))
    assert result.outcome is Outcome.SUCCEEDED and lock.released


def test_no_approval_and_no_topic_means_nothing_to_close_or_send(
    published: list[dict[str, Any]], pruned: list[set[str]]
) -> None:
    records = Records()
    approvals = Approvals()
    run(state(deploy=DEPLOYED, rollout=COMPLETED), records, approvals, topic="")
    assert approvals.closed == [] and published == [] and records.claimed is False


def test_a_failed_publish_gives_the_notification_back_for_the_next_finalizer(
    monkeypatch: MonkeyPatch, pruned: list[set[str]]
) -> None:
    def publish(*args: Any, **kwargs: Any) -> None:
        raise AwsAccessError("publishing: denied")

    monkeypatch.setattr("ecs_handoff.logic.finalize.sns.publish", publish)
    records = Records()
    with pytest.raises(AwsAccessError):
        run(state(deploy=DEPLOYED, rollout=COMPLETED), records)
    assert (records.claimed, records.unclaimed) == (False, 1)


def test_a_failed_prune_leaves_the_outcome_standing(monkeypatch: MonkeyPatch, published: list[dict[str, Any]]) -> None:
    def prune(*args: Any, **kwargs: Any) -> None:
        raise AwsAccessError("deregistering: denied")

    monkeypatch.setattr(finalize_module, "prune_old_revisions", prune)
    result, lock = run(state(deploy=DEPLOYED, rollout=COMPLETED), Records())
    assert result.outcome is Outcome.SUCCEEDED and lock.released == [("api", "api-v1")]


# --- an execution that ended without its Finalize step -------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_name", "cause", "deployed", "reason"),
    [
        ("ABORTED", "", "", False, "the workflow was stopped (StopExecution) before it recorded an outcome; "
         "nothing was deployed"),
        ("ABORTED", "Ops", "stopped by carol", False, "the workflow was stopped (StopExecution) before it recorded "
         "an outcome (Ops: stopped by carol); nothing was deployed"),
        ("TIMED_OUT", "", "", True, "the workflow timed out before it recorded an outcome; the service was already "
         "updated to dev-api:3 and may still be rolling out: check it with `handoff status`"),
        ("FAILED", "States.Runtime", "", False, "the workflow failed before it recorded an outcome "
         "(States.Runtime); nothing was deployed"),
    ],
)  # fmt: skip
def test_ended_execution_reason(status: str, error_name: str, cause: str, deployed: bool, reason: str) -> None:
    records = Records()
    if deployed:
        records.record = records.record.model_copy(
            update={"ecs_deployment_id": "ecs-svc/1", "new_task_definition": f"{TD}:3"}
        )
    ended = ended_execution_state(change(status, error_name, cause), records)  # type: ignore[arg-type]
    assert ended is not None and ended.ended_outcome == FinalizeResult(outcome=Outcome.FAILED, reason=reason)
    assert decide(ended).reason == reason


def test_ended_execution_that_is_not_a_deployment_is_ignored() -> None:
    assert ended_execution_state(change("FAILED", input_text="{}"), Records()) is None  # type: ignore[arg-type]
    assert ended_execution_state(change("FAILED", input_text="not json"), Records()) is None  # type: ignore[arg-type]

    class NoRecord(Records):
        def get(self, deployment_id: str) -> Any:
            return None

    assert ended_execution_state(change("FAILED"), NoRecord()) is None  # type: ignore[arg-type]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    recorder = Log()
    monkeypatch.setattr(finalize_module, "logger", recorder)
    return recorder


def test_the_end_is_logged_with_its_outcome(log: Log, published: list[dict[str, Any]], pruned: list[set[str]]) -> None:
    run(state(deploy=DEPLOYED, rollout=FAILED, rollback=ROLLED_BACK), Records())
    assert log.lines[-1] == (
        "info",
        "deployment finished",
        {
            "outcome": "FAILED",
            "reason": "ECS reports the rollout FAILED: tasks failed to start; "
            "handoff rolled the service back to dev-api:2",
            "recorded_now": True,
            "lock_released": True,
        },
    )


def test_a_failed_prune_is_logged(log: Log, monkeypatch: MonkeyPatch, published: list[dict[str, Any]]) -> None:
    def prune(*args: Any, **kwargs: Any) -> None:
        raise AwsAccessError("deregistering: denied")

    monkeypatch.setattr(finalize_module, "prune_old_revisions", prune)
    run(state(deploy=DEPLOYED, rollout=COMPLETED), Records())
    assert ("warning", "could not retire old revisions", {"error": "deregistering: denied"}) in log.lines


def test_an_ended_execution_without_a_request_is_logged(log: Log) -> None:
    ended_execution_state(change("FAILED", input_text="{}"), Records())  # type: ignore[arg-type]
    assert log.lines == [
        (
            "warning",
            "ended execution without a deployment request",
            {"execution_arn": "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:api-v1"},
        )
    ]


def test_an_ended_execution_is_only_called_deployed_with_both_its_revision_and_ecs_deployment() -> None:
    records = Records()
    records.record = records.record.model_copy(update={"ecs_deployment_id": "ecs-svc/1"})
    ended = ended_execution_state(change("FAILED"), records)  # type: ignore[arg-type]
    assert (
        ended is not None
        and ended.ended_outcome is not None
        and ended.ended_outcome.reason.endswith("; nothing was deployed")
    )


def test_a_verdict_decided_outside_the_steps_is_the_outcome() -> None:
    assert decide(state(ended_outcome={"outcome": "FAILED", "reason": "stopped"})) == FinalizeResult(
        outcome=Outcome.FAILED, reason="stopped"
    )


# --- a status event whose input AWS left out (input and output over 248 KB) ---------------------------


def test_a_status_event_without_its_input_is_completed_from_describe_execution() -> None:
    # GIVEN an event whose input AWS left out, for an execution Step Functions says was stopped
    executions = Executions("ABORTED")
    # WHEN the finalizer reads it
    detail = with_input(without_input(), executions)  # type: ignore[arg-type]
    ended = ended_execution_state(detail, Records()) if detail is not None else None  # type: ignore[arg-type]
    # THEN it read the execution back and ends the deployment as from a full event
    assert executions.described == [change("ABORTED").execution_arn]
    assert ended is not None and ended.request.deployment_id == "api-v1" and ended.ended_outcome is not None
    assert ended.ended_outcome.reason == (
        "the workflow was stopped (StopExecution) before it recorded an outcome (Ops: stopped by carol); "
        "nothing was deployed"
    )


def test_a_status_event_without_its_input_keeps_its_own_error_and_cause_where_describe_has_none() -> None:
    event = without_input().model_copy(update={"error": "Operator", "cause": "stopped by dana"})
    detail = with_input(event, Executions("ABORTED", states_error=False))  # type: ignore[arg-type]
    assert detail is not None and (detail.error, detail.cause) == ("Operator", "stopped by dana")
    assert detail.input is not None and detail.status == "ABORTED"


def test_a_status_event_is_believed_only_as_step_functions_describes_the_execution() -> None:
    # GIVEN an event that says ABORTED, with its input (it may come from anyone who can invoke the finalizer)
    executions = Executions()
    # WHEN it is read  THEN the execution is described, and Step Functions' status and input are what count
    detail = with_input(change("ABORTED"), executions)  # type: ignore[arg-type]
    assert executions.described and detail is not None and detail.status == "ABORTED"


def test_a_status_event_for_an_execution_that_still_runs_is_ignored() -> None:
    assert with_input(change("FAILED"), Executions("RUNNING")) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "exists"), [("RUNNING", True), ("PENDING_REDRIVE", True), ("ABORTED", False)])
def test_a_status_event_without_input_for_no_ended_execution_is_ignored(status: str, exists: bool) -> None:
    assert with_input(without_input(), Executions(status, exists)) is None  # type: ignore[arg-type]


def test_an_input_details_included_false_is_believed_over_a_stale_input() -> None:
    # GIVEN an event whose inputDetails says AWS left the input out, yet with an input that is not the execution's
    event = change("ABORTED", input_text='{"stale": true}')
    detail = event.model_copy(update={"input_details": InputDetails(included=False)})
    # WHEN it is read  THEN the input is DescribeExecution's
    executions = Executions()
    described = with_input(detail, executions)  # type: ignore[arg-type]
    assert executions.described and described is not None and described.input == json.dumps({"request": REQUEST})
