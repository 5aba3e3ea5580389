"""Two optional grants of template.yaml, as the embedded IAM evaluates the roles CloudFormation made from it:
a change calendar in another account is readable by the gate and the deploy step only when
CrossAccountChangeCalendarArns names it, and an artifact bucket encrypted with a customer managed KMS key is
readable by the intake only when ArtifactBucketKmsKeyArn names that key (kms:Decrypt, through S3 only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecs_handoff.aws.clients import reset_clients
from ecs_handoff_embedded import iam, provision, seed
from ecs_handoff_embedded.iam import ApiCall
from moto import mock_aws

from tests.helpers import ROOT

OTHER_ACCOUNT = "210987654321"
SHARED_CALENDAR = f"arn:aws:ssm:{seed.REGION}:{OTHER_ACCOUNT}:document/shared-freeze"
UNNAMED_CALENDAR = f"arn:aws:ssm:{seed.REGION}:{OTHER_ACCOUNT}:document/someone-elses"
KEY_ARN = f"arn:aws:kms:{seed.REGION}:{seed.ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:{seed.REGION}:{seed.ACCOUNT_ID}:key/9999abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def roles() -> Iterator[dict[str, Any]]:
    """Each function's role documents in two stacks: dev with both parameters set, prod with neither."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "HANDOFF_ENV"):
            env.delenv(key, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", seed.REGION)
        reset_clients()
        session = boto3.session.Session(region_name=seed.REGION)
        parameters = {
            "dev": {"CrossAccountChangeCalendarArns": SHARED_CALENDAR, "ArtifactBucketKmsKeyArn": KEY_ARN},
            "prod": {},
        }
        authorizer = iam.Authorizer(seed.ACCOUNT_ID)
        found: dict[str, Any] = {}
        for env_name, extra in parameters.items():
            seed.seed(session, env_name, rollout_timeout_seconds=60, poll_interval_seconds=1)
            provision.provision(
                session, ROOT, f"handoff-{env_name}", {"Env": env_name, **extra}, seed.ACCOUNT_ID, seed.REGION
            )
            for function in ("gate", "deploy", "intake"):
                role = session.client("lambda").get_function_configuration(
                    FunctionName=f"handoff-{env_name}-{function}"
                )["Role"]
                found[f"{env_name}-{function}"] = authorizer.documents_for_role(role.rsplit("/", 1)[-1])
        # the intake reads one object that SSE-KMS encrypted with the key, and one with another key
        s3 = session.client("s3")
        for name, key in (("api", KEY_ARN), ("worker", OTHER_KEY)):
            s3.put_object(
                Bucket=seed.bucket_name("dev"),
                Key=f"{name}/imagedefinitions.json.zip",
                Body=b"zip",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key,
            )
        # what the embedded IAM asks of a read of each (the state is gone once the next test starts)
        for name in ("api", "worker"):
            key = f"{name}/imagedefinitions.json.zip"
            version = s3.head_object(Bucket=seed.bucket_name("dev"), Key=key)["VersionId"]
            params = {"Bucket": seed.bucket_name("dev"), "Key": key, "versionId": version}
            found[f"read-{name}"] = iam.checks_for(ApiCall("s3", "GetObject", params, seed.REGION), seed.ACCOUNT_ID)
        yield found
        reset_clients()


def allowed(roles: dict[str, Any], function: str, checks: list[iam.Check]) -> bool:
    return bool(checks) and all(iam.evaluate(roles[function], check) for check in checks)


def calendar(name: str) -> list[iam.Check]:
    call = ApiCall("ssm", "GetCalendarState", {"CalendarNames": [name]}, seed.REGION)
    return iam.checks_for(call, seed.ACCOUNT_ID)


def test_template_grants_a_named_calendar_of_another_account_and_no_other(roles: dict[str, Any]) -> None:
    # GIVEN dev names one calendar of another account, prod none
    for function in ("gate", "deploy"):
        # THEN dev's gate and deploy step may read that calendar and their own account's, not another one
        assert allowed(roles, f"dev-{function}", calendar(SHARED_CALENDAR))
        assert allowed(roles, f"dev-{function}", calendar("own-freeze"))
        assert not allowed(roles, f"dev-{function}", calendar(UNNAMED_CALENDAR))
        # AND prod's, with nothing named, may read only their own account's
        assert not allowed(roles, f"prod-{function}", calendar(SHARED_CALENDAR))
        assert allowed(roles, f"prod-{function}", calendar("own-freeze"))


def test_template_grants_the_intake_decrypt_with_the_named_key_through_s3_only(roles: dict[str, Any]) -> None:
    # GIVEN objects encrypted with the named key and with another one
    api, worker = roles["read-api"], roles["read-worker"]
    # THEN the embedded IAM asks for kms:Decrypt on the object's key, through S3, as AWS does
    assert [(c.action, c.resource, c.context.get("kms:ViaService")) for c in api] == [
        ("s3:GetObjectVersion", f"arn:aws:s3:::{seed.bucket_name('dev')}/api/imagedefinitions.json.zip", None),
        ("kms:Decrypt", KEY_ARN, f"s3.{seed.REGION}.amazonaws.com"),
    ]
    # AND dev's intake may read the one with the named key, not the other; without the parameter, neither
    assert allowed(roles, "dev-intake", api)
    assert not allowed(roles, "dev-intake", worker)
    assert not allowed(roles, "prod-intake", api)
    # AND the grant holds only through S3: a direct kms:Decrypt is refused
    direct = iam.Check("kms:Decrypt", KEY_ARN, {"aws:RequestedRegion": seed.REGION})
    assert not iam.evaluate(roles["dev-intake"], direct)
