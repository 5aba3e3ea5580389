"""EventBridge, as the embedded AWS delivers AWS service events to every matching rule's Lambda targets
(moto delivers none of them), and Lambda's asynchronous invocation, as AWS documents both:

- EventBridge's retry policy and the rule target's dead-letter queue cover only handing the event to Lambda
  (here: a function that does not exist). Once Lambda accepted it, EventBridge is done with it.
- Lambda then runs the function; on a function error it runs it again MaximumRetryAttempts times (default
  2, "a one-minute wait between the first two attempts, and two minutes between the second and third":
  RETRY_DELAYS_SECONDS here, scaled down), drops it once older than MaximumEventAgeInSeconds, and then sends
  an invocation record to the function's on-failure destination (SQS), or the bare event to the function's
  own dead-letter queue, or discards it ("Lambda guide: invocation-async-error-handling,
  invocation-async-retain-records").
- EventBridge does not keep events in order, and a delivery can come late: with a delay set
  (Deliveries(max_delay_seconds=...)), each delivery to a rule's target waits a random time up to that bound
  first, so a later event can reach the function before an earlier one (S3's, ECS's and Step Functions' alike).
- Scheduled rules (ScheduleExpression) are created, but nothing fires them: moto runs no schedules and the
  embedded AWS keeps no clock for them. fire_schedule does what EventBridge does at a tick, when asked
  (EmbeddedAws.fire_schedule, the sweeper's tests); nothing handoff needs to work waits for a tick."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.runner import FunctionRunner


class Deliveries:
    """Counts asynchronous deliveries in flight, so callers can wait until the world is quiet; each EventBridge
    delivery waits a random time up to `max_delay_seconds()` first (0, the default: none)."""

    def __init__(self, max_delay_seconds: Callable[[], float] = lambda: 0.0) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self.failures: list[dict[str, Any]] = []
        self.max_delay_seconds = max_delay_seconds
        self._random = random.Random()  # noqa: S311 - a delivery's delay, not a secret

    def delay(self) -> float:
        """How long the next delivery waits before EventBridge hands it over: uniform in [0, the bound]."""
        bound = self.max_delay_seconds()
        return self._random.uniform(0.0, bound) if bound > 0 else 0.0

    def start(self, work: Callable[[], None], delay: float = 0.0) -> None:
        with self._cond:
            self._in_flight += 1

        def run() -> None:
            try:
                if delay > 0:
                    time.sleep(delay)
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


EventSink = Callable[[dict[str, Any]], None]


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
        # A scheduled rule has no pattern, which moto takes as matching every event: it matches none.
        if rule.state != "ENABLED" or rule.scheduled_expression or not rule.event_pattern.matches_event(event):
            continue
        for target in rule.targets:
            deliveries.start(
                functools.partial(_deliver, account_id, region, target, event, runner, deliveries, retries),
                deliveries.delay(),
            )


def fire_schedule(account_id: str, region: str, rule_name: str, runner: FunctionRunner, deliveries: Deliveries) -> None:
    """One tick of a scheduled rule: its "Scheduled Event" to each Lambda target, asynchronously, as EventBridge
    sends it (EventBridge user guide, "Creating a rule that runs on a schedule")."""
    from moto.events.models import events_backends

    rule = events_backends[account_id][region].describe_rule(rule_name, None)
    if not rule.scheduled_expression:
        raise ValueError(f"rule {rule_name} has no schedule")
    if rule.state != "ENABLED":
        return
    event = aws_event("aws.events", "Scheduled Event", account_id, region, [rule.arn], {})
    for target in rule.targets:
        deliveries.start(
            functools.partial(_deliver, account_id, region, target, event, runner, deliveries, 2), deliveries.delay()
        )


# AWS waits about 60 s, then 120 s, between attempts; the embedded AWS keeps the order and shortens the waits.
RETRY_DELAYS_SECONDS = [0.2, 0.4]
# EventBridge's own retries of a delivery Lambda did not accept (the rule target's RetryPolicy), shortened.
DELIVERY_RETRY_DELAY_SECONDS = 0.05


def _deliver(
    account_id: str,
    region: str,
    target: dict[str, Any],
    event: dict[str, Any],
    runner: FunctionRunner,
    deliveries: Deliveries,
    retries: int,
) -> None:
    """EventBridge hands the event to Lambda (retried, then the target's dead-letter queue, only if Lambda
    does not accept it); Lambda's asynchronous invocation does the rest (invoke_async)."""
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import lambda_backends

    arn = target["Arn"]
    if ":lambda:" not in arn:
        return
    for _ in range(retries + 1):
        try:
            fn = lambda_backends[account_id][region].get_function(arn.split(":")[6])
        except UnknownFunctionException:
            time.sleep(DELIVERY_RETRY_DELAY_SECONDS)
            continue
        invoke_async(account_id, region, fn, event, runner, deliveries)
        return
    deliveries.failures.append({"target": arn, "event": event, "error": "Lambda did not accept the event"})
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq:
        _send(account_id, region, dlq, event)


def invoke_async(
    account_id: str, region: str, fn: Any, event: dict[str, Any], runner: FunctionRunner, deliveries: Deliveries
) -> None:
    """Lambda's asynchronous invocation of fn with the function's own settings (PutFunctionEventInvokeConfig)."""
    config: dict[str, Any] = fn.event_invoke_config[0].config if fn.event_invoke_config else {}
    attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
    max_age = float(config.get("MaximumEventAgeInSeconds", 21600))
    accepted = time.monotonic()
    payload, condition = "", "RetriesExhausted"
    for attempt in range(attempts):
        if attempt:
            time.sleep(RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)])
            if time.monotonic() - accepted > max_age:
                condition = "EventAgeExceeded"
                break
        payload, errored, _ = runner.invoke(fn, copy.deepcopy(event))
        if not errored:
            return
    on_failure = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    dead_letter = (getattr(fn, "dead_letter_config", None) or {}).get("TargetArn")
    deliveries.failures.append(
        {"target": fn.function_arn, "event": event, "error": payload, "kept_in": on_failure or dead_letter}
    )
    if on_failure:
        _send(account_id, region, on_failure, invocation_record(fn, event, payload, condition, attempt + 1))
    elif dead_letter:
        _send(account_id, region, dead_letter, event)  # a dead-letter queue gets the event alone


def invocation_record(fn: Any, event: dict[str, Any], payload: str, condition: str, attempts: int) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination (Lambda guide: invocation-async-retain-records)."""
    try:
        response: Any = json.loads(payload) if payload else None
    except ValueError:
        response = payload
    return {
        "version": "1.0",
        "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{fn.function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": response,
    }


def _send(account_id: str, region: str, queue_arn: str, body: dict[str, Any]) -> None:
    from moto.sqs.models import sqs_backends

    sqs_backends[account_id][region].send_message(queue_name=queue_arn.split(":")[-1], message_body=json.dumps(body))
