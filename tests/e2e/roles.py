"""The template's IAM roles as the embedded AWS evaluates them: whose role a function runs as, and a role narrowed
by one action for one test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def function_role(aws: EmbeddedAws, function_name: str) -> str:
    return str(aws.client("lambda").get_function_configuration(FunctionName=function_name)["Role"].rsplit("/", 1)[-1])


@contextmanager
def narrowed(aws: EmbeddedAws, role: str, drop_action: str) -> Iterator[None]:
    """The role's inline policies without one action, for one test; put back afterwards."""
    iam = aws.client("iam")
    saved = aws.authorizer.inline_policies(role)
    for name, document in saved.items():
        narrowed_doc = {"Version": "2012-10-17", **json.loads(json.dumps(document))}
        for statement in statements(narrowed_doc):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != drop_action] or ["sts:GetCallerIdentity"]
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(narrowed_doc))
    try:
        yield
    finally:
        for name, document in saved.items():
            iam.put_role_policy(
                RoleName=role, PolicyName=name, PolicyDocument=json.dumps({"Version": "2012-10-17", **document})
            )
