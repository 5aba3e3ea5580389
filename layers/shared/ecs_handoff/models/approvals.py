"""Approvals: the stored approval a deployment waits on, and each person's vote."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import Field, field_validator

from ecs_handoff.models.base import Model, one_line
from ecs_handoff.models.workflow import CiDescription, ImageChange, ImageDefinition


class ApprovalStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    SUPERSEDED = "SUPERSEDED"
    CANCELLED = "CANCELLED"  # the deployment ended some other way while the approval was open


class VoteDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class ApprovalVote(Model):
    """One person's decision, as recorded for the audit trail."""

    approver: str
    decision: VoteDecision
    comment: str = ""

    @field_validator("comment")
    @classmethod
    def _comment_is_one_plain_line(cls, value: str) -> str:
        return one_line(value, 1000)

    at: str
    source_ip: str = ""
    user_agent: str = ""
    via: str = "link"  # link | cli
    principal: str = ""  # the IAM principal that decided from the CLI (approver is the person it acts as)


def approval_id_for(deployment_id: str) -> str:
    """One approval per deployment: a retried RequestApproval finds the one it already made. The id is
    no secret (links carry a signature bound to it and to one approver)."""
    return hashlib.sha256(f"approval:{deployment_id}".encode()).hexdigest()[:32]


class Approval(Model):
    """A pending (or decided) approval; the task token lives only here, never in a link, email or log."""

    approval_id: str
    deployment_id: str
    execution_arn: str
    task_token: str = Field(repr=False)
    env: str
    service_id: str
    changes: list[ImageChange]
    # The images approved, exactly as the intake validated and pinned them (the deploy step deploys only these).
    images: list[ImageDefinition] | None = None
    other_changes: list[str] = Field(default_factory=list)
    base_task_definition: str
    running_task_definition: str
    requester: str = ""
    ci: CiDescription | None = None  # what CI says about the change (object metadata), not verified
    requested_at: str
    expires_at: int
    approvers: list[str]
    approvals_required: int = 1
    status: ApprovalStatus = ApprovalStatus.PENDING
    votes: list[ApprovalVote] = Field(default_factory=list)
    approved_by: list[str] = Field(default_factory=list)
    decided_at: str | None = None
    superseded_by: str | None = None
    emailed: list[str] = Field(default_factory=list)  # approvers whose link has been sent
    approver_principals: dict[str, str] = Field(default_factory=dict)  # CLI: IAM ARN pattern -> approver
    resumed_at: str | None = None  # when the workflow was told the decision
    # before_deploy, or before_production_traffic: ECS holds the new revision on the test listener meanwhile
    stage: str = "before_deploy"
    test_traffic: str = ""  # how an approver reaches green then (the registry's test_traffic, in words)
    # "promoted from dev api-1a2b3c4d, soaked 2 h": the source deployment the intake verified (`handoff promote`)
    promoted_from: str | None = None
