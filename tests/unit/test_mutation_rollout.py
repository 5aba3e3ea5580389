"""The rollout's verdict without AWS, at its edges: judge() on every state DescribeServices can show (listed
or not yet, with or without rolloutState, the grace period and the rollout timeout exactly), one WatchRollout
turn (stored, looked, sent), and ECS's event (refused, ignored, borne out, retried, given back)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_handoff.errors import AwsAccessError
from ecs_handoff.logic import rollout
from ecs_handoff.models import (
    DeploymentRequest,
    DeployResult,
    EcsDeploymentStateChange,
    Phase,
    RolloutInput,
    RolloutResult,
    RolloutState,
    ServiceConfig,
    VerdictSource,
    iso,
    utcnow,
)

from tests.helpers import LogRecorder
from tests.samples import REQUEST
from tests.unit.rollout_fakes import RUNNING_TD, Ecs, EventWaits, Records, State, TurnWaits, Workflow

CONFIG = ServiceConfig(cluster="dev", service="api", task_definition="dev-api", rollout_timeout_seconds=600)
SERVICE_ARN = "arn:aws:ecs:ap-northeast-1:123456789012:service/dev/api"


def deployed(seconds_ago: float = 1.0) -> DeployResult:
    return DeployResult(
        new_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:2",
        previous_task_definition=RUNNING_TD,
        ecs_deployment_id="ecs-svc/new",
        deployed_at=iso(utcnow() - timedelta(seconds=seconds_ago)),
        images=[],
    )


def ours(**fields: Any) -> dict[str, Any]:
    return {"id": "ecs-svc/new", "status": "PRIMARY", "runningCount": 2, "desiredCount": 2, "pendingCount": 0,
            **fields}  # fmt: skip


def old(**fields: Any) -> dict[str, Any]:
    return {"id": "ecs-svc/old", "status": "ACTIVE", "runningCount": 1, "desiredCount": 2, **fields}


def service(*deployments: dict[str, Any], task_definition: str | None = RUNNING_TD) -> dict[str, Any]:
    shown: dict[str, Any] = {"deployments": list(deployments)}
    if task_definition is not None:
        shown["taskDefinition"] = task_definition
    return shown


def judge(shown: dict[str, Any], seconds_ago: float = 1.0) -> RolloutResult:
    return rollout.judge(shown, deployed(seconds_ago), CONFIG)


def fixed_age(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """How long ago UpdateService answered, exactly (judge reads it through seconds_since)."""
    monkeypatch.setattr(rollout, "seconds_since", lambda _: seconds)


# -- judge: a deployment ECS does not list ------------------------------------------------------------


@pytest.mark.parametrize(("age", "state"), [(0.0, RolloutState.IN_PROGRESS), (59.9, RolloutState.IN_PROGRESS),
                                            (60.0, RolloutState.FAILED), (61.0, RolloutState.FAILED)])  # fmt: skip
def test_a_deployment_not_listed_is_in_progress_for_exactly_the_grace_period(
    monkeypatch: pytest.MonkeyPatch, age: float, state: RolloutState
) -> None:
    fixed_age(monkeypatch, age)
    result = judge(service(old(rolloutState="COMPLETED")))
    assert result.state is state and result.decided_by is VerdictSource.POLL
    if state is RolloutState.IN_PROGRESS:
        assert result.reason == f"ECS does not list deployment ecs-svc/new yet ({age:.0f} s after UpdateService)"
    else:
        assert result.reason == (
            f"ECS deployment ecs-svc/new is not on service api {age:.0f} s after UpdateService; "
            "the service now runs dev-api:1"
        )


def test_a_missing_deployment_on_a_service_without_deployments_or_task_definition_still_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed_age(monkeypatch, 120)
    result = rollout.judge({}, deployed(), CONFIG)
    assert result.state is RolloutState.FAILED
    assert (
        result.reason
        == "ECS deployment ecs-svc/new is not on service api 120 s after UpdateService; the service now runs ?"
    )


def test_the_verdict_says_when_it_was_looked_at() -> None:
    before = utcnow() - timedelta(milliseconds=1)
    result = judge(service(ours(rolloutState="IN_PROGRESS")))
    assert before <= datetime.fromisoformat(result.checked_at.replace("Z", "+00:00")) <= utcnow()
    missing = judge(service())
    assert before <= datetime.fromisoformat(missing.checked_at.replace("Z", "+00:00")) <= utcnow()


# -- judge: ECS's rolloutState --------------------------------------------------------------------------


def test_completed_carries_ecs_reason_counts_and_when_ecs_reported_it() -> None:
    updated = datetime(2026, 12, 5, 6, 0, 1, 250000, tzinfo=UTC)
    result = judge(
        service(ours(rolloutState="COMPLETED", rolloutStateReason="ECS deployment ecs-svc/new completed.",
                     runningCount=3, desiredCount=3, pendingCount=0, failedTasks=1, updatedAt=updated))
    )  # fmt: skip
    assert result.state is RolloutState.COMPLETED and result.decided_by is VerdictSource.POLL
    assert result.reason == "ECS deployment ecs-svc/new completed."
    assert result.counts() == {"running_count": 3, "desired_count": 3, "pending_count": 0, "failed_tasks": 1}
    assert result.ecs_reported_at == "2026-12-05T06:00:01.250Z"


@pytest.mark.parametrize(
    ("updated", "reported"),
    [("2026-12-05T06:00:01Z", "2026-12-05T06:00:01.000Z"), ("2026-12-05T15:00:01+09:00", "2026-12-05T06:00:01.000Z"),
     ("", None), ("yesterday", None), (None, None), (1764914401, None)],
)  # fmt: skip
def test_when_ecs_reported_it_is_read_from_any_iso_timestamp_and_nothing_else(
    updated: Any, reported: str | None
) -> None:
    result = judge(service(ours(rolloutState="COMPLETED", updatedAt=updated)))
    assert result.ecs_reported_at == reported and result.reason == "rollout completed"


def test_counts_are_ecs_own() -> None:
    result = judge(service(ours(rolloutState="IN_PROGRESS", runningCount=1, desiredCount=3, pendingCount=2,
                                failedTasks=4)))  # fmt: skip
    assert result.counts() == {"running_count": 1, "desired_count": 3, "pending_count": 2, "failed_tasks": 4}


def test_counts_ecs_leaves_out_are_zero() -> None:
    result = judge(service({"id": "ecs-svc/new", "rolloutState": "IN_PROGRESS"}))
    assert result.counts() == {"running_count": 0, "desired_count": 0, "pending_count": 0, "failed_tasks": 0}


@pytest.mark.parametrize(
    ("ecs_reason", "failed", "reason"),
    [("tasks failed to start", 1, "ECS reports the rollout FAILED: tasks failed to start (1 task failed)"),
     ("circuit breaker", 3, "ECS reports the rollout FAILED: circuit breaker (3 tasks failed)"),
     ("", 0, "ECS reports the rollout FAILED: no reason given (0 tasks failed)")],
)  # fmt: skip
def test_failed_says_ecs_reason_and_how_many_tasks_failed(ecs_reason: str, failed: int, reason: str) -> None:
    updated = "2026-12-05T06:00:00.000Z"
    fields = {"rolloutState": "FAILED", "failedTasks": failed, "updatedAt": updated}
    result = judge(service(ours(**fields, **({"rolloutStateReason": ecs_reason} if ecs_reason else {}))))
    assert result.state is RolloutState.FAILED and result.reason == reason and result.ecs_reported_at == updated


@pytest.mark.parametrize(("age", "state"), [(599.0, RolloutState.IN_PROGRESS), (600.0, RolloutState.IN_PROGRESS),
                                            (600.5, RolloutState.FAILED)])  # fmt: skip
def test_in_progress_turns_failed_only_after_the_rollout_timeout(
    monkeypatch: pytest.MonkeyPatch, age: float, state: RolloutState
) -> None:
    fixed_age(monkeypatch, age)
    shown = ours(rolloutState="IN_PROGRESS", rolloutStateReason="ECS is starting tasks", runningCount=1)
    result = judge(service(shown, old()))
    assert result.state is state and result.decided_by is VerdictSource.POLL
    assert result.reason == (
        "ECS is starting tasks" if state is RolloutState.IN_PROGRESS
        else "the rollout did not complete within 600 s (1/2 tasks running)"
    )  # fmt: skip
    assert result.ecs_reported_at is None and result.running_count == 1


# -- judge: no rolloutState (a Classic Load Balancer) ------------------------------------------------------


@pytest.mark.parametrize(
    ("shown", "state"),
    [
        ([ours()], RolloutState.COMPLETED),
        ([ours(rolloutState="")], RolloutState.COMPLETED),  # an empty rolloutState is none
        ([ours(runningCount=3)], RolloutState.COMPLETED),  # more than desired: still all of them
        ([ours(runningCount=1)], RolloutState.IN_PROGRESS),
        ([ours(pendingCount=1)], RolloutState.IN_PROGRESS),
        ([ours(status="ACTIVE")], RolloutState.IN_PROGRESS),  # not (yet) the service's primary deployment
        ([ours(), old()], RolloutState.IN_PROGRESS),  # the old one still drains
        ([old(), ours()], RolloutState.IN_PROGRESS),
        ([{"id": "ecs-svc/new", "status": "PRIMARY"}], RolloutState.COMPLETED),  # nothing desired, nothing left
        ([{"id": "ecs-svc/new", "status": "PRIMARY", "desiredCount": 1}], RolloutState.IN_PROGRESS),  # none running
    ],
)
def test_without_rollout_state_the_counts_decide(shown: list[dict[str, Any]], state: RolloutState) -> None:
    result = judge(service(*shown))
    assert result.state is state
    if state is RolloutState.COMPLETED:
        running = next(d for d in shown if d["id"] == "ecs-svc/new").get("runningCount", 0)
        assert result.reason == (
            f"ECS reports no rolloutState for this service (a Classic Load Balancer): all {running} tasks of this "
            "deployment run and no other deployment remains"
        )


def test_without_rollout_state_short_of_tasks_past_the_timeout_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_age(monkeypatch, 601)
    result = judge(service(ours(runningCount=1)))
    assert result.state is RolloutState.FAILED
    assert result.reason == "the rollout did not complete within 600 s (1/2 tasks running)"


# -- one WatchRollout turn -------------------------------------------------------------------------------


def turn(cluster: str = "dev", name: str = "api") -> RolloutInput:
    request = DeploymentRequest.model_validate(
        {**REQUEST, "service": {**REQUEST["service"], "cluster": cluster, "service": name}}
    )
    return RolloutInput(request=request, deploy=deployed(), task_token="turn-token", entered="2026-12-05T06:00:00Z",
                        attempt=2)  # fmt: skip


def test_a_turn_outlived_by_a_newer_one_does_nothing() -> None:
    waits, state, ecs = TurnWaits(newer_turn=True), State(), Ecs(service(ours(rolloutState="COMPLETED")))
    assert rollout.watch(turn(), Records(), waits, state, ecs, Workflow()) is None  # type: ignore[arg-type]
    assert len(waits.stored) == 1 and state.renewed == [] and ecs.asked == []


def test_a_turn_stores_its_wait_until_the_rollout_could_end_and_renews_the_lock_as_long() -> None:
    waits, state, records = TurnWaits(), State(), Records()
    ecs = Ecs(service(ours(rolloutState="IN_PROGRESS", runningCount=1)))
    started = int(time.time())
    result = rollout.watch(turn(), records, waits, state, ecs, Workflow())  # type: ignore[arg-type]  # fakes
    ((ecs_id, token, order, deployment_id, path, expires),) = waits.stored
    assert (ecs_id, token, order, deployment_id, path) == (
        "ecs-svc/new",
        "turn-token",
        "2026-12-05T06:00:00Z#0002",
        "api-v1",
        "dev/api",
    )
    assert started + 600 + 600 <= expires <= int(time.time()) + 600 + 600
    assert state.renewed == [("api", "api-v1", 600 + 600)]
    assert ecs.asked == [("dev", ["api"])]
    # AND while it rolls out, the record shows the counts and the wait stays for ECS's event
    assert result is not None and result.state is RolloutState.IN_PROGRESS
    assert records.updates == [{"deployment_id": "api-v1", "phase": Phase.ROLLING_OUT, "at": result.checked_at,
                                "rollout": result.counts()}]  # fmt: skip
    assert waits.takes == 0 and waits.current is not None


def test_a_turn_that_finds_the_rollout_decided_sends_the_verdict_itself() -> None:
    waits, workflow, records = TurnWaits(), Workflow(), Records()
    ecs = Ecs(service(ours(rolloutState="COMPLETED")))
    result = rollout.watch(turn(), records, waits, State(), ecs, workflow)  # type: ignore[arg-type]  # fakes
    assert result is not None and result.state is RolloutState.COMPLETED
    assert workflow.sent == [("turn-token", result.model_dump(mode="json"))]
    assert records.updates == [] and waits.current is None


def test_a_decided_rollout_whose_wait_was_taken_already_sends_nothing_again() -> None:
    waits, workflow = TurnWaits(taken_already=True), Workflow()
    ecs = Ecs(service(ours(rolloutState="FAILED")))
    result = rollout.watch(turn(), Records(), waits, State(), ecs, workflow)  # type: ignore[arg-type]  # fakes
    assert result is not None and result.state is RolloutState.FAILED and waits.takes == 1 and workflow.sent == []


def test_a_verdict_for_a_wait_that_timed_out_meanwhile_is_no_error() -> None:
    ecs = Ecs(service(ours(rolloutState="COMPLETED")))
    result = rollout.watch(turn(), Records(), TurnWaits(), State(), ecs, Workflow(ended=True))  # type: ignore[arg-type]
    assert result is not None and result.state is RolloutState.COMPLETED


@pytest.mark.parametrize(
    ("cluster", "name", "path"),
    [("dev", "api", "dev/api"), ("arn:aws:ecs:ap-northeast-1:123456789012:cluster/dev",
      "arn:aws:ecs:ap-northeast-1:123456789012:service/dev/api", "dev/api"),
     ("a/b/c", "x/y", "c/y")],
)  # fmt: skip
def test_service_path_is_what_ecs_events_name_the_service_by(cluster: str, name: str, path: str) -> None:
    assert rollout.service_path(cluster, name) == path


# -- ECS's event ---------------------------------------------------------------------------------------


def event(name: str = "SERVICE_DEPLOYMENT_COMPLETED", **envelope: Any) -> EcsDeploymentStateChange:
    return EcsDeploymentStateChange.model_validate(
        {
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "resources": [SERVICE_ARN],
            "detail": {"eventName": name, "deploymentId": "ecs-svc/new"},
            **envelope,
        }
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The retries' waits, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def on_event(change: EcsDeploymentStateChange, waits: EventWaits, ecs: Ecs, workflow: Workflow) -> str:
    return rollout.on_event(change, waits, ecs, workflow)  # type: ignore[arg-type]  # fakes


NOT_ECS = "not ECS's deployment or hook event (aws.ecs, ECS Deployment State Change or ECS Hook State Change)"


@pytest.mark.parametrize(
    ("envelope", "done"),
    [
        ({"source": "aws.evil"},
         f"refused: source is 'aws.evil', {NOT_ECS}"),
        ({"detail-type": "ECS Service Action"},
         f"refused: detail-type is 'ECS Service Action', {NOT_ECS}"),
        ({"source": "my.app", "detail-type": "ECS Service Action"},
         f"refused: source is 'my.app', {NOT_ECS}"),
    ],
)  # fmt: skip
def test_an_event_that_is_not_ecs_deployment_event_is_refused(envelope: dict[str, str], done: str) -> None:
    waits, ecs, workflow = EventWaits(), Ecs(service(ours(rolloutState="COMPLETED"))), Workflow()
    assert on_event(event(**envelope), waits, ecs, workflow) == done
    assert waits.took == [] and ecs.asked == [] and workflow.sent == []


@pytest.mark.parametrize("name", ["SERVICE_DEPLOYMENT_IN_PROGRESS", "SERVICE_DEPLOYMENT_ROLLBACK_IN_PROGRESS"])
def test_an_event_that_decides_nothing_is_ignored(name: str) -> None:
    waits = EventWaits()
    assert on_event(event(name), waits, Ecs(), Workflow()) == f"ignored: {name} decides nothing"
    assert waits.took == []


def test_a_completed_event_ecs_bears_out_ends_the_wait_at_once(sleeps: list[float]) -> None:
    waits, workflow = EventWaits(), Workflow()
    ecs = Ecs(service(ours(rolloutState="COMPLETED", rolloutStateReason="done", updatedAt="2026-12-05T06:00:00Z")))
    assert on_event(event(), waits, ecs, workflow) == "COMPLETED: sent to deployment api-v1"
    assert waits.took == [("ecs-svc/new", "dev/api")] and ecs.asked == [("dev", ["api"])] and sleeps == []
    ((token, verdict),) = workflow.sent
    assert token == "wait-token"
    assert {k: verdict[k] for k in ("state", "reason", "decided_by", "ecs_reported_at", "running_count")} == {
        "state": "COMPLETED", "reason": "done", "decided_by": "event", "ecs_reported_at": "2026-12-05T06:00:00.000Z",
        "running_count": 2,
    }  # fmt: skip
    assert verdict["checked_at"]


def test_a_failed_event_ecs_bears_out_sends_ecs_failure(sleeps: list[float]) -> None:
    waits, workflow = EventWaits(), Workflow()
    ecs = Ecs(service(ours(rolloutState="FAILED", failedTasks=2, rolloutStateReason="circuit breaker")))
    assert on_event(event("SERVICE_DEPLOYMENT_FAILED"), waits, ecs, workflow) == "FAILED: sent to deployment api-v1"
    ((_, verdict),) = workflow.sent
    assert verdict["state"] == "FAILED" and verdict["failed_tasks"] == 2
    assert verdict["reason"] == "ECS reports the rollout FAILED: circuit breaker (2 tasks failed)"


def test_a_completed_event_with_no_reason_from_ecs_says_rollout_completed(sleeps: list[float]) -> None:
    workflow = Workflow()
    on_event(event(), EventWaits(), Ecs(service(ours(rolloutState="COMPLETED"))), workflow)
    assert workflow.sent[0][1]["reason"] == "rollout completed" and workflow.sent[0][1]["ecs_reported_at"] is None


def test_ecs_is_asked_again_after_one_then_two_seconds_and_the_event_decides_when_it_catches_up(
    sleeps: list[float],
) -> None:
    lagging = [service(ours(rolloutState="IN_PROGRESS")), service(ours(rolloutState="COMPLETED"))]
    workflow = Workflow()
    assert on_event(event(), EventWaits(), Ecs(*lagging), workflow).startswith("COMPLETED")
    assert sleeps == [1.0] and len(workflow.sent) == 1


def test_an_event_ecs_never_bears_out_is_given_back_after_the_retries(sleeps: list[float]) -> None:
    waits, workflow, ecs = EventWaits(), Workflow(), Ecs(service(ours(rolloutState="IN_PROGRESS")))
    done = on_event(event("SERVICE_DEPLOYMENT_FAILED"), waits, ecs, workflow)
    assert done == (
        "ignored: the event says FAILED, but ECS shows deployment ecs-svc/new IN_PROGRESS; "
        "the workflow's own look decides"
    )
    assert sleeps == [1.0, 2.0] and len(ecs.asked) == 3
    assert workflow.sent == [] and waits.given_back == 1 and waits.wait is not None


def test_a_deployment_without_rollout_state_never_bears_out_an_event(sleeps: list[float]) -> None:
    waits = EventWaits()
    done = on_event(event(), waits, Ecs(service(ours())), Workflow())
    assert done.startswith("ignored: the event says COMPLETED, but ECS shows deployment ecs-svc/new IN_PROGRESS")


def test_an_event_for_a_service_ecs_does_not_have_is_left_to_the_workflow(sleeps: list[float]) -> None:
    waits = EventWaits()
    done = on_event(event(), waits, Ecs(exists=False), Workflow())
    assert (
        done == "ignored: the event says COMPLETED, but ECS shows no service dev/api; the workflow's own look decides"
    )
    assert waits.given_back == 1


def test_an_event_for_a_deployment_ecs_does_not_show_is_left_to_the_workflow(sleeps: list[float]) -> None:
    waits = EventWaits()
    done = on_event(event(), waits, Ecs(service(old(rolloutState="COMPLETED"))), Workflow())
    assert done == (
        "ignored: the event says COMPLETED, but ECS shows no deployment ecs-svc/new on dev/api; "
        "the workflow's own look decides"
    )
    assert waits.given_back == 1


def test_an_aws_error_gives_the_wait_back_for_eventbridge_to_retry(sleeps: list[float]) -> None:
    waits = EventWaits()
    with pytest.raises(AwsAccessError):
        on_event(event(), waits, Ecs(denied=True), Workflow())
    assert waits.given_back == 1 and waits.wait is not None


def test_an_event_nobody_waits_on_is_ignored() -> None:
    assert on_event(event(), EventWaits(present=False), Ecs(), Workflow()) == (
        "ignored: nothing of service dev/api waits on ecs-svc/new (not handoff's, or already decided)"
    )


def test_an_event_for_another_cluster_does_not_take_this_wait() -> None:
    waits = EventWaits()
    other = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/prod/api"])
    assert on_event(other, waits, Ecs(), Workflow()).startswith("ignored: nothing of service prod/api waits on")
    assert waits.wait is not None and waits.given_back == 0


def test_an_event_naming_no_service_takes_no_wait() -> None:
    waits = EventWaits()
    nameless = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:cluster/dev"])
    assert on_event(nameless, waits, Ecs(), Workflow()) == (
        "ignored: nothing of service ? waits on ecs-svc/new (not handoff's, or already decided)"
    )
    assert waits.wait is not None


def test_an_old_format_arn_is_checked_against_the_stored_service_and_ecs_asked_for_it(sleeps: list[float]) -> None:
    # GIVEN an old-format service ARN (no cluster) in the event, and the wait stored for dev/api
    waits, ecs, workflow = EventWaits(), Ecs(service(ours(rolloutState="COMPLETED"))), Workflow()
    old_arn = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/api"])
    # THEN the wait is taken by id alone, and ECS is asked about the stored cluster/service
    assert on_event(old_arn, waits, ecs, workflow) == "COMPLETED: sent to deployment api-v1"
    assert waits.took == [("ecs-svc/new", None)] and ecs.asked == [("dev", ["api"])]


def test_the_service_named_after_the_other_resources_is_the_one_used() -> None:
    waits = EventWaits()
    change = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:cluster/dev", SERVICE_ARN])
    on_event(change, waits, Ecs(service(ours(rolloutState="COMPLETED"))), Workflow())
    assert waits.took == [("ecs-svc/new", "dev/api")]


def test_a_service_ecs_shows_without_deployments_bears_out_no_event(sleeps: list[float]) -> None:
    waits = EventWaits()
    done = on_event(event(), waits, Ecs({"taskDefinition": RUNNING_TD}), Workflow())
    assert done.startswith("ignored: the event says COMPLETED, but ECS shows no deployment ecs-svc/new on dev/api")


def test_an_old_format_arn_naming_another_service_gives_the_wait_back() -> None:
    waits = EventWaits()
    other = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/worker"])
    assert on_event(other, waits, Ecs(), Workflow()).startswith("ignored: nothing of service worker waits on")
    assert waits.given_back == 1 and waits.wait is not None


def test_a_wait_stored_without_its_service_is_not_taken_by_an_old_format_arn() -> None:
    waits = EventWaits(service="")
    old_arn = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/api"])
    assert on_event(old_arn, waits, Ecs(), Workflow()).startswith("ignored: nothing of service api waits on")
    assert waits.wait is not None


def test_an_old_format_arn_event_that_ecs_bears_out_late_asks_about_the_stored_service(sleeps: list[float]) -> None:
    lagging = Ecs(service(ours(rolloutState="IN_PROGRESS")), service(ours(rolloutState="COMPLETED")))
    old_arn = event(resources=["arn:aws:ecs:ap-northeast-1:123456789012:service/api"])
    assert on_event(old_arn, EventWaits(), lagging, Workflow()) == "COMPLETED: sent to deployment api-v1"
    assert lagging.asked == [("dev", ["api"]), ("dev", ["api"])] and sleeps == [1.0]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr(rollout, "logger", recorder)
    return recorder


def test_what_the_event_function_did_is_logged(log: LogRecorder, sleeps: list[float]) -> None:
    on_event(event(source="aws.evil"), EventWaits(), Ecs(), Workflow())
    on_event(event(), EventWaits(), Ecs(service(ours(rolloutState="IN_PROGRESS"))), Workflow())
    on_event(event(), EventWaits(), Ecs(service(ours(rolloutState="COMPLETED"))), Workflow())
    on_event(event(), EventWaits(), Ecs(service(ours(rolloutState="COMPLETED"))), Workflow(ended=True))
    refused = f"refused: source is 'aws.evil', {NOT_ECS}"
    disagreement = "the event says COMPLETED, but ECS shows deployment ecs-svc/new IN_PROGRESS"
    assert log.lines == [
        ("warning", "event refused", {"reason": refused, "ecs_deployment_id": "ecs-svc/new"}),
        ("warning", "event not borne out by ECS", {"reason": disagreement, "ecs_deployment_id": "ecs-svc/new"}),
        ("info", "rollout verdict sent", {"ecs_deployment_id": "ecs-svc/new", "state": "COMPLETED", "by": "event"}),
        ("info", "the rollout wait had already ended", {"ecs_deployment_id": "ecs-svc/new"}),
    ]


def test_what_a_watch_turn_did_is_logged(log: LogRecorder) -> None:
    decided = Ecs(service(ours(rolloutState="FAILED")))
    rollout.watch(turn(), Records(), TurnWaits(newer_turn=True), State(), decided, Workflow())  # type: ignore[arg-type]
    rollout.watch(turn(), Records(), TurnWaits(), State(), decided, Workflow())  # type: ignore[arg-type]
    assert log.lines == [
        ("info", "a newer wait for this rollout has begun; it looks instead", {"ecs_deployment_id": "ecs-svc/new"}),
        ("info", "rollout verdict sent", {"ecs_deployment_id": "ecs-svc/new", "state": "FAILED", "by": "poll"}),
    ]


def test_a_rolling_services_event_asks_ecs_once_though_its_wait_names_the_revision() -> None:
    # GIVEN the wait as the rollout stores it now (with the revision it deployed), for a ROLLING service
    waits = EventWaits()
    assert waits.wait is not None
    waits.wait = waits.wait.model_copy(update={"task_definition": "dev-api:3"})
    ecs, workflow = Ecs(service(ours(rolloutState="COMPLETED"))), Workflow()
    # WHEN ECS's COMPLETED event comes  THEN one DescribeServices both says it is a rolling update and decides
    assert on_event(event(), waits, ecs, workflow) == "COMPLETED: sent to deployment api-v1"
    assert ecs.asked == [("dev", ["api"])] and len(workflow.sent) == 1


def test_a_hook_event_of_a_rolling_service_wakes_nothing() -> None:
    waits, ecs = EventWaits(), Ecs(service(ours(rolloutState="IN_PROGRESS")))
    hook = EcsDeploymentStateChange.model_validate(
        {
            "detail-type": "ECS Hook State Change",
            "source": "aws.ecs",
            "detail": {"eventName": "HOOK_AWAITING_ACTION", "serviceArn": SERVICE_ARN, "hookId": "h"},
        }
    )
    assert on_event(hook, waits, ecs, Workflow()) == "ignored: nothing of service dev/api waits on it"
    assert waits.took == [] and waits.wait is not None
    other = hook.model_copy(update={"detail": hook.detail.model_copy(update={"event_name": "HOOK_SUCCEEDED"})})
    assert on_event(other, waits, ecs, Workflow()) == "ignored: HOOK_SUCCEEDED decides nothing"
