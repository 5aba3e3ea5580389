"""DynamoDB's global secondary indexes are eventually consistent ("DynamoDB read consistency": all reads from
GSIs are eventually consistent; a write reaches the index within about a second). With a lag set, the
embedded AWS's index reads see each table as it was that long ago, and the table itself stays current; the
lock step's read of a waiting approval does not go through an index, so the lag cannot hide it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.models import Approval, ApprovalStatus, approval_id_for
from ecs_handoff_embedded import gaps

from tests.integration.conftest import Stack

LAG = 1.5  # long beside the milliseconds a call takes, so a busy machine cannot make "early" late


@pytest.fixture
def lag(stack: Stack) -> Iterator[dict[str, float]]:
    setting = {"seconds": LAG}
    undo = gaps.install_index_lag(lambda: setting["seconds"])
    try:
        yield setting
    finally:
        undo()


def by_deployment(stack: Stack, deployment_id: str) -> list[dict[str, Any]]:
    found = stack.client("dynamodb").query(
        TableName=stack.outputs["ApprovalsTableName"],
        IndexName="by_deployment",
        KeyConditionExpression="deployment_id = :d",
        ExpressionAttributeValues={":d": {"S": deployment_id}},
    )
    return list(found["Items"])


def put(stack: Stack, deployment_id: str, status: str = "PENDING") -> str:
    approval_id = approval_id_for(deployment_id)
    stack.client("dynamodb").put_item(
        TableName=stack.outputs["ApprovalsTableName"],
        Item={
            "approval_id": {"S": approval_id},
            "deployment_id": {"S": deployment_id},
            "status": {"S": status},
        },
    )
    return approval_id


def set_status(stack: Stack, approval_id: str, status: str) -> None:
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["ApprovalsTableName"],
        Key={"approval_id": {"S": approval_id}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )


def test_index_lag_hides_a_new_item_from_the_index_until_the_lag_has_passed(
    stack: Stack, lag: dict[str, float]
) -> None:
    # GIVEN an item written just now
    approval_id = put(stack, "dev-api-new")
    # WHEN the index is read at once, and again after the lag
    early = by_deployment(stack, "dev-api-new")
    table = stack.client("dynamodb").get_item(
        TableName=stack.outputs["ApprovalsTableName"], Key={"approval_id": {"S": approval_id}}, ConsistentRead=True
    )
    time.sleep(LAG + 0.1)
    late = by_deployment(stack, "dev-api-new")
    # THEN the index did not have it yet while the table did; then the index has it
    assert early == [] and "Item" in table
    assert [item["approval_id"]["S"] for item in late] == [approval_id]


def test_index_lag_shows_a_changed_item_as_it_was_and_a_deleted_one_still(stack: Stack, lag: dict[str, float]) -> None:
    # GIVEN two items written before the lag, then one changed and one deleted
    changed, deleted = put(stack, "dev-api-changed"), put(stack, "dev-api-deleted")
    time.sleep(LAG + 0.1)
    set_status(stack, changed, "APPROVED")
    stack.client("dynamodb").delete_item(
        TableName=stack.outputs["ApprovalsTableName"], Key={"approval_id": {"S": deleted}}
    )
    # WHEN the index is read at once
    seen_changed = by_deployment(stack, "dev-api-changed")
    seen_deleted = by_deployment(stack, "dev-api-deleted")
    # THEN it shows the item before the change and the deleted item; after the lag, both as they are
    assert [item["status"]["S"] for item in seen_changed] == ["PENDING"]
    assert [item["approval_id"]["S"] for item in seen_deleted] == [deleted]
    time.sleep(LAG + 0.1)
    assert [item["status"]["S"] for item in by_deployment(stack, "dev-api-changed")] == ["APPROVED"]
    assert by_deployment(stack, "dev-api-deleted") == []


def test_index_lag_leaves_the_table_and_a_zero_lag_current(stack: Stack, lag: dict[str, float]) -> None:
    # GIVEN an item written just now
    approval_id = put(stack, "dev-api-table")
    # WHEN the table itself is scanned
    scanned = stack.client("dynamodb").scan(TableName=stack.outputs["ApprovalsTableName"])["Items"]
    # THEN it is there; and with the lag set to 0 the index shows a write at once
    assert approval_id in {item["approval_id"]["S"] for item in scanned}
    lag["seconds"] = 0.0
    put(stack, "dev-api-nolag")
    assert len(by_deployment(stack, "dev-api-nolag")) == 1


def test_index_lag_cannot_hide_a_waiting_approval_from_the_lock_step(stack: Stack, lag: dict[str, float]) -> None:
    # GIVEN an approval created a moment ago, not yet in the by_deployment index (an index a minute behind: how long
    # this test takes between its writes and reads must not decide what the index shows, however busy the machine)
    lag["seconds"] = 60.0
    store = ApprovalStore(stack.outputs["ApprovalsTableName"], stack.client("dynamodb"))
    approval = Approval(
        approval_id=approval_id_for("dev-api-waiting"),
        deployment_id="dev-api-waiting",
        service_id="api",
        env="dev",
        task_token="token-" + "x" * 20,
        execution_arn="arn:aws:states:ap-northeast-1:123456789012:execution:handoff-dev-deployment:x",
        changes=[],
        base_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/api:1",
        running_task_definition="arn:aws:ecs:ap-northeast-1:123456789012:task-definition/api:1",
        requested_at="2026-01-01T00:00:00Z",
        expires_at=int(time.time()) + 3600,
        approvers=["alice@example.com"],
    )
    assert store.create(approval)
    assert by_deployment(stack, "dev-api-waiting") == []
    # WHEN the lock step looks for the holder's pending approval
    pending = store.pending_for_deployment("dev-api-waiting")
    # THEN it finds it (a consistent read of the table), and a decided one is not pending any more
    assert pending is not None and pending.approval_id == approval.approval_id
    set_status(stack, approval.approval_id, ApprovalStatus.APPROVED.value)
    assert store.pending_for_deployment("dev-api-waiting") is None
