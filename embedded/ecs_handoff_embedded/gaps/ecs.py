"""#3 ECS rollouts: UpdateService starts a new PRIMARY deployment that goes IN_PROGRESS -> COMPLETED after a
short delay or, when an image tag starts with `fail-`, FAILED with a rollback if the service has the
circuit breaker on (else it stays IN_PROGRESS, as ECS keeps trying). Each change is sent as ECS's
"ECS Deployment State Change" event (EmbeddedAws.emit_ecs_event, which can drop them).
#6 ECS task definitions, as AWS behaves: ListTaskDefinitions honours `sort` and `maxResults`/`nextToken`;
DescribeTaskDefinition returns registeredAt/registeredBy/requiresAttributes (and deregisteredAt), and a
bare family means its newest ACTIVE revision; an EC2 container with only memoryReservation registers.
#8 (ECS part) services keep the deploymentConfiguration (circuit breaker) they were given.
#12 ECS reads are eventually consistent ("Amazon ECS API reference: Request eventual consistency"): with a lag
set, DescribeServices does not show a deployment for that long after UpdateService created it (the service
as it was before), the way a read right after a write may not see it in AWS.
A rollout can also be held (`HELD` as its delay): it stays IN_PROGRESS until a test releases it
(`HeldRollouts.release`), so a test acts "while ECS is still rolling out" without racing a timer."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import math
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.gaps.events import EventSink, aws_event
from ecs_handoff_embedded.gaps.patching import Undo, all_of, replace

FAIL_TAG_PREFIX = "fail-"
HELD = math.inf  # a rollout delay that never ends by itself: the test releases it


class HeldRollouts:
    """Rollouts started with the delay `HELD`, by service ("cluster/name"), each waiting for `release`."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: list[tuple[str, Callable[[], None]]] = []

    def hold(self, service: str, finish: Callable[[], None]) -> None:
        with self._changed:
            self._held.append((service, finish))
            self._changed.notify_all()

    def held(self, service: str | None = None) -> int:
        with self._changed:
            return sum(1 for s, _ in self._held if service in (None, s))

    def release(self, service: str | None = None, timeout: float = 30.0) -> int:
        """Ends the held rollouts of `service` (all, if None) as ECS would, oldest first, after waiting up to
        `timeout` seconds for at least one to be held. Returns how many ended; 0 means none came."""
        with self._changed:
            self._changed.wait_for(lambda: self.held(service) > 0, timeout)
            chosen = [(s, f) for s, f in self._held if service in (None, s)]
            self._held = [(s, f) for s, f in self._held if (s, f) not in chosen]
        for _, finish in chosen:
            finish()
        return len(chosen)

    def discard(self) -> int:
        """Forgets every held rollout (they stay IN_PROGRESS in ECS, as a rollout nobody finishes would)."""
        with self._changed:
            count, self._held = len(self._held), []
        return count


def install_ecs_rollouts(
    delay_seconds: Callable[[], float], events: EventSink, held: HeldRollouts | None = None
) -> Undo:
    """UpdateService starts a rollout that ends after `delay_seconds()` (or, if that is `HELD`, when `held`
    releases it); ECS's deployment events go to `events`."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        cluster = service_properties.get("cluster", "default").split("/")[-1]
        name = service_properties.get("service", "").split("/")[-1]
        wanted = service_properties.get("task_definition")
        forced = bool(service_properties.get("force_new_deployment"))
        before = self.services.get(f"{cluster}:{name}")
        previous = before.task_definition if before is not None else None
        service = original(self, service_properties)
        new_td = service.task_definition
        # BLUE_GREEN, LINEAR and CANARY deployments are ecs_deployments.py's
        rolling = (getattr(service, "deployment_configuration", None) or {}).get("strategy", "ROLLING") == "ROLLING"
        if wanted and (new_td != previous or forced) and rolling:
            _start_rollout(self, service, str(previous), new_td, delay_seconds(), events, held)
        return service

    return replace(EC2ContainerServiceBackend, "update_service", update_service)


def install_ecs_listing_lag(lag_seconds: Callable[[], float]) -> Undo:
    """DescribeServices shows each service without the deployments created less than `lag_seconds()` ago."""
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_services

    def describe_services(self: Any, cluster_str: str, service_names_or_arns: list[str]) -> Any:
        services, failures = original(self, cluster_str, service_names_or_arns)
        lag = lag_seconds()
        if lag <= 0:
            return services, failures
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=lag)
        return [_as_seen_before(service, cutoff) for service in services], failures

    return replace(EC2ContainerServiceBackend, "describe_services", describe_services)


def _as_seen_before(service: Any, cutoff: dt.datetime) -> Any:
    """The service as a lagging read shows it: deployments created after `cutoff` not there yet."""
    seen = [d for d in service.deployments if _created(d) <= cutoff]
    if len(seen) == len(service.deployments):
        return service
    stale = copy.copy(service)
    stale.deployments = seen
    primary = next((d for d in seen if d.get("status") == "PRIMARY"), seen[0] if seen else None)
    if primary is not None:
        stale.task_definition = primary["taskDefinition"]
    return stale


def _created(deployment: dict[str, Any]) -> dt.datetime:
    created = deployment.get("createdAt")
    if not isinstance(created, dt.datetime):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    return created if created.tzinfo else created.replace(tzinfo=dt.UTC)  # moto's own are naive UTC


def ecs_deployment_event(
    backend: Any, service: Any, deployment: dict[str, Any], name: str, reason: str
) -> dict[str, Any]:
    """ECS's "ECS Deployment State Change" event, in the shape of the Amazon ECS developer guide's examples
    (updatedAt here with milliseconds, as DescribeServices has it, so verdict latency can be measured)."""
    return aws_event(
        "aws.ecs",
        "ECS Deployment State Change",
        backend.account_id,
        backend.region_name,
        [service.arn],
        {
            "eventType": "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO",
            "eventName": name,
            "deploymentId": deployment["id"],
            "updatedAt": deployment["updatedAt"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "reason": reason,
        },
    )


def _deployment(service: Any, task_definition: str, state: str) -> dict[str, Any]:
    deployment_id = f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"
    now = dt.datetime.now(dt.UTC)
    desired = int(service.desired_count)
    progress = "in progress" if state == "IN_PROGRESS" else "completed"
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": desired,
        "pendingCount": desired if state == "IN_PROGRESS" else 0,
        "runningCount": 0 if state == "IN_PROGRESS" else desired,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type or "FARGATE",
        "rolloutState": state,
        "rolloutStateReason": f"ECS deployment {deployment_id} {progress}.",
    }


def _circuit_breaker(service: Any) -> bool:
    configuration = getattr(service, "deployment_configuration", None) or {}
    return bool((configuration.get("deploymentCircuitBreaker") or {}).get("enable"))


def _start_rollout(
    backend: Any,
    service: Any,
    previous: str,
    new_td: str,
    delay: float,
    events: EventSink,
    held: HeldRollouts | None = None,
) -> None:
    """A rollout as ECS runs one: tasks of a `fail-` image never start; with the circuit breaker on, ECS
    marks the deployment FAILED and rolls back to the previous one; without it, it keeps trying."""
    ours = _deployment(service, new_td, "IN_PROGRESS")
    for old in service.deployments:
        old["status"] = "ACTIVE"
    service.deployments = [ours, *[d for d in service.deployments if d.get("rolloutState") != "FAILED"][:1]]
    images = [c.get("image", "") for c in backend.describe_task_definition(new_td).container_definitions]
    fails = any(tag.startswith(FAIL_TAG_PREFIX) for image in images for tag in _tags(backend, image))
    events(ecs_deployment_event(backend, service, ours, "SERVICE_DEPLOYMENT_IN_PROGRESS", ours["rolloutStateReason"]))

    def finish() -> None:
        if service.task_definition != new_td or ours not in service.deployments:
            return  # someone moved the service on meanwhile
        now = dt.datetime.now(dt.UTC)
        if fails and not _circuit_breaker(service):
            ours.update(failedTasks=ours["desiredCount"], updatedAt=now)  # IN_PROGRESS until someone acts
            return
        if fails:
            reason = "ECS deployment circuit breaker: tasks failed to start."
            ours.update(
                rolloutState="FAILED",
                status="ACTIVE",
                failedTasks=ours["desiredCount"],
                runningCount=0,
                pendingCount=0,
                updatedAt=now,
                rolloutStateReason=reason,
            )
            rollback = _deployment(service, previous, "COMPLETED")
            service.task_definition = previous
            service.deployments = [rollback, ours]
            events(ecs_deployment_event(backend, service, ours, "SERVICE_DEPLOYMENT_FAILED", reason))
            back = f"ECS deployment circuit breaker: rolling back to deploymentId {ours['id']}."
            events(ecs_deployment_event(backend, service, rollback, "SERVICE_DEPLOYMENT_IN_PROGRESS", back))
            events(ecs_deployment_event(backend, service, rollback, "SERVICE_DEPLOYMENT_COMPLETED", back))
        else:
            ours.update(
                rolloutState="COMPLETED",
                runningCount=ours["desiredCount"],
                pendingCount=0,
                updatedAt=now,
                rolloutStateReason=f"ECS deployment {ours['id']} completed.",
            )
            service.deployments = [ours]
            done = ours["rolloutStateReason"]
            events(ecs_deployment_event(backend, service, ours, "SERVICE_DEPLOYMENT_COMPLETED", done))

    if delay == HELD:
        if held is None:
            raise RuntimeError("a held rollout needs a HeldRollouts to release it")
        held.hold(f"{service.cluster_name}/{service.name}", finish)
        return
    timer = threading.Timer(delay, finish)
    timer.daemon = True
    timer.start()


def _tags(backend: Any, image: str) -> list[str]:
    """The tags an image reference stands for: its own tag, or for repository@digest (handoff pins
    this account's ECR images) every tag ECR has on that digest, as a real rollout would pull it."""
    from ecs_handoff.models import parse_reference

    name, tag, digest = parse_reference(image)
    if not digest:
        return [tag or "latest"]
    from moto.ecr.models import ecr_backends

    path = name.split("/", 1)[1] if "/" in name else name
    repository = ecr_backends[backend.account_id][backend.region_name].repositories.get(path)
    found = [i for i in (repository.images if repository else []) if i.get_image_digest() == digest]
    return [tag for i in found for tag in i.image_tags]


def _revision_order(arn: str) -> tuple[str, int]:
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision)


def install_ecs_task_definitions(account_id: str) -> Undo:

    from moto.ecs.exceptions import InvalidParameterException, TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    backend_cls = EC2ContainerServiceBackend
    original_register = backend_cls.register_task_definition
    original_describe = backend_cls.describe_task_definition
    original_deregister = backend_cls.deregister_task_definition
    original_validate = backend_cls.__dict__["_validate_container_defs"]

    def register_task_definition(self: Any, family: str, container_definitions: list[Any], **kwargs: Any) -> Any:
        task_definition = original_register(self, family, container_definitions, **kwargs)
        task_definition.registered_at = dt.datetime.now(dt.UTC)
        task_definition.registered_by = f"arn:aws:iam::{account_id}:root"
        required = [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}]
        if task_definition.network_mode == "awsvpc":
            required.append({"name": "ecs.capability.task-eni"})
        if any(c.get("secrets") for c in task_definition.container_definitions):
            required.append({"name": "ecs.capability.secrets.ssm.environment-variables"})
        task_definition.requires_attributes = required
        return task_definition

    def describe_task_definition(self: Any, task_definition_str: str) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return original_describe(self, task_definition_str)
        active = [r for r, td in self.task_definitions.get(name, {}).items() if td.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return self.task_definitions[name][max(active)]

    def deregister_task_definition(self: Any, task_definition_str: str) -> Any:
        task_definition = original_deregister(self, task_definition_str)
        task_definition.deregistered_at = dt.datetime.now(dt.UTC)
        return task_definition

    def validate_container_defs(memory: str | None, container_definitions: list[Any], requires: Any) -> None:
        """AWS: each container needs memory or memoryReservation unless the task sets memory, for EC2 too."""
        for cd in container_definitions:
            if "memoryReservation" in cd or "MemoryReservation" in cd:
                cd = {**cd, "memory": cd.get("memoryReservation", cd.get("MemoryReservation"))}
            original_validate.__func__(memory, [cd], requires)

    def list_task_definitions(self: Any) -> Any:
        from moto.core.responses import ActionResult

        family = self._get_param("familyPrefix")
        status = self._get_param("status", "ACTIVE")
        order = self._get_param("sort", "ASC")
        limit = int(self._get_param("maxResults", 100))
        if order not in ("ASC", "DESC") or not 1 <= limit <= 100:
            raise InvalidParameterException("sort must be ASC or DESC, and maxResults between 1 and 100")
        arns = sorted(self.ecs_backend.list_task_definitions(family, status), key=_revision_order)
        if order == "DESC":
            arns.reverse()
        token = self._get_param("nextToken")
        start = int(base64.b64decode(token).decode()) if token else 0
        page = arns[start : start + limit]
        result: dict[str, Any] = {"taskDefinitionArns": page}
        if start + limit < len(arns):
            result["nextToken"] = base64.b64encode(str(start + limit).encode()).decode()
        return ActionResult(result)

    return all_of(
        replace(backend_cls, "register_task_definition", register_task_definition),
        replace(backend_cls, "describe_task_definition", describe_task_definition),
        replace(backend_cls, "deregister_task_definition", deregister_task_definition),
        replace(backend_cls, "_validate_container_defs", staticmethod(validate_container_defs)),
        replace(EC2ContainerServiceResponse, "list_task_definitions", list_task_definitions),
    )


def install_deployment_configuration_read_back() -> Undo:
    from moto.ecs.responses import EC2ContainerServiceResponse

    original_create, original_update = (
        EC2ContainerServiceResponse.create_service,
        EC2ContainerServiceResponse.update_service,
    )

    def keep_deployment_configuration(original: Callable[..., Any]) -> Callable[..., Any]:
        def handler(self: Any) -> Any:
            response = original(self)
            wanted = self._get_param("deploymentConfiguration")
            if wanted:
                cluster = str(self._get_param("cluster") or "default").split("/")[-1]
                name = str(self._get_param("serviceName") or self._get_param("service")).split("/")[-1]
                service = self.ecs_backend.services.get(f"{cluster}:{name}")
                if service is not None:
                    current = getattr(service, "deployment_configuration", None) or {}
                    service.deployment_configuration = {**current, **wanted}
            return response

        return handler

    return all_of(
        replace(EC2ContainerServiceResponse, "create_service", keep_deployment_configuration(original_create)),
        replace(EC2ContainerServiceResponse, "update_service", keep_deployment_configuration(original_update)),
    )
