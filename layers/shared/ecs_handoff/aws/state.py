"""The service-state table: per-key event ordering (S3 sequencers), per-service deployment locks, and
the task tokens of rollouts waiting for ECS's verdict."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import Field

from ecs_handoff.aws.clients import aws_call
from ecs_handoff.aws.dynamo import Table
from ecs_handoff.models import Model

SEQUENCER_WIDTH = 64


def sequencer_key(sequencer: str) -> str:
    """S3 sequencers are hex strings of varying length: right-pad with zeros, then compare as text."""
    return sequencer.upper().ljust(SEQUENCER_WIDTH, "0")


class EventOrder(StrEnum):
    NEW = "NEW"
    DUPLICATE = "DUPLICATE"
    STALE = "STALE"


class StateTable(Table):
    """The service-state table's items, each under its own key (pk): what its three users share."""

    def _written(self, operation: str, what: str, **kwargs: Any) -> bool:
        """A conditional write; False when its condition failed."""
        return self.conditional(operation, what, **kwargs) is not None

    def _get(self, pk: str) -> dict[str, Any]:
        with aws_call(f"reading {pk}"):
            item = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
        return item or {}


@dataclass(frozen=True)
class LockHolder:
    """Who holds a service's lock, as the failed write found it."""

    holder: str  # the deployment id
    execution_arn: str
    lease_until: int  # epoch seconds


class ServiceState(StateTable):
    """S3 event order, each service's newest upload, and each service's deployment lock."""

    # -- event ordering ---------------------------------------------------------------------

    def observe_event(self, key: str, sequencer: str, version_id: str) -> tuple[EventOrder, str]:
        """Records the newest event for an S3 key; says whether this one is new, a duplicate, or stale.

        Returns the order and the object version of the newest event known for the key."""
        padded = sequencer_key(sequencer)
        written = self.attempt(
            "update_item",
            f"recording event order for {key}",
            Key={"pk": {"S": f"seq#{key}"}},
            UpdateExpression="SET seq = :s, version_id = :v",
            ConditionExpression="attribute_not_exists(seq) OR seq < :s",
            ExpressionAttributeValues={":s": {"S": padded}, ":v": {"S": version_id}},
        )
        if written.ok:
            return EventOrder.NEW, version_id
        item = written.current or {}
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

    def acquire_lock(self, service_id: str, holder: str, execution_arn: str, lease_seconds: int) -> LockHolder | None:
        """Takes (or renews) the service's lock; None on success, else the current holder's item."""
        now = int(time.time())
        written = self.attempt(
            "put_item",
            f"locking service {service_id}",
            Item=_lock_item(service_id, holder, execution_arn, now, lease_seconds),
            ConditionExpression="attribute_not_exists(pk) OR lease_until < :now OR holder = :holder",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":holder": {"S": holder}},
        )
        if written.ok:
            return None
        item = written.current or {}
        return LockHolder(
            holder=item.get("holder", {}).get("S", ""),
            execution_arn=item.get("execution_arn", {}).get("S", ""),
            lease_until=int(item.get("lease_until", {}).get("N", "0")),
        )

    def lock_holder(self, service_id: str) -> str | None:
        """The deployment holding the service's lock now (None: nobody, or its lease ran out)."""
        item = self._get(f"lock#{service_id}")
        if not item or int(item.get("lease_until", {}).get("N", "0")) < int(time.time()):
            return None
        return str(item.get("holder", {}).get("S", "")) or None

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


class RolloutWait(Model):
    """The token a rollout waits on, stored under its ECS deployment id, and the service it belongs to."""

    token: str = Field(repr=False)
    deployment_id: str = ""
    service: str = ""  # cluster/service, as ECS's events name it
    wait_order: str = ""  # which WatchRollout turn stored it (a later turn replaces it)
    expires_at: int = 0  # the table's TTL attribute
    # The task definition handoff deployed (its ECS service deployment, for BLUE_GREEN, LINEAR and CANARY
    # services, is the one whose target revision runs it), and whether ECS holding that deployment at its PAUSE
    # hook is a verdict (approval before production traffic, not yet decided).
    task_definition: str = ""
    pause: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RolloutWait | None:
        """A stored rollout wait from its DynamoDB item; None when there is none."""
        if not item.get("token"):
            return None
        return cls.model_validate({k: v.get("S", v.get("N", "")) for k, v in item.items() if k != "pk"})

    def item(self, ecs_deployment_id: str) -> dict[str, Any]:
        """Its DynamoDB item, stored under the ECS deployment id."""
        return {
            **rollout_key(ecs_deployment_id),
            "token": {"S": self.token},
            "wait_order": {"S": self.wait_order},
            "deployment_id": {"S": self.deployment_id},
            "service": {"S": self.service},
            "expires_at": {"N": str(self.expires_at)},
            "pause": {"S": "true" if self.pause else "false"},
            **({"task_definition": {"S": self.task_definition}} if self.task_definition else {}),
        }


def rollout_key(ecs_deployment_id: str) -> dict[str, Any]:
    """The state table's key of the wait stored under an ECS deployment id."""
    return {"pk": {"S": f"rollout#{ecs_deployment_id}"}}


class RolloutWaits(StateTable):
    """Exactly one party sends a rollout's verdict: whoever takes (deletes) the stored wait first, ECS's
    event's function or one of the workflow's own looks, sends it to the token it took; the others find
    nothing and do nothing."""

    def wait(
        self,
        ecs_deployment_id: str,
        token: str,
        order: str,
        deployment_id: str,
        service: str,
        expires_at: int,
        task_definition: str = "",
        pause: bool = False,
    ) -> bool:
        """Stores (or replaces: an earlier wait timed out) the token this rollout waits on; False when a
        newer wait (a later `order`) is already stored, i.e. this look has outlived its own wait."""
        # expires_at is the table's TTL attribute: a wait nobody ended goes away.
        stored = RolloutWait(
            token=token,
            wait_order=order,
            deployment_id=deployment_id,
            service=service,
            expires_at=expires_at,
            task_definition=task_definition,
            pause=pause,
        )
        return self._written(
            "put_item",
            f"storing the rollout wait of {ecs_deployment_id}",
            Item=stored.item(ecs_deployment_id),
            ConditionExpression="attribute_not_exists(pk) OR wait_order <= :order",
            ExpressionAttributeValues={":order": {"S": order}},
        )

    def take(self, ecs_deployment_id: str, service: str | None = None) -> RolloutWait | None:
        """Takes the stored wait, whichever turn stored it (the verdict is the same for every turn), and
        with it the right to send the verdict; None when nothing waits (already decided, or not handoff's
        deployment) or, with `service`, when the wait is for another service than the event names."""
        condition, values = "attribute_exists(pk)", {}
        if service is not None:
            condition, values = "attribute_exists(pk) AND service = :service", {":service": {"S": service}}
        taken = self.conditional(
            "delete_item",
            f"taking the rollout wait of {ecs_deployment_id}",
            Key=rollout_key(ecs_deployment_id),
            ConditionExpression=condition,
            ReturnValues="ALL_OLD",
            **({"ExpressionAttributeValues": values} if values else {}),
        )
        item = (taken or {}).get("Attributes") or {}
        return RolloutWait.from_item(item)

    def give_back(self, ecs_deployment_id: str, wait: RolloutWait) -> None:
        """Puts a taken wait back when its verdict could not be sent, unless a newer wait is there."""
        self._written(
            "put_item",
            f"restoring the rollout wait of {ecs_deployment_id}",
            Item=wait.item(ecs_deployment_id),
            ConditionExpression="attribute_not_exists(pk)",
        )


def _lock_item(service_id: str, holder: str, execution_arn: str, now: int, lease_seconds: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"lock#{service_id}"},
        "holder": {"S": holder},
        "execution_arn": {"S": execution_arn},
        "lease_until": {"N": str(now + lease_seconds)},
        "acquired_at": {"N": str(now)},
    }
