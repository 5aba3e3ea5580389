"""`handoff doctor` on a service's own deployment strategy (doctor_strategy.py): the hooks and timeouts the registry
entry needs, from DescribeServices' deploymentConfiguration, without AWS."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ecs_handoff.models import ServiceConfig
from ecs_handoff_cli.doctor_strategy import approval_stage, strategy_problems, trusts_ecs

HOOK = "arn:aws:lambda:ap-northeast-1:123456789012:function:handoff-prod-lifecycle-hook"
ROLE = "arn:aws:iam::123456789012:role/handoff-prod-ecs-lifecycle-hook"
OUTPUTS = {"LifecycleHookFunctionArn": HOOK, "LifecycleHookRoleArn": ROLE}
WINDOWED = ServiceConfig.model_validate(
    {
        "cluster": "prod",
        "service": "web",
        "task_definition": "prod-web:1",
        "deploy_windows": [{"hours": "09:00-17:00"}],
        "rollout_timeout_seconds": 86400,
        "max_gate_wait_seconds": 43200,
    }
)


def service(strategy: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    return {"deploymentConfiguration": {"strategy": strategy, "lifecycleHooks": list(hooks)}}


def ours(*stages: str, **extra: Any) -> dict[str, Any]:
    return {"hookTargetArn": HOOK, "roleArn": ROLE, "lifecycleStages": list(stages), **extra}


def pause(minutes: int | None = None) -> dict[str, Any]:
    timeout = {"timeoutConfiguration": {"timeoutInMinutes": minutes}} if minutes else {}
    return {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"], **timeout}


def test_doctor_strategy_release_controls_with_handoffs_hook_before_each_shift_are_ok() -> None:
    said, problems = strategy_problems(WINDOWED, service("LINEAR", ours("PRE_PRODUCTION_TRAFFIC_SHIFT")), OUTPUTS)
    assert problems == []
    assert said == "LINEAR, handoff's lifecycle hook at PRE_PRODUCTION_TRAFFIC_SHIFT (1440 min)"


def test_doctor_strategy_release_controls_without_handoffs_hook_are_a_problem() -> None:
    _, problems = strategy_problems(WINDOWED, service("BLUE_GREEN"), OUTPUTS)
    assert [p.detail for p in problems] == [
        "the entry has release controls but handoff's lifecycle hook does not run at PRE_PRODUCTION_TRAFFIC_SHIFT: "
        "they apply before the deploy only, never to the production traffic shifts"
    ]
    assert "LifecycleHookFunctionArn" in problems[0].fix


def test_doctor_strategy_a_hook_timing_out_before_max_gate_wait_is_a_problem() -> None:
    # GIVEN max_gate_wait_seconds of half a day and a hook ECS gives up on after an hour
    hook = ours("PRE_PRODUCTION_TRAFFIC_SHIFT", timeoutConfiguration={"timeoutInMinutes": 60})
    _, problems = strategy_problems(WINDOWED, service("CANARY", hook), OUTPUTS)
    assert [p.detail for p in problems] == [
        "handoff's lifecycle hook times out after 60 min, before max_gate_wait_seconds (43200 s): ECS rolls back a "
        "held shift before the release controls would"
    ]


def test_doctor_strategy_handoffs_hook_at_other_stages_is_named() -> None:
    _, problems = strategy_problems(
        WINDOWED, service("LINEAR", ours("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")), OUTPUTS
    )
    assert [p.detail.split(",")[0] for p in problems] == [
        "handoff's lifecycle hook also runs at PRODUCTION_TRAFFIC_SHIFT"
    ]


def test_doctor_strategy_an_alias_of_handoffs_function_is_handoffs_hook() -> None:
    hook = {**ours("PRE_PRODUCTION_TRAFFIC_SHIFT"), "hookTargetArn": f"{HOOK}:live"}
    assert strategy_problems(WINDOWED, service("LINEAR", hook), OUTPUTS)[1] == []


def test_doctor_strategy_approval_before_production_traffic_needs_a_pause_hook_after_test_traffic() -> None:
    # GIVEN an entry whose approvers decide on green's test traffic (approval_stage, read defensively)
    entry = SimpleNamespace(approval_stage="before_production_traffic", approval_timeout_seconds=86400)
    # THEN a rolling service, and a blue/green one without the PAUSE hook, are problems; one with it is ok
    rolling = strategy_problems(entry, service("ROLLING"), OUTPUTS)[1]
    assert [p.detail.split(":")[0] for p in rolling] == [
        "approval_stage is before_production_traffic but the service deploys ROLLING"
    ]
    missing = strategy_problems(entry, service("BLUE_GREEN"), OUTPUTS)[1]
    assert missing[0].detail.startswith("approval_stage is before_production_traffic but no PAUSE hook runs at")
    said, problems = strategy_problems(entry, service("BLUE_GREEN", pause()), OUTPUTS)
    assert (said, problems) == ("BLUE_GREEN, PAUSE hook at POST_TEST_TRAFFIC_SHIFT (1440 min)", [])


def test_doctor_strategy_a_pause_timing_out_before_the_approval_is_a_problem() -> None:
    entry = SimpleNamespace(approval_stage="before_production_traffic", approval_timeout_seconds=2 * 86400)
    [problem] = strategy_problems(entry, service("BLUE_GREEN", pause(1440)), OUTPUTS)[1]
    assert problem.detail.startswith("the PAUSE hook at POST_TEST_TRAFFIC_SHIFT times out after 1440 min (ROLLBACK)")
    assert "timeout_in_minutes = 2880" in problem.fix


def test_doctor_strategy_reads_approval_stage_defensively() -> None:
    # An entry of a handoff version without approval_stage is today's behaviour: approval before the deploy.
    assert approval_stage(WINDOWED) == "before_deploy"
    assert approval_stage(SimpleNamespace()) == "before_deploy"


def test_doctor_strategy_trust_policy_must_name_ecs() -> None:
    allow = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ecs.amazonaws.com"}}
    assert trusts_ecs({"Statement": [allow]})
    assert not trusts_ecs({"Statement": [{**allow, "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})
    assert not trusts_ecs({"Statement": [{**allow, "Effect": "Deny"}]})


def test_doctor_strategy_a_hook_that_continues_on_timeout_is_a_problem() -> None:
    # GIVEN handoff's hook with a timeout as long as max_gate_wait_seconds, but CONTINUE as its timeout action
    timeout = {"timeoutInMinutes": 1440, "action": "CONTINUE"}
    hook = ours("PRE_PRODUCTION_TRAFFIC_SHIFT", timeoutConfiguration=timeout)
    # WHEN doctor looks THEN it says ECS would move production traffic while a release control still holds it
    _, problems = strategy_problems(WINDOWED, service("LINEAR", hook), OUTPUTS)
    assert [p.detail for p in problems] == [
        "handoff's lifecycle hook continues the deployment when it times out (timeout action CONTINUE): a hold "
        "that outlasts its 1440 min moves production traffic while a release control still holds it"
    ]
    assert "ROLLBACK" in problems[0].fix


def test_doctor_strategy_a_rollout_timeout_shorter_than_a_held_shift_is_a_problem() -> None:
    # GIVEN release controls that may hold a production shift a day (the default max_gate_wait_seconds) and the
    # default rollout_timeout_seconds (30 min), which the workflow counts from the UpdateService
    entry = ServiceConfig.model_validate(
        {"cluster": "prod", "service": "web", "task_definition": "prod-web:1", "blocking_alarms": ["prod-web-5xx"]}
    )
    # WHEN doctor looks at a LINEAR service with handoff's hook before each shift
    _, problems = strategy_problems(entry, service("LINEAR", ours("PRE_PRODUCTION_TRAFFIC_SHIFT")), OUTPUTS)
    # THEN it says a held shift fails the rollout (and handoff rolls it back) long before the hook would
    assert [p.detail for p in problems] == [
        "rollout_timeout_seconds (1800 s) is not longer than max_gate_wait_seconds (86400 s): a production "
        "traffic shift held by a release control fails the rollout 1800 s after the deploy and handoff rolls it "
        "back, before the hook's maximum wait"
    ]
    assert "rollout_timeout_seconds" in problems[0].fix


def test_doctor_strategy_a_pause_hook_nobody_continues_is_a_problem() -> None:
    # GIVEN an entry that asks its approvers before the deploy, and a PAUSE hook after test traffic
    entry = ServiceConfig.model_validate({"cluster": "prod", "service": "web", "task_definition": "prod-web:1"})
    _, problems = strategy_problems(entry, service("BLUE_GREEN", pause(120)), OUTPUTS)
    assert [p.detail for p in problems] == [
        "a PAUSE hook at POST_TEST_TRAFFIC_SHIFT holds every deployment until it times out (120 min, then ROLLBACK): "
        "handoff continues only a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, for an entry whose approval_stage is "
        "before_production_traffic"
    ]
    assert 'approval_stage = "before_production_traffic"' in problems[0].fix


def test_doctor_strategy_a_pause_hook_at_another_stage_is_a_problem_even_with_approval_at_traffic() -> None:
    entry = ServiceConfig.model_validate(
        {"cluster": "prod", "service": "web", "task_definition": "prod-web:1", "approval_required": True,
         "approvers": ["alice@example.com"], "approval_stage": "before_production_traffic",
         "test_traffic": {"url": "https://green.example.com"}}
    )  # fmt: skip
    other = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"],
             "timeoutConfiguration": {"timeoutInMinutes": 2880, "action": "CONTINUE"}}  # fmt: skip
    _, problems = strategy_problems(entry, service("BLUE_GREEN", pause(2880), other), OUTPUTS)
    assert [p.detail for p in problems] == [
        "a PAUSE hook at POST_SCALE_UP holds every deployment until it times out (2880 min, then CONTINUE): handoff "
        "continues only a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, for an entry whose approval_stage is "
        "before_production_traffic"
    ]
