"""Lazily created boto3 clients with botocore's standard retry mode, and AWS error translation."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal, overload

from ecs_handoff.errors import AwsAccessError, NotFound, TransientAwsError

if TYPE_CHECKING:  # boto3-stubs: every call through these clients is checked by mypy (not shipped to Lambda)
    from mypy_boto3_cloudformation import CloudFormationClient as CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient as CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient as DynamoDBClient
    from mypy_boto3_ecr import ECRClient as ECRClient
    from mypy_boto3_ecs import ECSClient as ECSClient
    from mypy_boto3_events import EventBridgeClient as EventBridgeClient
    from mypy_boto3_iam import IAMClient as IAMClient
    from mypy_boto3_kms import KMSClient as KMSClient
    from mypy_boto3_lambda import LambdaClient as LambdaClient
    from mypy_boto3_s3 import S3Client as S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient as SecretsManagerClient
    from mypy_boto3_sns import SNSClient as SNSClient
    from mypy_boto3_ssm import SSMClient as SSMClient
    from mypy_boto3_stepfunctions import SFNClient as SFNClient
    from mypy_boto3_sts import STSClient as STSClient

_RETRY_CONFIG: Any = None
_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}
_LOADER: Any = None  # botocore's Loader: its cache of decoded models is read-only once filled
_loader_lock = threading.Lock()

# Transient: what botocore's standard retry mode itself retries (its throttling and transient codes, and
# HTTP 429/5xx), plus the codes services document for throttling or a busy backend that botocore's lists do
# not carry (SNS Throttled/KMSThrottling/InternalError, S3 InternalError, CloudWatch and Secrets Manager
# InternalServiceError, Step Functions ExecutionLimitExceeded/KmsThrottlingException, SSM and DynamoDB
# InternalServerError, ECS/ECR ServerException). botocore has already retried them with back-off; a step that
# still gets one is retried by the state machine (TransientAwsError), never failed as a refusal.
DOCUMENTED_TRANSIENT_CODES = frozenset(
    {
        "Throttled",
        "KMSThrottling",
        "KmsThrottlingException",
        "InternalError",
        "InternalServiceError",
        "InternalServerError",
        "InternalFailure",
        "ServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ExecutionLimitExceeded",
    }
)
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


def _botocore_retried_codes() -> frozenset[str]:
    from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

    # botocore keeps these lists as class attributes of its standard retry mode; a test pins them.
    throttled: list[str] = getattr(ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES")  # noqa: B009
    transient: list[str] = getattr(TransientRetryableChecker, "_TRANSIENT_ERROR_CODES")  # noqa: B009
    return frozenset(throttled) | frozenset(transient)


THROTTLING_CODES = _botocore_retried_codes() | DOCUMENTED_TRANSIENT_CODES
NOT_FOUND_CODES = frozenset(
    {
        "ParameterNotFound",
        "NoSuchKey",
        "NoSuchVersion",
        "ResourceNotFoundException",
        "ServiceNotFoundException",
        "ClusterNotFoundException",
        "ServiceDeploymentNotFoundException",
        "ExecutionDoesNotExist",
        "StateMachineDoesNotExist",
    }
)


@overload
def client(service: Literal["cloudformation"]) -> CloudFormationClient: ...
@overload
def client(service: Literal["cloudwatch"]) -> CloudWatchClient: ...
@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["ecr"]) -> ECRClient: ...
@overload
def client(service: Literal["ecs"]) -> ECSClient: ...
@overload
def client(service: Literal["events"]) -> EventBridgeClient: ...
@overload
def client(service: Literal["iam"]) -> IAMClient: ...
@overload
def client(service: Literal["kms"]) -> KMSClient: ...
@overload
def client(service: Literal["lambda"]) -> LambdaClient: ...
@overload
def client(service: Literal["s3"]) -> S3Client: ...
@overload
def client(service: Literal["secretsmanager"]) -> SecretsManagerClient: ...
@overload
def client(service: Literal["stepfunctions"]) -> SFNClient: ...
@overload
def client(service: Literal["sns"]) -> SNSClient: ...
@overload
def client(service: Literal["ssm"]) -> SSMClient: ...
@overload
def client(service: Literal["sts"]) -> STSClient: ...
@overload
def client(service: str) -> Any: ...
def client(service: str) -> Any:
    """A shared client per service and credentials: created on first use, never at import time, so moto and
    fakes set up after import (and a test's own credentials) are the ones a function's calls reach.

    In Lambda a process has one set of credentials; keying by the access key also keeps functions
    that share a process (the embedded AWS runs them all in one) on their own roles."""
    global _RETRY_CONFIG
    cache_key = (service, os.environ.get("AWS_ACCESS_KEY_ID", ""))
    with _lock:
        if cache_key not in _clients:
            from botocore.config import Config

            if _RETRY_CONFIG is None:
                _RETRY_CONFIG = Config(
                    retries={"mode": "standard", "max_attempts": 6},
                    connect_timeout=5,
                    read_timeout=30,
                )
            _clients[cache_key] = new_session().client(service, config=_RETRY_CONFIG)
        return _clients[cache_key]


def new_session(**kwargs: Any) -> Any:
    """A boto3 session that shares the process's botocore data loader.

    Each botocore session otherwise reads and decodes botocore's JSON models (endpoints, partitions, the
    service's API) again. A Lambda function makes one session per service and never notices; a process that
    holds many credentials (the CLI, the embedded AWS running every function in-process) does: without the
    shared loader, decoding the same JSON was a third of the embedded AWS's CPU time."""
    global _LOADER
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    with _loader_lock:
        if _LOADER is None:
            _LOADER = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, **kwargs)


def reset_clients() -> None:
    """Forget cached clients (tests that switch endpoints)."""
    with _lock:
        _clients.clear()


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


@contextmanager
def aws_call(what: str) -> Iterator[None]:
    """Turn botocore errors into the project's errors, naming what was being done."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in THROTTLING_CODES or status in TRANSIENT_STATUS:
            raise TransientAwsError(f"{what}: AWS is throttling or unavailable ({code})") from exc
        if code in NOT_FOUND_CODES:
            raise NotFound(f"{what}: not found ({code}: {message})") from exc
        raise AwsAccessError(f"{what}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise TransientAwsError(f"{what}: {exc}") from exc
