"""The link-signing key, read from Secrets Manager with Powertools' parameters utility and cached briefly
per sandbox (max_age), so a rotated key is picked up within minutes."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from ecs_handoff.aws.clients import aws_call, client

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CACHE_SECONDS = 300
MIN_KEY_CHARACTERS = 32
_providers: dict[int, SecretsProvider] = {}  # one per client: per set of credentials (the cache is the provider's)
_lock = threading.Lock()


def _provider(secretsmanager: SecretsManagerClient) -> SecretsProvider:
    with _lock:
        provider = _providers.get(id(secretsmanager))
        if provider is None:
            provider = _providers[id(secretsmanager)] = SecretsProvider(boto3_client=secretsmanager)
        return provider


def signing_key(secret_arn: str, secretsmanager: SecretsManagerClient | None = None) -> bytes:
    provider = _provider(secretsmanager or client("secretsmanager"))
    with aws_call("reading the approval link signing key"):
        try:
            value: Any = provider.get(secret_arn, max_age=CACHE_SECONDS)
        except GetParameterError as exc:
            # Powertools wraps botocore's error (throttling, access denied) in its own: aws_call names it, so a
            # throttled read is still the TransientAwsError the workflow retries.
            raise (exc.__context__ or exc) from None
    if not isinstance(value, str) or len(value) < MIN_KEY_CHARACTERS:
        raise RuntimeError("the approval link signing key is shorter than 32 characters; regenerate the secret")
    return value.encode()
