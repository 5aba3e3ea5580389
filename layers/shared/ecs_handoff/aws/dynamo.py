"""DynamoDB item (de)serialisation shared by the tables."""

from __future__ import annotations

from typing import Any

from ecs_handoff.aws.clients import aws_call, client, error_code


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

    def __init__(self, table: str, dynamodb: Any = None) -> None:
        self.table = table
        self._ddb = dynamodb

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = client("dynamodb")
        return self._ddb

    def conditional(self, operation: str, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """Runs put_item / update_item / delete_item; None when its ConditionExpression failed."""
        from botocore.exceptions import ClientError

        with aws_call(what):
            try:
                return dict(getattr(self.ddb, operation)(TableName=self.table, **kwargs))
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return None
                raise
