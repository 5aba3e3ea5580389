"""Everything moto does not do the way AWS does, filled in here and nowhere else.

1. Lambda: invocations run the real handler in this process (runner.FunctionRunner), not Docker.
2. S3 -> EventBridge: events carry an increasing per-key `sequencer` (moto's is a constant) and
   are delivered to Lambda targets asynchronously, with retries and the target's dead-letter queue.
3. ECS: UpdateService starts a new PRIMARY deployment that goes IN_PROGRESS -> COMPLETED after a
   short delay or, when an image tag starts with `fail-`, FAILED with a rollback if the service has the
   circuit breaker on (else it stays IN_PROGRESS, as ECS keeps trying). Each change is sent as ECS's
   "ECS Deployment State Change" event through EventBridge to the matching rules (which can be told to
   drop them: EmbeddedAws.drop_ecs_events).
4. SNS: a message to an email subscription is written to the outbox as the email a person gets.
5. Step Functions: moto's SendTaskFailure handler drops the `cause`; it is passed through here.
6. ECS task definitions, as AWS behaves: ListTaskDefinitions honours `sort` and `maxResults`/`nextToken`;
   DescribeTaskDefinition returns registeredAt/registeredBy/requiresAttributes (and deregisteredAt),
   and a bare family means its newest ACTIVE revision; an EC2 container with only memoryReservation
   registers. (DeregisterTaskDefinition already leaves the revision describable as INACTIVE.)
7. Step Functions: StopExecution aborts at once, also while a task waits for its token (moto's worker
   keeps waiting until the token's timeout), and keeps the error and cause it was given (moto drops them);
   an execution that ends emits "Step Functions Execution Status Change" to EventBridge,
   as AWS does (moto emits none), so the rule that finalizes stopped or failed executions runs here too.
8. Read-backs moto leaves out: GetBucketNotificationConfiguration returns EventBridgeConfiguration when
   it is on, and ECS services keep the deploymentConfiguration (circuit breaker) they were given, so
   `handoff doctor` sees what AWS would show it.
9. IAM: every call a function makes is authorized against its own role (iam.py, installed by runtime.py
   in front of the moto server).
10. Step Functions: a Choice rule whose Variable path is not in the input fails the execution with
   States.Runtime, as AWS does; moto takes the rule as false and goes on (to Default), which would hide
   a renamed ResultPath. IsPresent rules still test for a missing path.
11. Systems Manager: GetCalendarState (moto has no change calendars) answers from
   EmbeddedAws.calendars ({name: (OPEN or CLOSED, next transition or None)}); an unknown calendar is
   InvalidDocument, as AWS answers.
(The state machine's DefinitionSubstitutions are applied in provision.py.)
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ecs_handoff_embedded.runner import FunctionRunner

FAIL_TAG_PREFIX = "fail-"


class Deliveries:
    """Counts asynchronous deliveries in flight, so callers can wait until the world is quiet."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self.failures: list[dict[str, Any]] = []

    def start(self, work: Callable[[], None]) -> None:
        with self._cond:
            self._in_flight += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

        threading.Thread(target=run, daemon=True, name="embedded-delivery").start()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True


# --- 1. Lambda --------------------------------------------------------------------------------


Undo = Callable[[], None]


def install_lambda_runner(runner: FunctionRunner) -> Undo:
    from moto.awslambda.models import LambdaFunction

    original = LambdaFunction._invoke_lambda

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return runner.invoke(self, event if event is not None else {})

    LambdaFunction._invoke_lambda = _invoke_lambda

    def undo() -> None:
        LambdaFunction._invoke_lambda = original

    return undo


# --- 2. S3 -> EventBridge -----------------------------------------------------------------------

_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def next_sequencer() -> str:
    """Increasing, fixed-width hex like S3's (e.g. 0062E99A88DC407460)."""
    with _sequence_lock:
        return f"{time.time_ns() // 1000:014X}{next(_sequence) % 0xFFFF:04X}"


def install_s3_events(runner: FunctionRunner, deliveries: Deliveries, lambda_retries: int = 2) -> Undo:
    import moto.s3.notifications as s3_notifications

    original = s3_notifications._send_event_bridge_message

    def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        reason = event_name.split(":")[1] if ":" in event_name else event_name
        detail_type = s3_notifications._detail_type(event_name)
        event = aws_event(
            "aws.s3",
            detail_type,
            account_id,
            bucket.region_name,
            [f"arn:aws:s3:::{bucket.name}"],
            {
                "version": "0",
                "bucket": {"name": bucket.name},
                "object": {
                    "key": key.name,
                    "size": key.size,
                    "etag": key.etag.replace('"', ""),
                    "version-id": key.version_id,
                    "sequencer": next_sequencer(),
                },
                "request-id": uuid.uuid4().hex[:16].upper(),
                "requester": account_id,
                "source-ip-address": "127.0.0.1",
                "reason": "PutObject" if reason == "ObjectCreated" else reason,
            },
        )
        put_event(account_id, bucket.region_name, event, runner, deliveries, lambda_retries)

    s3_notifications._send_event_bridge_message = _send_event_bridge_message

    def undo() -> None:
        s3_notifications._send_event_bridge_message = original

    return undo


def aws_event(
    source: str, detail_type: str, account: str, region: str, resources: list[str], detail: dict[str, Any]
) -> dict[str, Any]:
    """The envelope EventBridge puts around an AWS service's event."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def put_event(
    account_id: str,
    region: str,
    event: dict[str, Any],
    runner: FunctionRunner,
    deliveries: Deliveries,
    retries: int = 2,
) -> None:
    """An AWS service event on the default bus: every matching rule's Lambda targets get it asynchronously."""
    from moto.events.models import events_backends

    bus = events_backends[account_id][region].event_buses.get("default")
    for rule in list(bus.rules.values()) if bus else []:
        if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
            continue
        for target in rule.targets:
            deliveries.start(
                functools.partial(_deliver, account_id, region, target, event, runner, deliveries, retries)
            )


def _deliver(
    account_id: str,
    region: str,
    target: dict[str, Any],
    event: dict[str, Any],
    runner: FunctionRunner,
    deliveries: Deliveries,
    retries: int,
) -> None:
    """Asynchronous invoke, as EventBridge -> Lambda is: retried, then sent to the dead-letter queue."""
    from moto.awslambda.models import lambda_backends
    from moto.sqs.models import sqs_backends

    arn = target["Arn"]
    if ":lambda:" not in arn:
        return
    fn = lambda_backends[account_id][region].get_function(arn.split(":")[6])
    payload = ""
    for attempt in range(retries + 1):
        payload, errored, _ = runner.invoke(fn, copy.deepcopy(event))
        if not errored:
            return
        time.sleep(0.2 * (attempt + 1))
    deliveries.failures.append({"target": arn, "event": event, "error": payload})
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq:
        sqs_backends[account_id][region].send_message(queue_name=dlq.split(":")[-1], message_body=json.dumps(event))


# --- 3. ECS rollouts --------------------------------------------------------------------------

EventSink = Callable[[dict[str, Any]], None]


def install_ecs_rollouts(delay_seconds: Callable[[], float], events: EventSink) -> Undo:
    """UpdateService starts a rollout that ends after `delay_seconds()`; ECS's deployment events go to `events`."""
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
        if wanted and (new_td != previous or forced):
            _start_rollout(self, service, str(previous), new_td, delay_seconds(), events)
        return service

    return _replace(EC2ContainerServiceBackend, "update_service", update_service)


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


def _start_rollout(backend: Any, service: Any, previous: str, new_td: str, delay: float, events: EventSink) -> None:
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

    timer = threading.Timer(delay, finish)
    timer.daemon = True
    timer.start()


def _tags(backend: Any, image: str) -> list[str]:
    """The tags an image reference stands for: its own tag, or for repository@digest (handoff pins
    this account's ECR images) every tag ECR has on that digest, as a real rollout would pull it."""
    from ecs_handoff.taskdef import parse_reference

    name, tag, digest = parse_reference(image)
    if not digest:
        return [tag or "latest"]
    from moto.ecr.models import ecr_backends

    path = name.split("/", 1)[1] if "/" in name else name
    repository = ecr_backends[backend.account_id][backend.region_name].repositories.get(path)
    found = [i for i in (repository.images if repository else []) if i.get_image_digest() == digest]
    return [tag for i in found for tag in i.image_tags]


# --- 4. SNS email -----------------------------------------------------------------------------


class Outbox:
    """Where every email handoff sends lands, one file per recipient and message."""

    def __init__(self, directory: Path, echo: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.echo = echo
        self._count = itertools.count(1)

    def write(self, recipient: str, subject: str, body: str, topic_arn: str) -> Path:
        stamp = dt.datetime.now(dt.UTC)
        safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in recipient)
        path = self.directory / f"{stamp:%Y%m%dT%H%M%S}-{next(self._count):04d}-{safe}.txt"
        text = (
            f"To: {recipient}\nFrom: no-reply@sns.amazonaws.com\nDate: {stamp:%a, %d %b %Y %H:%M:%S +0000}\n"
            f"Subject: {subject}\nX-SNS-Topic: {topic_arn}\n\n{body}"
        )
        path.write_text(text, encoding="utf-8")
        if self.echo:
            self.echo(f"email to {recipient}: {subject} ({path})")
        return path

    def messages(self) -> list[Path]:
        return sorted(self.directory.glob("*.txt"))

    def write_chat(self, endpoint: str, message: str, topic_arn: str) -> Path:
        """What Amazon Q Developer in chat applications received (it would show it as a card)."""
        stamp = dt.datetime.now(dt.UTC)
        path = self.directory / "chat" / f"{stamp:%Y%m%dT%H%M%S}-{next(self._count):04d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"endpoint": endpoint, "topic": topic_arn, "message": message}), encoding="utf-8")
        if self.echo:
            self.echo(f"chat notification ({path})")
        return path

    def chat_messages(self) -> list[dict[str, Any]]:
        """Each chat notification received, parsed as the chat service would parse it."""
        found = sorted((self.directory / "chat").glob("*.json"))
        return [json.loads(json.loads(p.read_text(encoding="utf-8"))["message"]) for p in found]


CHAT_ENDPOINT = "https://global.sns-api.chatbot.amazonaws.com"  # where Q Developer's subscriptions point


def install_email_outbox(outbox: Outbox) -> Undo:
    """Email and chat subscriptions deliver to the outbox (moto sends no email, and the chat service is
    not reachable): each gets the message SNS would give its protocol, MessageStructure=json included."""
    from moto.sns.models import Subscription

    original = Subscription.publish

    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        chat = self.protocol == "https" and self.endpoint.rstrip("/") == CHAT_ENDPOINT
        if self.protocol not in ("email", "email-json") and not chat:
            original(self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs)
            return None
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if kwargs.get("message_structure") == "json":
            message = self._parse_message_structure(message, self.protocol)
        if chat:
            outbox.write_chat(self.endpoint, message, self.topic.arn)
        else:
            outbox.write(self.endpoint, subject or "(no subject)", message, self.topic.arn)
        return None

    Subscription.publish = publish

    def undo() -> None:
        Subscription.publish = original

    return undo


# --- 5. SendTaskFailure's cause ------------------------------------------------------------------


def install_send_task_failure_cause() -> Undo:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure

    def undo() -> None:
        StepFunctionResponse.send_task_failure = original

    return undo


# --- 6. ECS task definitions ------------------------------------------------------------------------


def _replace(owner: Any, name: str, new: Any) -> Undo:
    original = owner.__dict__[name]
    setattr(owner, name, new)

    def undo() -> None:
        setattr(owner, name, original)

    return undo


def _all(*undos: Undo) -> Undo:
    """One undo for several patches, undone in reverse order."""

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo


def _revision_order(arn: str) -> tuple[str, int]:
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(revision)


def install_ecs_task_definitions(account_id: str) -> Undo:
    import base64

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

    return _all(
        _replace(backend_cls, "register_task_definition", register_task_definition),
        _replace(backend_cls, "describe_task_definition", describe_task_definition),
        _replace(backend_cls, "deregister_task_definition", deregister_task_definition),
        _replace(backend_cls, "_validate_container_defs", staticmethod(validate_container_defs)),
        _replace(EC2ContainerServiceResponse, "list_task_definitions", list_task_definitions),
    )


# --- 7. Step Functions status events ----------------------------------------------------------------


def execution_status_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends when an execution's status changes (Step Functions developer guide, "Step
    Functions Execution Status Change" event examples)."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if value is not None else None

    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    ended = execution.exec_worker.env.program_state() if execution.exec_worker is not None else None
    error = execution.error or getattr(ended, "error", None)  # StopExecution's error and cause live there
    cause = execution.cause or getattr(ended, "cause", None)
    return aws_event(
        "aws.states",
        "Step Functions Execution Status Change",
        execution.account_id,
        execution.region_name,
        [execution.exec_arn],
        {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": status,
            "startDate": millis(execution.start_date),
            "stopDate": millis(execution.stop_date),
            "input": execution.input_data
            if isinstance(execution.input_data, str)
            else json.dumps(execution.input_data),
            "output": json.dumps(execution.output) if status == "SUCCEEDED" else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if status == "SUCCEEDED" else None,
            "error": error,
            "cause": cause,
        },
    )


def install_execution_status_events(runner: FunctionRunner, deliveries: Deliveries) -> Undo:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        put_event(execution.account_id, execution.region_name, execution_status_event(execution), runner, deliveries)

    return _replace(BaseExecutionWorkerCommunication, "terminated", terminated)


def install_stop_execution() -> Undo:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    original_stop = Execution.stop

    def stop(self: Any, stop_date: dt.datetime, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        worker = self.exec_worker
        if worker is not None:  # wake every task token wait, so the worker sees it was stopped and ends
            for endpoint in list(worker.env.callback_pool_manager._pool.values()):
                endpoint._notify_event.set()

    def stop_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)
        execution.stop(
            stop_date=dt.datetime.now(dt.UTC), error=self._get_param("error"), cause=self._get_param("cause")
        )
        deadline = time.monotonic() + 5
        while execution.exec_status is not None and str(execution.exec_status.value) == "RUNNING":
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return ActionResult({"stopDate": execution.stop_date or dt.datetime.now(dt.UTC)})

    original_set_error = Environment.set_error

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # a stopped execution stays ABORTED, as in AWS, whatever its interrupted state raises
        original_set_error(self, error)

    return _all(
        _replace(Execution, "stop", stop),
        _replace(StepFunctionResponse, "stop_execution", stop_execution),
        _replace(Environment, "set_error", set_error),
    )


# --- 8. Read-backs moto leaves out ------------------------------------------------------------------


def install_read_backs() -> Undo:
    from moto.core.responses import ActionResult
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.s3.responses import S3Response

    original_notification = S3Response.get_bucket_notification
    original_create, original_update = (
        EC2ContainerServiceResponse.create_service,
        EC2ContainerServiceResponse.update_service,
    )

    def get_bucket_notification(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return original_notification(self)
        self.data["Action"] = "GetBucketNotificationConfiguration"
        if not (configuration.topic or configuration.queue or configuration.cloud_function):
            return self.serialized(ActionResult({"EventBridgeConfiguration": {}}))
        return _with_event_bridge(original_notification(self))

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

    return _all(
        _replace(S3Response, "get_bucket_notification", get_bucket_notification),
        _replace(EC2ContainerServiceResponse, "create_service", keep_deployment_configuration(original_create)),
        _replace(EC2ContainerServiceResponse, "update_service", keep_deployment_configuration(original_update)),
    )


def _with_event_bridge(response: Any) -> Any:
    """Adds <EventBridgeConfiguration/> to a serialized notification configuration that has other targets."""
    status, headers, body = response
    text = body.decode() if isinstance(body, bytes) else str(body)
    closing = "</NotificationConfiguration>"
    return status, headers, text.replace(closing, "<EventBridgeConfiguration></EventBridgeConfiguration>" + closing)


# --- 10. Step Functions: a Choice on a missing path ---------------------------------------------------


def install_strict_choice() -> Undo:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
        ComparisonOperatorType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
        ComparisonVariable,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def _eval_body(self: Any, env: Any) -> None:
        self.variable.eval(env)
        if isinstance(env.stack[-1], NoSuchVariable) and self.comparison_function.operator_type not in (
            ComparisonOperatorType.IsPresent,
        ):
            path = self.variable.string_sampler.literal_value
            cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                    event_type=HistoryEventType.ExecutionFailed,
                    event_details=EventDetails(
                        executionFailedEventDetails=ExecutionFailedEventDetails(
                            error=StatesErrorNameType.StatesRuntime.to_name(), cause=cause
                        )
                    ),
                )
            )
        self.comparison_function.eval(env)

    return _replace(ComparisonVariable, "_eval_body", _eval_body)


# --- 11. Systems Manager change calendars ----------------------------------------------------------


def install_change_calendars(calendars: dict[str, tuple[str, str | None]]) -> Undo:
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import InvalidDocument
    from moto.ssm.responses import SimpleSystemManagerResponse

    def get_calendar_state(self: Any) -> Any:
        names = [str(n).rsplit("/", 1)[-1] for n in self._get_param("CalendarNames", [])]
        unknown = [n for n in names if n not in calendars]
        if unknown:
            raise InvalidDocument(f"Document {unknown[0]} does not exist or is not a change calendar")
        states = [calendars[n] for n in names]
        closed = [s for s in states if s[0] != "OPEN"]
        next_change = (closed or states)[0][1]
        result: dict[str, Any] = {
            "State": "CLOSED" if closed else "OPEN",
            "AtTime": dt.datetime.now(dt.UTC).isoformat(),
        }
        if next_change:
            result["NextTransitionTime"] = next_change
        return ActionResult(result)

    SimpleSystemManagerResponse.get_calendar_state = get_calendar_state

    def undo() -> None:
        del SimpleSystemManagerResponse.get_calendar_state

    return undo
