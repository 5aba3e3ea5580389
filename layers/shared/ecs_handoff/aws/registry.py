"""The service registry Terraform writes: one SSM parameter (JSON) per service id."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.errors import ArtifactRejected, NotFound
from ecs_handoff.models import ServiceConfig

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SSMClient


def parameter_name(prefix: str, service_id: str) -> str:
    return f"{prefix.rstrip('/')}/{service_id}"


def load_service(prefix: str, service_id: str, ssm: SSMClient | None = None) -> ServiceConfig:
    """The registry entry for service_id; ArtifactRejected if it is missing or malformed."""
    ssm = ssm or client("ssm")
    name = parameter_name(prefix, service_id)
    try:
        with aws_call(f"reading registry entry {name}"):
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except NotFound as exc:
        known = list_service_ids(prefix, ssm)
        raise ArtifactRejected(
            f"service {service_id!r} is not registered (no SSM parameter {name}); "
            f"registered services: {', '.join(known) or 'none'}. Terraform must add it before CI can deploy it"
        ) from exc
    try:
        return ServiceConfig.model_validate(json.loads(value))
    except (ValueError, ValidationError) as exc:
        raise ArtifactRejected(
            f"the registry entry {name} is malformed, so nothing was deployed: {_first_error(exc)}"
        ) from exc


def load_for_environment(
    prefix: str, service_id: str, require_approval: bool, ssm: SSMClient | None = None
) -> ServiceConfig:
    """The registry entry with the environment's approval floor: where the environment requires approval
    (prod), an entry that does not is read as requiring it. ArtifactRejected as load_service."""
    config = load_service(prefix, service_id, ssm)
    if require_approval and not config.approval_required:
        return config.model_copy(update={"approval_required": True})  # prod never skips approval
    return config


def list_service_ids(prefix: str, ssm: SSMClient | None = None) -> list[str]:
    ssm = ssm or client("ssm")
    ids: list[str] = []
    with aws_call(f"listing registry {prefix}"):
        paginator = ssm.get_paginator("get_parameters_by_path")
        for page in paginator.paginate(Path=prefix.rstrip("/"), Recursive=False):
            ids += [p["Name"].rsplit("/", 1)[-1] for p in page.get("Parameters", [])]
    return sorted(ids)


def _first_error(exc: Exception) -> str:
    """What is wrong with an entry, in the entry's words: the field (none for a rule across fields, such as
    "give deploy_windows or change_calendar, not both") and the rule, without pydantic's "Value error, "."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        said = str(err["ctx"]["error"]) if err["type"] == "value_error" and "ctx" in err else err["msg"]
        return f"{field}: {said}" if field else said
    if isinstance(exc, json.JSONDecodeError):
        return f"it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    return " ".join(str(exc).split())
