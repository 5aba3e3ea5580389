"""AWS's errors become handoff's: what AWS documents as throttling or a busy backend is transient (the state
machine retries it); a refusal is not."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_handoff.aws.clients import aws_call
from ecs_handoff.errors import AwsAccessError, TransientAwsError


def raised(code: str, status: int) -> Exception:
    with pytest.raises(Exception) as info, aws_call("doing it"):
        response: Any = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
        raise ClientError(response, "Op")
    return info.value


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("Throttled", 429),  # SNS Publish
        ("KMSThrottling", 400),  # SNS Publish to an encrypted topic
        ("InternalError", 500),  # SNS, S3
        ("InternalServiceError", 500),  # CloudWatch DescribeAlarms, Secrets Manager
        ("ExecutionLimitExceeded", 400),  # Step Functions StartExecution
        ("KmsThrottlingException", 400),  # Step Functions
        ("InternalServerError", 500),  # SSM, DynamoDB
        ("ServerException", 500),  # ECS, ECR
        ("ThrottlingException", 400),  # botocore's own list
        ("SlowDown", 503),  # S3
        ("RequestTimeout", 400),  # botocore's transient list
        ("SomethingNew", 503),  # an undocumented code with a 5xx status
    ],
)
def test_aws_call_treats_documented_throttling_and_server_errors_as_transient(code: str, status: int) -> None:
    error = raised(code, status)
    assert isinstance(error, TransientAwsError) and code in str(error)


@pytest.mark.parametrize(("code", "status"), [("AccessDeniedException", 400), ("ValidationException", 400)])
def test_aws_call_treats_a_refusal_as_final(code: str, status: int) -> None:
    assert type(raised(code, status)) is AwsAccessError


def test_an_sns_subject_is_cut_to_fewer_than_100_characters() -> None:
    # GIVEN SNS's rule for a subject ("less than 100 characters long")
    from ecs_handoff.aws import sns

    sent: list[dict[str, Any]] = []

    class Topic:
        def publish(self, **kwargs: Any) -> dict[str, Any]:
            sent.append(kwargs)
            return {"MessageId": "m"}

    # WHEN a long subject is published  THEN SNS gets 99 characters of it
    sns.publish("arn:aws:sns:ap-northeast-1:123456789012:t", "x" * 150, "body", sns=Topic())  # type: ignore[arg-type]
    assert len(sent[0]["Subject"]) == 99
