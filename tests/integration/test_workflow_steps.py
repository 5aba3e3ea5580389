"""Lock, deploy, rollout, rollback and finalize handlers, each against the stack's own resources."""

from __future__ import annotations

import time
from typing import Any

import pytest
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff_embedded.scenario import image

from tests.integration.conftest import HandlerError, Stack
from tests.integration.steps import (
    ARN_PREFIX,
    NEW,
    TOKEN,
    deployed,
    ecs_event,
    ecs_service,
    edit_registry,
    lock,
    records,
    start,
    waiting,
    watch,
)


def test_lock_first_deployment_acquires(stack: Stack) -> None:
    state = start(stack, NEW, locked=False)
    assert lock(stack, state)["status"] == "ACQUIRED"


def test_lock_second_deployment_waits_while_holder_runs(stack: Stack) -> None:
    # GIVEN a running deployment holding the lock (its execution is RUNNING in moto)
    first = start(stack, NEW, "0062E99A88DC407460", locked=False)
    assert lock(stack, first)["status"] == "ACQUIRED"
    second = start(stack, NEW, "0062E99A88DC407470", locked=False)
    # WHEN the newer one asks  THEN it waits, naming the holder
    result = lock(stack, second)
    assert result["status"] == "WAIT" and result["holder"] == first["request"]["deployment_id"]
    # AND the older one, were it to ask again now, has been superseded by the newer upload
    assert lock(stack, first)["status"] == "SUPERSEDED"


def test_lock_taken_over_when_holder_execution_ended(stack: Stack) -> None:
    # GIVEN a lock whose holder's execution no longer runs (stopped by hand, never unlocked)
    first = start(stack, NEW, "0062E99A88DC407460", locked=False)
    assert lock(stack, first)["status"] == "ACQUIRED"
    stack.client("stepfunctions").stop_execution(executionArn=ARN_PREFIX + first["request"]["deployment_id"])
    second = start(stack, NEW, "0062E99A88DC407470", locked=False)
    # THEN the next deployment takes it over instead of waiting for the lease
    result = lock(stack, second)
    assert result["status"] == "ACQUIRED" and "took over" in result["reason"]


def test_lock_expired_lease_frees_the_service(stack: Stack) -> None:
    state = start(stack, NEW, locked=False)
    table = ServiceState(stack.outputs["StateTableName"])
    table.acquire_lock("api", "ghost", ARN_PREFIX + "ghost", lease_seconds=-1)
    assert lock(stack, state)["status"] == "ACQUIRED"


def test_deploy_registers_base_with_new_images_and_updates_service(stack: Stack) -> None:
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


def test_deploy_retried_after_success_registers_and_updates_nothing_more(stack: Stack) -> None:
    # GIVEN a deploy step that already ran (and, say, its response was lost)
    state = start(stack, NEW)
    first = stack.invoke("deploy", {"request": state["request"]})
    revisions = stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"]
    # WHEN Step Functions retries it ($$.State.RetryCount is 1)
    second = stack.invoke("deploy", {"request": state["request"], "attempt": 1})
    # THEN no second revision, the same ECS deployment, the same previous revision
    assert stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"] == revisions
    assert second["ecs_deployment_id"] == first["ecs_deployment_id"]
    assert second["previous_task_definition"] == first["previous_task_definition"]


def forget_deploy(stack: Stack, deployment_id: str) -> None:
    """As if the deploy step died after its ECS calls, before its one record write."""
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["DeploymentsTableName"],
        Key={"id": {"S": deployment_id}},
        UpdateExpression="REMOVE new_task_definition, previous_task_definition, ecs_deployment_id",
    )


def test_deploy_retried_after_update_service_but_before_recording_finds_what_it_did(stack: Stack) -> None:
    # GIVEN the first attempt registered and updated the service, then died before writing the record
    state = start(stack, NEW)
    first = stack.invoke("deploy", {"request": state["request"]})
    forget_deploy(stack, state["request"]["deployment_id"])
    revisions = stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"]
    # WHEN Step Functions retries it
    second = stack.invoke("deploy", {"request": state["request"], "attempt": 1})
    # THEN ECS shows what the first attempt did: no second revision, no second ECS deployment
    assert stack.client("ecs").list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"] == revisions
    assert second["ecs_deployment_id"] == first["ecs_deployment_id"]
    assert second["new_task_definition"] == first["new_task_definition"]
    assert second["previous_task_definition"].endswith("dev-api:1")  # from the deployment ECS still lists
    record = records(stack).get(state["request"]["deployment_id"])
    assert record is not None and record.ecs_deployment_id == first["ecs_deployment_id"]
    assert record.previous_task_definition == second["previous_task_definition"]


def test_deploy_retried_after_update_service_is_not_refused_by_an_alarm_that_fired_since(stack: Stack) -> None:
    from ecs_handoff_embedded.scenario import set_alarm

    # GIVEN a service held by a blocking alarm, which was OK when the first attempt updated the service and died
    # before writing the record
    cloudwatch = stack.client("cloudwatch")
    set_alarm(cloudwatch, "dev-api-5xx", "OK")
    edit_registry(stack, "api", blocking_alarms=["dev-api-5xx"])
    state = start(stack, NEW)
    first = stack.invoke("deploy", {"request": state["request"]})
    forget_deploy(stack, state["request"]["deployment_id"])
    # AND the alarm fires meanwhile (say the new tasks set it off)
    set_alarm(cloudwatch, "dev-api-5xx", "ALARM", "Threshold Crossed")
    # WHEN Step Functions retries the step
    second = stack.invoke("deploy", {"request": state["request"], "attempt": 1})
    # THEN the retry finds what the first attempt did (the rollout is watched, and rolled back if it fails), rather
    # than refusing with "nothing was deployed" while the new revision runs
    assert second["ecs_deployment_id"] == first["ecs_deployment_id"]
    assert second["new_task_definition"] == first["new_task_definition"]


def authorize(stack: Stack, request: Any, attempt: int = 0) -> Any:
    """The deploy step's own re-derivation, with the deploy function's settings from the stack."""
    from ecs_handoff.logic.deploy import authorize

    where, guards = deploy_authority(stack)
    return authorize(request, where, records(stack), guards, attempt, stack.client("ecs"))


def deploy_authority(stack: Stack) -> tuple[Any, Any]:
    """Where the deploy function reads its authority, and from which tables, as the stack configures it."""
    from ecs_handoff.aws.approvals import ApprovalStore
    from ecs_handoff.aws.release_controls import Overrides
    from ecs_handoff.aws.secrets import signing_key
    from ecs_handoff.logic.authority import Where
    from ecs_handoff.logic.deploy import Guards
    from ecs_handoff.settings import DeploySettings

    settings = DeploySettings.from_env(stack.environment("deploy"))
    where = Where(settings.env, settings.registry_prefix, settings.require_approval, settings.default_registry)
    guards = Guards(
        ApprovalStore(settings.approvals_table),
        ServiceState(settings.state_table),
        Overrides(settings.state_table),
        lambda: signing_key(settings.link_secret_arn),
    )
    return where, guards


def deploy_step(stack: Stack, request: Any, ecs_client: Any, attempt: int = 0) -> Any:
    """The deploy function's two calls, with an ECS client of the test's choosing."""
    from ecs_handoff.logic.deploy import deploy

    return deploy(request, authorize(stack, request, attempt), records(stack), ecs_client=ecs_client, attempt=attempt)


class _Throttled:
    """An ECS client whose UpdateService is throttled; everything else is the real one."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def update_service(self, **_: Any) -> Any:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateService")


def test_deploy_retried_after_register_but_before_update_reuses_the_revision(stack: Stack) -> None:
    from ecs_handoff.errors import TransientAwsError
    from ecs_handoff.models import DeploymentRequest

    # GIVEN the first attempt registered, then UpdateService was throttled
    state = start(stack, NEW)
    request = DeploymentRequest.model_validate(state["request"])
    ecs = stack.client("ecs")
    with pytest.raises(TransientAwsError, match="ThrottlingException"):
        deploy_step(stack, request, _Throttled(ecs))
    assert ecs_service().task_definition.endswith("dev-api:1")
    revisions = ecs.list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"]
    # WHEN Step Functions retries it
    result = deploy_step(stack, request, ecs, attempt=1)
    # THEN the tagged revision is reused, and the service now runs it
    assert ecs.list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"] == revisions
    assert result.new_task_definition == revisions[-1] and ecs_service().task_definition == revisions[-1]
    assert result.previous_task_definition.endswith("dev-api:1")


def test_deploy_that_cannot_record_puts_the_service_back(stack: Stack) -> None:
    from ecs_handoff.errors import AwsAccessError, DeployFailed
    from ecs_handoff.logic.deploy import deploy
    from ecs_handoff.models import DeploymentRequest

    class Unwritable(DeploymentRecords):
        def update(self, *args: Any, **kwargs: Any) -> None:
            raise AwsAccessError("updating deployment record: AccessDeniedException")

    # GIVEN a deployment whose record cannot be written after UpdateService (the write fails for good)
    state = start(stack, NEW)
    request = DeploymentRequest.model_validate(state["request"])
    allowed = authorize(stack, request)
    # WHEN the deploy step runs  THEN it fails, and the service is back where it was: nothing half-deployed
    with pytest.raises(DeployFailed, match=r"could not be recorded .* put back on dev-api:1"):
        deploy(request, allowed, Unwritable(stack.outputs["DeploymentsTableName"]), ecs_client=stack.client("ecs"))
    assert ecs_service().task_definition.endswith("dev-api:1")


def test_deploy_base_from_family_skips_handoffs_own_revisions(stack: Stack) -> None:
    # GIVEN a deployment already made (dev-api:2 carries handoff's tag)
    stack.invoke("deploy", {"request": start(stack, NEW, "0062E99A88DC407460")["request"]})
    # WHEN the next upload resolves the base from the family
    state = start(stack, {"app-container": image("api", "dev-9d8e7f6")}, "0062E99A88DC407470")
    # THEN the base is still Terraform's dev-api:1, not handoff's dev-api:2
    assert state["request"]["base_task_definition"].endswith("dev-api:1")


def test_deploy_update_service_failure_raises_project_error(stack: Stack) -> None:
    # GIVEN the service was deleted after the intake looked at it
    state = start(stack, NEW)
    stack.client("ecs").delete_service(cluster="dev", service="api", force=True)
    # WHEN the deploy step runs  THEN the error is handoff's own, naming what is missing
    with pytest.raises(HandlerError) as info:
        stack.invoke("deploy", {"request": state["request"]})
    assert info.value.error_type == "NotFound"


def test_rollout_watch_stores_the_token_and_waits_while_in_progress(stack: Stack) -> None:
    state, result = deployed(stack)
    checked = watch(stack, state, result)
    assert checked["state"] == "IN_PROGRESS" and checked["decided_by"] == "poll"
    stored = waiting(stack, result["ecs_deployment_id"])
    assert stored is not None and stored.token == TOKEN and stored.service == "dev/api"
    assert stored.deployment_id == state["request"]["deployment_id"]
    assert records(stack).get(state["request"]["deployment_id"]).phase == "rolling_out"  # type: ignore[union-attr]


def test_rollout_watch_decides_what_ecs_already_decided_and_takes_the_token(stack: Stack) -> None:
    # GIVEN ECS finished before the token was stored (its event found nobody waiting)
    state, result = deployed(stack)
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"
    assert stack.invoke("rollout-event", ecs_event(result["ecs_deployment_id"]))["done"].startswith("ignored")
    # WHEN the workflow stores its token and looks
    checked = watch(stack, state, result)
    # THEN the look decides, and no token is left for a later event to use
    assert checked["state"] == "COMPLETED" and checked["decided_by"] == "poll"
    assert waiting(stack, result["ecs_deployment_id"]) is None


def test_rollout_event_ends_the_wait_once_and_ignores_duplicates(stack: Stack) -> None:
    state, result = deployed(stack)
    watch(stack, state, result)
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"  # an event decides only what ECS shows
    done = stack.invoke("rollout-event", ecs_event(result["ecs_deployment_id"]))["done"]
    assert done == f"COMPLETED: sent to deployment {state['request']['deployment_id']}"
    assert waiting(stack, result["ecs_deployment_id"]) is None
    again = stack.invoke("rollout-event", ecs_event(result["ecs_deployment_id"]))["done"]
    late = stack.invoke("rollout-event", ecs_event(result["ecs_deployment_id"], "SERVICE_DEPLOYMENT_FAILED"))["done"]
    nothing = f"ignored: nothing of service dev/api waits on {result['ecs_deployment_id']}"
    assert again.startswith(nothing) and late.startswith(nothing)


def test_rollout_event_for_another_deployment_or_service_is_ignored(stack: Stack) -> None:
    state, result = deployed(stack)
    watch(stack, state, result)
    ours = result["ecs_deployment_id"]
    foreign = stack.invoke("rollout-event", ecs_event("ecs-svc/1234567890123456789"))["done"]
    elsewhere = stack.invoke("rollout-event", ecs_event(ours, service="prod/api"))["done"]
    progress = stack.invoke("rollout-event", ecs_event(ours, "SERVICE_DEPLOYMENT_IN_PROGRESS"))["done"]
    assert foreign.startswith("ignored: nothing of service dev/api waits on ecs-svc/1234567890123456789")
    assert elsewhere.startswith(f"ignored: nothing of service prod/api waits on {ours}")
    assert progress == "ignored: SERVICE_DEPLOYMENT_IN_PROGRESS decides nothing"
    assert waiting(stack, ours) is not None  # still waiting for the real verdict


def test_rollout_watch_after_a_timed_out_wait_replaces_the_token(stack: Stack) -> None:
    state, result = deployed(stack)
    watch(stack, state, result, "first-token")
    watch(stack, state, result, "second-token")
    stored = waiting(stack, result["ecs_deployment_id"])
    assert stored is not None and stored.token == "second-token"


def test_rollout_look_that_outlived_its_wait_leaves_the_newer_wait_alone(stack: Stack) -> None:
    # GIVEN the workflow's wait timed out while its look was slow, and the next wait has begun
    state, result = deployed(stack)
    watch(stack, state, result, "newer-token", entered="2026-11-27T09:00:04.000Z")
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"
    # WHEN the slow, older look stores its token
    stale = watch(stack, state, result, "older-token", entered="2026-11-27T09:00:02.000Z")
    # THEN it steps aside: the newer wait's token stays, for ECS's event or the newer look
    assert stale == {"superseded_by_a_newer_wait": True}
    stored = waiting(stack, result["ecs_deployment_id"])
    assert stored is not None and stored.token == "newer-token"


def test_rollout_failed_reports_ecs_reason(stack: Stack) -> None:
    state, result = deployed(stack)
    ecs_service().deployments[0].update(rolloutState="FAILED", rolloutStateReason="circuit breaker", failedTasks=2)
    checked = watch(stack, state, result)
    assert (
        checked["state"] == "FAILED"
        and "circuit breaker" in checked["reason"]
        and "2 tasks failed" in checked["reason"]
    )


def test_rollout_stable_service_without_our_deployment_is_not_success(stack: Stack) -> None:
    # GIVEN the service is steady, but on a deployment that is not the one handoff created
    state, result = deployed(stack)
    ecs_service().deployments[0].update(id="ecs-svc/someone-else", rolloutState="COMPLETED")
    # WHEN the workflow looks, longer after UpdateService than ECS's reads may lag
    result["deployed_at"] = "2026-01-01T00:00:00.000Z"
    checked = watch(stack, state, result)
    # THEN it is a failure, not someone else's success
    assert checked["state"] == "FAILED" and "is not on service api" in checked["reason"]


def test_rollout_timeout_fails(stack: Stack) -> None:
    state, result = deployed(stack)
    state["request"]["service"]["rollout_timeout_seconds"] = 5
    result["deployed_at"] = "2026-01-01T00:00:00.000Z"
    checked = watch(stack, state, result)
    assert checked["state"] == "FAILED" and "did not complete within 5 s" in checked["reason"]


def test_rollback_puts_previous_revision_back_when_ecs_did_not(stack: Stack) -> None:
    state, result = deployed(stack)
    rolled = stack.invoke("rollback", {"request": state["request"]})
    assert rolled["action"] == "ROLLED_BACK"
    assert ecs_service().task_definition == result["previous_task_definition"]


def test_rollback_not_needed_when_circuit_breaker_already_did(stack: Stack) -> None:
    state, result = deployed(stack)
    ecs_service().task_definition = result["previous_task_definition"]
    rolled = stack.invoke("rollback", {"request": state["request"]})
    assert rolled["action"] == "ALREADY_ROLLED_BACK" and "dev-api:1" in rolled["reason"]


def test_rollback_before_deploy_changes_nothing(stack: Stack) -> None:
    state = start(stack, NEW)
    assert stack.invoke("rollback", {"request": state["request"]})["action"] == "NOTHING_DEPLOYED"
    assert ecs_service().task_definition.endswith("dev-api:1")


def test_finalize_records_outcome_notifies_and_unlocks(stack: Stack) -> None:
    state, result = deployed(stack)
    assert lock(stack, state)["status"] == "ACQUIRED"
    final = {**state, "deploy": result, "rollout": {"state": "COMPLETED"}}
    assert stack.finalize(final) == {
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


def test_finalize_twice_is_harmless(stack: Stack) -> None:
    state, result = deployed(stack)
    final = {**state, "deploy": result, "rollout": {"state": "FAILED", "reason": "r"}}
    assert stack.finalize(final)["outcome"] == "FAILED"
    time.sleep(0.01)
    assert stack.finalize(final)["outcome"] == "FAILED"
