"""ECS access: task definitions and services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.errors import AwsAccessError, NotFound
from ecs_handoff.taskdef import is_handoff_revision, short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient


def describe_task_definition(
    task_definition: str, ecs: ECSClient | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    ecs = ecs or client("ecs")
    with aws_call(f"describing task definition {task_definition}"):
        response = ecs.describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    # handoff treats a revision as the JSON document RegisterTaskDefinition takes back (taskdef.render).
    return cast("dict[str, Any]", response["taskDefinition"]), cast("list[dict[str, str]]", response.get("tags", []))


# Beyond the revisions handoff keeps ACTIVE (keep_revisions), a family's newest few may be in flight.
SCAN_MARGIN = 5


def resolve_base(
    task_definition: str, ecs: ECSClient | None = None, keep_revisions: int = 10
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Terraform's base: the revision named, or for a bare family the newest ACTIVE revision not registered
    by handoff. handoff deregisters its own revisions beyond `keep_revisions`, so Terraform's newest is
    among the newest keep_revisions + SCAN_MARGIN ACTIVE ones: one List and at most that many Describes."""
    ecs = ecs or client("ecs")
    if ":" in task_definition:
        return describe_task_definition(task_definition, ecs)
    scan = keep_revisions + SCAN_MARGIN
    with aws_call(f"listing revisions of task definition family {task_definition}"):
        arns = ecs.list_task_definitions(
            familyPrefix=task_definition, status="ACTIVE", sort="DESC", maxResults=min(scan, 100)
        ).get("taskDefinitionArns", [])
    arns = [a for a in arns if short_name(a).rsplit(":", 1)[0] == task_definition]
    for arn in arns[:scan]:
        base, tags = describe_task_definition(arn, ecs)
        if not is_handoff_revision(tags):
            return base, tags
    if not arns:
        raise NotFound(f"task definition family {task_definition!r} has no ACTIVE revision")
    raise NotFound(
        f"task definition family {task_definition!r} has no revision registered by Terraform among its newest "
        f"{len(arns[:scan])} ACTIVE revisions; name the exact base in the registry "
        "(task_definition = aws_ecs_task_definition.<name>.arn)"
    )


def deregister_task_definition(task_definition: str, ecs: ECSClient | None = None) -> None:
    ecs = ecs or client("ecs")
    with aws_call(f"deregistering task definition {short_name(task_definition)}"):
        ecs.deregister_task_definition(taskDefinition=task_definition)


def find_revision_tagged(base: str, key: str, value: str, ecs: ECSClient | None = None, newest: int = 10) -> str | None:
    """The newest revisions of base's family carrying tag key=value (a retried step's own registration)."""
    ecs = ecs or client("ecs")
    family = short_name(base).rsplit(":", 1)[0]
    with aws_call(f"listing revisions of task definition family {family}"):
        arns = ecs.list_task_definitions(familyPrefix=family, sort="DESC", maxResults=newest).get(
            "taskDefinitionArns", []
        )
    for arn in arns:
        if short_name(arn).rsplit(":", 1)[0] != family:
            continue
        _, tags = describe_task_definition(arn, ecs)
        if any(t.get("key") == key and t.get("value") == value for t in tags):
            return str(arn)
    return None


def register_task_definition(spec: dict[str, Any], ecs: ECSClient | None = None) -> str:
    ecs = ecs or client("ecs")
    with aws_call(f"registering a new revision of {spec.get('family')}"):
        response = ecs.register_task_definition(**spec)
    return str(response["taskDefinition"]["taskDefinitionArn"])


def describe_service(cluster: str, service: str, ecs: ECSClient | None = None) -> dict[str, Any]:
    ecs = ecs or client("ecs")
    with aws_call(f"describing service {service} in cluster {cluster}"):
        response = ecs.describe_services(cluster=cluster, services=[service])
    services = response.get("services", [])
    if not services or services[0].get("status") == "INACTIVE":
        raise NotFound(f"ECS service {service!r} does not exist (or is inactive) in cluster {cluster!r}")
    return dict(services[0])


def update_service(cluster: str, service: str, task_definition: str, ecs: ECSClient | None = None) -> str:
    """Points the service at task_definition; returns the id of the deployment ECS created for it."""
    ecs = ecs or client("ecs")
    with aws_call(f"updating service {service} in cluster {cluster} to {short_name(task_definition)}"):
        response = ecs.update_service(cluster=cluster, service=service, taskDefinition=task_definition)
    for deployment in response["service"].get("deployments", []):
        if deployment.get("status") == "PRIMARY" and deployment.get("taskDefinition") == task_definition:
            return str(deployment["id"])
    raise AwsAccessError(
        f"UpdateService for {service} returned no PRIMARY deployment of {short_name(task_definition)}; "
        "is the service using the ECS deployment controller?"
    )


def family_of(task_definition: str) -> str:
    """The family of a task definition named by ARN, family:revision or bare family."""
    name = short_name(task_definition)
    family, _, revision = name.rpartition(":")
    return family if family and revision.isdigit() else name


def list_revisions(family: str, ecs: ECSClient | None = None, newest: int = 100, status: str = "ACTIVE") -> list[str]:
    """The newest `newest` revisions of exactly this family (not others sharing its prefix), newest first."""
    ecs = ecs or client("ecs")
    arns: list[str] = []
    kwargs: dict[str, Any] = {"familyPrefix": family, "status": status, "sort": "DESC"}
    with aws_call(f"listing revisions of task definition family {family}"):
        while len(arns) < newest:
            page = ecs.list_task_definitions(**kwargs, maxResults=min(newest - len(arns), 100))
            arns += [str(a) for a in page.get("taskDefinitionArns", []) if family_of(a) == family]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    # ECS sorts DESC as asked; sorted again by revision so the order never rests on a page's order.
    return sorted(arns, key=lambda a: int(short_name(a).rpartition(":")[2]), reverse=True)[:newest]
