"""Attacks on the deploy and request-approval steps (an independent review of issue 23's re-derivation): each
test is what an attacker who can invoke a function or start an execution does, and what must hold."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.models import approval_id_for
from ecs_handoff_embedded.scenario import set_alarm

from tests.integration.conftest import HandlerError, Stack
from tests.integration.steps import ARN_PREFIX, NEW, ecs_service, edit_registry, lock, records, revisions, start

ALICE, BOB = "alice@example.com", "bob@example.com"


# -- release controls are not re-derived ------------------------------------------------------------------


def test_direct_deploy_ignores_a_firing_blocking_alarm(stack: Stack) -> None:
    # GIVEN api's registry entry holds deployments while api-5xx is in ALARM, and it is firing
    set_alarm(stack.client("cloudwatch"), "api-5xx", "ALARM", "set by the attack test")
    edit_registry(stack, blocking_alarms=["api-5xx"])
    state = start(stack, NEW)
    request = state["request"]
    assert lock(stack, state)["status"] == "ACQUIRED"
    gate = stack.invoke("gate", {"request": request, "previous": {"status": "NEW"}, "check": "release"})
    assert gate["status"] == "WAIT", gate  # the workflow's own gate holds it
    running = ecs_service().task_definition
    # WHEN the attacker invokes the deploy function with the (real) workflow input
    with pytest.raises(HandlerError) as refused:
        stack.invoke("deploy", {"request": request})
    assert refused.value.error_type == "DeploymentRefused"
    # THEN nothing is deployed while the alarm fires
    assert ecs_service().task_definition == running, "deployed while a blocking alarm was in ALARM"


def test_direct_deploy_ignores_a_closed_deploy_window(stack: Stack) -> None:
    # GIVEN a deployment window that never opens today (a 1-minute window on another day of the week)
    from datetime import UTC, datetime

    other_day = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"][(datetime.now(UTC).weekday() + 3) % 7]
    edit_registry(stack, deploy_windows=[{"days": other_day, "hours": "03:00-03:01", "time_zone": "UTC"}])
    request = start(stack, NEW)["request"]
    running = ecs_service().task_definition
    with pytest.raises(HandlerError) as refused:
        stack.invoke("deploy", {"request": request})
    assert refused.value.error_type == "DeploymentRefused"
    assert ecs_service().task_definition == running, "deployed outside the registry's deployment windows"


def test_direct_deploy_of_an_older_upload_while_a_newer_one_is_latest(stack: Stack) -> None:
    # GIVEN two uploads: the older is superseded by the newer (latest#api names the newer one)
    older = start(stack, NEW, "0062E99A88DC407460")["request"]
    newer = start(stack, {"app-container": NEW["app-container"].replace("4f2a9c1", "5b3c0d2")}, "0062E99A88DC407470")
    assert newer["request"]["deployment_id"] != older["deployment_id"]
    running = ecs_service().task_definition
    # WHEN the older one's input is sent to deploy (its record is not finished yet: its lock step has not run)
    with pytest.raises(HandlerError) as refused:
        stack.invoke("deploy", {"request": older})
    assert refused.value.error_type == "DeploymentRefused"
    # THEN the superseded release is not deployed
    assert ecs_service().task_definition == running, "a superseded (older) upload was deployed"


# -- replaying a deployment that already deployed ----------------------------------------------------------


def test_replayed_in_progress_deployment_does_not_change_the_rollback_target(stack: Stack) -> None:
    # GIVEN a deployment that deployed (record IN_PROGRESS, rollout under way)
    request = start(stack, NEW)["request"]
    first = stack.invoke("deploy", {"request": request})
    base = first["previous_task_definition"]
    assert base.endswith("dev-api:1")
    # WHEN the attacker replays the same input (attempt 0) to the deploy function
    with pytest.raises(HandlerError) as refused:
        stack.invoke("deploy", {"request": request})
    assert refused.value.error_type == "DeploymentRefused"
    record = records(stack).get(request["deployment_id"])
    assert record is not None
    # THEN the record still says where a rollback returns ...
    assert record.previous_task_definition == base, (
        f"rollback target rewritten to {record.previous_task_definition} (this deployment's own revision)"
    )
    # ... and a rollback (the rollout failed) puts the service back on what ran before the deployment
    stack.invoke("rollback", {"request": request})
    assert ecs_service().task_definition == base, f"'rolled back' onto {ecs_service().task_definition}"


def test_two_concurrent_deploys_of_one_deployment_register_one_revision(stack: Stack) -> None:
    # GIVEN a deployment, and two invocations of the deploy function racing (attempt 0 each)
    request = start(stack, NEW)["request"]
    before = len(revisions(stack))
    import threading

    errors: list[BaseException] = []

    def go() -> None:
        try:
            stack.invoke("deploy", {"request": request})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = records(stack).get(request["deployment_id"])
    assert record is not None
    # THEN one revision, and the rollback target is what ran before
    assert len(revisions(stack)) == before + 1, f"{len(revisions(stack)) - before} revisions registered"
    assert str(record.previous_task_definition).endswith("dev-api:1"), record.previous_task_definition


# -- an approval built from a forged request -----------------------------------------------------------------


def operator_event(approval_id: str, caller_arn: str) -> dict[str, Any]:
    """What API Gateway (HTTP API, AWS_IAM route) hands the operator function for an authenticated caller."""
    path = f"/approvals/{approval_id}/approve"
    return {
        "version": "2.0",
        "routeKey": "POST /approvals/{approval_id}/approve",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "authorizer": {
                "iam": {
                    "accessKey": "ASIA",
                    "accountId": "123456789012",
                    "callerId": "AROA:alice",
                    "principalOrgId": None,
                    "userArn": caller_arn,
                    "userId": "AROA:alice",
                }
            },
            "domainName": "x",
            "domainPrefix": "x",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "ua"},
            "requestId": "r",
            "routeKey": "POST /approvals/{approval_id}/approve",
            "stage": "$default",
            "time": "05/Dec/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "pathParameters": {"approval_id": approval_id},
        "body": base64.b64encode(json.dumps({"comment": "lgtm"}).encode()).decode(),
        "isBase64Encoded": True,
    }


ALICE_ROLE = "arn:aws:sts::123456789012:assumed-role/approver/alice"


def two_person_rule(stack: Stack) -> dict[str, Any]:
    """api needs two approvals from alice and bob; Terraform lets alice's role decide (as alice) only."""
    edit_registry(
        stack,
        approval_required=True,
        approvers=[ALICE, BOB],
        approvals_required=2,
        approver_principals={ALICE_ROLE: ALICE},
    )
    return start(stack, NEW)


def test_a_forged_request_cannot_make_one_approver_act_as_another(
    stack: Stack,
    approval_messages: None,
) -> None:
    # GIVEN a two-person rule, and a deployment whose approval has not been requested yet (it waits for the lock)
    state = two_person_rule(stack)
    request = json.loads(json.dumps(state["request"]))
    # WHEN alice (who can StartExecution, or win the lock race) gets an execution with a forged request.service
    # to the RequestApproval step first, mapping her own role to bob
    request["service"]["approver_principals"] = {ALICE_ROLE: BOB}
    with pytest.raises(HandlerError, match=r"differs from the registry's for api \(approver_principals\)") as info:
        stack.invoke(
            "request-approval",
            {"request": request, "task_token": "forged-token", "execution_arn": ARN_PREFIX + "forged"},
        )
    # THEN it is refused, and no approval exists for the legitimate execution to reuse
    assert info.value.error_type == "DeploymentRefused"
    assert ApprovalStore(stack.outputs["ApprovalsTableName"]).get(approval_id_for(request["deployment_id"])) is None


def test_a_forged_request_cannot_show_approvers_fewer_containers_than_deploy_runs(
    stack: Stack,
    approval_messages: None,
) -> None:
    # GIVEN an upload changing both containers, and approval required (one approver)
    both = {**NEW, "nginx-container": NEW["app-container"].replace("/api:", "/api-nginx:")}
    edit_registry(stack, approval_required=True, approvers=[ALICE, BOB], approvals_required=1)
    request = json.loads(json.dumps(start(stack, both)["request"]))
    assert len(request["images"]) == 2
    # WHEN a forged execution's RequestApproval runs first with only one of the two containers in request.images
    request["images"] = [i for i in request["images"] if i["name"] == "nginx-container"]
    with pytest.raises(HandlerError, match="are not the ones the intake validated") as info:
        stack.invoke("request-approval", {"request": request, "task_token": "t", "execution_arn": ARN_PREFIX + "f"})
    # THEN it is refused: an approval always shows exactly the images the intake validated
    assert info.value.error_type == "DeploymentRefused"
    assert ApprovalStore(stack.outputs["ApprovalsTableName"]).get(approval_id_for(request["deployment_id"])) is None


def test_mixed_case_registry_approver_can_still_approve(stack: Stack, approval_messages: None) -> None:
    # GIVEN Terraform lists an approver with capitals (nothing in the registry model forbids it)
    edit_registry(stack, approval_required=True, approvers=["Alice@Example.com", BOB], approvals_required=1)
    state = start(stack, NEW)
    created = stack.invoke(
        "request-approval",
        {
            "request": state["request"],
            "task_token": "t",
            "execution_arn": ARN_PREFIX + state["request"]["deployment_id"],
        },
    )
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    approval = store.get(created["approval_id"])
    assert approval is not None
    # WHEN she approves with her link (the link names her lower-cased, as request-approval stored her)
    from ecs_handoff.logic.approval_page import ApprovalDesk
    from ecs_handoff.models import ApprovalVote, VoteDecision

    vote = ApprovalVote(approver=approval.approvers[0], decision=VoteDecision.APPROVE, at="2026-12-05T00:00:01.000Z")
    ApprovalDesk(store, records(stack), None, None).apply(approval, vote)
    # THEN her approval deploys (legit path must not be refused)
    result = stack.invoke("deploy", {"request": state["request"]})
    assert ecs_service().task_definition == result["new_task_definition"]
