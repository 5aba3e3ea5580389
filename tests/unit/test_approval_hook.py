"""What an ECS service deployment, as DescribeServiceDeployments shows it, means for the PAUSE hook the approvers
decide at (logic/service_deployments.py): held there, or already let past it (what a retried release finds)."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.logic.service_deployments import approval_hook_problem, snapshot


def described(status: str, stage: str, *hooks: tuple[str, str]) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": "arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/prod/web/abc",
        "deploymentConfiguration": {"strategy": "BLUE_GREEN"},
        "status": status,
        "lifecycleStage": stage,
        "lifecycleHookDetails": [
            {"hookId": f"hook-{i}", "targetType": kind, "status": state} for i, (kind, state) in enumerate(hooks)
        ],
    }


@pytest.mark.parametrize(
    ("status", "stage", "hooks", "released"),
    [
        # held at the hook: not released
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", [("PAUSE", "AWAITING_ACTION")], False),
        # continued a moment ago, still in the stage
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", [("PAUSE", "SUCCEEDED")], True),
        # production traffic moving, or moved
        ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", [("PAUSE", "SUCCEEDED")], True),
        ("IN_PROGRESS", "BAKE_TIME", [("PAUSE", "SUCCEEDED")], True),
        ("SUCCESSFUL", "CLEAN_UP", [("PAUSE", "SUCCEEDED")], True),
        # not there yet: a Lambda hook before the pause succeeded, which lets nothing past the approval hook
        ("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", [("AWS_LAMBDA", "SUCCEEDED")], False),
        ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", [("AWS_LAMBDA", "SUCCEEDED")], False),
        # rolled back, rolling back or stopped: never released
        ("ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", [("PAUSE", "SUCCEEDED")], False),
        ("ROLLBACK_SUCCESSFUL", "CLEAN_UP", [("PAUSE", "SUCCEEDED")], False),
        ("STOPPED", "BAKE_TIME", [("PAUSE", "SUCCEEDED")], False),
    ],
)
def test_released_past_the_approval_hook(status: str, stage: str, hooks: list[tuple[str, str]], released: bool) -> None:
    shot = snapshot(described(status, stage, *hooks))
    assert shot.released() is released
    if released:
        assert shot.awaiting_pause() is None


def service_with_pause(timeout: dict[str, Any] | None) -> dict[str, Any]:
    hook: dict[str, Any] = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
    if timeout is not None:
        hook["timeoutConfiguration"] = timeout
    return {
        "deploymentConfiguration": {"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]},
        "loadBalancers": [{"advancedConfiguration": {"productionListenerRule": "p", "testListenerRule": "t"}}],
    }


@pytest.mark.parametrize(
    ("timeout", "approval_seconds", "problem"),
    [
        ({"timeoutInMinutes": 60, "action": "ROLLBACK"}, 3600, None),
        ({"timeoutInMinutes": 10080, "action": "ROLLBACK"}, 3000, None),
        # AWS's defaults: ROLLBACK after 1440 minutes (API_DeploymentLifecycleHookTimeoutConfiguration)
        (None, 86400, None),
        ({"action": "ROLLBACK"}, 86400, None),
        # ECS would roll back while the approvers still decide: their approval could only fail
        ({"timeoutInMinutes": 10, "action": "ROLLBACK"}, 3600, "times out after 10 min"),
        (None, 86401, "times out after 1440 min"),
        # a timeout that continues moves production traffic with nobody's approval
        ({"timeoutInMinutes": 10080, "action": "CONTINUE"}, 3600, "continues when it times out"),
    ],
)
def test_the_pause_hook_must_outlast_the_approvers_wait_and_roll_back(
    timeout: dict[str, Any] | None, approval_seconds: int, problem: str | None
) -> None:
    found = approval_hook_problem(service_with_pause(timeout), approval_seconds)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_approvers_need_a_way_to_reach_green() -> None:
    # GIVEN a service whose PAUSE hook is right, behind a load balancer without a test listener rule
    service = service_with_pause({"timeoutInMinutes": 10080, "action": "ROLLBACK"})
    service["loadBalancers"] = [{"targetGroupArn": "blue", "advancedConfiguration": {"productionListenerRule": "p"}}]
    # THEN it cannot ask approvers to look at green: no test traffic reaches it
    problem = approval_hook_problem(service, 3600)
    assert problem is not None and "no test traffic route" in problem
    # WHEN the load balancer has a test listener rule, or Service Connect a test traffic rule, it can
    service["loadBalancers"][0]["advancedConfiguration"]["testListenerRule"] = "t"
    assert approval_hook_problem(service, 3600) is None
    service["loadBalancers"] = []
    alias = {"port": 80, "testTrafficRules": {"header": {"name": "x-green"}}}
    service["deployments"] = [{"serviceConnectConfiguration": {"services": [{"clientAliases": [alias]}]}}]
    assert approval_hook_problem(service, 3600) is None
