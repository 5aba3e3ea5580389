"""ECS service deployments (the BLUE_GREEN, LINEAR and CANARY strategies ECS runs itself): list, describe, the
service revisions they move between, and the two calls that act on one (ContinueServiceDeployment at a PAUSE
hook, StopServiceDeployment). Errors are the project's: an unknown deployment is NotFound, a deployment or hook
that has moved on from what the call expects is ServiceDeploymentMoved."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, cast

from ecs_handoff.aws.clients import aws_call, client, error_code
from ecs_handoff.errors import ServiceDeploymentMoved

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient

# ECS answers these when the deployment or the hook is no longer where the call expects it (the API reference's
# ContinueServiceDeployment and StopServiceDeployment: a hook not AWAITING_ACTION, a deployment already ended).
MOVED_CODES = frozenset({"InvalidParameterException", "ConflictException"})


class HookAction(StrEnum):
    """ContinueServiceDeployment's action at a PAUSE hook."""

    CONTINUE = "CONTINUE"
    ROLLBACK = "ROLLBACK"


def list_for_service(
    cluster: str,
    service: str,
    created_after: datetime | None = None,
    ecs: ECSClient | None = None,
    statuses: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """The service's deployments (summaries: ARN, status, targetServiceRevisionArn), newest first; only those
    created at or after `created_after` when given, only those in `statuses` when given (one page of at most 20:
    handoff looks for its own, just made, or for the ones still running)."""
    ecs = ecs or client("ecs")
    kwargs: dict[str, Any] = {"cluster": cluster, "service": service, "maxResults": 20}
    if created_after is not None:
        kwargs["createdAt"] = {"after": created_after}
    if statuses:
        kwargs["status"] = list(statuses)
    with aws_call(f"listing the service deployments of {service} in cluster {cluster}"):
        found = ecs.list_service_deployments(**kwargs).get("serviceDeployments", [])
    listed = [dict(d) for d in found]
    return sorted(listed, key=lambda d: str(d.get("createdAt", "")), reverse=True)


def describe(arns: list[str], ecs: ECSClient | None = None) -> list[dict[str, Any]]:
    """DescribeServiceDeployments (at most 20 ARNs); the ones ECS does not know are left out."""
    if not arns:
        return []
    ecs = ecs or client("ecs")
    with aws_call(f"describing service deployments {', '.join(a.rsplit('/', 1)[-1] for a in arns)}"):
        response = ecs.describe_service_deployments(serviceDeploymentArns=arns[:20])
    return [dict(d) for d in response.get("serviceDeployments", [])]


def revision_task_definitions(arns: list[str], ecs: ECSClient | None = None) -> dict[str, str]:
    """{service revision ARN: its task definition} (DescribeServiceRevisions, at most 20 ARNs)."""
    if not arns:
        return {}
    ecs = ecs or client("ecs")
    with aws_call("describing service revisions"):
        response = ecs.describe_service_revisions(serviceRevisionArns=list(dict.fromkeys(arns))[:20])
    return {
        str(r["serviceRevisionArn"]): str(r.get("taskDefinition", ""))
        for r in cast("list[dict[str, Any]]", response.get("serviceRevisions", []))
    }


def continue_at_hook(arn: str, hook_id: str, action: HookAction, ecs: ECSClient | None = None) -> None:
    """ContinueServiceDeployment: lets a deployment paused at a PAUSE hook go on (CONTINUE) or roll it back."""
    ecs = ecs or client("ecs")
    what = f"continuing service deployment {arn.rsplit('/', 1)[-1]} at hook {hook_id} with {action.value}"
    chosen: Literal["CONTINUE", "ROLLBACK"] = "CONTINUE" if action is HookAction.CONTINUE else "ROLLBACK"
    _acting(what, lambda: ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=chosen))


def stop(arn: str, ecs: ECSClient | None = None) -> None:
    """StopServiceDeployment(ROLLBACK): production and test traffic back to the source revision at once."""
    ecs = ecs or client("ecs")
    what = f"stopping service deployment {arn.rsplit('/', 1)[-1]} (ROLLBACK)"
    _acting(what, lambda: ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK"))


def _acting(what: str, call: Any) -> None:
    from botocore.exceptions import ClientError

    try:
        with aws_call(what):
            call()
    except Exception as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and error_code(cause) in MOVED_CODES:
            message = cause.response.get("Error", {}).get("Message", "")
            raise ServiceDeploymentMoved(f"{what}: ECS refused ({error_code(cause)}: {message})") from cause
        raise
