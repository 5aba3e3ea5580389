"""The link-signing key, read from Secrets Manager and cached briefly per sandbox."""

from __future__ import annotations

import threading
import time
from typing import Any

from ecs_handoff.aws.clients import aws_call, client

CACHE_SECONDS = 300
_cache: dict[str, tuple[float, bytes]] = {}
_lock = threading.Lock()


def signing_key(secret_arn: str, secretsmanager: Any = None) -> bytes:
    with _lock:
        cached = _cache.get(secret_arn)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return bytes(cached[1])
    sm = secretsmanager or client("secretsmanager")
    with aws_call("reading the approval link signing key"):
        value = str(sm.get_secret_value(SecretId=secret_arn)["SecretString"])
    if len(value) < 32:
        raise RuntimeError("the approval link signing key is shorter than 32 characters; regenerate the secret")
    key = value.encode()
    with _lock:
        _cache[secret_arn] = (time.monotonic(), key)
    return key
