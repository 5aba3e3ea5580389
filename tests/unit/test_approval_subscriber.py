"""Who may subscribe to the approvals topic: prod names that principal, and only an IAM ARN can name it."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest
from ecs_handoff_embedded.provision import load_template

from tests.helpers import ROOT

PLACEHOLDER = "arn:aws:iam::ACCOUNT_ID:role/TERRAFORM_ROLE_NAME"


def allowed_pattern() -> str:
    return str(load_template(ROOT / "template.yaml")["Parameters"]["ApprovalSubscriberArn"]["AllowedPattern"])


def prod_overrides() -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = config["prod"]["deploy"]["parameters"]["parameter_overrides"]
    return dict(item.split("=", 1) for item in shlex.split(overrides))


@pytest.mark.parametrize(
    "arn",
    [
        "",  # dev and stg: sns:Subscribe left to IAM (handoff doctor reports it)
        "arn:aws:iam::123456789012:role/terraform",
        "arn:aws:iam::123456789012:role/platform/terraform-apply",  # a role with a path
        "arn:aws:iam::123456789012:user/terraform",
        "arn:aws-cn:iam::123456789012:role/terraform",
    ],
)
def test_approval_subscriber_accepts_iam_role_and_user_arns(arn: str) -> None:
    assert re.fullmatch(allowed_pattern(), arn)


@pytest.mark.parametrize(
    "arn",
    [
        # aws:PrincipalArn of a role session is the role's iam ARN: an sts ARN would match nobody
        "arn:aws:sts::123456789012:assumed-role/terraform/session",
        "arn:aws:sts::123456789012:federated-user/terraform",
        "arn:aws:iam::123456789012:group/platform",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::12345678901:role/terraform",
        PLACEHOLDER,
    ],
)
def test_approval_subscriber_refuses_sts_wildcard_and_placeholder_arns(arn: str) -> None:
    assert re.fullmatch(allowed_pattern(), arn) is None


def test_prod_samconfig_names_the_approval_subscriber() -> None:
    # GIVEN prod's deploy settings
    overrides = prod_overrides()
    # THEN they require approval and set ApprovalSubscriberArn: either a real role, or the placeholder
    # CloudFormation refuses (so prod never deploys with the topic open to any subscriber)
    assert overrides["RequireApproval"] == "true"
    value = overrides["ApprovalSubscriberArn"]
    assert value == PLACEHOLDER or re.fullmatch(allowed_pattern(), value)
    assert value != ""
