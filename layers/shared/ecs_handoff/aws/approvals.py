"""The approvals table: pending approvals and every decision, changed only by conditional writes."""

from __future__ import annotations

import time
from typing import Any

from ecs_handoff.aws.clients import aws_call
from ecs_handoff.aws.dynamo import Table, from_item, to_item
from ecs_handoff.errors import RecordConflict
from ecs_handoff.models import Approval, ApprovalStatus, ApprovalVote, approval_id_for


class ApprovalStore(Table):
    def create(self, approval: Approval) -> bool:
        """Stores a new approval; False when one with this id exists (a retried request, same deployment)."""
        item = approval.model_dump(mode="json")
        item["ttl"] = approval.expires_at + 90 * 86400  # kept 90 days after expiry for the audit trail
        written = self.conditional(
            "put_item",
            f"storing approval {approval.approval_id}",
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(approval_id)",
        )
        return written is not None

    def replace_task_token(self, approval_id: str, task_token: str, execution_arn: str) -> Approval:
        """A retried RequestApproval waits on a new task token; a pending approval resumes that one."""
        return self._update(
            approval_id,
            f"handing approval {approval_id} the retried step's task token",
            UpdateExpression="SET task_token = :t, execution_arn = :e",
            ConditionExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item(
                {":t": task_token, ":e": execution_arn, ":pending": ApprovalStatus.PENDING.value}
            ),
        )

    def mark_resumed(self, approval_id: str, at: str) -> None:
        """The workflow was told the decision (SendTaskSuccess/Failure went through)."""
        self.conditional(
            "update_item",
            f"recording that the workflow of {approval_id} was resumed",
            Key=to_item({"approval_id": approval_id}),
            UpdateExpression="SET resumed_at = :at",
            ConditionExpression="attribute_exists(approval_id)",
            ExpressionAttributeValues=to_item({":at": at}),
        )

    def mark_emailed(self, approval_id: str, approver: str) -> None:
        """Remembers that this approver's link went out, so a retry does not send it again."""
        self.conditional(
            "update_item",
            f"recording that {approver} was emailed about {approval_id}",
            Key=to_item({"approval_id": approval_id}),
            UpdateExpression="SET emailed = list_append(if_not_exists(emailed, :empty), :who)",
            ConditionExpression="attribute_exists(approval_id) AND NOT contains(emailed, :approver)",
            ExpressionAttributeValues=to_item({":who": [approver], ":empty": [], ":approver": approver}),
        )

    def get(self, approval_id: str) -> Approval | None:
        with aws_call(f"reading approval {approval_id}"):
            item = self.ddb.get_item(
                TableName=self.table, Key=to_item({"approval_id": approval_id}), ConsistentRead=True
            ).get("Item")
        return Approval.model_validate(from_item(item)) if item else None

    def _update(self, approval_id: str, what: str, **kwargs: Any) -> Approval:
        written = self.attempt(
            "update_item", what, Key=to_item({"approval_id": approval_id}), ReturnValues="ALL_NEW", **kwargs
        )
        if written.response is None:
            current = Approval.model_validate(from_item(written.current)) if written.current else None
            raise RecordConflict(f"{what}: the approval is no longer pending, or this vote was already cast", current)
        return Approval.model_validate(from_item(written.response["Attributes"]))

    def add_approval(self, approval: Approval, vote: ApprovalVote) -> Approval:
        """Adds one approver's approval to the approval as it was read, in one conditional write; the vote that
        reaches approvals_required also closes it as APPROVED in that same write, so no crash can leave an
        approval pending with all its votes. RecordConflict when the item is not as it was read (decided,
        expired, voted by them, or another vote landed first: the caller reads it again)."""
        seen = len(approval.approved_by)
        sets = ["votes = list_append(votes, :vote)", "approved_by = list_append(approved_by, :who)"]
        values: dict[str, Any] = {
            ":vote": [vote.model_dump(mode="json")],
            ":who": [vote.approver],
            ":approver": vote.approver,
            ":pending": ApprovalStatus.PENDING.value,
            ":now": int(time.time()),
            ":seen": seen,
            ":required": approval.approvals_required,
        }
        if seen + 1 >= approval.approvals_required:
            sets += ["#s = :approved", "decided_at = :at"]
            values |= {":approved": ApprovalStatus.APPROVED.value, ":at": vote.at}
        return self._update(
            approval.approval_id,
            f"recording {vote.approver}'s approval",
            UpdateExpression="SET " + ", ".join(sets),
            # The count read is the count written against: two approvers racing for the last approval cannot
            # both win, and the one that closes the approval is the one that brought it to approvals_required.
            ConditionExpression=(
                "#s = :pending AND expires_at > :now AND NOT contains(approved_by, :approver) "
                "AND size(approved_by) = :seen AND approvals_required = :required"
            ),
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item(values),
        )

    def close(
        self,
        approval_id: str,
        status: ApprovalStatus,
        at: str,
        vote: ApprovalVote | None = None,
        superseded_by: str | None = None,
        require_unexpired: bool = True,
    ) -> Approval:
        """PENDING -> status, exactly once; RecordConflict if it was not pending any more."""
        sets = ["#s = :status", "decided_at = :at"]
        values: dict[str, Any] = {":status": status.value, ":at": at, ":pending": ApprovalStatus.PENDING.value}
        if vote is not None:
            sets.append("votes = list_append(votes, :vote)")
            values[":vote"] = [vote.model_dump(mode="json")]
        if superseded_by:
            sets.append("superseded_by = :by")
            values[":by"] = superseded_by
        condition = "#s = :pending"
        if require_unexpired:
            condition += " AND expires_at > :now"
            values[":now"] = int(time.time())
        return self._update(
            approval_id,
            f"closing approval {approval_id} as {status.value}",
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item(values),
        )

    def pending_for_deployment(self, deployment_id: str) -> Approval | None:
        """The deployment's approval while it is PENDING. Read from the table with ConsistentRead (a deployment
        has one approval, approval_id_for(deployment_id)), not through the by_deployment index: an index read
        is eventually consistent, and the lock step acting on it could miss an approval created a moment ago
        (the newer upload would wait instead of superseding it) or see one already decided as PENDING."""
        approval = self.get(approval_id_for(deployment_id))
        return approval if approval is not None and approval.status is ApprovalStatus.PENDING else None
