"""What the release controls read: CloudWatch alarm states, a Systems Manager Change Calendar's state,
the alarms ECS already watches for a service, and `handoff deploy-now` overrides (state table)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_handoff.approvals.overrides import OverrideClaims
from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.aws.state import StateTable

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import CloudWatchClient, ECSClient, SSMClient


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA | MISSING (no such alarm)
    reason: str


def alarm_states(names: list[str], cloudwatch: CloudWatchClient | None = None) -> list[AlarmState]:
    """Each named alarm's state (metric and composite alarms); a name CloudWatch does not know is MISSING."""
    cloudwatch = cloudwatch or client("cloudwatch")
    found: dict[str, AlarmState] = {}
    with aws_call(f"reading the state of alarms {', '.join(names)}"):
        paginator = cloudwatch.get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                name = str(alarm["AlarmName"])
                found[name] = AlarmState(name, str(alarm["StateValue"]), str(alarm.get("StateReason", "")))
    return [found.get(n, AlarmState(n, "MISSING", "CloudWatch has no alarm of this name")) for n in names]


def calendar_state(name: str, ssm: SSMClient | None = None) -> tuple[str, str | None]:
    """(OPEN or CLOSED, when it next changes) of a Change Calendar, now."""
    ssm = ssm or client("ssm")
    with aws_call(f"reading change calendar {name}"):
        response = ssm.get_calendar_state(CalendarNames=[name])
    return str(response["State"]), response.get("NextTransitionTime") or None


def ecs_watched_alarms(cluster: str, service: str, ecs: ECSClient | None = None) -> set[str]:
    """The alarms ECS itself watches during this service's deployments (its deployment alarms, on)."""
    from ecs_handoff.aws.ecs import describe_service

    configuration = describe_service(cluster, service, ecs).get("deploymentConfiguration", {})
    alarms = configuration.get("alarms") or {}
    return set(alarms.get("alarmNames", [])) if alarms.get("enable") else set()


@dataclass(frozen=True)
class StoredOverride:
    """An override item as the state table holds it: the claims and the operator API's signature."""

    claims: OverrideClaims
    signature: str


class Overrides(StateTable):
    """`handoff deploy-now`: an operator lets one held deployment start now (item override#<deployment id>),
    written only by the operator API, signed (ecs_handoff.approvals.overrides)."""

    def grant(self, claims: OverrideClaims, signature: str, expires_at: int) -> bool:
        """False when this deployment already has an override (the first one stands)."""
        return self._written(
            "put_item",
            f"recording deploy-now for {claims.deployment_id}",
            Item={
                "pk": {"S": f"override#{claims.deployment_id}"},
                "deployment_id": {"S": claims.deployment_id},
                "principal": {"S": claims.principal},
                "reason": {"S": claims.reason},
                "at": {"S": claims.at},
                "signature": {"S": signature},
                "expires_at": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get(self, deployment_id: str) -> StoredOverride | None:
        """The override stored under this deployment's key, as stored (the gate verifies it); the claims'
        deployment id is the key's, so an item copied from another deployment's key fails the signature."""
        item = self._get(f"override#{deployment_id}")
        if not item:
            return None

        def text(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        claims = OverrideClaims(deployment_id, text("principal"), text("reason"), text("at"))
        return StoredOverride(claims, text("signature"))
