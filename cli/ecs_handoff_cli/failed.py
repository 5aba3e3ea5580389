"""`handoff failed`: the events handoff could not process, kept instead of lost, and their re-drive.

Two queues hold them (docs/deploy.md): the functions' on-failure destination (FailedEventsQueueUrl: an
event a function still failed on after Lambda's own retries, as Lambda's invocation record) and the rules'
dead-letter queue (IntakeDeadLetterQueueUrl: an event EventBridge could not hand to Lambda, bare). A
re-drive hands each event to its function again, asynchronously (as EventBridge did), and deletes it from
the queue only once Lambda accepted it. Every function is safe to run twice on one event: the intake's
execution name and event order, the rollout wait taken once, the finalizer's one outcome (the sweeper's too)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from typing import Any

from ecs_handoff.aws.clients import aws_call, client

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK, UsageError

QUEUES = {"FailedEventsQueueUrl": "failed after Lambda's retries", "IntakeDeadLetterQueueUrl": "never delivered"}
# The function each AWS service's events go to (a bare event from the rules' dead-letter queue names none).
FUNCTION_FOR_SOURCE = {
    "aws.s3": "intake",
    "aws.ecs": "rollout-event",
    "aws.states": "finalize",
    "aws.events": "sweeper",  # the sweeper's schedule: handoff's only scheduled rule
}
MAX_LISTED = 100


@dataclass
class Kept:
    """One event kept in a queue: what it was about, which function it is for, and why it was kept."""

    queue: str
    receipt: str
    message_id: str
    event: dict[str, Any]
    function: str
    why: str
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def about(self) -> str:
        """What the event is about, in a person's words."""
        detail = self.event.get("detail") or {}
        source = self.event.get("source", "?")
        if source == "aws.s3":
            obj = detail.get("object") or {}
            return f"upload {obj.get('key', '?')} (version {obj.get('version-id', '?')})"
        if source == "aws.ecs":
            return f"ECS {detail.get('eventName', '?')} of {detail.get('deploymentId', '?')}"
        if source == "aws.states":
            return f"execution {str(detail.get('executionArn', '?')).rsplit(':', 1)[-1]} {detail.get('status', '?')}"
        if source == "aws.events" and self.event.get("detail-type") == "Scheduled Event":
            return f"sweep of {self.event.get('time', '?')}"
        return f"{source} {self.event.get('detail-type', '')}".strip()

    def summary(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "message_id": self.message_id,
            "function": self.function,
            "about": self.about(),
            "why": self.why,
            "attempts": self.attempts,
            "event": self.event,
        }


def parse(queue: str, message: dict[str, Any], env: str) -> Kept:
    """A queue message as handoff reads it: Lambda's invocation record, or the bare event."""
    body: dict[str, Any] = json.loads(message["Body"])
    receipt, message_id = str(message["ReceiptHandle"]), str(message["MessageId"])
    if "requestContext" in body and "requestPayload" in body:
        context, response = body["requestContext"], body.get("responsePayload") or {}
        function = str(context.get("functionArn", "")).split(":function:", 1)[-1].split(":", 1)[0]
        error = response if isinstance(response, dict) else {"errorMessage": str(response)}
        why = f"{error.get('errorType', 'error')}: {error.get('errorMessage', '')}".strip()
        why = f"{context.get('condition', 'failed')} ({why})"
        return Kept(
            queue, receipt, message_id, body["requestPayload"], function, why, context.get("approximateInvokeCount", 0)
        )
    name = FUNCTION_FOR_SOURCE.get(str(body.get("source")), "")
    function = f"handoff-{env}-{name}" if name else ""
    return Kept(queue, receipt, message_id, body, function, "EventBridge could not deliver it to Lambda")


def kept_events(env: Env) -> list[Kept]:
    """Everything in both queues, without taking it out (a zero visibility timeout leaves each message visible)."""
    sqs = client("sqs")
    found: dict[str, Kept] = {}
    for output in QUEUES:
        url = env.outputs.get(output)
        if not url:
            continue
        for _ in range(MAX_LISTED // 10):
            with aws_call(f"reading {url}"):
                messages = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
                ).get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in found]
            if not new:
                break
            for message in new:
                found[message["MessageId"]] = parse(url, message, env.name)
    return list(found.values())


def redrive(kept: Kept) -> None:
    """Hands the event to its function again, asynchronously, then takes it out of the queue."""
    if not kept.function:
        raise UsageError(f"message {kept.message_id} names no handoff function; leave it and look at it by hand")
    with aws_call(f"handing {kept.about()} to {kept.function} again"):
        client("lambda").invoke(
            FunctionName=kept.function, InvocationType="Event", Payload=json.dumps(kept.event).encode()
        )
    with aws_call(f"taking message {kept.message_id} out of {kept.queue}"):
        client("sqs").delete_message(QueueUrl=kept.queue, ReceiptHandle=kept.receipt)


def cmd_failed(args: argparse.Namespace) -> int:
    env = Env(args.env)
    kept = kept_events(env)
    if args.redrive:
        for one in kept:
            redrive(one)
    if args.json:
        print(json.dumps({"redriven": bool(args.redrive), "events": [k.summary() for k in kept]}, indent=2))
        return EXIT_OK
    if not kept:
        print(f"nothing kept in {args.env}: every event handoff received was processed")
        return EXIT_OK
    verb = "handed again to" if args.redrive else "for"
    for one in kept:
        print(show.cut(f"{one.about()}  {verb} {one.function or '?'}  {one.why}", show.width()))
    if not args.redrive:
        print(
            f"{len(kept)} event(s) kept; hand them to their functions again: handoff failed --env {args.env} --redrive"
        )
        return EXIT_FAILED
    return EXIT_OK
