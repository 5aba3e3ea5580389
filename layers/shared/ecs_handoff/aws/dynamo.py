"""DynamoDB item (de)serialisation shared by the tables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client, error_code

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import DynamoDBClient


def serializer() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    ser, _ = serializer()
    return {k: ser.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    _, de = serializer()
    return {k: plain(de.deserialize(v)) for k, v in item.items()}


def plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class Table:
    """One DynamoDB table: a lazily created client, and conditional writes that report their outcome."""

    def __init__(self, table: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table = table
        self._ddb = dynamodb

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def conditional(self, operation: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """Runs put_item / update_item / delete_item; None when its ConditionExpression failed."""
        return self.attempt(operation, what, **kwargs).response

    def attempt(self, operation: str, what: str, **kwargs: Any) -> Written:
        """A conditional write that, when its condition fails, also says what the item was then: DynamoDB
        returns it with the failure (ReturnValuesOnConditionCheckFailure=ALL_OLD), so the caller does not
        read it again (a second read costs a request, and can see a later state than the one that won)."""
        from botocore.exceptions import ClientError

        with aws_call(what):
            try:
                operate = getattr(self.ddb, operation)
                return Written(
                    dict(operate(TableName=self.table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **kwargs))
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    item: Any = exc.response.get("Item")  # the item as the condition found it
                    return Written(None, item)
                raise


@dataclass(frozen=True)
class Written:
    """A conditional write's result: the response when it was written, else the item that stopped it
    (DynamoDB's attribute values; None when there was no item)."""

    response: dict[str, Any] | None
    current: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None
