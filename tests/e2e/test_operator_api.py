"""The operator API on the embedded AWS: its routes are AWS_IAM authorized as API Gateway authorizes them
(SigV4 against the credentials IAM and STS issued, execute-api:Invoke evaluated on the caller's policies),
the function decides as the caller AWS names (never the body), and the gate acts only on an override the
operator API signed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.models import ApprovalStatus, Outcome, execution_name
from ecs_handoff_cli.doctor import check_operator_api, load_install
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION, bucket_name

from tests.e2e.operator_calls import assume, call, invoke_policy, user_keys
from tests.e2e.people import ALICE, approval_of, approval_status, release
from tests.e2e.release_gates import ALARM, FAST, upload, wait_for


@pytest.fixture
def carol(embedded: EmbeddedAws, api_id: str) -> dict[str, str]:
    """An approver: may invoke the approve and reject routes; the registry lets her role decide as alice."""
    policy = invoke_policy(api_id, "POST/approvals/*/approve", "POST/approvals/*/reject")
    return assume(embedded, "approver", "carol", policy)


APPROVER_ROLE_SESSIONS = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver/*"


@pytest.fixture
def approvers(registry: Any) -> Iterator[None]:
    registry("prod", "api", approver_principals={APPROVER_ROLE_SESSIONS: ALICE})
    yield


def test_operator_api_an_unsigned_request_is_403_and_the_function_never_runs(
    world: World, embedded: EmbeddedAws, approvers: None
) -> None:
    # GIVEN a deployment waiting for approval
    deployment_id = release(world, "prod-op00001")
    # WHEN someone posts an approval without a signature, naming an approver in the body
    status, said = call(embedded, f"/approvals/{approval_of(world, deployment_id)}/approve", {"principal": ALICE}, None)
    # THEN API Gateway refuses it as AWS does, and nothing is recorded
    assert (status, said) == (403, {"message": "Forbidden"})
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    world.decide(world.approval_link(ALICE, deployment_id), "reject", "test over")
    world.wait("prod", deployment_id)


def test_operator_api_a_principal_without_execute_api_invoke_is_403(
    world: World, embedded: EmbeddedAws, api_id: str, approvers: None
) -> None:
    # GIVEN an IAM user with valid keys and no policy, and an approver who may only approve and reject
    deployment_id = release(world, "prod-op00002")
    approval = approval_of(world, deployment_id)
    mallory = user_keys(embedded, "mallory")
    only_decides = assume(embedded, "approver", "carol", invoke_policy(api_id, "POST/approvals/*/approve"))
    # WHEN each calls a route its policy does not grant
    status, said = call(embedded, f"/approvals/{approval}/approve", {}, mallory)
    resource = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/$default/POST/approvals/{approval}/approve"
    # THEN 403 with IAM's words, naming the caller AWS authenticated and the route's resource
    assert status == 403
    assert said == {
        "Message": f"User: arn:aws:iam::{ACCOUNT_ID}:user/mallory is not authorized to perform: execute-api:Invoke "
        f"on resource: {resource}"
    }
    status, said = call(embedded, f"/deployments/{deployment_id}/deploy-now", {"reason": "x"}, only_decides)
    assert status == 403 and "execute-api:Invoke" in said["Message"]
    # AND a signature over another body, or with a wrong secret, is refused before any check of rights
    status, said = call(embedded, f"/approvals/{approval}/approve", {}, only_decides, tamper=b'{"comment":"x"}')
    assert status == 403 and said["message"].startswith("The request signature we calculated does not match")
    wrong = {**mallory, "secret_key": "0" * 40}
    assert call(embedded, f"/approvals/{approval}/approve", {}, wrong)[0] == 403
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    world.decide(world.approval_link(ALICE, deployment_id), "reject", "test over")
    world.wait("prod", deployment_id)


def test_operator_api_an_approver_approves_as_the_caller_aws_names_not_the_body(
    world: World, embedded: EmbeddedAws, carol: dict[str, str], approvers: None
) -> None:
    # GIVEN a deployment waiting for approval, and carol, whose role the registry lets approve as alice
    deployment_id = release(world, "prod-op00003")
    # WHEN carol approves, her body claiming to be someone else
    forged = {"comment": "CHG-9", "principal": "arn:aws:iam::123456789012:role/admin", "approver": "bob@example.com"}
    status, said = call(embedded, f"/approvals/{approval_of(world, deployment_id)}/approve", forged, carol)
    # THEN approved as alice, recorded with carol's session ARN, and deployed
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver/carol"
    assert status == 200, said
    assert (said["approver"], said["principal"]) == (ALICE, session)
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED
    [vote] = record.approvals
    assert (vote.approver, vote.principal, vote.via, vote.comment) == (ALICE, session, "api", "CHG-9")


def test_operator_api_a_principal_not_in_approver_principals_is_refused_by_the_function(
    world: World, embedded: EmbeddedAws, api_id: str, registry: Any
) -> None:
    # GIVEN an operator who may invoke the route, but whom the registry does not name an approver
    registry("prod", "api", approver_principals={"arn:aws:sts::123456789012:assumed-role/approver/*": ALICE})
    deployment_id = release(world, "prod-op00004")
    dave = assume(embedded, "operator", "dave", invoke_policy(api_id, "POST/approvals/*/approve"))
    # WHEN he approves
    status, said = call(embedded, f"/approvals/{approval_of(world, deployment_id)}/approve", {}, dave)
    # THEN the function refuses with the reason, and the approval stays pending
    assert status == 403 and said["title"] == "Not an approver"
    assert "assumed-role/operator/dave may not decide approvals of api in prod" in said["message"]
    assert "approver_principals" in said["message"]
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    world.decide(world.approval_link(ALICE, deployment_id), "reject", "test over")
    world.wait("prod", deployment_id)


def test_operator_api_the_uploader_cannot_approve_from_another_session_of_the_same_role(
    world: World, embedded: EmbeddedAws, carol: dict[str, str], approvers: None
) -> None:
    # GIVEN an upload whose metadata (as `handoff upload` writes it) names a session of carol's role
    body = artifact({"app-container": image("api", "prod-op00005")})
    world.push(body)
    uploader = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver/carol-laptop"
    uploaded = world.s3.put_object(
        Bucket=bucket_name("prod"), Key="api/imagedefinitions.json.zip", Body=body, Metadata={"uploader": uploader}
    )
    deployment_id = execution_name("api", uploaded["VersionId"])
    world.wait_phase("prod", deployment_id, "awaiting_approval")
    # WHEN carol (another session of the same role) approves  THEN refused: the role uploaded it
    status, said = call(embedded, f"/approvals/{approval_of(world, deployment_id)}/approve", {}, carol)
    assert status == 403 and said["title"] == "Uploader cannot approve"
    # AND she may still reject it
    status, said = call(embedded, f"/approvals/{approval_of(world, deployment_id)}/reject", {"comment": "no"}, carol)
    assert status == 200, said
    assert world.wait("prod", deployment_id).outcome is Outcome.REJECTED


def test_operator_api_a_forged_override_does_not_open_a_gate_held_by_an_alarm_and_deploy_now_does(
    world: World, embedded: EmbeddedAws, registry: Any, alarm: Any
) -> None:
    # GIVEN a dev deployment held by a firing alarm, and an on-call role listed in override_principals
    api_id = embedded.operator_apis["dev"].api_id
    oncall = assume(embedded, "oncall", "erin", invoke_policy(api_id, "POST/deployments/*/deploy-now"))
    registry(
        "dev", "api", blocking_alarms=[ALARM], override_principals=["arn:aws:sts::*:assumed-role/oncall/*"], **FAST
    )
    alarm("ALARM")
    deployment = upload(world, "dev-op00006")
    wait_for(world, deployment, "waiting_for_alarm")
    # WHEN someone with table rights writes an override naming the on-call role, unsigned and then signed badly
    ddb, table = embedded.client("dynamodb"), embedded.stacks["dev"].outputs["StateTableName"]
    item = {
        "pk": {"S": f"override#{deployment}"},
        "principal": {"S": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/oncall/erin"},
        "reason": {"S": "forged"},
        "at": {"S": "2026-01-01T00:00:00Z"},
        "signature": {"S": "A" * 43},
    }
    ddb.put_item(TableName=table, Item=item)
    time.sleep(3 * FAST["gate_poll_seconds"])
    # THEN the gate keeps holding it, says why once on the record, and the override item opened nothing
    record = wait_for(world, deployment, "waiting_for_alarm")
    ignored = [n for n in record.notes if "was ignored" in n]
    assert len(ignored) == 1 and "signature is not the operator API's" in ignored[0]
    assert record.override is None
    # WHEN the on-call person uses deploy-now through the operator API (the forged item removed first:
    # the first override stands, and only the table's owner could remove it)
    ddb.delete_item(TableName=table, Key={"pk": item["pk"]})
    status, said = call(embedded, f"/deployments/{deployment}/deploy-now", {"reason": "INC-12"}, oncall, env="dev")
    # THEN it is recorded with the caller AWS named, and the deployment starts
    assert status == 200 and said["granted"] is True, said
    ended = world.wait("dev", deployment)
    assert ended.outcome is Outcome.SUCCEEDED
    assert ended.override == {
        "principal": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/oncall/erin",
        "reason": "INC-12",
        "at": ended.override["at"] if ended.override else "",
    }


def test_operator_api_doctor_flags_a_route_without_iam_authorization(embedded: EmbeddedAws) -> None:
    # GIVEN the operator API as provisioned: every route AWS_IAM
    install, _ = load_install("prod")
    assert install is not None
    [finding] = check_operator_api(install)
    assert finding.ok, finding.detail
    # WHEN someone switches the approve route to no authorization
    apigateway, api_id = embedded.client("apigatewayv2"), install.outputs["OperatorApiId"]
    route = next(r for r in apigateway.get_routes(ApiId=api_id)["Items"] if r["RouteKey"].endswith("/approve"))
    apigateway.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="NONE")
    try:
        [finding] = check_operator_api(install)
    finally:
        apigateway.update_route(ApiId=api_id, RouteId=route["RouteId"], AuthorizationType="AWS_IAM")
    # THEN doctor names it and how to fix it
    assert not finding.ok
    assert finding.detail == "POST /approvals/{approval_id}/approve is NONE, not AWS_IAM"
    assert "--authorization-type AWS_IAM" in finding.fix
