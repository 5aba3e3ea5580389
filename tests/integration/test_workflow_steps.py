"""Lock, deploy, rollout, rollback and finalize handlers, each against the stack's own resources."""

from __future__ import annotations

import time
from typing import Any

import pytest
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState

from tests.helpers import artifact, image, s3_event
from tests.integration.conftest import HandlerError, Stack

BUCKET, KEY = "dev-ecsdef-123456789012", "api/imagedefinitions.json.zip"
ARN_PREFIX = "arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:"


def start(stack: Stack, images: dict[str, str], sequencer: str = "0062E99A88DC407460") -> dict[str, Any]:
    """A deployment as the intake starts it; returns the workflow input."""
    import json

    stack.push(artifact(images))
    version = stack.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=artifact(images))["VersionId"]
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, sequencer))
    assert result["action"] == "STARTED", result
    sfn = stack.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=ARN_PREFIX + result["deployment_id"])
    return dict(json.loads(execution["input"]))


def records(stack: Stack) -> DeploymentRecords:
    return DeploymentRecords(stack.outputs["DeploymentsTableName"])


def ecs_service(name: str = "api") -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends["123456789012"]["ap-northeast-1"].services[f"dev:{name}"]


def lock(stack: Stack, state: dict[str, Any]) -> dict[str, Any]:
    return stack.invoke(
        "lock", {"request": state["request"], "execution_arn": ARN_PREFIX + state["request"]["deployment_id"]}
    )


NEW = {"app-container": image("api", "dev-4f2a9c1")}


def test_lock_first_deployment_acquires(stack: Stack):
    state = start(stack, NEW)
    assert lock(stack, state)["status"] == "ACQUIRED"


def test_lock_second_deployment_waits_while_holder_runs(stack: Stack):
    # GIVEN a running deployment holding the lock (its execution is RUNNING in moto)
    first = start(stack, NEW, "0062E99A88DC407460")
    assert lock(stack, first)["status"] == "ACQUIRED"
    second = start(stack, NEW, "0062E99A88DC407470")
    # WHEN the newer one asks  THEN it waits, naming the holder
    result = lock(stack, second)
    assert result["status"] == "WAIT" and result["holder"] == first["request"]["deployment_id"]
    # AND the older one, were it to ask again now, has been superseded by the newer upload
    assert lock(stack, first)["status"] == "SUPERSEDED"


def test_lock_taken_over_when_holder_execution_ended(stack: Stack):
    # GIVEN a lock whose holder's execution no longer runs (stopped by hand, never unlocked)
    first = start(stack, NEW, "0062E99A88DC407460")
    assert lock(stack, first)["status"] == "ACQUIRED"
    stack.client("stepfunctions").stop_execution(executionArn=ARN_PREFIX + first["request"]["deployment_id"])
    second = start(stack, NEW, "0062E99A88DC407470")
    # THEN the next deployment takes it over instead of waiting for the lease
    result = lock(stack, second)
    assert result["status"] == "ACQUIRED" and "took over" in result["reason"]


def test_lock_expired_lease_frees_the_service(stack: Stack):
    state = start(stack, NEW)
    table = ServiceState(stack.outputs["StateTableName"])
    table.acquire_lock("api", "ghost", ARN_PREFIX + "ghost", lease_seconds=-1)
    assert lock(stack, state)["status"] == "ACQUIRED"


def test_deploy_registers_base_with_new_images_and_updates_service(stack: Stack):
    state = start(stack, NEW)
    result = stack.invoke("deploy", {"request": state["request"]})
    ecs = stack.client("ecs")
    new = ecs.describe_task_definition(taskDefinition=result["new_task_definition"], include=["TAGS"])
    images = {c["name"]: c["image"] for c in new["taskDefinition"]["containerDefinitions"]}
    # THEN only app-container changed; nginx kept Terraform's image; roles and secrets flowed through
    assert images == {
        "app-container": stack.pinned(NEW["app-container"]),
        "nginx-container": image("api-nginx", "dev-0a1b2c3"),
    }
    assert new["taskDefinition"]["taskRoleArn"].endswith(":role/ecs/dev-api-task")
    assert new["taskDefinition"]["containerDefinitions"][0]["secrets"][0]["name"] == "DB_PASSWORD"
    tags = {t["key"]: t["value"] for t in new["tags"]}
    assert tags["handoff:deployment-id"] == state["request"]["deployment_id"] and tags["managed-by"] == "terraform"
    assert ecs_service().task_definition == result["new_task_definition"]
    assert result["previous_task_definition"].endswith("dev-api:1")
    assert ecs_service().deployments[0]["id"] == result["ecs_deployment_id"]


def test_deploy_retried_after_success_registers_and_updates_nothing_more(stack: Stack):
    # GIVEN a deploy step that already ran (and, say, its response was lost)
    state = start(stack, NEW)
    first = stack.invoke("deploy", {"request": state["request"]})
    revisions = stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"]
    # WHEN Step Functions retries it
    second = stack.invoke("deploy", {"request": state["request"]})
    # THEN no second revision, the same ECS deployment, the same previous revision
    assert stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"] == revisions
    assert second["ecs_deployment_id"] == first["ecs_deployment_id"]
    assert second["previous_task_definition"] == first["previous_task_definition"]


def test_deploy_base_from_family_skips_handoffs_own_revisions(stack: Stack):
    # GIVEN a deployment already made (dev-api:2 carries handoff's tag)
    stack.invoke("deploy", {"request": start(stack, NEW, "0062E99A88DC407460")["request"]})
    # WHEN the next upload resolves the base from the family
    state = start(stack, {"app-container": image("api", "dev-9d8e7f6")}, "0062E99A88DC407470")
    # THEN the base is still Terraform's dev-api:1, not handoff's dev-api:2
    assert state["request"]["base_task_definition"].endswith("dev-api:1")


def test_deploy_update_service_failure_raises_project_error(stack: Stack):
    state = start(stack, NEW)
    state["request"]["service"]["service"] = "gone"
    with pytest.raises(HandlerError) as info:
        stack.invoke("deploy", {"request": state["request"]})
    assert info.value.error_type == "NotFound"


def deployed(stack: Stack) -> tuple[dict[str, Any], dict[str, Any]]:
    state = start(stack, NEW)
    return state, stack.invoke("deploy", {"request": state["request"]})


def test_rollout_in_progress_then_completed(stack: Stack):
    state, result = deployed(stack)
    event = {"request": state["request"], "deploy": result}
    assert stack.invoke("rollout", event)["state"] == "IN_PROGRESS"
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"
    assert stack.invoke("rollout", event)["state"] == "COMPLETED"


def test_rollout_failed_reports_ecs_reason(stack: Stack):
    state, result = deployed(stack)
    ecs_service().deployments[0].update(rolloutState="FAILED", rolloutStateReason="circuit breaker", failedTasks=2)
    checked = stack.invoke("rollout", {"request": state["request"], "deploy": result})
    assert (
        checked["state"] == "FAILED"
        and "circuit breaker" in checked["reason"]
        and "2 tasks failed" in checked["reason"]
    )


def test_rollout_stable_service_without_our_deployment_is_not_success(stack: Stack):
    # GIVEN the service is steady, but on a deployment that is not the one handoff created
    state, result = deployed(stack)
    ecs_service().deployments[0].update(id="ecs-svc/someone-else", rolloutState="COMPLETED")
    checked = stack.invoke("rollout", {"request": state["request"], "deploy": result})
    assert checked["state"] == "FAILED" and "no longer on service api" in checked["reason"]


def test_rollout_timeout_fails(stack: Stack):
    state, result = deployed(stack)
    state["request"]["service"]["rollout_timeout_seconds"] = 5
    result["deployed_at"] = "2026-01-01T00:00:00.000Z"
    checked = stack.invoke("rollout", {"request": state["request"], "deploy": result})
    assert checked["state"] == "FAILED" and "did not complete within 5 s" in checked["reason"]


def test_rollback_puts_previous_revision_back_when_ecs_did_not(stack: Stack):
    state, result = deployed(stack)
    rolled = stack.invoke("rollback", {"request": state["request"]})
    assert rolled["action"] == "ROLLED_BACK"
    assert ecs_service().task_definition == result["previous_task_definition"]


def test_rollback_not_needed_when_circuit_breaker_already_did(stack: Stack):
    state, result = deployed(stack)
    ecs_service().task_definition = result["previous_task_definition"]
    rolled = stack.invoke("rollback", {"request": state["request"]})
    assert rolled["action"] == "ALREADY_ROLLED_BACK" and "dev-api:1" in rolled["reason"]


def test_rollback_before_deploy_changes_nothing(stack: Stack):
    state = start(stack, NEW)
    assert stack.invoke("rollback", {"request": state["request"]})["action"] == "NOTHING_DEPLOYED"
    assert ecs_service().task_definition.endswith("dev-api:1")


def test_finalize_records_outcome_notifies_and_unlocks(stack: Stack):
    state, result = deployed(stack)
    assert lock(stack, state)["status"] == "ACQUIRED"
    final = {**state, "deploy": result, "rollout": {"state": "COMPLETED"}}
    assert stack.invoke("finalize", final) == {
        "outcome": "SUCCEEDED",
        "reason": "the ECS rollout of this deployment COMPLETED",
        "recorded": True,
    }
    saved = records(stack).get(state["request"]["deployment_id"])
    assert saved is not None and saved.outcome.value == "SUCCEEDED" and saved.finished_at
    assert saved.new_task_definition == result["new_task_definition"]
    assert [n for n in stack.notifications() if "Outcome:     SUCCEEDED" in n]
    # the lock is free: another deployment gets it at once
    table = ServiceState(stack.outputs["StateTableName"])
    assert table.acquire_lock("api", "next", ARN_PREFIX + "next", 60) is None


def test_finalize_twice_is_harmless(stack: Stack):
    state, result = deployed(stack)
    final = {**state, "deploy": result, "rollout": {"state": "FAILED", "reason": "r"}}
    assert stack.invoke("finalize", final)["outcome"] == "FAILED"
    time.sleep(0.01)
    assert stack.invoke("finalize", final)["outcome"] == "FAILED"
