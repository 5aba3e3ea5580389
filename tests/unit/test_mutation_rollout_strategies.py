"""The rollout of a BLUE_GREEN, LINEAR or CANARY service (ECS runs the strategy) without AWS: one WatchRollout
turn following ECS's service deployment (the wait it stores, the lease, what the record gets, the verdict), and
ECS's events waking the waits of such a service (a deployment event, ECS's rollback deployment, a PAUSE hook
awaiting action). ECS's service deployments are given as DescribeServiceDeployments describes them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import service_deployments as sd_access
from ecs_handoff.aws import sfn as sfn_access
from ecs_handoff.aws.state import RolloutWait
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
    TrafficAction,
    TrafficResult,
    VerdictSource,
    iso,
    parse_iso,
    utcnow,
)

from tests.helpers import LogRecorder
from tests.samples import REQUEST
from tests.unit.rollout_fakes import RUNNING_TD, Ecs, Records, State, StoredWaits, TurnWaits, Workflow

ACCOUNT = "arn:aws:ecs:ap-northeast-1:123456789012"
SERVICE_ARN = f"{ACCOUNT}:service/dev/api"
NEW_TD = f"{ACCOUNT}:task-definition/dev-api:2"
OTHER_TD = f"{ACCOUNT}:task-definition/dev-api:3"
SD_ARN = f"{ACCOUNT}:service-deployment/dev/api/sd-green"
CONFIG = ServiceConfig(
    cluster="dev", service="api", task_definition="dev-api", rollout_timeout_seconds=600, approval_timeout_seconds=7200
)
ASKING = ServiceConfig.model_validate(
    {
        **CONFIG.model_dump(),
        "approval_required": True,
        "approvers": ["alice@example.com"],
        "approval_stage": "before_production_traffic",
        "test_traffic": {"url": "https://green.dev.example.com"},
    }
)
HELD_REASON = (
    "ECS holds the BLUE_GREEN deployment at its PAUSE hook (POST_TEST_TRAFFIC_SHIFT): green serves the test "
    "listener, production traffic is still on blue"
)
LEASE, ASKING_LEASE = 600 + 600, 600 + 600 + 7200  # rollout timeout + the lock's margin (+ the approvers' wait)


@pytest.fixture(autouse=True)
def only_the_fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that would make a client of its own (the fake it was given dropped on the way) fails at once."""

    def refuse(service: str) -> Any:
        raise AssertionError(f"a {service} client of its own was made: the fake given was not passed on")

    for module in (ecs_access, sd_access, sfn_access):
        monkeypatch.setattr(module, "client", refuse)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def described(
    status: str = "IN_PROGRESS",
    stage: str = "TEST_TRAFFIC_SHIFT",
    arn: str = SD_ARN,
    production: float = 0.0,
    hooks: tuple[tuple[str, str, str], ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A service deployment as DescribeServiceDeployments describes it."""
    return {
        "serviceDeploymentArn": arn,
        "serviceArn": SERVICE_ARN,
        "clusterArn": f"{ACCOUNT}:cluster/dev",
        "createdAt": datetime(2026, 12, 5, 6, 0, tzinfo=UTC),
        "status": status,
        "lifecycleStage": stage,
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0},
        "sourceServiceRevisions": [{"arn": f"{ACCOUNT}:service-revision/dev/api/blue"}],
        "targetServiceRevision": {
            "arn": f"{ACCOUNT}:service-revision/dev/api/{arn.rsplit('/', 1)[-1]}",
            "requestedTaskCount": 2,
            "runningTaskCount": 2,
            "pendingTaskCount": 0,
            "requestedTestTrafficWeight": 100.0,
            "requestedProductionTrafficWeight": production,
        },
        "lifecycleHookDetails": [{"hookId": h, "targetType": kind, "status": s} for h, kind, s in hooks],
        **fields,
    }


HELD = described(stage="POST_TEST_TRAFFIC_SHIFT", hooks=(("h-pause", "PAUSE", "AWAITING_ACTION"),))
SHIFTING_WORDS = (
    "BLUE_GREEN IN_PROGRESS · TEST_TRAFFIC_SHIFT · production blue 100 % / green 0 % · test blue 0 % / green 100 %"
)
SHIFTING_FIELDS = {
    "arn": SD_ARN,
    "strategy": "BLUE_GREEN",
    "status": "IN_PROGRESS",
    "stage": "TEST_TRAFFIC_SHIFT",
    "production": "100/0",
    "test": "0/100",
    "hooks": "",
    "words": SHIFTING_WORDS,
}


def blue_green(*deployments: dict[str, Any], strategy: str = "BLUE_GREEN") -> dict[str, Any]:
    """The service as DescribeServices shows it."""
    return {
        "deploymentConfiguration": {"strategy": strategy},
        "deployments": list(deployments) or [{"id": "ecs-svc/new", "status": "PRIMARY"}],
        "taskDefinition": NEW_TD,
    }


def deployed(seconds_ago: float = 1.0, released_seconds_ago: float | None = None) -> DeployResult:
    traffic = None
    if released_seconds_ago is not None:
        at = iso(utcnow() - timedelta(seconds=released_seconds_ago)) if released_seconds_ago >= 0 else ""
        traffic = TrafficResult(action=TrafficAction.CONTINUE, at=at)
    return DeployResult(
        new_task_definition=NEW_TD,
        previous_task_definition=RUNNING_TD,
        ecs_deployment_id="ecs-svc/new",
        deployed_at=iso(utcnow() - timedelta(seconds=seconds_ago)),
        images=[],
        traffic=traffic,
    )


def turn(config: ServiceConfig = CONFIG, deploy: DeployResult | None = None) -> RolloutInput:
    request = DeploymentRequest.model_validate({**REQUEST, "service": config.model_dump(mode="json")})
    return RolloutInput(request=request, deploy=deploy or deployed(), task_token="turn-token",
                        entered="2026-12-05T06:00:00Z", attempt=2)  # fmt: skip


def looked_just_now(result: RolloutResult) -> bool:
    return timedelta(0) <= utcnow() - parse_iso(result.checked_at) < timedelta(seconds=5)


def watch(
    rollout_turn: RolloutInput, ecs: Ecs, waits: TurnWaits | None = None, state: State | None = None
) -> tuple[RolloutResult, TurnWaits, State, Records, Workflow]:
    waits, state, records, workflow = waits or TurnWaits(), state or State(), Records(), Workflow()
    result = rollout.watch(rollout_turn, records, waits, state, ecs, workflow)  # type: ignore[arg-type]  # fakes
    assert result is not None
    return result, waits, state, records, workflow


# -- one WatchRollout turn of a BLUE_GREEN, LINEAR or CANARY service ------------------------------------------


def test_a_turn_asking_approvers_stores_a_pause_wait_for_its_revision_and_a_lease_covering_their_wait() -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described()})
    rollout_turn = turn(ASKING)
    result, waits, state, records, workflow = watch(rollout_turn, ecs)
    # THEN the wait names the revision deployed, and that ECS holding it at the PAUSE hook is a verdict
    assert waits.kept == [(NEW_TD, True)]
    assert state.renewed == [("api", "api-v1", ASKING_LEASE)]
    # AND ECS's service deployment of that revision is looked up from UpdateService on (less the clock skew)
    since = parse_iso(rollout_turn.deploy.deployed_at) - timedelta(minutes=5)
    assert ecs.asked == [("dev", ["api"])] and ecs.listed == [("dev", "api", since)]
    # AND while it shifts test traffic, the record shows what ECS shows and the wait stays
    assert result.state is RolloutState.IN_PROGRESS and result.reason == SHIFTING_WORDS
    assert result.decided_by is VerdictSource.POLL and looked_just_now(result)
    assert result.service_deployment_arn == SD_ARN
    test_traffic = {"test_traffic": "https://green.dev.example.com"}
    assert records.updates == [{"deployment_id": "api-v1", "phase": Phase.ROLLING_OUT, "at": result.checked_at,
                                "service_deployment": {**SHIFTING_FIELDS, **test_traffic}}]  # fmt: skip
    assert waits.takes == 0 and waits.current is not None and workflow.sent == []


def test_a_turn_asking_approvers_sends_paused_when_ecs_holds_the_revision_at_its_pause_hook() -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: HELD, OTHER_TD: described(arn=f"{SD_ARN}-other")})
    result, waits, _, records, workflow = watch(turn(ASKING), ecs)
    assert result.state is RolloutState.PAUSED and result.reason == HELD_REASON and result.hook_id == "h-pause"
    assert workflow.sent == [("turn-token", result.model_dump(mode="json"))] and waits.current is None
    (update,) = records.updates
    assert update["service_deployment"]["hooks"] == "PAUSE AWAITING_ACTION"
    assert update["service_deployment"]["stage"] == "POST_TEST_TRAFFIC_SHIFT"


def test_once_production_traffic_is_released_the_pause_hook_is_no_verdict_and_the_lease_is_the_rollout_s() -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: HELD})
    result, waits, state, _, workflow = watch(turn(ASKING, deployed(released_seconds_ago=1)), ecs)
    assert waits.kept == [(NEW_TD, False)] and state.renewed == [("api", "api-v1", LEASE)]
    assert result.state is RolloutState.IN_PROGRESS and workflow.sent == []


def test_a_turn_that_does_not_ask_approvers_is_not_paused_at_a_hook_and_its_lease_is_the_rollout_s() -> None:
    ecs = Ecs(blue_green(strategy="LINEAR"), service_deployments={NEW_TD: HELD})
    result, waits, state, records, workflow = watch(turn(CONFIG), ecs)
    assert waits.kept == [(NEW_TD, False)] and state.renewed == [("api", "api-v1", LEASE)]
    assert result.state is RolloutState.IN_PROGRESS and workflow.sent == []
    # AND without test_traffic in the registry the record keeps only what ECS shows
    assert "test_traffic" not in records.updates[0]["service_deployment"]


def test_a_turn_before_ecs_lists_the_service_deployment_records_only_that_it_rolls_out() -> None:
    result, waits, _, records, workflow = watch(turn(), Ecs(blue_green()))
    assert result.state is RolloutState.IN_PROGRESS
    assert result.reason == "ECS lists no service deployment of dev-api:2 yet (1 s after UpdateService)"
    assert result.decided_by is VerdictSource.POLL and looked_just_now(result)
    assert records.updates == [{"deployment_id": "api-v1", "phase": Phase.ROLLING_OUT, "at": result.checked_at}]
    assert waits.current is not None and workflow.sent == []


@pytest.mark.parametrize(("age", "state"), [(59.9, RolloutState.IN_PROGRESS), (60.0, RolloutState.FAILED)])
def test_a_service_deployment_ecs_never_lists_fails_the_turn_after_the_grace_period(
    monkeypatch: pytest.MonkeyPatch, age: float, state: RolloutState
) -> None:
    monkeypatch.setattr(rollout, "seconds_since", lambda _: age)
    result, _, _, _, workflow = watch(turn(), Ecs(blue_green()))
    assert result.state is state
    if state is RolloutState.FAILED:
        assert result.reason == "ECS lists no service deployment of dev-api:2 on api 60 s after UpdateService"
        assert workflow.sent == [("turn-token", result.model_dump(mode="json"))]


FINISHED, STOPPED, UPDATED = (datetime(2026, 12, 5, 6, m, tzinfo=UTC) for m in (1, 2, 3))
REPORTED = [
    ({"finishedAt": FINISHED, "stoppedAt": STOPPED, "updatedAt": UPDATED}, "2026-12-05T06:01:00.000Z"),
    ({"stoppedAt": STOPPED, "updatedAt": UPDATED}, "2026-12-05T06:02:00.000Z"),
    ({"updatedAt": UPDATED}, "2026-12-05T06:03:00.000Z"),
    ({}, None),
]


@pytest.mark.parametrize(("times", "reported"), REPORTED)
def test_a_successful_service_deployment_completes_the_turn_as_of_when_ecs_finished_it(
    times: dict[str, Any], reported: str | None
) -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described("SUCCESSFUL", "CLEAN_UP", production=100, **times)})
    result, waits, _, records, workflow = watch(turn(), ecs)
    assert result.state is RolloutState.COMPLETED and result.ecs_reported_at == reported
    assert result.reason == (
        "ECS's BLUE_GREEN deployment sd-green is SUCCESSFUL: production traffic 100 % on the new revision"
    )
    assert workflow.sent == [("turn-token", result.model_dump(mode="json"))] and waits.current is None
    assert records.updates[0]["service_deployment"]["production"] == "0/100"


def ages(monkeypatch: pytest.MonkeyPatch, rollout_turn: RolloutInput, updated: float, released: float) -> None:
    """How long ago UpdateService answered and production traffic was released, exactly."""
    traffic_at = rollout_turn.deploy.traffic.at if rollout_turn.deploy.traffic else None
    known = {rollout_turn.deploy.deployed_at: updated, traffic_at: released}
    monkeypatch.setattr(rollout, "seconds_since", lambda at: known[at])


@pytest.mark.parametrize(("age", "state"), [(600.0, RolloutState.IN_PROGRESS), (600.5, RolloutState.FAILED)])
def test_the_rollout_timeout_counts_from_update_service(
    monkeypatch: pytest.MonkeyPatch, age: float, state: RolloutState
) -> None:
    rollout_turn = turn()
    ages(monkeypatch, rollout_turn, updated=age, released=0)
    result, *_ = watch(rollout_turn, Ecs(blue_green(), service_deployments={NEW_TD: described()}))
    assert result.state is state
    if state is RolloutState.FAILED:
        assert result.reason == f"the rollout did not complete within 600 s ({SHIFTING_WORDS})"


def test_after_the_approvers_wait_the_rollout_timeout_counts_from_the_release() -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described()})
    result, *_ = watch(turn(ASKING, deployed(seconds_ago=7000, released_seconds_ago=30)), ecs)
    assert result.state is RolloutState.IN_PROGRESS
    late, *_ = watch(turn(ASKING, deployed(seconds_ago=7000, released_seconds_ago=601)), ecs)
    assert late.state is RolloutState.FAILED


def test_a_release_that_says_no_time_leaves_the_rollout_timeout_counting_from_update_service() -> None:
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described()})
    result, *_ = watch(turn(ASKING, deployed(seconds_ago=601, released_seconds_ago=-1)), ecs)
    assert result.state is RolloutState.FAILED


def test_a_rolled_back_service_deployment_fails_the_turn_with_ecs_reason() -> None:
    rolled_back = described("ROLLBACK_SUCCESSFUL", "CLEAN_UP", rollback={"reason": "alarm api-5xx in ALARM"})
    result, _, _, records, workflow = watch(turn(), Ecs(blue_green(), service_deployments={NEW_TD: rolled_back}))
    assert result.state is RolloutState.FAILED
    assert result.reason == (
        "ECS rolled back (production and test traffic back on the previous revision) the BLUE_GREEN deployment: "
        "alarm api-5xx in ALARM"
    )
    assert len(workflow.sent) == 1 and records.updates[0]["service_deployment"]["status"] == "ROLLBACK_SUCCESSFUL"


# -- ECS's deployment event, for a BLUE_GREEN, LINEAR or CANARY service -----------------------------------------


def wait(deployment_id: str = "api-v1", task_definition: str = NEW_TD, pause: bool = False) -> RolloutWait:
    return RolloutWait(token=f"token-{deployment_id}", deployment_id=deployment_id, service="dev/api",
                       task_definition=task_definition, pause=pause)  # fmt: skip


def event(
    name: str = "SERVICE_DEPLOYMENT_COMPLETED", ecs_id: str = "ecs-svc/new", resource: str = SERVICE_ARN
) -> EcsDeploymentStateChange:
    return EcsDeploymentStateChange.model_validate(
        {
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "resources": [resource],
            "detail": {"eventName": name, "deploymentId": ecs_id},
        }
    )


def hook_event(service_arn: str = SERVICE_ARN, name: str = "HOOK_AWAITING_ACTION") -> EcsDeploymentStateChange:
    return EcsDeploymentStateChange.model_validate(
        {
            "detail-type": "ECS Hook State Change",
            "source": "aws.ecs",
            "detail": {"eventName": name, "serviceArn": service_arn, "hookId": "h-pause",
                       "serviceDeploymentArn": SD_ARN, "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"},
        }
    )  # fmt: skip


def on_event(
    change: EcsDeploymentStateChange, waits: StoredWaits, ecs: Ecs, workflow: Workflow, records: Records | None
) -> str:
    return rollout.on_event(change, waits, ecs, workflow, records)  # type: ignore[arg-type]  # fakes


def test_a_blue_green_services_event_is_decided_by_its_service_deployment_not_by_rollout_state(
    sleeps: list[float],
) -> None:
    # GIVEN DescribeServices still showing the deployment IN_PROGRESS, and its service deployment SUCCESSFUL
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait()}), Records(), Workflow()
    done = described("SUCCESSFUL", "CLEAN_UP", production=100, finishedAt=FINISHED)
    ecs = Ecs(blue_green({"id": "ecs-svc/new", "rolloutState": "IN_PROGRESS"}), service_deployments={NEW_TD: done})
    # THEN one DescribeServices says ECS runs the strategy, and its service deployment decides
    assert on_event(event(), waits, ecs, workflow, records) == "COMPLETED: sent to deployment api-v1"
    assert ecs.asked == [("dev", ["api"])] and ecs.listed == [("dev", "api", None)] and sleeps == []
    ((token, verdict),) = workflow.sent
    assert token == "token-api-v1"
    assert {k: verdict[k] for k in ("state", "reason", "decided_by", "ecs_reported_at", "service_deployment_arn")} == {
        "state": "COMPLETED", "decided_by": "event", "ecs_reported_at": "2026-12-05T06:01:00.000Z",
        "reason": "ECS's BLUE_GREEN deployment sd-green is SUCCESSFUL: production traffic 100 % on the new revision",
        "service_deployment_arn": SD_ARN,
    }  # fmt: skip
    # AND the record shows what ECS showed, and the wait is gone
    words = "BLUE_GREEN SUCCESSFUL · CLEAN_UP · production blue 0 % / green 100 % · test blue 0 % / green 100 %"
    seen = {**SHIFTING_FIELDS, "status": "SUCCESSFUL", "stage": "CLEAN_UP", "production": "0/100", "words": words}
    assert records.updates == [{"deployment_id": "api-v1", "at": verdict["checked_at"], "service_deployment": seen}]
    assert waits.waits == {} and waits.given_back == []


@pytest.mark.parametrize(("times", "reported"), REPORTED)
def test_an_event_verdict_is_as_of_when_ecs_finished_the_service_deployment(
    times: dict[str, Any], reported: str | None
) -> None:
    workflow = Workflow()
    done = described("SUCCESSFUL", "CLEAN_UP", **times)
    on_event(event(), StoredWaits({"ecs-svc/new": wait()}), Ecs(blue_green(), service_deployments={NEW_TD: done}),
             workflow, Records())  # fmt: skip
    assert workflow.sent[0][1]["ecs_reported_at"] == reported


def test_a_blue_green_event_ecs_shows_still_running_gives_the_wait_back(sleeps: list[float]) -> None:
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait()}), Records(), Workflow()
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described()})
    assert on_event(event(), waits, ecs, workflow, records) == (
        f"ignored: ECS shows {SHIFTING_WORDS}; the workflow's own look decides"
    )
    assert waits.given_back == ["ecs-svc/new"] and waits.waits == {"ecs-svc/new": wait()} and workflow.sent == []
    (update,) = records.updates
    assert update["deployment_id"] == "api-v1" and update["service_deployment"] == SHIFTING_FIELDS


def test_a_blue_green_event_before_ecs_lists_the_revision_gives_the_wait_back_and_records_nothing() -> None:
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait()}), Records(), Workflow()
    ecs = Ecs(blue_green(), service_deployments={OTHER_TD: described("SUCCESSFUL")})
    assert on_event(event(), waits, ecs, workflow, records) == (
        "ignored: ECS shows no service deployment of its revision yet; the workflow's own look decides"
    )
    assert waits.waits == {"ecs-svc/new": wait()} and records.updates == [] and workflow.sent == []


def test_a_blue_green_failure_is_sent_with_ecs_reason_also_when_there_is_no_record_to_update() -> None:
    waits, workflow = StoredWaits({"ecs-svc/new": wait()}), Workflow()
    stopped = described("STOPPED", "TEST_TRAFFIC_SHIFT", statusReason="stopped by the operator")
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: stopped})
    assert on_event(event("SERVICE_DEPLOYMENT_FAILED"), waits, ecs, workflow, None) == (
        "FAILED: sent to deployment api-v1"
    )
    assert workflow.sent[0][1]["reason"] == (
        "ECS stopped (traffic left where it was) the BLUE_GREEN deployment: stopped by the operator"
    )


def test_an_aws_error_describing_the_service_gives_a_revisions_wait_back_for_eventbridge_to_retry() -> None:
    waits = StoredWaits({"ecs-svc/new": wait()})
    with pytest.raises(AwsAccessError):
        on_event(event(), waits, Ecs(denied=True), Workflow(), Records())
    assert waits.given_back == ["ecs-svc/new"] and waits.waits == {"ecs-svc/new": wait()}


def test_an_aws_error_reading_the_service_deployments_gives_the_wait_back_for_eventbridge_to_retry() -> None:
    waits = StoredWaits({"ecs-svc/new": wait()})
    with pytest.raises(AwsAccessError):
        on_event(event(), waits, Ecs(blue_green(), deployments_denied=True), Workflow(), Records())
    assert waits.given_back == ["ecs-svc/new"] and waits.waits == {"ecs-svc/new": wait()}


def test_an_event_for_a_service_gone_from_ecs_is_left_to_the_workflow_though_its_wait_names_a_revision(
    sleeps: list[float],
) -> None:
    waits = StoredWaits({"ecs-svc/new": wait()})
    assert on_event(event(), waits, Ecs(exists=False), Workflow(), Records()) == (
        "ignored: the event says COMPLETED, but ECS shows no service dev/api; the workflow's own look decides"
    )
    assert waits.waits == {"ecs-svc/new": wait()}


def test_an_old_format_arn_event_of_a_blue_green_service_asks_ecs_about_the_stored_service() -> None:
    waits, workflow = StoredWaits({"ecs-svc/new": wait()}), Workflow()
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: described("SUCCESSFUL", "CLEAN_UP")})
    old_arn = event(resource=f"{ACCOUNT}:service/api")
    assert on_event(old_arn, waits, ecs, workflow, Records()) == "COMPLETED: sent to deployment api-v1"
    assert waits.took == [("ecs-svc/new", None)] and ecs.asked == [("dev", ["api"])] and len(workflow.sent) == 1


def test_ecs_rollback_deployment_ends_the_wait_of_the_deployment_it_rolled_back() -> None:
    # GIVEN ECS's event about its own rollback deployment, which nobody waits on
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait()}), Records(), Workflow()
    listed = blue_green({"id": "ecs-svc/rollback", "status": "PRIMARY"}, {"id": "ecs-svc/new", "status": "ACTIVE"})
    rolled_back = described("ROLLBACK_SUCCESSFUL", "CLEAN_UP", rollback={"reason": "circuit breaker"})
    ecs = Ecs(listed, service_deployments={NEW_TD: rolled_back})
    # THEN the service's deployment handoff waits on gets its FAILED verdict from its service deployment
    assert on_event(event(ecs_id="ecs-svc/rollback"), waits, ecs, workflow, records) == (
        "FAILED: sent to deployment api-v1"
    )
    assert waits.took == [("ecs-svc/rollback", "dev/api"), ("ecs-svc/rollback", "dev/api"), ("ecs-svc/new", "dev/api")]
    ((token, verdict),) = workflow.sent
    assert token == "token-api-v1" and verdict["state"] == "FAILED" and verdict["decided_by"] == "event"
    assert records.updates[0]["service_deployment"]["status"] == "ROLLBACK_SUCCESSFUL"


def test_a_deployment_event_nobody_waits_on_of_a_blue_green_service_says_nothing_waits_there() -> None:
    waits = StoredWaits()
    assert on_event(event(ecs_id="ecs-svc/rollback"), waits, Ecs(blue_green()), Workflow(), Records()) == (
        "ignored: nothing of service dev/api waits on a deployment ECS lists"
    )


# -- ECS's hook event ---------------------------------------------------------------------------------------------


def test_a_pause_hook_awaiting_action_sends_paused_to_the_deployment_asking_its_approvers() -> None:
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait(pause=True)}), Records(), Workflow()
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: HELD})
    assert on_event(hook_event(), waits, ecs, workflow, records) == "PAUSED: sent to deployment api-v1"
    assert ecs.asked == [("dev", ["api"])] and waits.took == [("ecs-svc/new", "dev/api")]
    ((token, verdict),) = workflow.sent
    assert token == "token-api-v1"
    assert (verdict["state"], verdict["reason"], verdict["hook_id"]) == ("PAUSED", HELD_REASON, "h-pause")
    assert records.updates[0]["service_deployment"]["hooks"] == "PAUSE AWAITING_ACTION"


def test_a_pause_hook_awaiting_action_gives_back_the_wait_of_a_deployment_that_does_not_ask() -> None:
    waits, records, workflow = StoredWaits({"ecs-svc/new": wait(pause=False)}), Records(), Workflow()
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: HELD})
    done = on_event(hook_event(), waits, ecs, workflow, records)
    assert done.startswith("ignored: ECS shows BLUE_GREEN IN_PROGRESS · POST_TEST_TRAFFIC_SHIFT")
    assert waits.waits == {"ecs-svc/new": wait(pause=False)} and workflow.sent == []


def test_a_hook_event_wakes_each_waiting_deployment_of_the_service_and_says_what_each_got() -> None:
    # GIVEN two waits on the service, a listed deployment nobody waits on, and one ECS lists without an id
    waits = StoredWaits({"ecs-svc/new": wait(pause=True), "ecs-svc/next": wait("api-v2", OTHER_TD)})
    listed = blue_green({"id": "ecs-svc/new"}, {"id": "ecs-svc/old"}, {"status": "INACTIVE"}, {"id": "ecs-svc/next"})
    done = described("SUCCESSFUL", "CLEAN_UP", arn=f"{SD_ARN}-next")
    ecs, workflow = Ecs(listed, service_deployments={NEW_TD: HELD, OTHER_TD: done}), Workflow()
    assert on_event(hook_event(), waits, ecs, workflow, Records()) == (
        "PAUSED: sent to deployment api-v1; COMPLETED: sent to deployment api-v2"
    )
    # THEN a deployment without an id is not looked for at all
    assert waits.took == [("ecs-svc/new", "dev/api"), ("ecs-svc/old", "dev/api"), ("ecs-svc/next", "dev/api")]
    assert [token for token, _ in workflow.sent] == ["token-api-v1", "token-api-v2"] and waits.waits == {}


@pytest.mark.parametrize(
    "shown", [blue_green({"id": "ecs-svc/old"}), {"deploymentConfiguration": {"strategy": "CANARY"}}]
)
def test_a_hook_event_of_a_service_nobody_waits_on_says_nothing_waits_there(shown: dict[str, Any]) -> None:
    waits = StoredWaits({"ecs-svc/elsewhere": wait()})
    assert on_event(hook_event(), waits, Ecs(shown), Workflow(), Records()) == (
        "ignored: nothing of service dev/api waits on a deployment ECS lists"
    )
    assert waits.waits == {"ecs-svc/elsewhere": wait()}


@pytest.mark.parametrize("service_arn", [f"{ACCOUNT}:cluster/dev", f"{ACCOUNT}:service/api", ""])
def test_a_hook_event_naming_no_service_with_its_cluster_is_ignored_without_asking_ecs(service_arn: str) -> None:
    ecs = Ecs(blue_green())
    assert on_event(hook_event(service_arn), StoredWaits({"ecs-svc/new": wait()}), ecs, Workflow(), Records()) == (
        f"ignored: the hook event names no service ARN with its cluster ({service_arn!r})"
    )
    assert ecs.asked == []


def test_a_hook_event_for_a_service_ecs_does_not_have_wakes_nothing() -> None:
    waits = StoredWaits({"ecs-svc/new": wait()})
    assert on_event(hook_event(), waits, Ecs(exists=False), Workflow(), Records()) == (
        "ignored: nothing of service dev/api waits on it"
    )
    assert waits.took == []


def test_a_forged_hook_event_naming_a_longer_service_path_takes_no_wait_of_the_service_it_imitates() -> None:
    # GIVEN a hook event whose service ARN has one more segment than ECS's (anyone allowed to invoke may send one)
    waits, ecs = StoredWaits({"ecs-svc/new": wait(pause=True)}), Ecs(blue_green(), service_deployments={NEW_TD: HELD})
    # THEN ECS is asked about that service of that cluster, and dev/api's wait stays
    assert on_event(hook_event(f"{SERVICE_ARN}/extra"), waits, ecs, Workflow(), Records()) == (
        "ignored: nothing of service dev/api/extra waits on a deployment ECS lists"
    )
    assert ecs.asked == [("dev", ["api/extra"])] and waits.waits == {"ecs-svc/new": wait(pause=True)}


def test_what_the_service_deployment_verdict_did_is_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    log = LogRecorder()
    monkeypatch.setattr(rollout, "logger", log)
    ecs = Ecs(blue_green(), service_deployments={NEW_TD: HELD})
    on_event(hook_event(), StoredWaits({"ecs-svc/new": wait(pause=True)}), ecs, Workflow(), Records())
    on_event(event(), StoredWaits({"ecs-svc/new": wait(pause=True)}), ecs, Workflow(ended=True), Records())
    assert log.lines == [
        ("info", "rollout verdict sent", {"ecs_deployment_id": "ecs-svc/new", "state": "PAUSED", "by": "event"}),
        ("info", "the rollout wait had already ended", {"ecs_deployment_id": "ecs-svc/new"}),
    ]
