"""The embedded AWS's IAM evaluator and the static template check, against AWS's documented rules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ecs_handoff_embedded.iam import ApiCall, Check, arn_matches_type, checks_for, evaluate, statement_problems

ACCOUNT, REGION = "123456789012", "ap-northeast-1"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:handoff-prod-deployment"


def policy(*statements: dict[str, object]) -> list[dict[str, object]]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def allow(action: str | list[str], resource: str | list[str], **extra: object) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def test_send_task_success_scoped_to_the_state_machine_is_denied() -> None:
    # GIVEN the statement the approval page had: SendTaskSuccess on the state machine's ARN
    documents = policy(allow("states:SendTaskSuccess", STATE_MACHINE))
    # WHEN the page resumes a workflow (SendTaskSuccess has no resource types: AWS checks "*")
    checks = checks_for(ApiCall("states", "SendTaskSuccess", {"taskToken": "t"}, REGION), ACCOUNT)
    # THEN AWS would deny it, and "*" is what allows it
    assert checks == [Check("states:SendTaskSuccess", "*", {"aws:RequestedRegion": REGION})]
    assert not evaluate(documents, checks[0])
    assert evaluate(policy(allow("states:SendTaskSuccess", "*")), checks[0])


def test_static_check_names_the_statement_aws_would_never_match() -> None:
    # GIVEN the old ResumeWorkflow statement WHEN checked against the Service Authorization Reference
    problems = statement_problems(allow(["states:SendTaskSuccess", "states:SendTaskFailure"], STATE_MACHINE))
    # THEN both actions are named, each with why
    assert problems == [
        f'states:SendTaskSuccess supports no resource types, so AWS matches only "*", not {STATE_MACHINE}',
        f'states:SendTaskFailure supports no resource types, so AWS matches only "*", not {STATE_MACHINE}',
    ]


def test_static_check_refuses_a_resource_of_the_wrong_type() -> None:
    # GIVEN UpdateService scoped to a cluster ARN (it acts on services)
    problems = statement_problems(allow("ecs:UpdateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"))
    # THEN the check says which types it supports
    assert len(problems) == 1
    assert problems[0].startswith(
        "ecs:UpdateService does not act on arn:aws:ecs:ap-northeast-1:123456789012:cluster/prod"
    )
    assert "service/${ClusterName}/${ServiceName}" in problems[0]


def test_static_check_accepts_wildcarded_arns_of_the_right_type() -> None:
    statement = allow("ecs:UpdateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/*")
    assert statement_problems(statement) == []
    assert arn_matches_type(
        "arn:aws:s3:::b/*/imagedefinitions.json.zip", "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    )


def test_an_allow_whose_condition_fails_is_neutral_not_a_deny() -> None:
    # GIVEN PassRole allowed only to ecs-tasks, and a second statement allowing it outright
    conditional = allow(
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/ecs/*",
        Condition={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    )
    to_lambda = Check(
        "iam:PassRole", "arn:aws:iam::123456789012:role/ecs/x", {"iam:PassedToService": "lambda.amazonaws.com"}
    )
    # THEN the conditional statement alone denies, and does not cancel another Allow (moto's evaluator does)
    assert not evaluate(policy(conditional), to_lambda)
    assert evaluate(policy(conditional, allow("iam:PassRole", "*")), to_lambda)
    assert evaluate(
        policy(conditional),
        Check(to_lambda.action, to_lambda.resource, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}),
    )


def test_a_condition_on_a_missing_key_fails_unless_if_exists() -> None:
    statement = allow(
        "ecs:TagResource", "*", Condition={"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    )
    assert not evaluate(policy(statement), Check("ecs:TagResource", "arn:aws:ecs:r:a:task-definition/x:1"))
    lenient = allow(
        "ecs:TagResource", "*", Condition={"StringEqualsIfExists": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    )
    assert evaluate(policy(lenient), Check("ecs:TagResource", "arn:aws:ecs:r:a:task-definition/x:1"))


def test_explicit_deny_wins_and_actions_match_case_insensitively() -> None:
    documents = policy(allow("DynamoDB:get*", "*"), {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*"})
    assert not evaluate(documents, Check("dynamodb:GetItem", "arn:aws:dynamodb:r:a:table/t"))
    assert evaluate(documents, Check("dynamodb:GetRecords", "arn:aws:dynamodb:r:a:table/t"))


def test_resource_wildcards_do_not_treat_dots_as_wildcards() -> None:
    documents = policy(allow("sns:Publish", "arn:aws:sns:r:a:handoff.dev"))
    assert not evaluate(documents, Check("sns:Publish", "arn:aws:sns:r:a:handoffXdev"))


def test_versioned_reads_need_get_object_version() -> None:
    # GIVEN intake reading an exact object version
    call = ApiCall(
        "s3", "GetObject", {"Bucket": "b", "Key": "api/imagedefinitions.json.zip", "versionId": "v1"}, REGION
    )
    # THEN AWS authorizes s3:GetObjectVersion on the object ARN
    assert [(c.action, c.resource) for c in checks_for(call, ACCOUNT)] == [
        ("s3:GetObjectVersion", "arn:aws:s3:::b/api/imagedefinitions.json.zip")
    ]


def test_registering_with_tags_and_roles_needs_tag_resource_and_pass_role() -> None:
    params = {
        "family": "never-registered",
        "tags": [{"key": "k", "value": "v"}],
        "taskRoleArn": "arn:aws:iam::123456789012:role/ecs/task",
    }
    checks = checks_for(ApiCall("ecs", "RegisterTaskDefinition", params, REGION), ACCOUNT)
    assert [(c.action, c.context.get("ecs:CreateAction"), c.context.get("iam:PassedToService")) for c in checks] == [
        ("ecs:RegisterTaskDefinition", None, None),
        ("ecs:TagResource", "RegisterTaskDefinition", None),
        ("iam:PassRole", None, "ecs-tasks.amazonaws.com"),
    ]
    assert checks[0].resource == f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/never-registered:1"


def test_service_deployment_calls_are_authorized_on_the_deployment_with_its_cluster_and_service() -> None:
    # GIVEN a service deployment and a service revision of dev/api, named by ARN as ECS names them
    deployment = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/dev/api/abc123"
    revision = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/dev/api/4567"
    calls = [
        ApiCall("ecs", "DescribeServiceDeployments", {"serviceDeploymentArns": [deployment]}, REGION),
        ApiCall("ecs", "DescribeServiceRevisions", {"serviceRevisionArns": [revision]}, REGION),
        ApiCall("ecs", "StopServiceDeployment", {"serviceDeploymentArn": deployment, "stopType": "ROLLBACK"}, REGION),
    ]
    checks = [check for call in calls for check in checks_for(call, ACCOUNT)]
    # THEN each is checked on that ARN, with ecs:cluster and ecs:service from it
    assert [(c.action, c.resource) for c in checks] == [
        ("ecs:DescribeServiceDeployments", deployment),
        ("ecs:DescribeServiceRevisions", revision),
        ("ecs:StopServiceDeployment", deployment),
    ]
    assert {(c.context["ecs:cluster"], c.context["ecs:service"]) for c in checks} == {
        (f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/dev", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/dev/api")
    }
    # and a policy naming this cluster's deployments allows the stop, one naming another cluster's does not
    ours = allow("ecs:StopServiceDeployment", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/dev/*")
    other = allow("ecs:StopServiceDeployment", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/prod/*")
    assert evaluate(policy(ours), checks[2])
    assert not evaluate(policy(other), checks[2])


def test_an_operation_nobody_mapped_is_refused_not_waved_through() -> None:
    from ecs_handoff_embedded.iam import AccessDenied

    with pytest.raises(AccessDenied, match="does not know how AWS authorizes ecs:DeleteService"):
        checks_for(ApiCall("ecs", "DeleteService", {"service": "api"}, REGION), ACCOUNT)


# --- dynamodb:LeadingKeys and the set operators ------------------------------------------------------

STATE_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/handoff-dev-state"
LOCK_ONLY = allow(
    "dynamodb:PutItem",
    STATE_TABLE,
    Condition={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["lock#*"]}},
)


@pytest.fixture
def state_table() -> Iterator[None]:
    """The state table's key schema in moto, where checks_for reads which attribute is the partition key."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName="handoff-dev-state",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield


def put(pk: str) -> Check:
    item = {"pk": {"S": pk}, "principal": {"S": "arn:aws:iam::123456789012:role/oncall"}}
    call = ApiCall("dynamodb", "PutItem", {"TableName": "handoff-dev-state", "Item": item}, REGION)
    [check] = checks_for(call, ACCOUNT)
    return check


def test_a_write_outside_the_roles_key_prefix_is_denied(state_table: None) -> None:
    # GIVEN a role whose state-table writes are limited to lock#* (the lock function's ServiceLock)
    documents = policy(LOCK_ONLY)
    # WHEN it writes its own key, and then a deploy-now override (the forged-override attack of issue 23)
    own, forged = put("lock#api"), put("override#dev-api-v1")
    # THEN AWS's request context carries the item's partition key, and only the own key is allowed
    assert own.context["dynamodb:LeadingKeys"] == ["lock#api"]
    assert evaluate(documents, own)
    assert forged.context["dynamodb:LeadingKeys"] == ["override#dev-api-v1"]
    assert not evaluate(documents, forged)


def test_leading_keys_come_from_the_key_for_updates_and_deletes_and_from_the_key_condition_for_queries(
    state_table: None,
) -> None:
    update = ApiCall(
        "dynamodb", "UpdateItem", {"TableName": "handoff-dev-state", "Key": {"pk": {"S": "override#d"}}}, REGION
    )
    query = ApiCall(
        "dynamodb",
        "Query",
        {
            "TableName": "handoff-dev-state",
            "KeyConditionExpression": "#k = :v",
            "ExpressionAttributeNames": {"#k": "pk"},
            "ExpressionAttributeValues": {":v": {"S": "seq#api/imagedefinitions.json.zip"}},
        },
        REGION,
    )
    assert [c.context["dynamodb:LeadingKeys"] for c in checks_for(update, ACCOUNT)] == [["override#d"]]
    assert [c.context["dynamodb:LeadingKeys"] for c in checks_for(query, ACCOUNT)] == [
        ["seq#api/imagedefinitions.json.zip"]
    ]
    # Scan supports no dynamodb:LeadingKeys (Service Authorization Reference): AWS supplies none
    scan = ApiCall("dynamodb", "Scan", {"TableName": "handoff-dev-state"}, REGION)
    assert "dynamodb:LeadingKeys" not in checks_for(scan, ACCOUNT)[0].context


def test_for_all_values_holds_for_an_absent_key_and_for_any_value_does_not() -> None:
    # AWS: ForAllValues is true when the request has no value for the key (why a LeadingKeys Allow must
    # not name Scan), ForAnyValue is false
    scan = Check("dynamodb:Scan", STATE_TABLE, {"aws:RequestedRegion": REGION})
    assert evaluate(policy({**LOCK_ONLY, "Action": "dynamodb:Scan"}), scan)
    any_value = allow("dynamodb:Scan", STATE_TABLE, Condition={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": "*"}})
    assert not evaluate(policy(any_value), scan)


def test_set_operators_compare_every_value_of_a_multivalued_key() -> None:
    two = Check("dynamodb:PutItem", STATE_TABLE, {"dynamodb:LeadingKeys": ["lock#api", "override#d"]})
    assert not evaluate(policy(LOCK_ONLY), two)  # one value outside lock#* is enough to deny
    any_lock = allow(
        "dynamodb:PutItem", STATE_TABLE, Condition={"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": "lock#*"}}
    )
    assert evaluate(policy(any_lock), two)


def test_a_multivalued_key_without_a_set_operator_is_refused_not_guessed() -> None:
    plain = allow("dynamodb:PutItem", STATE_TABLE, Condition={"StringLike": {"dynamodb:LeadingKeys": "lock#*"}})
    with pytest.raises(NotImplementedError, match="needs ForAllValues: or ForAnyValue:"):
        evaluate(policy(plain), Check("dynamodb:PutItem", STATE_TABLE, {"dynamodb:LeadingKeys": ["lock#api"]}))


def test_kms_sign_is_authorized_on_the_key_with_its_algorithm() -> None:
    # GIVEN a Sign call naming the key by ARN  THEN IAM is asked about kms:Sign on that key, with its algorithm
    from ecs_handoff_embedded import iam

    key = "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    call = iam.ApiCall("kms", "Sign", {"KeyId": key, "SigningAlgorithm": "ECDSA_SHA_256"}, "ap-northeast-1")
    [check] = iam.checks_for(call, "123456789012")
    assert (check.action, check.resource) == ("kms:Sign", key)
    assert check.context["kms:SigningAlgorithm"] == "ECDSA_SHA_256" and check.context["kms:MessageType"] == "RAW"
    bare = iam.ApiCall("kms", "Sign", {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}, "ap-northeast-1")
    assert iam.checks_for(bare, "123456789012")[0].resource == key


def test_a_lambda_invoke_by_function_arn_goes_to_the_functions_account() -> None:
    # GIVEN Step Functions invoking a task function of another account by ARN (the server's own credentials)
    from ecs_handoff_embedded import iam

    arn = "arn%3Aaws%3Alambda%3Aap-northeast-1%3A210987654321%3Afunction%3Ahandoff-prod-lock"
    environ = {"PATH_INFO": f"/2015-03-31/functions/{arn}/invocations"}
    call = iam.ApiCall("lambda", "", {}, "ap-northeast-1")
    # THEN the request is served by that account; by name, or another service, by the caller's
    assert iam._invoked_account(environ, ("testing", call)) == "210987654321"
    assert (
        iam._invoked_account({"PATH_INFO": "/2015-03-31/functions/handoff-prod-lock/invocations"}, ("k", call)) is None
    )
    assert iam._invoked_account(environ, ("k", iam.ApiCall("s3", "GetObject", {}, "ap-northeast-1"))) is None


def test_a_functions_credentials_are_in_its_roles_account() -> None:
    from ecs_handoff_embedded import iam

    authorizer = iam.Authorizer("123456789012")
    key = authorizer.credentials_for("handoff-prod-intake", "arn:aws:iam::210987654321:role/handoff-prod-IntakeRole")
    principal = authorizer.principal(key["AWS_ACCESS_KEY_ID"])
    assert principal is not None and principal.account_id == "210987654321"
