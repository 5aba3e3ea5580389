"""What an ECS service deployment (BLUE_GREEN, LINEAR, CANARY) means for handoff, without AWS: ECS's verdict, the
PAUSE hook the approvers decide at, which services can hold one, and finding the deployment of handoff's revision."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.models import RolloutState, VerdictSource

SD = "arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/prod/web/abc"
PAUSE = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}


def described(status: str = "IN_PROGRESS", stage: str = "POST_TEST_TRAFFIC_SHIFT", **extra: Any) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": SD,
        "status": status,
        "lifecycleStage": stage,
        "deploymentConfiguration": {"strategy": "BLUE_GREEN"},
        "targetServiceRevision": {"requestedTestTrafficWeight": 100.0, "requestedProductionTrafficWeight": 0.0},
        "lifecycleHookDetails": [{"hookId": "h1", "targetType": "PAUSE", "status": "AWAITING_ACTION"}],
        **extra,
    }


def test_successful_is_completed_with_ecs_words() -> None:
    result = strategies.verdict(described("SUCCESSFUL", "CLEAN_UP"), False, VerdictSource.EVENT, "2026-12-05T00:00:00Z")
    assert result.state is RolloutState.COMPLETED and result.decided_by is VerdictSource.EVENT
    assert (
        result.reason == "ECS's BLUE_GREEN deployment abc is SUCCESSFUL: production traffic 100 % on the new revision"
    )
    assert result.service_deployment_arn == SD and result.ecs_reported_at == "2026-12-05T00:00:00Z"


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("ROLLBACK_SUCCESSFUL", "ECS rolled back (production and test traffic back on the previous revision)"),
        ("ROLLBACK_FAILED", "ECS tried to roll back and FAILED (check the service by hand)"),
        ("STOPPED", "ECS stopped (traffic left where it was)"),
    ],
)
def test_rolled_back_or_stopped_is_failed_with_ecs_reason_and_alarms(status: str, words: str) -> None:
    # GIVEN ECS's rollback reason, and an alarm it names only in alarms.triggeredAlarmNames
    shown = described(
        status,
        "CLEAN_UP",
        rollback={"reason": "Service deployment rolled back because alarm(s) web-5xx went into ALARM."},
        alarms={"triggeredAlarmNames": ["web-5xx", "web-latency"]},
    )
    result = strategies.verdict(shown, False, VerdictSource.POLL)
    assert result.state is RolloutState.FAILED
    assert result.reason == (
        f"{words} the BLUE_GREEN deployment: Service deployment rolled back because alarm(s) web-5xx went into "
        "ALARM. (alarms in ALARM: web-latency)"
    )


def test_rolling_back_is_not_a_verdict_yet() -> None:
    # ECS is still moving traffic back to blue: FAILED only once it has
    result = strategies.verdict(
        described("ROLLBACK_IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT"), False, VerdictSource.EVENT
    )
    assert result.state is RolloutState.IN_PROGRESS and result.ecs_reported_at is None


def test_paused_only_for_a_deployment_that_asks_its_approvers_there() -> None:
    paused = strategies.verdict(described(), True, VerdictSource.EVENT)
    assert paused.state is RolloutState.PAUSED and paused.hook_id == "h1"
    assert strategies.verdict(described(), False, VerdictSource.EVENT).state is RolloutState.IN_PROGRESS
    # a PAUSE hook at another stage, or one already decided, holds nothing for the approvers
    elsewhere = described(stage="POST_PRODUCTION_TRAFFIC_SHIFT")
    assert strategies.verdict(elsewhere, True, VerdictSource.EVENT).state is RolloutState.IN_PROGRESS
    decided = described(lifecycleHookDetails=[{"hookId": "h1", "targetType": "PAUSE", "status": "SUCCEEDED"}])
    assert strategies.verdict(decided, True, VerdictSource.EVENT).state is RolloutState.IN_PROGRESS


def test_snapshot_words_say_stage_weights_and_hooks() -> None:
    shot = strategies.snapshot(described())
    assert shot.words() == (
        "BLUE_GREEN IN_PROGRESS · POST_TEST_TRAFFIC_SHIFT · production blue 100 % / green 0 % · "
        "test blue 0 % / green 100 % · PAUSE hook AWAITING_ACTION"
    )
    assert shot.fields()["production"] == "100/0" and shot.fields()["test"] == "0/100"


@pytest.mark.parametrize(
    ("configuration", "problem"),
    [
        ({}, "uses the ROLLING strategy"),
        ({"strategy": "LINEAR"}, "has no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT"),
        (
            {"strategy": "BLUE_GREEN", "lifecycleHooks": [{**PAUSE, "lifecycleStages": ["POST_SCALE_UP"]}]},
            "has no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT",
        ),
        (
            {"strategy": "CANARY", "lifecycleHooks": [{**PAUSE, "timeoutConfiguration": {"action": "CONTINUE"}}]},
            "continues when it times out",
        ),
        ({"strategy": "BLUE_GREEN", "lifecycleHooks": [PAUSE]}, None),
    ],
)
def test_which_services_can_hold_a_deployment_for_the_approvers(configuration: dict[str, Any], problem: str) -> None:
    reachable = [{"advancedConfiguration": {"productionListenerRule": "p", "testListenerRule": "t"}}]
    service = {"deploymentConfiguration": configuration, "loadBalancers": reachable}
    found = strategies.approval_hook_problem(service, approval_timeout_seconds=3600)
    assert (found is None) if problem is None else (problem in (found or ""))


class Ecs:
    """ListServiceDeployments, DescribeServiceRevisions and DescribeServiceDeployments as ECS answers them."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []

    def list_service_deployments(self, **kwargs: Any) -> dict[str, Any]:
        self.listed.append(kwargs)
        return {
            "serviceDeployments": [
                {"serviceDeploymentArn": "sd-old", "targetServiceRevisionArn": "rev-old", "createdAt": "1"},
                {"serviceDeploymentArn": SD, "targetServiceRevisionArn": "rev-ours", "createdAt": "2"},
            ]
        }

    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        tds = {"rev-old": "arn:aws:ecs:r:1:task-definition/prod-web:4", "rev-ours": "arn:x:task-definition/prod-web:5"}
        return {"serviceRevisions": [{"serviceRevisionArn": a, "taskDefinition": tds[a]} for a in serviceRevisionArns]}

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        return {"serviceDeployments": [described() for _ in serviceDeploymentArns if _ == SD]}


def test_find_names_the_deployment_whose_target_revision_runs_handoffs_revision() -> None:
    ecs = Ecs()
    found = strategies.find("prod", "web", "prod-web:5", "2026-12-05T10:00:00.000Z", ecs)  # type: ignore[arg-type]
    assert found is not None and found["serviceDeploymentArn"] == SD
    # only deployments created since UpdateService (less a margin for clock skew) are listed
    assert str(ecs.listed[0]["createdAt"]["after"]).startswith("2026-12-05 09:55:00")
    assert strategies.find("prod", "web", "prod-web:6", None, ecs) is None  # type: ignore[arg-type]
