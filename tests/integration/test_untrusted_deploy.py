"""The deploy step trusts nothing its input says: invoked directly (or through StartExecution, or after a task
token ended the approval wait) with a forged payload, it refuses, names what did not hold, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.models import (
    Approval,
    ApprovalStatus,
    ApprovalVote,
    ImageChange,
    Outcome,
    VoteDecision,
    approval_id_for,
)

from tests.integration.conftest import HandlerError, Stack
from tests.integration.steps import NEW, ecs_service, edit_registry, records, revisions, start


def refused(stack: Stack, request: dict[str, Any], match: str) -> None:
    """The deploy function refuses the request, and ECS is exactly as it was."""
    before, running = revisions(stack), ecs_service().task_definition
    with pytest.raises(HandlerError, match=match) as info:
        stack.invoke("deploy", {"request": request})
    assert info.value.error_type == "DeploymentRefused"
    assert revisions(stack) == before and ecs_service().task_definition == running


def swap_image(request: dict[str, Any]) -> None:
    request["images"][0]["imageUri"] = "docker.io/library/busybox:latest"


def swap_service(request: dict[str, Any]) -> None:
    request["service"]["service"] = "worker"


def other_deployment(request: dict[str, Any]) -> None:
    request["deployment_id"] = "api-forged"


@pytest.mark.parametrize(
    ("forge", "match"),
    [
        (swap_image, "not the ones the intake validated"),
        (swap_service, r"differs from the registry's for api \(service\)"),
        (other_deployment, "has no record"),
    ],
)
def test_deploy_refuses_a_forged_request(stack: Stack, forge: Callable[[dict[str, Any]], None], match: str) -> None:
    # GIVEN a real deployment's workflow input, edited by whoever can invoke the function
    request = start(stack, NEW)["request"]
    forge(request)
    # WHEN the deploy function is invoked with it  THEN it refuses, and nothing is registered or updated
    refused(stack, request, match)


def test_deploy_ignores_the_registration_and_role_a_request_carries(stack: Stack) -> None:
    # GIVEN a request that carries its own task definition (another role, another command)
    request = start(stack, NEW)["request"]
    request["registration"] = {"family": "dev-api", "taskRoleArn": "arn:aws:iam::123456789012:role/ecs/admin"}
    # WHEN it is deployed  THEN the workflow's own contract refuses the field: nothing is taken from it
    with pytest.raises(HandlerError, match="registration"):
        stack.invoke("deploy", {"request": request})


def test_deploy_refuses_a_finished_deployment_replayed(stack: Stack) -> None:
    # GIVEN a deployment that ended
    request = start(stack, NEW)["request"]
    records(stack).finish(request["deployment_id"], Outcome.FAILED, "rolled back", "2026-12-05T00:00:00.000Z")
    # WHEN its input is replayed to the deploy function  THEN it is refused
    refused(stack, request, "already ended FAILED")


def test_deploy_refuses_images_the_registry_no_longer_allows(stack: Stack) -> None:
    # GIVEN Terraform narrowed the containers CI may set after the upload was accepted
    request = start(stack, NEW)["request"]
    edit_registry(stack, containers=["nginx-container"])
    # WHEN the deploy step runs  THEN the registry as it is now decides
    refused(stack, request, r"differs from the registry's for api \(containers\): forged, or Terraform changed")


def approval_needed(stack: Stack, approvals_required: int = 1) -> dict[str, Any]:
    edit_registry(
        stack,
        approval_required=True,
        approvers=["alice@example.com", "bob@example.com"],
        approvals_required=approvals_required,
    )
    request: dict[str, Any] = start(stack, NEW)["request"]
    return request


def store_approval(stack: Stack, request: dict[str, Any], **fields: Any) -> ApprovalStore:
    store = ApprovalStore(stack.outputs["ApprovalsTableName"])
    image = request["images"][0]
    values: dict[str, Any] = {
        "approval_id": approval_id_for(request["deployment_id"]),
        "deployment_id": request["deployment_id"],
        "execution_arn": "arn:execution",
        "task_token": "token",
        "env": "dev",
        "service_id": "api",
        "changes": [ImageChange(container=image["name"], image_after=image["imageUri"])],
        "images": request["images"],
        "base_task_definition": request["base_task_definition"],
        "running_task_definition": request["running_task_definition"],
        "requested_at": "2026-12-05T00:00:00.000Z",
        "expires_at": 4_000_000_000,
        "approvers": ["alice@example.com", "bob@example.com"],
    }
    assert store.create(Approval(**(values | fields)))
    return store


def vote(approver: str) -> ApprovalVote:
    return ApprovalVote(approver=approver, decision=VoteDecision.APPROVE, at="2026-12-05T00:00:01.000Z")


def test_deploy_refuses_without_a_recorded_approval(stack: Stack) -> None:
    # GIVEN a service that needs approval, and its deployment's input sent straight to the deploy function
    request = approval_needed(stack)
    # WHEN nothing was approved  THEN it is refused
    refused(stack, request, "needs approval and none was requested")


def test_deploy_refuses_an_approval_wait_ended_by_a_token_alone(stack: Stack) -> None:
    # GIVEN an approval still pending: the wait was ended by SendTaskSuccess with a token, not by a decision
    request = approval_needed(stack)
    store_approval(stack, request)
    # WHEN the deploy step runs  THEN the approval as recorded decides: refused
    refused(stack, request, "the approval is PENDING, not APPROVED")


def test_deploy_refuses_one_approver_where_two_are_required(stack: Stack) -> None:
    # GIVEN a two-person rule, and an item that says APPROVED with alice's vote only
    request = approval_needed(stack, approvals_required=2)
    store_approval(
        stack,
        request,
        status=ApprovalStatus.APPROVED,
        approved_by=["alice@example.com", "alice@example.com"],
        votes=[vote("alice@example.com")],
        approvals_required=1,
    )
    # WHEN the deploy step runs  THEN distinct people with recorded votes are counted, against the registry
    refused(stack, request, r"1 recorded approval\(s\) from distinct registry approvers \(alice@example.com\); 2 ")


def test_deploy_refuses_when_what_was_approved_is_not_what_would_run(stack: Stack) -> None:
    request = approval_needed(stack)
    store_approval(
        stack,
        request,
        status=ApprovalStatus.APPROVED,
        approved_by=["alice@example.com"],
        votes=[vote("alice@example.com")],
        images=[{"name": "app-container", "imageUri": "123456789012.dkr.ecr/api@sha256:" + "0" * 64}],
    )
    refused(stack, request, "what was approved is not what would run")


def test_deploy_goes_ahead_with_the_approval_the_approvers_recorded(stack: Stack) -> None:
    # GIVEN two approvals recorded by the approval functions
    request = approval_needed(stack, approvals_required=2)
    store_approval(
        stack,
        request,
        status=ApprovalStatus.APPROVED,
        approved_by=["alice@example.com", "bob@example.com"],
        votes=[vote("alice@example.com"), vote("bob@example.com")],
        approvals_required=2,
    )
    # WHEN the deploy step runs  THEN it deploys
    result = stack.invoke("deploy", {"request": request})
    assert ecs_service().task_definition == result["new_task_definition"]
