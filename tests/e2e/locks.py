"""The service lock as the state table holds it, read directly (no product API shows it)."""

from __future__ import annotations

from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws


def lock_item(aws: EmbeddedAws, env: str, service: str) -> dict[str, Any] | None:
    item = aws.client("dynamodb").get_item(
        TableName=f"handoff-{env}-state", Key={"pk": {"S": f"lock#{service}"}}, ConsistentRead=True
    )
    found: dict[str, Any] | None = item.get("Item")
    return found
