"""EventBridge, as the embedded AWS delivers AWS service events: to every matching rule's Lambda
targets, asynchronously, retried, then to the target's dead-letter queue (moto delivers none of them)."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.runner import FunctionRunner


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
