"""Re-derive, don't trust (issue 23, findings 4 and 5): the rollout verdict, pruning and rollback act on what
ECS and the registry say, never on what an event, a record or a step's input claims."""

from __future__ import annotations

import json

import pytest
from ecs_handoff_embedded.scenario import image

from tests.integration.conftest import HandlerError, Stack
from tests.integration.steps import deployed, ecs_event, ecs_service, edit_registry, start, waiting, watch

TASK_DEFINITION_ARN = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/"


def edit_record(stack: Stack, deployment_id: str, **fields: str) -> None:
    """What someone with write access to the deployments table could do to a record."""
    names = {f"#{k}": k for k in fields}
    values = {f":{k}": {"S": v} for k, v in fields.items()}
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["DeploymentsTableName"],
        Key={"id": {"S": deployment_id}},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def status(stack: Stack, task_definition: str) -> str:
    return str(stack.client("ecs").describe_task_definition(taskDefinition=task_definition)["taskDefinition"]["status"])


# --- finding 4: the rollout verdict -------------------------------------------------------------------


def test_rollout_event_completed_while_ecs_still_rolls_out_is_ignored(stack: Stack) -> None:
    # GIVEN a rollout handoff waits on, which ECS still shows IN_PROGRESS (2 tasks failed so far)
    state, result = deployed(stack)
    watch(stack, state, result)
    ecs_service().deployments[0].update(failedTasks=2, runningCount=0)
    ours = result["ecs_deployment_id"]
    # WHEN a well-formed COMPLETED event for it is invoked directly on the function
    done = stack.invoke("rollout-event", ecs_event(ours))["done"]
    # THEN nothing is decided: the event is ignored, saying why, and the wait is left for ECS's own verdict
    assert done.startswith(f"ignored: the event says COMPLETED, but ECS shows deployment {ours} IN_PROGRESS")
    stored = waiting(stack, ours)
    assert stored is not None and stored.deployment_id == state["request"]["deployment_id"]


def test_rollout_event_failed_while_ecs_shows_completed_is_ignored(stack: Stack) -> None:
    # GIVEN a rollout ECS has COMPLETED
    state, result = deployed(stack)
    watch(stack, state, result)
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"
    ours = result["ecs_deployment_id"]
    # WHEN a FAILED event for it arrives
    done = stack.invoke("rollout-event", ecs_event(ours, "SERVICE_DEPLOYMENT_FAILED"))["done"]
    # THEN ECS's state wins: the event decides nothing, the workflow's own look will decide COMPLETED
    assert done.startswith(f"ignored: the event says FAILED, but ECS shows deployment {ours} COMPLETED")
    assert waiting(stack, ours) is not None


def test_rollout_event_for_a_deployment_ecs_no_longer_lists_is_ignored(stack: Stack) -> None:
    # GIVEN a wait stored for a deployment that ECS does not show on the service (yet, or any more)
    state, result = deployed(stack)
    watch(stack, state, result)
    ours = result["ecs_deployment_id"]
    ecs_service().deployments[0]["id"] = "ecs-svc/9999999999999999999"
    # WHEN its COMPLETED event arrives
    done = stack.invoke("rollout-event", ecs_event(ours))["done"]
    # THEN nothing is decided from the event alone
    assert done.startswith(f"ignored: the event says COMPLETED, but ECS shows no deployment {ours} on dev/api")
    assert waiting(stack, ours) is not None


@pytest.mark.parametrize(
    ("field", "forged"),
    [("source", "com.example.ci"), ("detail-type", "ECS Service Action")],
)
def test_rollout_event_from_another_source_or_type_is_refused(stack: Stack, field: str, forged: str) -> None:
    # GIVEN a rollout ECS has COMPLETED and handoff waits on
    state, result = deployed(stack)
    watch(stack, state, result)
    ecs_service().deployments[0]["rolloutState"] = "COMPLETED"
    ours = result["ecs_deployment_id"]
    # WHEN an event in ECS's shape but not from ECS's deployment events arrives
    event = {**ecs_event(ours), field: forged}
    done = stack.invoke("rollout-event", event)["done"]
    # THEN it is refused, naming what was wrong, and the wait stays for the workflow's own look
    assert done.startswith(f"refused: {field} is {forged!r}")
    assert waiting(stack, ours) is not None


def test_rollout_event_agreeing_with_ecs_decides_from_ecs_own_state(stack: Stack) -> None:
    # GIVEN a rollout ECS has COMPLETED
    state, result = deployed(stack)
    watch(stack, state, result)
    ecs_service().deployments[0].update(rolloutState="COMPLETED", rolloutStateReason="ECS says done.")
    ours = result["ecs_deployment_id"]
    # WHEN ECS's event for it arrives
    done = stack.invoke("rollout-event", ecs_event(ours))["done"]
    # THEN the verdict is sent (the wait is taken), once
    assert done == f"COMPLETED: sent to deployment {state['request']['deployment_id']}"
    assert waiting(stack, ours) is None


# --- finding 5: pruning ---------------------------------------------------------------------------------


def test_prune_deregisters_only_handoffs_tagged_revisions_of_the_family_not_what_records_name(stack: Stack) -> None:
    # GIVEN four deployments of api (dev-api:2..5, each tagged by handoff), keep_revisions 2
    edit_registry(stack, "api", keep_revisions=2)
    states, results = [], []
    for n, sequencer in enumerate(
        ("0062E99A88DC407460", "0062E99A88DC407470", "0062E99A88DC407480", "0062E99A88DC407490")
    ):
        state = start(stack, {"app-container": image("api", f"dev-prune0{n}")}, sequencer)
        states.append(state)
        results.append(stack.invoke("deploy", {"request": state["request"]}))
    assert [r["new_task_definition"].rsplit(":", 1)[-1] for r in results] == ["2", "3", "4", "5"]
    # AND the two oldest records edited to name another team's revision and Terraform's base
    edit_record(stack, states[0]["request"]["deployment_id"], new_task_definition=f"{TASK_DEFINITION_ARN}dev-worker:1")
    edit_record(stack, states[1]["request"]["deployment_id"], new_task_definition="dev-api:1")
    # WHEN the newest one finalizes as SUCCEEDED
    final = {**states[3], "deploy": results[3], "rollout": {"state": "COMPLETED"}}
    assert stack.finalize(final)["outcome"] == "SUCCEEDED"
    # THEN what the records name is untouched: the other family's revision and Terraform's base stay ACTIVE
    assert status(stack, "dev-worker:1") == "ACTIVE"
    assert status(stack, "dev-api:1") == "ACTIVE"
    # AND handoff's own old revisions, found in ECS by their tag, are retired; the newest two stay
    assert [status(stack, f"dev-api:{n}") for n in (2, 3, 4, 5)] == ["INACTIVE", "INACTIVE", "ACTIVE", "ACTIVE"]


def test_prune_never_touches_another_familys_tagged_revisions_named_by_the_request(stack: Stack) -> None:
    # GIVEN worker's handoff revisions beyond keep_revisions, and an api deployment whose step input
    # (forged) names worker's family as its base
    edit_registry(stack, "api", keep_revisions=2)
    edit_registry(stack, "worker", keep_revisions=2)
    ecs = stack.client("ecs")
    worker = ecs.describe_task_definition(taskDefinition="dev-worker:1", include=["TAGS"])["taskDefinition"]
    spec = {k: worker[k] for k in ("family", "containerDefinitions", "cpu", "memory", "networkMode")}
    for n in range(4):
        ecs.register_task_definition(**spec, tags=[{"key": "handoff:deployment-id", "value": f"worker-{n}"}])
    state, result = deployed(stack)
    state["request"]["base_task_definition"] = f"{TASK_DEFINITION_ARN}dev-worker:1"
    state["request"]["service"]["task_definition"] = "dev-worker"
    # WHEN it finalizes as SUCCEEDED
    final = {**state, "deploy": result, "rollout": {"state": "COMPLETED"}}
    assert stack.finalize(final)["outcome"] == "SUCCEEDED"
    # THEN none of worker's revisions is retired: pruning follows api's registry entry, not the input
    assert [status(stack, f"dev-worker:{n}") for n in (1, 2, 3, 4, 5)] == ["ACTIVE"] * 5


# --- finding 5: rollback ----------------------------------------------------------------------------------


def test_rollback_to_another_familys_revision_is_refused(stack: Stack) -> None:
    # GIVEN a deployment whose record was edited to name another team's revision as the previous one
    state, result = deployed(stack)
    edit_record(stack, state["request"]["deployment_id"], previous_task_definition=f"{TASK_DEFINITION_ARN}dev-worker:1")
    # WHEN the rollback runs
    with pytest.raises(HandlerError) as refused:
        stack.invoke("rollback", {"request": state["request"]})
    # THEN it is refused, saying why, and the service is left as it was
    assert refused.value.error_type == "RollbackRefused"
    assert "dev-worker:1 is not a revision of dev-api" in str(refused.value)
    assert ecs_service().task_definition == result["new_task_definition"]


def test_rollback_to_a_revision_neither_the_base_nor_handoffs_is_refused(stack: Stack) -> None:
    # GIVEN a revision of api's family that neither Terraform's registry entry names nor handoff registered
    state, result = deployed(stack)
    ecs = stack.client("ecs")
    base = ecs.describe_task_definition(taskDefinition="dev-api:1")["taskDefinition"]
    spec = {k: base[k] for k in ("family", "containerDefinitions", "cpu", "memory", "networkMode")}
    stray = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
    # AND the record edited to name it as the previous one
    edit_record(stack, state["request"]["deployment_id"], previous_task_definition=stray)
    # WHEN the rollback runs
    with pytest.raises(HandlerError) as refused:
        stack.invoke("rollback", {"request": state["request"]})
    # THEN it is refused and nothing changed
    assert refused.value.error_type == "RollbackRefused"
    assert "neither the registry's base" in str(refused.value)
    assert ecs_service().task_definition == result["new_task_definition"]


def test_rollback_to_a_deregistered_revision_is_refused(stack: Stack) -> None:
    # GIVEN a handoff revision of api's family that was deregistered, named as the previous one
    _, first_result = deployed(stack)
    second = start(stack, {"app-container": image("api", "dev-second1")}, "0062E99A88DC407470")
    second_result = stack.invoke("deploy", {"request": second["request"]})
    stack.client("ecs").deregister_task_definition(taskDefinition=first_result["new_task_definition"])
    edit_record(stack, second["request"]["deployment_id"], previous_task_definition=first_result["new_task_definition"])
    # WHEN the rollback runs
    with pytest.raises(HandlerError) as refused:
        stack.invoke("rollback", {"request": second["request"]})
    # THEN it is refused: ECS would run an INACTIVE revision only by mistake
    assert refused.value.error_type == "RollbackRefused"
    assert "INACTIVE" in str(refused.value)
    assert ecs_service().task_definition == second_result["new_task_definition"]


def test_rollback_follows_the_registry_not_the_cluster_and_service_its_input_names(stack: Stack) -> None:
    # GIVEN a deployment of api that needs rolling back, and a rollback input forged to name worker
    state, result = deployed(stack)
    forged = json.loads(json.dumps(state["request"]))
    forged["service"]["service"] = "worker"
    worker_before = ecs_service("worker").task_definition
    # WHEN the rollback runs with it
    rolled = stack.invoke("rollback", {"request": forged})
    # THEN api, the service the registry names for api, is rolled back; worker is untouched
    assert rolled["action"] == "ROLLED_BACK"
    assert ecs_service().task_definition == result["previous_task_definition"]
    assert ecs_service("worker").task_definition == worker_before
