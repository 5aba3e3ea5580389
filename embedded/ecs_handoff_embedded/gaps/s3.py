"""#2 S3 -> EventBridge: events carry an increasing per-key `sequencer` (moto's is a constant) and are
delivered to Lambda targets asynchronously (events.put_event).
#8 (S3 part) GetBucketNotificationConfiguration returns EventBridgeConfiguration when it is on."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from typing import Any

from ecs_handoff_embedded.gaps.events import Deliveries, aws_event, put_event
from ecs_handoff_embedded.gaps.patching import Undo, replace
from ecs_handoff_embedded.runner import FunctionRunner

_sequence = itertools.count(1)
_sequence_lock = threading.Lock()


def next_sequencer() -> str:
    """Increasing, fixed-width hex like S3's (e.g. 0062E99A88DC407460)."""
    with _sequence_lock:
        return f"{time.time_ns() // 1000:014X}{next(_sequence) % 0xFFFF:04X}"


def install_s3_events(runner: FunctionRunner, deliveries: Deliveries, lambda_retries: int = 2) -> Undo:
    import moto.s3.notifications as s3_notifications

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

    return replace(s3_notifications, "_send_event_bridge_message", _send_event_bridge_message)


def install_bucket_notification_read_back() -> Undo:
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original_notification = S3Response.get_bucket_notification

    def get_bucket_notification(self: Any) -> Any:
        configuration = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if configuration is None or configuration.event_bridge is None:
            return original_notification(self)
        self.data["Action"] = "GetBucketNotificationConfiguration"
        if not (configuration.topic or configuration.queue or configuration.cloud_function):
            return self.serialized(ActionResult({"EventBridgeConfiguration": {}}))
        return _with_event_bridge(original_notification(self))

    return replace(S3Response, "get_bucket_notification", get_bucket_notification)


def _with_event_bridge(response: Any) -> Any:
    """Adds <EventBridgeConfiguration/> to a serialized notification configuration that has other targets."""
    status, headers, body = response
    text = body.decode() if isinstance(body, bytes) else str(body)
    closing = "</NotificationConfiguration>"
    return status, headers, text.replace(closing, "<EventBridgeConfiguration></EventBridgeConfiguration>" + closing)
