"""The rollout's verdict as ECS shows it, with ECS as it really is: eventually consistent (a new deployment
may not be listed yet, an event may come before DescribeServices shows it) and without rolloutState for
services behind a Classic Load Balancer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ecs_handoff.aws.state import RolloutWait
from ecs_handoff.logic import rollout
from ecs_handoff.models import DeployResult, EcsDeploymentStateChange, RolloutState, ServiceConfig, iso, utcnow

CONFIG = ServiceConfig(cluster="dev", service="api", task_definition="dev-api", rollout_timeout_seconds=600)


def deployed(seconds_ago: float = 1.0) -> DeployResult:
    return DeployResult(
        new_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:2",
        previous_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1",
        ecs_deployment_id="ecs-svc/new",
        deployed_at=iso(utcnow() - timedelta(seconds=seconds_ago)),
        images=[],
    )


def deployment(ident: str, status: str = "PRIMARY", running: int = 2, **fields: Any) -> dict[str, Any]:
    return {"id": ident, "status": status, "runningCount": running, "desiredCount": 2, "pendingCount": 0, **fields}


def service(*deployments: dict[str, Any]) -> dict[str, Any]:
    return {
        "taskDefinition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1",
        "deployments": list(deployments),
    }


def test_judge_a_deployment_ecs_does_not_list_yet_is_in_progress_for_a_while() -> None:
    # GIVEN UpdateService answered a second ago, and DescribeServices does not show the new deployment yet
    result = rollout.judge(service(deployment("ecs-svc/old", rolloutState="COMPLETED")), deployed(1), CONFIG)
    # THEN it is still rolling out, not FAILED (which would roll back a healthy deployment)
    assert result.state is RolloutState.IN_PROGRESS
    assert result.reason.startswith("ECS does not list deployment ecs-svc/new yet")


def test_judge_a_deployment_missing_past_the_grace_period_failed() -> None:
    old = service(deployment("ecs-svc/old", rolloutState="COMPLETED"))
    result = rollout.judge(old, deployed(rollout.LISTING_GRACE_SECONDS + 5), CONFIG)
    assert result.state is RolloutState.FAILED
    assert "is not on service api" in result.reason and "the service now runs dev-api:1" in result.reason


def test_judge_without_rollout_state_completes_from_the_counts() -> None:
    # GIVEN a service behind a Classic Load Balancer: ECS gives no rolloutState
    draining = service(deployment("ecs-svc/new"), deployment("ecs-svc/old", status="ACTIVE", running=1))
    done = service(deployment("ecs-svc/new"))
    # THEN it is in progress while the old deployment drains, and COMPLETED once ours runs alone and in full
    assert rollout.judge(draining, deployed(), CONFIG).state is RolloutState.IN_PROGRESS
    result = rollout.judge(done, deployed(), CONFIG)
    assert result.state is RolloutState.COMPLETED
    assert result.reason.startswith("ECS reports no rolloutState for this service (a Classic Load Balancer)")


def test_judge_without_rollout_state_short_of_tasks_times_out_as_failed() -> None:
    stuck = service(deployment("ecs-svc/new", running=1))
    assert rollout.judge(stuck, deployed(), CONFIG).state is RolloutState.IN_PROGRESS
    assert rollout.judge(stuck, deployed(CONFIG.rollout_timeout_seconds + 1), CONFIG).state is RolloutState.FAILED


class LaggingEcs:
    """DescribeServices that shows the deployment IN_PROGRESS for the first `lag` reads, then COMPLETED."""

    def __init__(self, lag: int) -> None:
        self.lag, self.reads = lag, 0

    def describe_services(self, **_: Any) -> dict[str, Any]:
        self.reads += 1
        state = "IN_PROGRESS" if self.reads <= self.lag else "COMPLETED"
        return {"services": [service(deployment("ecs-svc/new", rolloutState=state))], "failures": []}


class OneWait:
    def __init__(self) -> None:
        self.wait: Any = RolloutWait(token="t", deployment_id="api-v1", service="dev/api")
        self.given_back = 0

    def take(self, ecs_id: str, service: str | None = None) -> Any:
        """As the table's conditional delete: nothing when the wait is for another service than named."""
        if self.wait is None or (service is not None and self.wait.service != service):
            return None
        taken, self.wait = self.wait, None
        return taken

    def give_back(self, ecs_id: str, wait: Any) -> None:
        self.given_back += 1
        self.wait = wait


class Workflow:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        import json

        self.sent.append(json.loads(output))
        return {}


def event() -> EcsDeploymentStateChange:
    return EcsDeploymentStateChange.model_validate(
        {
            "detail-type": "ECS Deployment State Change",
            "source": "aws.ecs",
            "resources": ["arn:aws:ecs:ap-northeast-1:123456789012:service/dev/api"],
            "detail": {"eventName": "SERVICE_DEPLOYMENT_COMPLETED", "deploymentId": "ecs-svc/new"},
        }
    )


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rollout, "AGREEMENT_RETRY_SECONDS", (0.0, 0.0))


def test_an_event_that_comes_before_ecs_shows_it_is_decided_when_ecs_catches_up() -> None:
    # GIVEN ECS's COMPLETED event, and DescribeServices that shows it only on the second read
    ecs, waits, workflow = LaggingEcs(lag=1), OneWait(), Workflow()
    # WHEN the event function handles it
    done = rollout.on_event(event(), waits, ecs, workflow)  # type: ignore[arg-type]  # fakes
    # THEN it asked again and decided from what ECS shows, by the event
    assert done.startswith("COMPLETED") and ecs.reads == 2
    assert [s["state"] for s in workflow.sent] == ["COMPLETED"] and workflow.sent[0]["decided_by"] == "event"


def test_an_event_ecs_never_bears_out_is_left_to_the_workflows_look() -> None:
    ecs, waits, workflow = LaggingEcs(lag=99), OneWait(), Workflow()
    done = rollout.on_event(event(), waits, ecs, workflow)  # type: ignore[arg-type]  # fakes
    assert done.startswith("ignored: the event says COMPLETED, but ECS shows deployment ecs-svc/new IN_PROGRESS")
    assert ecs.reads == 1 + len(rollout.AGREEMENT_RETRY_SECONDS)
    assert workflow.sent == [] and waits.given_back == 1 and waits.wait is not None


def test_an_event_naming_the_service_by_an_old_format_arn_still_decides() -> None:
    # GIVEN a service created before ECS's long ARN format: its ARN has no cluster (service/api)
    old = event().model_copy(update={"resources": ["arn:aws:ecs:ap-northeast-1:123456789012:service/api"]})
    ecs, waits, workflow = LaggingEcs(lag=0), OneWait(), Workflow()
    # WHEN ECS's event comes  THEN it takes the fast path, like an event naming cluster/service
    assert rollout.on_event(old, waits, ecs, workflow).startswith("COMPLETED")  # type: ignore[arg-type]  # fakes
    assert [s["state"] for s in workflow.sent] == ["COMPLETED"]


def test_an_old_format_arn_naming_another_service_decides_nothing() -> None:
    other = event().model_copy(update={"resources": ["arn:aws:ecs:ap-northeast-1:123456789012:service/worker"]})
    ecs, waits, workflow = LaggingEcs(lag=0), OneWait(), Workflow()
    assert rollout.on_event(other, waits, ecs, workflow).startswith("ignored")  # type: ignore[arg-type]  # fakes
    assert workflow.sent == [] and waits.wait is not None
