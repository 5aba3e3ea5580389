"""Calling the operator API as people do: a role with an execute-api:Invoke policy and a session of it (or a
user's bare keys), and a POST signed with SigV4 as the CLI signs it (the `api_id` fixture is in conftest.py)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def invoke_policy(api_id: str, *routes: str) -> str:
    """execute-api:Invoke on exactly these routes ("POST/approvals/*/approve"), as the Terraform example grants."""
    resources = [f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/*/{route}" for route in routes]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resources}],
        }
    )


def assume(embedded: EmbeddedAws, role: str, session: str, policy: str) -> dict[str, str]:
    """A role with this policy (made once), and a fresh session of it: the credentials a person would hold."""
    iam = embedded.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=role, PolicyName="operator-api", PolicyDocument=policy)
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
    credentials = embedded.client("sts").assume_role(RoleArn=arn, RoleSessionName=session)["Credentials"]
    return {
        "access_key": credentials["AccessKeyId"],
        "secret_key": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
    }


def user_keys(embedded: EmbeddedAws, name: str) -> dict[str, str]:
    """An IAM user with an access key and no policy at all."""
    iam = embedded.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {"access_key": key["AccessKeyId"], "secret_key": key["SecretAccessKey"]}


def call(
    embedded: EmbeddedAws,
    path: str,
    payload: dict[str, Any],
    credentials: dict[str, str] | None,
    env: str = "prod",
    tamper: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """A POST to the operator API, signed with SigV4 as the CLI signs it (unsigned without credentials)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpsession import URLLib3Session

    url = embedded.operator_apis[env].url + path
    request = AWSRequest(
        method="POST", url=url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    if credentials is not None:
        signer = Credentials(credentials["access_key"], credentials["secret_key"], credentials.get("token"))
        SigV4Auth(signer, "execute-api", REGION).add_auth(request)
    if tamper is not None:
        request.data = tamper
    response = URLLib3Session().send(request.prepare())
    return response.status_code, json.loads(response.content or b"{}")
