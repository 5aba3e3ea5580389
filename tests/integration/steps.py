"""A deployment through the workflow's steps, each invoked as the state machine invokes it (the intake's start, the
lock, the deploy, the rollout's watch), and what a test reads or changes around them: records, ECS's service,
the stored rollout wait, ECS's event, the registry entry."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import RolloutWait, ServiceState, rollout_key
from ecs_handoff_embedded.scenario import artifact, edit_registry_entry, image

from tests.helpers import s3_event

if TYPE_CHECKING:  # conftest.py imports this module for its fixtures
    from tests.integration.conftest import Stack

BUCKET, KEY = "dev-ecsdef-123456789012", "api/imagedefinitions.json.zip"
ARN_PREFIX = "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:"
NEW = {"app-container": image("api", "dev-4f2a9c1")}
TOKEN = "token-of-the-waiting-rollout"  # SendTaskSuccess to it answers TaskDoesNotExist: logged, not raised


def start(
    stack: Stack, images: dict[str, str], sequencer: str = "0062E99A88DC407460", locked: bool = True
) -> dict[str, Any]:
    """A deployment as the intake starts it and, unless `locked` is False, as the workflow's lock step then
    finds it (the deploy step deploys only for the lock's holder); returns the workflow input."""
    stack.push(artifact(images))
    version = stack.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=artifact(images))["VersionId"]
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, sequencer))
    assert result["action"] == "STARTED", result
    sfn = stack.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=ARN_PREFIX + result["deployment_id"])
    state = dict(json.loads(execution["input"]))
    if locked and lock(stack, state)["status"] != "ACQUIRED":
        # An earlier deployment of the test still holds it: it has ended, as its Finalize would say.
        table = ServiceState(stack.outputs["StateTableName"])
        holder = table.lock_holder(state["request"]["service_id"])
        assert holder is not None and table.release_lock(state["request"]["service_id"], holder)
        assert lock(stack, state)["status"] == "ACQUIRED"
    return state


def records(stack: Stack) -> DeploymentRecords:
    return DeploymentRecords(stack.outputs["DeploymentsTableName"])


def ecs_service(name: str = "api") -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends["123456789012"]["ap-northeast-1"].services[f"dev:{name}"]


def lock(stack: Stack, state: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(
        "lock", {"request": state["request"], "execution_arn": ARN_PREFIX + state["request"]["deployment_id"]}
    )


def deployed(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    state = start(stack, NEW)
    return state, stack.invoke("deploy", {"request": state["request"]})


def watch(
    stack: Stack, state: dict[str, Any], result: dict[str, Any], token: str = TOKEN, entered: str = ""
) -> dict[str, Any]:
    turn = {"request": state["request"], "deploy": result, "task_token": token, "entered": entered, "attempt": 0}
    return stack.invoke("rollout", turn)


def waiting(stack: Stack, ecs_deployment_id: str) -> RolloutWait | None:
    """The stored wait, read without taking it (the functions only take it)."""
    table, key = stack.outputs["StateTableName"], rollout_key(ecs_deployment_id)
    item = stack.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return RolloutWait.from_item(item or {})


def ecs_event(
    ecs_deployment_id: str, name: str = "SERVICE_DEPLOYMENT_COMPLETED", service: str = "dev/api"
) -> dict[str, Any]:
    """ECS's event as the Amazon ECS developer guide shows it."""
    return {
        "version": "0",
        "id": "ddca6449-b258-46c0-8653-e0e3aEXAMPLE",
        "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs",
        "account": "123456789012",
        "time": "2026-11-27T09:00:01Z",
        "region": "ap-northeast-1",
        "resources": [f"arn:aws:ecs:ap-northeast-1:123456789012:service/{service}"],
        "detail": {
            "eventType": "ERROR" if name.endswith("FAILED") else "INFO",
            "eventName": name,
            "deploymentId": ecs_deployment_id,
            "updatedAt": "2026-11-27T09:00:00.250Z",
            "reason": "ECS deployment circuit breaker: task failed to start."
            if name.endswith("FAILED")
            else f"ECS deployment {ecs_deployment_id} completed.",
        },
    }


def revisions(stack: Stack) -> list[str]:
    return list(stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"])


def edit_registry(stack: Stack, service_id: str = "api", /, **changes: Any) -> None:
    """Changes the service's registry entry as a Terraform apply that sets more keys would."""
    edit_registry_entry(stack.client("ssm"), "dev", service_id, **changes)
