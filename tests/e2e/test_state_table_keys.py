"""Each function writes only its own keys of the state table (dynamodb:LeadingKeys), as AWS enforces it."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from ecs_handoff_embedded import seed
from ecs_handoff_embedded.runtime import EmbeddedAws

# Every function of the stack; none may create a deploy-now override (only the operator API will).
FUNCTIONS = [
    "intake",
    "lock",
    "gate",
    "deploy",
    "rollout",
    "rollout-event",
    "rollback",
    "finalize",
    "request-approval",
    "approval-page",
    "sweeper",
    "lifecycle-hook",
]


def as_function(aws: EmbeddedAws, function: str) -> Any:
    """A DynamoDB client with the credentials the embedded Lambda runtime gives the dev function."""
    name = f"handoff-dev-{function}"
    role = aws.client("lambda").get_function_configuration(FunctionName=name)["Role"]
    keys = aws.authorizer.credentials_for(name, role)
    return boto3.client(
        "dynamodb",
        endpoint_url=aws.endpoint,
        region_name=seed.REGION,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
    )


def error_code(call: Any) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "OK"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_can_forge_a_deploy_now_override(embedded: EmbeddedAws, function: str) -> None:
    # GIVEN the function's own role
    table, ddb = embedded.stacks["dev"].outputs["StateTableName"], as_function(embedded, function)
    forged = {"pk": {"S": "override#dev-api-forged"}, "principal": {"S": "arn:aws:iam::123456789012:role/oncall"}}
    # WHEN it writes an override item, either way DynamoDB lets a write create one
    put = error_code(lambda: ddb.put_item(TableName=table, Item=forged))
    update = error_code(
        lambda: ddb.update_item(
            TableName=table,
            Key={"pk": forged["pk"]},
            UpdateExpression="SET principal = :p",
            ExpressionAttributeValues={":p": forged["principal"]},
        )
    )
    # THEN IAM refuses both, and no override exists
    assert (put, update) == ("AccessDeniedException", "AccessDeniedException")
    assert "Item" not in embedded.client("dynamodb").get_item(TableName=table, Key={"pk": forged["pk"]})


def test_a_function_still_writes_its_own_keys(embedded: EmbeddedAws) -> None:
    # GIVEN the gate, which may renew lock#<service> and nothing else
    table, ddb = embedded.stacks["dev"].outputs["StateTableName"], as_function(embedded, "gate")

    def renew(pk: str) -> str:
        return error_code(
            lambda: ddb.update_item(
                TableName=table,
                Key={"pk": {"S": pk}},
                UpdateExpression="SET lease_until = :u",
                ConditionExpression="holder = :h",
                ExpressionAttributeValues={":u": {"N": "1"}, ":h": {"S": "nobody"}},
            )
        )

    # THEN its own key passes IAM (the condition, not IAM, stops this write), another's does not
    assert renew("lock#api") == "ConditionalCheckFailedException"
    assert renew("rollout#ecs-svc/123") == "AccessDeniedException"


def test_the_lifecycle_hook_writes_only_held_steps(embedded: EmbeddedAws) -> None:
    # GIVEN the lifecycle hook's role, which may put and delete hookhold#<service deployment>#<step>
    table, ddb = embedded.stacks["dev"].outputs["StateTableName"], as_function(embedded, "lifecycle-hook")

    def put(pk: str) -> str:
        item = {"pk": {"S": pk}, "held_at": {"S": "2026-12-05T12:00:00.000Z"}}
        return error_code(
            lambda: ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        )

    # THEN its own key passes, a lock or a rollout token does not
    assert put("hookhold#arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/dev/api/x#50") == "OK"
    assert put("lock#api") == "AccessDeniedException"
    assert put("rollout#ecs-svc/123") == "AccessDeniedException"
