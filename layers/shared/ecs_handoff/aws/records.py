"""The deployments table: one record per deployment, queried by service or environment, newest first."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Unpack, cast

from pydantic import TypeAdapter
from typing_extensions import TypedDict  # pydantic reads typing's only from Python 3.12

from ecs_handoff.aws.clients import aws_call
from ecs_handoff.aws.dynamo import Table
from ecs_handoff.aws.dynamo import from_item as _from_item
from ecs_handoff.aws.dynamo import to_item as _to_item
from ecs_handoff.models import ApprovalVote, DeploymentRecord, ImageChange, Outcome, Phase, VerdictSource

BY_SERVICE_INDEX = "by_service"
BY_ENV_INDEX = "by_env"
# Timeline keys of the ECS lifecycle stages a BLUE_GREEN, LINEAR or CANARY deployment was seen at.
ECS_STAGE_PREFIX = "ecs:"


class RecordFields(TypedDict, total=False):
    """The fields of a DeploymentRecord the steps set after the intake wrote it (a test holds each to the
    model's own field and type); None leaves a field as it is."""

    execution_arn: str
    approval_id: str
    images: list[ImageChange]
    other_changes: list[str] | None
    new_task_definition: str
    previous_task_definition: str
    ecs_deployment_id: str
    rollout: dict[str, int] | None
    revision_deregistered: bool
    verdict_by: VerdictSource
    ecs_reported_at: str | None
    gate: dict[str, str]
    override: dict[str, str]
    service_deployment: dict[str, str]


class RecordUpdate(RecordFields, total=False):
    """What update() may set: the fields, and the outcome while the deployment runs (finish() ends it)."""

    outcome: Outcome


@functools.cache
def _stored_form() -> TypeAdapter[RecordUpdate]:
    return TypeAdapter(RecordUpdate)


def as_stored(fields: Mapping[str, object]) -> dict[str, Any]:
    """The fields as the table stores them: JSON values (models as objects, enums as their values).

    Through a TypeAdapter of RecordUpdate, not pydantic_core.to_jsonable_python: a model handoff only ever
    got nested in another (the deploy result's ImageChange) has no serializer of its own until first used
    directly (defer_build), and to_jsonable_python refuses it, which a fresh Lambda process would hit."""
    return cast("dict[str, Any]", _stored_form().dump_python(cast("RecordUpdate", fields), mode="json"))


def _set_clauses(fields: Mapping[str, object], names: dict[str, str], values: dict[str, Any]) -> list[str]:
    """SET clauses for the fields given (None skipped), their names and values added to the expression's."""
    unknown = fields.keys() - RecordUpdate.__optional_keys__
    if unknown:  # mypy refuses these at the call; this is for callers it does not check
        raise TypeError(f"not a field a step may set on a deployment record: {', '.join(sorted(unknown))}")
    sets = []
    for i, (key, value) in enumerate(as_stored({k: v for k, v in fields.items() if v is not None}).items()):
        names[f"#f{i}"] = key
        values[f":f{i}"] = value
        sets.append(f"#f{i} = :f{i}")
    return sets


def _stage_clauses(
    fields: Mapping[str, Any], at: str | None, names: dict[str, str], values: dict[str, Any]
) -> list[str]:
    """Each ECS lifecycle stage a service deployment was seen at goes on the timeline, with when it was first seen."""
    stage = (fields.get("service_deployment") or {}).get("stage")
    if not (stage and at):
        return []
    names["#timeline"], names["#stage"] = "timeline", f"{ECS_STAGE_PREFIX}{stage}"
    values[":stage_at"] = at
    return ["#timeline.#stage = if_not_exists(#timeline.#stage, :stage_at)"]


class DeploymentRecords(Table):
    """Reads and writes deployment records; every write names its table and is conditional where it matters."""

    def create(self, record: DeploymentRecord) -> bool:
        """Writes a new record; False when one with this id already exists (a duplicate event)."""
        return (
            self.conditional(
                "put_item",
                f"writing deployment record {record.id}",
                Item=_to_item(record.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(id)",
            )
            is not None
        )

    def update(
        self, deployment_id: str, phase: Phase | None = None, at: str | None = None, **fields: Unpack[RecordUpdate]
    ) -> None:
        """Sets fields on an existing record and, with phase, stamps the time of that phase."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets = _set_clauses(fields, names, values) + _stage_clauses(fields, at, names, values)
        if phase:
            names["#phase"], names["#timeline"], names["#ph"] = "phase", "timeline", phase.value
            values[":phase"], values[":at"] = phase.value, at
            sets += ["#phase = :phase", "#timeline.#ph = if_not_exists(#timeline.#ph, :at)"]
        if not sets:
            return
        with aws_call(f"updating deployment record {deployment_id}"):
            self.ddb.update_item(
                TableName=self.table,
                Key=_to_item({"id": deployment_id}),
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item(values),
                ConditionExpression="attribute_exists(id)",
            )

    def rolling_out(self, deployment_id: str, at: str, **fields: Unpack[RecordUpdate]) -> None:
        """The rollout's look: `fields`, and the phase rolling_out unless the lifecycle hook holds a production
        traffic shift (waiting_for_window, waiting_for_alarm: what `status` shows and `handoff deploy-now` needs;
        the hook says rolling_out itself when it lets the shift go)."""
        names: dict[str, str] = {"#phase": "phase", "#timeline": "timeline", "#ph": Phase.ROLLING_OUT.value}
        values: dict[str, Any] = {
            ":phase": Phase.ROLLING_OUT.value,
            ":at": at,
            ":window": Phase.WAITING_FOR_WINDOW.value,
            ":alarm": Phase.WAITING_FOR_ALARM.value,
        }
        sets = [
            *_set_clauses(fields, names, values),
            *_stage_clauses(fields, at, names, values),
            "#phase = :phase",
            "#timeline.#ph = if_not_exists(#timeline.#ph, :at)",
        ]
        written = self.attempt(
            "update_item",
            f"updating deployment record {deployment_id}",
            Key=_to_item({"id": deployment_id}),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_to_item(values),
            ConditionExpression="attribute_exists(id) AND NOT (#phase IN (:window, :alarm))",
        )
        if not written.ok:  # held: the fields and ECS's stage, not the phase
            self.update(deployment_id, at=at, **fields)

    def claim_deploy(self, deployment_id: str, at: str) -> bool:
        """The deploy step's first attempt takes the right to change ECS for this deployment, once: False when
        another invocation already took it (a replay, or two at once), so only one registers and updates."""
        return self._claim(deployment_id, "deploy_claimed_at", at, "the deploy")

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        with aws_call(f"reading deployment record {deployment_id}"):
            item = self.ddb.get_item(
                TableName=self.table, Key=_to_item({"id": deployment_id}), ConsistentRead=True
            ).get("Item")
        return DeploymentRecord.model_validate(_from_item(item)) if item else None

    def finish(
        self, deployment_id: str, outcome: Outcome, reason: str, at: str, **fields: Unpack[RecordFields]
    ) -> bool:
        """Sets the terminal outcome exactly once; False when the record already has one (another
        finalizer got there first: the workflow's own Finalize, or the ended-execution rule)."""
        # The outcomes a deployment can still finish from (IN_PROGRESS, AWAITING_APPROVAL).
        running = {f":running{i}": o.value for i, o in enumerate(o for o in Outcome if not o.terminal)}
        names = {"#t": "timeline"}
        values: dict[str, Any] = {":o": outcome.value, ":r": reason, ":at": at, ":finished": Phase.FINISHED.value}
        values.update(running)
        sets = ["outcome = :o", "reason = :r", "finished_at = :at", "phase = :finished", "#t.finished = :at"]
        sets += _set_clauses(fields, names, values)
        return (
            self.conditional(
                "update_item",
                f"recording the outcome of {deployment_id}",
                Key=_to_item({"id": deployment_id}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=f"attribute_exists(id) AND outcome IN ({', '.join(running)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_to_item(values),
            )
            is not None
        )

    def claim_notification(self, deployment_id: str, at: str) -> bool:
        """True for exactly one caller per deployment: that one sends the outcome notification."""
        return self._claim(deployment_id, "notified_at", at, "the notification")

    def _claim(self, deployment_id: str, attribute: str, at: str, what: str) -> bool:
        """Sets `attribute` to `at` on the record if nobody has yet; True for exactly one caller."""
        return (
            self.conditional(
                "update_item",
                f"claiming {what} of {deployment_id}",
                Key=_to_item({"id": deployment_id}),
                UpdateExpression=f"SET {attribute} = :at",
                ConditionExpression=f"attribute_exists(id) AND attribute_not_exists({attribute})",
                ExpressionAttributeValues=_to_item({":at": at}),
            )
            is not None
        )

    def unclaim_notification(self, deployment_id: str) -> None:
        """The notification could not be sent: let a retry send it."""
        self.conditional(
            "update_item",
            f"releasing the notification claim of {deployment_id}",
            Key=_to_item({"id": deployment_id}),
            UpdateExpression="REMOVE notified_at",
            ConditionExpression="attribute_exists(id)",
        )

    def history(
        self,
        env: str,
        service: str | None = None,
        limit: int = 20,
        since: str | None = None,
        oldest_first: bool = False,
    ) -> list[DeploymentRecord]:
        """Newest first (oldest first with `oldest_first`), for one service or the whole environment; with `since`
        (an iso() time) only those started at or after it (the index's range key: older ones are not read). Read
        through an index, so eventually consistent (DynamoDB's GSI reads have no ConsistentRead): a deployment
        started or finished a moment ago may be missing or show its previous state. It is a listing for people,
        who look again; a step reads its record with get(), and the promotion statement, which reads what came
        after a deployment here, checks what ECS runs as well."""
        if service:
            index, key_name, key_value = BY_SERVICE_INDEX, "service", service
        else:
            index, key_name, key_value = BY_ENV_INDEX, "env", env
        records: list[DeploymentRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": key_name},
            "ExpressionAttributeValues": _to_item({":k": key_value}),
            "ScanIndexForward": oldest_first,  # oldest first: what came right after `since` (promotion's soak)
            "Limit": min(max(limit, 1), 100),
        }
        if since is not None:
            kwargs["KeyConditionExpression"] += " AND #s >= :s"
            kwargs["ExpressionAttributeNames"]["#s"] = "started_at"
            kwargs["ExpressionAttributeValues"].update(_to_item({":s": since}))
        with aws_call(f"querying deployment history of {key_value}"):
            while len(records) < limit:
                page = self.ddb.query(**kwargs)
                for item in page.get("Items", []):
                    record = DeploymentRecord.model_validate(_from_item(item))
                    if record.env == env:
                        records.append(record)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return records[:limit]

    def unfinished(self, service: str, newest: int) -> list[DeploymentRecord]:
        """The records still IN_PROGRESS or AWAITING_APPROVAL among the service's `newest` deployments: one
        page of the by_service index, newest first. DynamoDB applies the filter after the limit, so this
        reads (and is billed for) at most `newest` items however long the service's history is.
        The index lags the table (GSI reads are eventually consistent), and the sweeper may act on a stale
        answer: a record finalized a moment ago still listed is looked at again (its execution is described and
        finalize leaves a finished record as it is), and one written a moment ago but not yet listed is the next
        sweep's."""
        running = {f":running{i}": o.value for i, o in enumerate(o for o in Outcome if not o.terminal)}
        with aws_call(f"querying the unfinished deployments of {service}"):
            page = self.ddb.query(
                TableName=self.table,
                IndexName=BY_SERVICE_INDEX,
                KeyConditionExpression="#k = :k",
                FilterExpression=f"#o IN ({', '.join(running)})",
                ExpressionAttributeNames={"#k": "service", "#o": "outcome"},
                ExpressionAttributeValues=_to_item({":k": service, **running}),
                ScanIndexForward=False,
                Limit=min(max(newest, 1), 100),
            )
        return [DeploymentRecord.model_validate(_from_item(item)) for item in page.get("Items", [])]

    def append_note(self, deployment_id: str, note: str) -> None:
        """Something that happened to a deployment after its outcome (a decision that came too late)."""
        self._append(deployment_id, "notes", note, f"adding a note to deployment record {deployment_id}")

    def append_release_hold(self, deployment_id: str, event: dict[str, str]) -> None:
        """A production traffic step held, released, overridden or expired by the release controls (the lifecycle
        hook): at, event, production_percent (green's share before the shift), reason."""
        self._append(deployment_id, "release_holds", event, f"recording a held traffic step on {deployment_id}")

    def append_vote(self, deployment_id: str, vote: ApprovalVote) -> None:
        """Adds one approval decision (who, decision, comment, time, source address, user agent)."""
        stored = vote.model_dump(mode="json")
        self._append(deployment_id, "approvals", stored, f"recording an approval decision on {deployment_id}")

    def _append(self, deployment_id: str, attribute: str, value: Any, what: str) -> None:
        with aws_call(what):
            self.ddb.update_item(
                TableName=self.table,
                Key=_to_item({"id": deployment_id}),
                UpdateExpression="SET #a = list_append(if_not_exists(#a, :empty), :value)",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues=_to_item({":value": [value], ":empty": []}),
                ConditionExpression="attribute_exists(id)",
            )
