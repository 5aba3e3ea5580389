"""The link-signing key: read once per cache period (Powertools' max_age), refused when too short, and a
throttled read is the TransientAwsError the workflow retries (not Powertools' generic error)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from ecs_handoff.aws import secrets
from ecs_handoff.errors import AwsAccessError, TransientAwsError

ARN = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:handoff-prod/approval-link-key-AbCdEf"


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber]]:
    sm = boto3.client("secretsmanager", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sm) as stubber:
        yield sm, stubber
        stubber.assert_no_pending_responses()


def answer(stubber: Stubber, value: str) -> None:
    stubber.add_response("get_secret_value", {"ARN": ARN, "Name": "k", "SecretString": value}, {"SecretId": ARN})


def test_the_key_is_read_once_and_served_from_the_cache_after(stubbed: tuple[Any, Stubber]) -> None:
    sm, stubber = stubbed
    answer(stubber, "k" * 64)  # one response: a second read from AWS would fail the stubber
    assert secrets.signing_key(ARN, sm) == b"k" * 64
    assert secrets.signing_key(ARN, sm) == b"k" * 64


def test_a_key_shorter_than_32_characters_is_refused(stubbed: tuple[Any, Stubber]) -> None:
    sm, stubber = stubbed
    answer(stubber, "k" * 31)
    with pytest.raises(RuntimeError, match="shorter than 32 characters; regenerate the secret"):
        secrets.signing_key(ARN, sm)


def test_a_throttled_read_is_transient_and_a_denied_one_names_what_it_was_doing(
    stubbed: tuple[Any, Stubber],
) -> None:
    sm, stubber = stubbed
    stubber.add_client_error("get_secret_value", "ThrottlingException", "Rate exceeded")
    with pytest.raises(TransientAwsError, match=r"reading the approval link signing key: AWS is throttling"):
        secrets.signing_key(ARN, sm)
    stubber.add_client_error("get_secret_value", "AccessDeniedException", "not allowed")
    with pytest.raises(AwsAccessError, match=r"^reading the approval link signing key: AccessDeniedException: not"):
        secrets.signing_key(ARN, sm)
