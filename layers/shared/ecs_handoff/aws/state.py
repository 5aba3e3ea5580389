"""The service-state table: per-key event ordering (S3 sequencers) and per-service deployment locks."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from ecs_handoff.aws.clients import aws_call
from ecs_handoff.aws.dynamo import Table

SEQUENCER_WIDTH = 64


def sequencer_key(sequencer: str) -> str:
    """S3 sequencers are hex strings of varying length: right-pad with zeros, then compare as text."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


class EventOrder(StrEnum):
    NEW = "NEW"
    DUPLICATE = "DUPLICATE"
    STALE = "STALE"


class ServiceState(Table):
    def _written(self, operation: str, what: str, **kwargs: Any) -> bool:
        """A conditional write; False when its condition failed."""
        return self.conditional(operation, what, **kwargs) is not None

    def _get(self, pk: str) -> dict[str, Any]:
        with aws_call(f"reading {pk}"):
            item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
        return item or {}

    # -- event ordering ---------------------------------------------------------------------

    def observe_event(self, key: str, sequencer: str, version_id: str) -> tuple[EventOrder, str]:
        """Records the newest event for an S3 key; says whether this one is new, a duplicate, or stale.

        Returns the order and the object version of the newest event known for the key."""
        padded = sequencer_key(sequencer)
        ok = self._written(
            "update_item",
            f"recording event order for {key}",
            Key={"pk": {"S": f"seq#{key}"}},
            UpdateExpression="SET seq = :s, version_id = :v",
            ConditionExpression="attribute_not_exists(seq) OR seq < :s",
            ExpressionAttributeValues={":s": {"S": padded}, ":v": {"S": version_id}},
        )
        if ok:
            return EventOrder.NEW, version_id
        item = self._get(f"seq#{key}")
        newest = item.get("version_id", {}).get("S", "")
        if item.get("seq", {}).get("S") == padded:
            return EventOrder.DUPLICATE, newest
        return EventOrder.STALE, newest

    def mark_latest_deployment(self, service_id: str, sequencer: str, deployment_id: str) -> None:
        """The newest accepted upload for a service; older ones waiting for the lock are superseded by it."""
        self._written(
            "update_item",
            f"recording latest deployment of {service_id}",
            Key={"pk": {"S": f"latest#{service_id}"}},
            UpdateExpression="SET seq = :s, deployment_id = :d",
            ConditionExpression="attribute_not_exists(seq) OR seq <= :s",
            ExpressionAttributeValues={":s": {"S": sequencer_key(sequencer)}, ":d": {"S": deployment_id}},
        )

    def latest_deployment(self, service_id: str) -> str | None:
        value = self._get(f"latest#{service_id}").get("deployment_id", {}).get("S")
        return str(value) if value else None

    # -- locks ------------------------------------------------------------------------------

    def acquire_lock(
        self, service_id: str, holder: str, execution_arn: str, lease_seconds: int
    ) -> dict[str, Any] | None:
        """Takes (or renews) the service's lock; None on success, else the current holder's item."""
        now = int(time.time())
        ok = self._written(
            "put_item",
            f"locking service {service_id}",
            Item=_lock_item(service_id, holder, execution_arn, now, lease_seconds),
            ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":holder": {"S": holder}},
        )
        if ok:
            return None
        item = self._get(f"lock#{service_id}")
        return {
            "holder": item.get("holder", {}).get("S", ""),
            "execution_arn": item.get("execution_arn", {}).get("S", ""),
            "lease_until": int(item.get("lease_until", {}).get("N", "0")),
        }

    def take_over_lock(
        self, service_id: str, dead_holder: str, holder: str, execution_arn: str, lease_seconds: int
    ) -> bool:
        """Replaces a lock whose holder's execution has ended, only if that holder still has it."""
        return self._written(
            "put_item",
            f"taking over the lock of {service_id} from {dead_holder}",
            Item=_lock_item(service_id, holder, execution_arn, int(time.time()), lease_seconds),
            ConditionExpression="holder = :dead",
            ExpressionAttributeValues={":dead": {"S": dead_holder}},
        )

    def renew_lock(self, service_id: str, holder: str, lease_seconds: int) -> bool:
        return self._written(
            "update_item",
            f"renewing the lock of {service_id}",
            Key={"pk": {"S": f"lock#{service_id}"}},
            UpdateExpression="SET lease_until = :until",
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={
                ":until": {"N": str(int(time.time()) + lease_seconds)},
                ":holder": {"S": holder},
            },
        )

    def release_lock(self, service_id: str, holder: str) -> bool:
        """Releases the lock if `holder` has it; False if someone else does (nothing to release)."""
        return self._written(
            "delete_item",
            f"unlocking service {service_id}",
            Key={"pk": {"S": f"lock#{service_id}"}},
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={":holder": {"S": holder}},
        )


def _lock_item(service_id: str, holder: str, execution_arn: str, now: int, lease_seconds: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"lock#{service_id}"},
        "holder": {"S": holder},
        "execution_arn": {"S": execution_arn},
        "lease_until": {"N": str(now + lease_seconds)},
        "acquired_at": {"N": str(now)},
    }
