"""ECS's own strategies (BLUE_GREEN, LINEAR, CANARY) without AWS, at their edges: the exact words a person reads
(why a service cannot hold a deployment for its approvers, ECS's verdict, what the record keeps), a described
deployment with fields missing, finding handoff's deployment among others, and what the ReleaseProductionTraffic and
HoldProductionTraffic step asks of ECS at the PAUSE hook (which call, with which action) and writes on the record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_handoff.errors import DeploymentRefused, ServiceDeploymentMoved
from ecs_handoff.logic import authority, deploy
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.logic.authority import Derived, Where
from ecs_handoff.models import (
    DeploymentRecord,
    ImageDefinition,
    Outcome,
    Phase,
    RolloutState,
    ServiceConfig,
    TrafficAction,
    TrafficInput,
    TrafficResult,
    VerdictSource,
)

from tests.helpers import LogRecorder
from tests.samples import REQUEST

SD = "arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/dev/api/abc"
NEW_TD = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:7"
NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
PAUSE = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
TEST_RULE = [{"advancedConfiguration": {"productionListenerRule": "p", "testListenerRule": "t"}}]


def described(status: str = "IN_PROGRESS", stage: str = "POST_TEST_TRAFFIC_SHIFT", **extra: Any) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": SD,
        "status": status,
        "lifecycleStage": stage,
        "deploymentConfiguration": {"strategy": "CANARY"},
        "targetServiceRevision": {"requestedTestTrafficWeight": 100.0, "requestedProductionTrafficWeight": 0.0},
        "lifecycleHookDetails": [{"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"}],
        **extra,
    }


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strategies, "utcnow", lambda: NOW)


# -- which services can hold a deployment for the approvers: the words a person reads -----------------------


def service(configuration: dict[str, Any], balancers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"deploymentConfiguration": configuration, "loadBalancers": TEST_RULE if balancers is None else balancers}


@pytest.mark.parametrize(
    ("shown", "problem"),
    [
        (
            service({"strategy": "ROLLING"}),
            "its ECS service uses the ROLLING strategy; approval_stage before_production_traffic needs BLUE_GREEN, "
            "LINEAR or CANARY (deploymentConfiguration.strategy)",
        ),
        (
            service({"strategy": "LINEAR", "lifecycleHooks": [{**PAUSE, "targetType": "AWS_LAMBDA"}]}),
            "its ECS service has no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT; approval_stage "
            "before_production_traffic needs one to hold green on the test listener while the approvers decide",
        ),
        (
            service(
                {"strategy": "CANARY", "lifecycleHooks": [{**PAUSE, "timeoutConfiguration": {"action": "CONTINUE"}}]}
            ),
            "its PAUSE hook at POST_TEST_TRAFFIC_SHIFT continues when it times out (timeoutConfiguration.action "
            "CONTINUE): production traffic would move with nobody's approval; set the action to ROLLBACK",
        ),
        (
            service({"strategy": "BLUE_GREEN", "lifecycleHooks": [PAUSE]}, balancers=[]),
            "its ECS service has no test traffic route (loadBalancers[].advancedConfiguration.testListenerRule, or "
            "a Service Connect testTrafficRules): green would serve nothing the approvers could look at",
        ),
    ],
)
def test_why_a_service_cannot_hold_a_deployment_for_its_approvers_in_full(shown: dict[str, Any], problem: str) -> None:
    assert strategies.approval_hook_problem(shown, 3600) == problem


def test_a_pause_hook_too_short_names_the_minutes_to_set_rounded_up() -> None:
    # GIVEN approvers who wait 3601 s (a minute and a second past an hour) and a hook that times out after 60 min
    hook = {**PAUSE, "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}
    problem = strategies.approval_hook_problem(service({"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]}), 3601)
    # THEN the hook must last 61 whole minutes, never fewer
    assert problem == (
        "its PAUSE hook at POST_TEST_TRAFFIC_SHIFT times out after 60 min, before the approvers' wait "
        "(approval_timeout_seconds 3601) ends: ECS would roll back while they decide; "
        "set timeoutConfiguration.timeoutInMinutes to at least 61"
    )
    assert strategies.approval_hook_problem(service({"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]}), 3600) is None


def test_the_shortest_of_several_pause_hooks_is_the_one_that_must_outlast_the_wait() -> None:
    hooks = [
        {**PAUSE, "timeoutConfiguration": {"timeoutInMinutes": 120}},
        {**PAUSE, "timeoutConfiguration": {"timeoutInMinutes": 30}},
    ]
    problem = strategies.approval_hook_problem(service({"strategy": "LINEAR", "lifecycleHooks": hooks}), 3600)
    assert problem is not None and "times out after 30 min" in problem


# -- a described deployment as handoff shows it -------------------------------------------------------------


def test_a_deployment_described_without_its_fields_shows_them_empty_never_none() -> None:
    # GIVEN what ECS may show of a deployment it has just made: no stage, weights, hooks, reason or alarms yet
    shot = strategies.snapshot({"deploymentConfiguration": {"strategy": "LINEAR"}})
    assert shot == strategies.Snapshot(
        arn="", strategy="LINEAR", status="", stage="", production=(100, 0), test=(100, 0), hooks=[], reason=""
    )
    # before ECS names a stage, the words say it is starting
    pending = strategies.snapshot({"deploymentConfiguration": {"strategy": "LINEAR"}, "status": "PENDING"})
    assert pending.words() == (
        "LINEAR PENDING · starting · production blue 100 % / green 0 % · test blue 100 % / green 0 %"
    )
    # a hook ECS names without its type or status is a Lambda hook of no known state: never a PAUSE awaiting action
    hooks = strategies.snapshot({"lifecycleHookDetails": [{}]}).hooks
    assert hooks == [("", "AWS_LAMBDA", "")]


def test_a_deployment_part_way_shows_both_weights_and_every_hook() -> None:
    shown = described(
        stage="PRODUCTION_TRAFFIC_SHIFT",
        targetServiceRevision={"requestedProductionTrafficWeight": 25.4, "requestedTestTrafficWeight": 100.0},
        lifecycleHookDetails=[
            {"hookId": "h1", "targetType": "PAUSE", "status": "SUCCEEDED"},
            {"hookId": "h2", "targetType": "AWS_LAMBDA", "status": "IN_PROGRESS"},
        ],
    )
    shot = strategies.snapshot(shown)
    assert shot.production == (75, 25) and shot.test == (0, 100)
    assert shot.hooks == [("h1", "PAUSE", "SUCCEEDED"), ("h2", "AWS_LAMBDA", "IN_PROGRESS")]
    assert shot.fields() == {
        "arn": SD,
        "strategy": "CANARY",
        "status": "IN_PROGRESS",
        "stage": "PRODUCTION_TRAFFIC_SHIFT",
        "production": "75/25",
        "test": "0/100",
        "hooks": "PAUSE SUCCEEDED, AWS_LAMBDA IN_PROGRESS",
        "words": "CANARY IN_PROGRESS · PRODUCTION_TRAFFIC_SHIFT · production blue 75 % / green 25 % · "
        "test blue 0 % / green 100 % · AWS_LAMBDA hook IN_PROGRESS",
    }


def test_a_deployment_without_hooks_names_none_in_its_words() -> None:
    shot = strategies.snapshot(described(stage="TEST_TRAFFIC_SHIFT", lifecycleHookDetails=[]))
    assert shot.words() == (
        "CANARY IN_PROGRESS · TEST_TRAFFIC_SHIFT · production blue 100 % / green 0 % · test blue 0 % / green 100 %"
    )
    assert shot.awaiting_pause() is None and not shot.released()


def test_the_latest_of_several_pause_hooks_awaiting_is_the_one_held_at() -> None:
    hooks = [
        {"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"},
        {"hookId": "h2", "targetType": "AWS_LAMBDA", "status": "AWAITING_ACTION"},
        {"hookId": "h3", "targetType": "PAUSE", "status": "AWAITING_ACTION"},
    ]
    assert strategies.snapshot(described(lifecycleHookDetails=hooks)).awaiting_pause() == "h3"
    # held at the stage only while the deployment runs
    assert strategies.snapshot(described("PENDING", lifecycleHookDetails=hooks)).awaiting_pause() is None


@pytest.mark.parametrize(
    ("stage", "released"),
    [
        ("PRODUCTION_TRAFFIC_SHIFT", True),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", True),
        ("BAKE_TIME", True),
        ("CLEAN_UP", True),
        ("PRE_SCALE_UP", False),
        ("TEST_TRAFFIC_SHIFT", False),
    ],
)
def test_every_stage_after_the_approval_hook_and_none_before_is_released(stage: str, released: bool) -> None:
    # whatever the hooks show: ECS reaches these stages only past the PAUSE hook at POST_TEST_TRAFFIC_SHIFT
    assert strategies.snapshot(described(stage=stage, lifecycleHookDetails=[])).released() is released


def test_ecs_reason_is_the_rollback_reason_else_the_status_reason_else_none() -> None:
    assert strategies.snapshot(described(statusReason="stopped by a user")).reason == "stopped by a user"
    both = described(statusReason="stopped", rollback={"reason": "alarm web-5xx"})
    assert strategies.snapshot(both).reason == "alarm web-5xx"
    assert strategies.snapshot(described(rollback={})).reason == ""


# -- ECS's verdict -----------------------------------------------------------------------------------------------


def test_a_deployment_still_running_is_in_progress_with_its_words_and_the_time_checked() -> None:
    shown = described(stage="TEST_TRAFFIC_SHIFT", lifecycleHookDetails=[])
    result = strategies.verdict(shown, True, VerdictSource.POLL)
    assert result.state is RolloutState.IN_PROGRESS
    assert result.reason == strategies.snapshot(shown).words()
    assert result.checked_at == "2026-12-05T10:30:00.000Z"
    assert result.decided_by is VerdictSource.POLL and result.service_deployment_arn == SD
    assert result.hook_id is None and result.ecs_reported_at is None


def test_a_deployment_held_at_the_pause_hook_is_paused_with_the_words_approvers_read() -> None:
    result = strategies.verdict(described(), True, VerdictSource.EVENT, "2026-12-05T10:29:00.000Z")
    assert result.state is RolloutState.PAUSED and result.hook_id == "h1"
    assert result.reason == (
        "ECS holds the CANARY deployment at its PAUSE hook (POST_TEST_TRAFFIC_SHIFT): green serves the test "
        "listener, production traffic is still on blue"
    )
    assert result.checked_at == "2026-12-05T10:30:00.000Z"


def test_a_failed_deployment_keeps_when_ecs_reported_it() -> None:
    result = strategies.verdict(described("STOPPED", "CLEAN_UP"), False, VerdictSource.EVENT, "2026-12-05T10:29Z")
    assert result.state is RolloutState.FAILED and result.ecs_reported_at == "2026-12-05T10:29Z"
    assert result.reason == "ECS stopped (traffic left where it was) the CANARY deployment: no reason given"


def test_ecs_failure_reason_lists_every_alarm_it_does_not_name() -> None:
    shot = strategies.snapshot(
        described("ROLLBACK_SUCCESSFUL", "CLEAN_UP", alarms={"triggeredAlarmNames": ["web-5xx", "web-latency"]})
    )
    assert strategies.failed_reason(shot) == (
        "ECS rolled back (production and test traffic back on the previous revision) the CANARY deployment: "
        "no reason given (alarms in ALARM: web-5xx, web-latency)"
    )


# -- finding handoff's deployment ------------------------------------------------------------------------------


class Ecs:
    """The ECS calls the strategies make, answered as ECS answers them, each recorded with its arguments.
    `shown` is what DescribeServiceDeployments answers, one entry per call (the last one repeats)."""

    def __init__(
        self,
        *shown: dict[str, Any] | None,
        listed: list[dict[str, Any]] | None = None,
        refuse: str | None = None,
    ) -> None:
        self.shown = list(shown) or [described()]
        self.listed = (
            [{"serviceDeploymentArn": SD, "targetServiceRevisionArn": "rev-new", "createdAt": "2"}]
            if listed is None
            else listed
        )
        self.refuse = refuse  # the error code ECS answers ContinueServiceDeployment and StopServiceDeployment
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("list", kwargs))
        return {"serviceDeployments": self.listed}

    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        known = {"rev-old": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:6", "rev-new": NEW_TD}
        return {
            "serviceRevisions": [
                {"serviceRevisionArn": a, "taskDefinition": known[a]} for a in serviceRevisionArns if a in known
            ]
        }

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        self.calls.append(("describe", {"serviceDeploymentArns": serviceDeploymentArns}))
        shown = self.shown.pop(0) if len(self.shown) > 1 else self.shown[0]
        return {"serviceDeployments": [shown] if shown is not None and serviceDeploymentArns == [SD] else []}

    def continue_service_deployment(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("continue", kwargs))
        return self._answer("ContinueServiceDeployment")

    def stop_service_deployment(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("stop", kwargs))
        return self._answer("StopServiceDeployment")

    def _answer(self, operation: str) -> dict[str, Any]:
        if self.refuse:
            error = {"Error": {"Code": self.refuse, "Message": "the hook is not awaiting action"}}
            raise ClientError(error, operation)  # type: ignore[arg-type]
        return {"serviceDeploymentArn": SD}

    def acted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(name, kwargs) for name, kwargs in self.calls if name in ("continue", "stop")]


def test_find_lists_this_services_deployments_since_the_deploy_less_five_minutes() -> None:
    ecs = Ecs()
    found = strategies.find("dev", "api", NEW_TD, "2026-12-05T10:00:00.000Z", ecs)  # type: ignore[arg-type]
    assert found == described()
    listing = ecs.calls[0]
    assert listing == (
        "list",
        {
            "cluster": "dev",
            "service": "api",
            "maxResults": 20,
            "createdAt": {"after": datetime(2026, 12, 5, 9, 55, tzinfo=UTC)},
        },
    )


def test_find_passes_over_a_deployment_whose_revision_ecs_does_not_describe() -> None:
    # GIVEN the newest deployment's target revision is one DescribeServiceRevisions leaves out, then handoff's
    listed = [
        {"serviceDeploymentArn": "sd-other", "targetServiceRevisionArn": "rev-gone", "createdAt": "3"},
        {"serviceDeploymentArn": "sd-none", "createdAt": "2"},
        {"serviceDeploymentArn": SD, "targetServiceRevisionArn": "rev-new", "createdAt": "1"},
    ]
    ecs = Ecs(listed=listed)
    assert strategies.find("dev", "api", "dev-api:7", None, ecs) == described()  # type: ignore[arg-type]
    assert ecs.calls[0] == ("list", {"cluster": "dev", "service": "api", "maxResults": 20})
    assert ("describe", {"serviceDeploymentArns": [SD]}) in ecs.calls


def test_find_is_none_when_ecs_no_longer_describes_the_deployment_it_listed() -> None:
    assert strategies.find("dev", "api", NEW_TD, None, Ecs(None)) is None  # type: ignore[arg-type]


def test_find_without_a_task_definition_finds_nothing_and_asks_ecs_nothing() -> None:
    # GIVEN a listed deployment whose revision ECS does not describe (its task definition reads as "")
    ecs = Ecs(listed=[{"serviceDeploymentArn": "sd-none", "targetServiceRevisionArn": "rev-gone", "createdAt": "1"}])
    assert strategies.find("dev", "api", "", None, ecs) is None  # type: ignore[arg-type]
    assert ecs.calls == []


# -- acting at the PAUSE hook -----------------------------------------------------------------------------------

WHERE = Where(env="dev", registry_prefix="/handoff/dev", require_approval=False, default_registry="r")
IMAGES = [ImageDefinition(name="app", image_uri="nginx:2")]
SSM = object()  # stands in for the SSM client: only handed on to the registry's reader
APPROVALS = object()  # stands in for the approvals table: only handed on to check_approval


def approving(**changes: Any) -> ServiceConfig:
    fields: dict[str, Any] = {
        "cluster": "dev",
        "service": "api",
        "task_definition": "dev-api",
        "approval_required": True,
        "approvers": ["alice@example.com"],
        "approval_stage": "before_production_traffic",
        "test_traffic": {"url": "https://green.example.com", "header": "x-green: 1"},
        **changes,
    }
    return ServiceConfig.model_validate(fields)


def record(**changes: Any) -> DeploymentRecord:
    fields: dict[str, Any] = {
        "id": "api-v1",
        "env": "dev",
        "service": "api",
        "outcome": Outcome.IN_PROGRESS,
        "started_at": "2026-12-05T09:59:00.000Z",
        "new_task_definition": NEW_TD,
        "deploy_claimed_at": "2026-12-05T10:00:00.000Z",
        **changes,
    }
    return DeploymentRecord.model_validate(fields)


class Records:
    def __init__(self, kept: DeploymentRecord | None) -> None:
        self.kept = kept
        self.updates: list[dict[str, Any]] = []

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        return self.kept if self.kept is not None and self.kept.id == deployment_id else None

    def update(self, deployment_id: str, phase: Phase | None = None, at: str | None = None, **fields: Any) -> None:
        self.updates.append({"id": deployment_id, "phase": phase, "at": at, **fields})


class Authority:
    """What act_at_pause reads from the registry and the approvals table (their own tests are elsewhere): the
    arguments each was called with, and what they answer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, config: ServiceConfig, refuse_approval: str = "") -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.config = config
        self.refuse_approval = refuse_approval
        monkeypatch.setattr(authority, "derive", self.derive)
        monkeypatch.setattr(authority, "current_config", self.current_config)
        monkeypatch.setattr(deploy, "check_approval", self.check_approval)

    def derive(self, *args: Any) -> Derived:
        self.calls.append(("derive", args))
        return Derived(
            record=args[2].get(args[0].deployment_id), config=self.config, images=IMAGES, base={}, base_tags=[]
        )

    def current_config(self, *args: Any) -> ServiceConfig:
        self.calls.append(("current_config", args))
        return self.config

    def check_approval(self, *args: Any) -> None:
        self.calls.append(("check_approval", args))
        if self.refuse_approval:
            raise DeploymentRefused(self.refuse_approval)


def act(action: str, ecs: Ecs, records: Records) -> TrafficResult:
    event = TrafficInput.model_validate({"request": REQUEST, "action": action})
    return strategies.act_at_pause(event, WHERE, records, APPROVALS, ecs, SSM)  # type: ignore[arg-type]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr(strategies, "logger", recorder)
    return recorder


def test_an_approved_deployment_held_at_the_hook_is_continued_and_rolls_out_again(
    monkeypatch: pytest.MonkeyPatch, log: LogRecorder
) -> None:
    # GIVEN ECS holds handoff's deployment at its PAUSE hook, and the approvers approved
    config = approving()
    reads = Authority(monkeypatch, config)
    ecs, records = Ecs(described()), Records(record())
    # WHEN the workflow releases production traffic
    result = act("continue", ecs, records)
    # THEN the deployment is derived and the approval checked, as they are recorded (never from the input)
    event = TrafficInput.model_validate({"request": REQUEST, "action": "continue"})
    assert reads.calls == [
        ("derive", (event.request, WHERE, records, ecs, SSM)),
        ("check_approval", ("api-v1", config, IMAGES, APPROVALS)),
    ]
    # AND ECS is asked to CONTINUE at exactly that hook of that deployment, found since the deploy claim
    assert ecs.calls[0] == (
        "list",
        {
            "cluster": "dev",
            "service": "api",
            "maxResults": 20,
            "createdAt": {"after": datetime(2026, 12, 5, 9, 55, tzinfo=UTC)},
        },
    )
    assert ecs.acted() == [("continue", {"serviceDeploymentArn": SD, "hookId": "h1", "action": "CONTINUE"})]
    # AND the record is rolling out again, with the deployment as found and how approvers reach green
    fields = strategies.snapshot(described()).fields()
    assert records.updates == [
        {
            "id": "api-v1",
            "phase": Phase.ROLLING_OUT,
            "at": "2026-12-05T10:30:00.000Z",
            "outcome": Outcome.IN_PROGRESS,
            "service_deployment": {**fields, "test_traffic": "https://green.example.com with header x-green: 1"},
        }
    ]
    reason = "production traffic released: ECS continues past the PAUSE hook"
    assert result == TrafficResult(
        action=TrafficAction.CONTINUE,
        service_deployment_arn=SD,
        hook_id="h1",
        at="2026-12-05T10:30:00.000Z",
        reason=reason,
    )
    assert log.lines == [("info", "acted at the pause hook", {"action": "continue", "hook_id": "h1", "reason": reason})]


def test_continue_is_refused_for_a_service_that_does_not_ask_its_approvers_before_traffic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = Authority(monkeypatch, approving(approval_stage="before_deploy"))
    ecs, records = Ecs(described()), Records(record())
    with pytest.raises(DeploymentRefused) as refused:
        act("continue", ecs, records)
    assert str(refused.value) == "api's registry entry does not ask its approvers before production traffic"
    assert [name for name, _ in reads.calls] == ["derive"] and ecs.acted() == [] and records.updates == []


def test_continue_without_a_recorded_approval_asks_nothing_of_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    Authority(monkeypatch, approving(), refuse_approval="deployment api-v1 needs approval and none was recorded")
    ecs, records = Ecs(described()), Records(record())
    with pytest.raises(DeploymentRefused, match="none was recorded"):
        act("continue", ecs, records)
    assert ecs.acted() == [] and records.updates == []


def test_a_retried_release_finds_production_traffic_already_released(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the first attempt's ContinueServiceDeployment was accepted: ECS moved on to production traffic
    Authority(monkeypatch, approving(test_traffic=None))
    moving = described(
        stage="PRODUCTION_TRAFFIC_SHIFT",
        lifecycleHookDetails=[{"hookId": "h1", "targetType": "PAUSE", "status": "SUCCEEDED"}],
    )
    ecs, records = Ecs(moving), Records(record())
    result = act("continue", ecs, records)
    # THEN nothing more is asked of ECS, and the approved build goes on
    assert result.reason == "production traffic already released: ECS had continued past the PAUSE hook"
    assert result.hook_id == "" and ecs.acted() == []
    assert records.updates[0]["phase"] is Phase.ROLLING_OUT
    assert records.updates[0]["service_deployment"] == strategies.snapshot(moving).fields()  # no test_traffic: none set


def test_continue_is_refused_when_ecs_holds_nothing_at_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    Authority(monkeypatch, approving())
    early = described(stage="TEST_TRAFFIC_SHIFT", lifecycleHookDetails=[])
    ecs, records = Ecs(early), Records(record())
    with pytest.raises(DeploymentRefused) as refused:
        act("continue", ecs, records)
    assert str(refused.value) == (
        "ECS does not hold the deployment at a PAUSE hook awaiting action (it is CANARY IN_PROGRESS · "
        "TEST_TRAFFIC_SHIFT · production blue 100 % / green 0 % · test blue 0 % / green 100 %)"
    )
    assert ecs.acted() == [] and records.updates == []


def test_a_continue_ecs_refuses_because_it_already_continued_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN DescribeServiceDeployments still showed the hook awaiting action, but ECS had let it past already
    Authority(monkeypatch, approving(test_traffic=None))
    moved = described(
        stage="PRODUCTION_TRAFFIC_SHIFT",
        lifecycleHookDetails=[{"hookId": "h1", "targetType": "PAUSE", "status": "SUCCEEDED"}],
    )
    ecs, records = Ecs(described(), moved, refuse="InvalidParameterException"), Records(record())
    result = act("continue", ecs, records)
    # THEN the deployment is described again, found released, and the record keeps it as ECS now shows it
    assert ecs.calls[-1] == ("describe", {"serviceDeploymentArns": [SD]})
    assert result.reason == "production traffic released: ECS continues past the PAUSE hook" and result.hook_id == "h1"
    assert records.updates[0]["service_deployment"] == strategies.snapshot(moved).fields()


@pytest.mark.parametrize("again", [None, described(stage="POST_TEST_TRAFFIC_SHIFT")], ids=["gone", "still-held"])
def test_a_continue_ecs_refuses_for_a_deployment_not_released_fails(
    monkeypatch: pytest.MonkeyPatch, again: dict[str, Any] | None
) -> None:
    # GIVEN ECS refuses the continue, and described again the deployment is not past the hook (or not shown)
    Authority(monkeypatch, approving())
    ecs, records = Ecs(described(), again, refuse="ConflictException"), Records(record())
    with pytest.raises(ServiceDeploymentMoved, match="ECS refused"):
        act("continue", ecs, records)
    assert records.updates == []


def test_a_rejected_deployment_held_at_the_hook_is_rolled_back_there(
    monkeypatch: pytest.MonkeyPatch, log: LogRecorder
) -> None:
    # GIVEN the approvers rejected: rolling back needs no authority to deploy, only the current registry entry
    config = approving()
    reads = Authority(monkeypatch, config)
    ecs, records = Ecs(described()), Records(record())
    result = act("rollback", ecs, records)
    assert reads.calls == [("current_config", ("api", WHERE, SSM))]
    assert ecs.acted() == [("continue", {"serviceDeploymentArn": SD, "hookId": "h1", "action": "ROLLBACK"})]
    fields = {**strategies.snapshot(described()).fields(), "test_traffic": config.test_traffic.words()}  # type: ignore[union-attr]
    assert records.updates == [{"id": "api-v1", "phase": None, "at": None, "service_deployment": fields}]
    reason = "ECS rolls the deployment back from the PAUSE hook: traffic stays on the running revision"
    assert result == TrafficResult(
        action=TrafficAction.ROLLBACK,
        service_deployment_arn=SD,
        hook_id="h1",
        at="2026-12-05T10:30:00.000Z",
        reason=reason,
    )
    assert log.lines == [("info", "acted at the pause hook", {"action": "rollback", "hook_id": "h1", "reason": reason})]


@pytest.mark.parametrize("status", ["PENDING", "IN_PROGRESS"])
def test_a_rollback_with_no_hook_waiting_stops_a_deployment_that_still_runs(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    # GIVEN the hook timed out or ECS moved on, and the deployment still runs
    Authority(monkeypatch, approving())
    ecs, records = Ecs(described(status, "PRODUCTION_TRAFFIC_SHIFT", lifecycleHookDetails=[])), Records(record())
    result = act("rollback", ecs, records)
    assert ecs.acted() == [("stop", {"serviceDeploymentArn": SD, "stopType": "ROLLBACK"})]
    assert result.reason == (
        "ECS stops the deployment (StopServiceDeployment ROLLBACK): traffic back on the running revision"
    )
    assert result.hook_id == ""


def test_a_deployment_that_ended_before_it_was_stopped_is_left_as_ecs_left_it(
    monkeypatch: pytest.MonkeyPatch, log: LogRecorder
) -> None:
    Authority(monkeypatch, approving())
    ecs = Ecs(described("IN_PROGRESS", "BAKE_TIME", lifecycleHookDetails=[]), refuse="ConflictException")
    result = act("rollback", ecs, Records(record()))
    assert result.reason.startswith("ECS stops the deployment (StopServiceDeployment ROLLBACK)")
    level, message, fields = log.lines[0]
    assert (level, message) == ("info", "service deployment ended before it was stopped")
    assert fields["reason"].startswith("stopping service deployment abc (ROLLBACK): ECS refused (ConflictException")


@pytest.mark.parametrize("status", ["SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "STOPPED"])
def test_a_rollback_of_a_deployment_that_ended_asks_nothing_of_ecs(
    monkeypatch: pytest.MonkeyPatch, status: str
) -> None:
    Authority(monkeypatch, approving())
    ecs = Ecs(described(status, "CLEAN_UP", lifecycleHookDetails=[]))
    result = act("rollback", ecs, Records(record()))
    assert ecs.acted() == []
    assert result.reason == f"nothing to roll back at the PAUSE hook: ECS shows the deployment {status}"


@pytest.mark.parametrize(
    ("kept", "refusal"),
    [
        (None, "deployment api-v1 has no record: handoff's intake never accepted it"),
        (record(env="prod"), "deployment api-v1 is api in prod, not api in dev"),
        (record(service="worker"), "deployment api-v1 is worker in dev, not api in dev"),
        (record(new_task_definition=None), "deployment api-v1 has deployed nothing: there is no traffic to move"),
    ],
)
def test_a_rollback_is_refused_for_a_record_that_is_not_this_deployment(
    monkeypatch: pytest.MonkeyPatch, kept: DeploymentRecord | None, refusal: str
) -> None:
    Authority(monkeypatch, approving())
    ecs = Ecs(described())
    with pytest.raises(DeploymentRefused) as refused:
        act("rollback", ecs, Records(kept))
    assert str(refused.value) == refusal
    assert ecs.acted() == []


def test_nothing_is_acted_on_when_ecs_lists_no_deployment_of_handoffs_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    Authority(monkeypatch, approving())
    ecs = Ecs(listed=[])
    with pytest.raises(DeploymentRefused) as refused:
        act("rollback", ecs, Records(record()))
    assert str(refused.value) == "ECS lists no service deployment of dev-api:7 on api"
    assert ecs.acted() == []


# -- an execution that ended while ECS held green at the approvers' hook ----------------------------------------


def abandoned(ecs: Ecs) -> str | None:
    return strategies.roll_back_abandoned_hold("dev", "api", NEW_TD, "2026-12-05T10:00:00.000Z", ecs)  # type: ignore[arg-type]


def test_an_abandoned_hold_is_rolled_back_at_its_pause_hook(log: LogRecorder) -> None:
    ecs = Ecs()
    assert abandoned(ecs) == (
        "ECS held the new revision at its PAUSE hook for approvers nobody can ask any more: handoff rolled it back "
        "there (production traffic never left the running revision)"
    )
    # StopServiceDeployment(ROLLBACK): the finalizer's role never needs ContinueServiceDeployment, which could release
    assert ecs.acted() == [("stop", {"serviceDeploymentArn": SD, "stopType": "ROLLBACK"})]
    # found as the rollout finds it: this service's deployments since the deploy (less the clock skew allowed)
    assert ecs.calls[0] == (
        "list",
        {
            "cluster": "dev",
            "service": "api",
            "maxResults": 20,
            "createdAt": {"after": datetime(2026, 12, 5, 9, 55, tzinfo=UTC)},
        },
    )
    assert log.lines == [("info", "abandoned hold rolled back", {"service_deployment_arn": SD, "hook_id": "h1"})]


def test_nothing_is_rolled_back_where_ecs_lists_no_deployment_of_the_revision() -> None:
    ecs = Ecs(None)
    assert abandoned(ecs) is None
    assert ecs.acted() == []


@pytest.mark.parametrize(
    ("shown", "words"),
    [(described("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"),
      "CANARY IN_PROGRESS · PRODUCTION_TRAFFIC_SHIFT · production blue 100 % / green 0 % · test blue 0 % / green 100 % "
      "· PAUSE hook AWAITING_ACTION"),
     (described("SUCCESSFUL", "CLEAN_UP"),
      "CANARY SUCCESSFUL · CLEAN_UP · production blue 100 % / green 0 % · test blue 0 % / green 100 % · PAUSE hook "
      "AWAITING_ACTION"),
     (described(lifecycleHookDetails=[{"hookId": "h1", "targetType": "PAUSE", "status": "SUCCEEDED"}]),
      "CANARY IN_PROGRESS · POST_TEST_TRAFFIC_SHIFT · production blue 100 % / green 0 % · test blue 0 % / green 100 % "
      "· PAUSE hook SUCCEEDED")],
)  # fmt: skip
def test_a_hold_ecs_was_let_past_before_the_workflow_ended_is_left_going_and_said(
    shown: dict[str, Any], words: str
) -> None:
    # GIVEN the approvers' release (or someone outside handoff) went through before the execution was stopped
    ecs = Ecs(shown)
    assert abandoned(ecs) == (
        "ECS had already been let past its PAUSE hook before the workflow ended: the new revision goes on to "
        f"production traffic ({words}); check it with `handoff status`"
    )
    assert ecs.acted() == []


def test_a_hold_at_another_stage_is_neither_rolled_back_nor_said_released() -> None:
    ecs = Ecs(described("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", lifecycleHookDetails=[]))
    assert abandoned(ecs) is None
    assert ecs.acted() == []


def test_an_abandoned_hold_ecs_moved_on_from_meanwhile_is_left_as_ecs_left_it(log: LogRecorder) -> None:
    # GIVEN ECS refuses the stop: the hook's own timeout acted first (described again: no longer held)
    ecs = Ecs(described(), described("ROLLBACK_SUCCESSFUL", "CLEAN_UP"), refuse="InvalidParameterException")
    assert abandoned(ecs) is None
    assert [name for name, _ in ecs.acted()] == ["stop"]
    ((level, message, fields),) = log.lines
    assert (level, message) == ("info", "the held deployment moved on before it was rolled back")
    assert "the hook is not awaiting action" in fields["reason"]


def test_a_stop_ecs_refuses_because_the_approvers_release_went_through_says_it_goes_on() -> None:
    # GIVEN the traffic step's CONTINUE reached ECS between the look and the stop
    moved_on = described("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
    ecs = Ecs(described(), moved_on, refuse="InvalidParameterException")
    found = abandoned(ecs)
    assert found is not None and found.startswith("ECS had already been let past its PAUSE hook before the workflow")
    assert [name for name, _ in ecs.calls] == ["list", "describe", "stop", "describe"]


def test_a_stop_ecs_refuses_for_a_deployment_it_no_longer_describes_says_nothing() -> None:
    ecs = Ecs(described(), None, refuse="InvalidParameterException")
    assert abandoned(ecs) is None
