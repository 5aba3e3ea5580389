"""What every boundary shares: names and times, text a person typed, a deployment's outcome and phase,
and the model bases."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

SERVICE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
"""Safe service ids: lowercase DNS-label style, 1-40 characters, so they fit in keys, SSM
names and execution names without escaping."""


EXECUTION_NAME_MAX = 80
_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(service_id: str, version_id: str) -> str:
    """Deterministic Step Functions execution name (80 characters of [A-Za-z0-9_-]) for one upload."""
    clean = _EXECUTION_NAME_UNSAFE.sub("_", version_id)
    name = f"{service_id}-{clean}"
    if clean != version_id or len(name) > EXECUTION_NAME_MAX:
        digest = hashlib.sha256(version_id.encode()).hexdigest()[:16]
        name = f"{service_id}-{clean[: EXECUTION_NAME_MAX - len(service_id) - 18]}-{digest}"
    return name[:EXECUTION_NAME_MAX]


def without_controls(text: str) -> str:
    """Control and format characters (newlines, ANSI escapes, bidi overrides) replaced by spaces."""
    return "".join(" " if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" else c for c in text)


def one_line(text: str, limit: int = 1000) -> str:
    """Text a person typed, safe to put in an email line, a log or a terminal: no control or format
    characters, runs of space collapsed."""
    return " ".join(without_controls(text).split())[:limit]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC timestamp with milliseconds; sorts lexically in DynamoDB."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_iso(timestamp: str) -> datetime:
    """The instant an ISO 8601 timestamp names (iso()'s, or AWS's with a Z or an offset)."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def seconds_since(timestamp: str) -> float:
    """Seconds from an iso() timestamp until now."""
    return max(0.0, (utcnow() - parse_iso(timestamp)).total_seconds())


class Outcome(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    INVALID = "INVALID"

    @property
    def terminal(self) -> bool:
        return self not in (Outcome.IN_PROGRESS, Outcome.AWAITING_APPROVAL)


class Phase(StrEnum):
    """Where a deployment is, on its record (and, with the time it was first reached, in its timeline)."""

    RECEIVED = "received"  # the intake is checking the upload
    QUEUED = "queued"  # the workflow started
    WAITING_FOR_LOCK = "waiting_for_lock"  # another deployment of the service runs
    LOCKED = "locked"
    AWAITING_APPROVAL = "awaiting_approval"
    WAITING_FOR_WINDOW = "waiting_for_window"  # outside every deploy window, or the change calendar CLOSED
    WAITING_FOR_ALARM = "waiting_for_alarm"  # a blocking alarm is in ALARM
    GATES_OPEN = "gates_open"
    DEPLOY_NOW = "deploy_now"  # `handoff deploy-now` started it past its release controls
    DEPLOYING = "deploying"
    ROLLING_OUT = "rolling_out"
    BAKING = "baking"
    ROLLED_BACK = "rolled_back"
    FINISHED = "finished"

    @property
    def held(self) -> bool:
        """Held by a release control (what `handoff deploy-now` may override)."""
        return self in (Phase.WAITING_FOR_WINDOW, Phase.WAITING_FOR_ALARM)


class Model(BaseModel):
    # defer_build: a model's validator is built when first used, so a function pays only for the models it
    # reads (a cold start cost, measured in `make bench`).
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=False, defer_build=True)


class WorkflowModel(Model):
    """What the state machine passes between its states: an unknown field is a renamed or misspelt path in
    statemachine/deployment.asl.json, refused where it is parsed instead of read as absent."""

    model_config = ConfigDict(extra="forbid")
