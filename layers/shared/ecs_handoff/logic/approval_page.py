"""The approval page function's logic (ApprovalDesk): the review page's GET (shows, changes nothing) and POST
(decides), and the CLI's decisions through the operator API.

Every refusal is a page with the right status and changes nothing: a forged or tampered link
403, an unknown approval 404, a decided or superseded one 409, an expired one 410."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_handoff import principals
from ecs_handoff.approvals import page
from ecs_handoff.approvals.links import LinkClaims, expired, verify
from ecs_handoff.aws import sfn
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ApprovalRejected, ApprovalSuperseded, RecordConflict, TaskEnded, TransientAwsError
from ecs_handoff.models import Approval, ApprovalStage, ApprovalStatus, ApprovalVote, VoteDecision, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SFNClient

MAX_COMMENT = 1000
BEFORE_PRODUCTION_TRAFFIC = ApprovalStage.BEFORE_PRODUCTION_TRAFFIC.value


@dataclass
class PageResult:
    status: int
    title: str
    html: str
    decided: str | None = None  # approve | reject when this request changed something
    text: str = ""  # the page's message as plain text (the operator API answers with it)


@dataclass
class LinkRequest:
    approval_id: str
    approver: str
    expires: str
    signature: str


class ApprovalDesk:
    def __init__(
        self, store: ApprovalStore, records: DeploymentRecords, key: bytes | None, sfn_client: SFNClient | None = None
    ) -> None:
        self.store, self.records, self.key, self.sfn = store, records, key, sfn_client

    # -- checks shared by GET and POST ----------------------------------------------------------------

    def _check(self, link: LinkRequest) -> tuple[Approval | None, PageResult | None]:
        try:
            claims = LinkClaims(link.approval_id, link.approver.lower(), int(link.expires))
        except (TypeError, ValueError):
            return None, _refuse(403, "Link not valid", "This approval link is incomplete or has been altered.")
        if self.key is None or not verify(self.key, claims, link.signature):
            return None, _refuse(
                403, "Link not valid", "This approval link is not one handoff issued, or it has been altered."
            )
        approval = self.store.get(link.approval_id)
        if approval is None:
            return None, _refuse(
                404, "Approval not found", "There is no such approval (it may be older than the audit retention)."
            )
        if claims.approver not in approval.approvers or claims.expires != approval.expires_at:
            return None, _refuse(403, "Link not valid", "This link was not issued to an approver of this deployment.")
        closed = self._closed(approval, claims.approver)
        if closed:
            return approval, closed
        if expired(claims):
            return approval, _expired(approval.expires_at, approval)
        return approval, None

    def _closed(self, approval: Approval, approver: str) -> PageResult | None:
        if approval.status is ApprovalStatus.SUPERSEDED:
            return _refuse(
                409,
                "Superseded",
                f"A newer upload ({approval.superseded_by}) replaced this deployment; this link no longer works.",
                approval,
            )
        if approval.status is ApprovalStatus.CANCELLED:
            return _refuse(
                409,
                "Deployment ended",
                "This deployment ended before a decision was needed; nothing to approve.",
                approval,
            )
        if approval.status is ApprovalStatus.EXPIRED:
            return _expired(approval.expires_at, approval)
        if approval.status is not ApprovalStatus.PENDING:
            last = approval.votes[-1] if approval.votes else None
            who = f" by {last.approver} at {page.minute_of(last.at)}" if last else ""
            return _refuse(
                409,
                f"Already {approval.status.value.lower()}",
                f"This deployment was already {approval.status.value.lower()}{who}.",
                approval,
            )
        if approver in approval.approved_by:
            return _refuse(
                409,
                "Already approved by you",
                f"You approved this already; {len(approval.approved_by)} of {approval.approvals_required} "
                "approvals so far.",
                approval,
            )
        return None

    # -- GET -------------------------------------------------------------------------------------------

    def view(self, link: LinkRequest, form_action: str) -> PageResult:
        approval, refusal = self._check(link)
        if refusal is not None:
            return refusal
        assert approval is not None  # _check refuses whatever it cannot find
        html = page.review_page(
            env=approval.env,
            service=approval.service_id,
            deployment_id=approval.deployment_id,
            requester=approval.requester,
            changes=approval.changes,
            other_changes=approval.other_changes,
            ci_lines=approval.ci.lines() if approval.ci else [],
            base_task_definition=short_name(approval.base_task_definition),
            running_task_definition=short_name(approval.running_task_definition),
            approver=link.approver.lower(),
            time_left=page.human_duration(approval.expires_at - time.time()),
            approvals_so_far=approval.approved_by,
            approvals_required=approval.approvals_required,
            form_action=form_action,
            hidden={"approver": link.approver.lower(), "expires": link.expires, "sig": link.signature},
            green=approval.test_traffic if approval.stage == BEFORE_PRODUCTION_TRAFFIC else None,
            promoted_from=approval.promoted_from or "",
        )
        return PageResult(200, f"Approve {approval.service_id} in {approval.env}?", html)

    # -- POST ------------------------------------------------------------------------------------------

    def decide(self, link: LinkRequest, decision: str, comment: str, source_ip: str, user_agent: str) -> PageResult:
        if decision not in tuple(VoteDecision):
            return _refuse(400, "Choose a decision", "Press Approve or Reject.")
        approval, refusal = self._check(link)
        if refusal is not None:
            return refusal
        assert approval is not None  # _check refuses whatever it cannot find
        vote = ApprovalVote(
            approver=link.approver.lower(),
            decision=VoteDecision(decision),
            comment=comment.strip()[:MAX_COMMENT],
            at=iso(utcnow()),
            source_ip=source_ip[:64],
            user_agent=user_agent[:300],
            via="link",
        )
        return self.apply(approval, vote)

    def _resume(self, approval: Approval) -> PageResult | None:
        """Tells a waiting workflow the decision (nothing to tell while more approvals are needed).
        Throttling is retried with back-off before the page answers; if AWS stays busy, the decision
        stays recorded and the next POST of any link for it resumes the workflow."""
        if approval.status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
            return None
        for attempt in range(len(RESUME_BACKOFF_SECONDS) + 1):
            try:
                tell_workflow(approval, approval.task_token, self.sfn)
            except TaskEnded as exc:
                # The workflow stopped waiting (timed out, stopped by hand): nothing deploys.
                logger.warning("decision reached an ended workflow", approval_id=approval.approval_id, error=str(exc))
                last = approval.votes[-1] if approval.votes else None
                who = f"{last.approver} ({last.decision})" if last else "a decision"
                self.records.append_note(
                    approval.deployment_id,
                    f"{who} arrived at {iso(utcnow())}, after the workflow had stopped waiting; nothing was deployed",
                )
                return _refuse(
                    410,
                    "Approval expired",
                    "The deployment stopped waiting before your decision arrived; nothing was deployed.",
                    approval,
                )
            except TransientAwsError as exc:
                if attempt == len(RESUME_BACKOFF_SECONDS):
                    logger.error("could not resume the workflow", approval_id=approval.approval_id, error=str(exc))
                    return _refuse(
                        503,
                        "Recorded, not yet resumed",
                        "Your decision is recorded, but AWS is busy and the deployment could not be told yet. "
                        "Submit this page again in a minute to resume it.",
                        approval,
                    )
                time.sleep(RESUME_BACKOFF_SECONDS[attempt])
                continue
            self.store.mark_resumed(approval.approval_id, iso(utcnow()))
            return None
        return None

    def apply(self, approval: Approval, vote: ApprovalVote) -> PageResult:
        """Records the vote with a conditional write, then resumes the workflow when the gate decides."""
        try:
            if vote.decision is VoteDecision.REJECT:
                updated = self.store.close(approval.approval_id, ApprovalStatus.REJECTED, vote.at, vote=vote)
            else:
                updated = self._add_approval(approval, vote)
        except RecordConflict as conflict:
            current = conflict.current or approval  # as the write found it (None: gone, e.g. past retention)
            if current.status in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED) and not current.resumed_at:
                # Decided, but the workflow was never told (AWS was throttling): this request tells it.
                text = f"The deployment was {current.status.value.lower()}; its workflow has now been told."
                return self._resume(current) or _message(200, "Resumed", text, approval=current)
            return self._closed(current, vote.approver) or _expired(current.expires_at, current)
        self.records.append_vote(approval.deployment_id, vote)
        logger.info(
            "approval decision",
            approval_id=approval.approval_id,
            decision=vote.decision,
            approver=vote.approver,
            via=vote.via,
        )
        refusal = self._resume(updated)
        if refusal is not None:
            return refusal
        if updated.status is ApprovalStatus.REJECTED:
            return _message(200, "Rejected", "Recorded. Nothing will be deployed.", "reject", updated, vote)
        if updated.status is ApprovalStatus.APPROVED:
            text = "Recorded. The deployment continues; the outcome is emailed."
            return _message(200, "Approved", text, "approve", updated, vote)
        missing = updated.approvals_required - len(updated.approved_by)
        text = (
            f"Recorded ({len(updated.approved_by)} of {updated.approvals_required}); "
            f"waiting for {missing} more approver(s)."
        )
        return _message(200, "Approval recorded", text, "approve", updated, vote)

    def _add_approval(self, approval: Approval, vote: ApprovalVote) -> Approval:
        """The vote, written against the approval as last read; when another approver's vote landed first
        (still pending, not yet theirs), written again against the approval as that write found it."""
        for _ in range(MAX_VOTE_RACES):
            try:
                return self.store.add_approval(approval, vote)
            except RecordConflict as conflict:
                current = conflict.current
                if current is None or current.status is not ApprovalStatus.PENDING:
                    raise
                if vote.approver in current.approved_by or current.expires_at <= time.time():
                    raise
                approval = current
        return self.store.add_approval(approval, vote)


MAX_VOTE_RACES = 3  # votes racing this one; each lost race means another approver's vote was written
RESUME_BACKOFF_SECONDS = (1.0, 3.0)  # after botocore's own retries; the page function has 60 s


def tell_workflow(approval: Approval, task_token: str, sfn_client: SFNClient | None = None) -> None:
    """Hands a closed approval's decision to the task token that waits for it (nothing for an approval
    still pending, expired or cancelled: the wait ends on its own)."""
    if approval.status is ApprovalStatus.REJECTED:
        last = next((v for v in reversed(approval.votes) if v.decision is VoteDecision.REJECT), None)
        who = last.approver if last else "an approver"
        cause = f"rejected by {who}" + (f": {last.comment}" if last and last.comment else " (no comment)")
        sfn.send_task_failure(task_token, ApprovalRejected.__name__, cause, sfn_client)
    elif approval.status is ApprovalStatus.APPROVED:
        output = {"approval_id": approval.approval_id, "approved_by": approval.approved_by}
        sfn.send_task_success(task_token, output, sfn_client)
    elif approval.status is ApprovalStatus.SUPERSEDED:
        cause = f"a newer upload ({approval.superseded_by}) replaced this one while it waited for approval"
        sfn.send_task_failure(task_token, ApprovalSuperseded.__name__, cause, sfn_client)


def _refuse(status: int, title: str, text: str, approval: Approval | None = None) -> PageResult:
    return _message(status, title, text, approval=approval)


def _message(
    status: int,
    title: str,
    text: str,
    decided: str | None = None,
    approval: Approval | None = None,
    vote: ApprovalVote | None = None,
) -> PageResult:
    """The page names what it is about (service, environment, deployment) and, after a vote, who and when."""
    about = page.about(approval.service_id, approval.env, approval.deployment_id) if approval else ""
    if about and vote is not None:
        done = "approved" if vote.decision is VoteDecision.APPROVE else "rejected"
        about += f"; {done} by {vote.approver} at {page.minute_of(vote.at)}"
    return PageResult(status, title, page.message_page(title, text, about), decided, text)


def _expired(expires_at: int, approval: Approval | None = None) -> PageResult:
    text = f"This approval expired at {page.minute_utc(expires_at)}; nothing was deployed."
    return _refuse(410, "Approval expired", text, approval)


def approver_for_principal(approval: Approval, principal_arn: str) -> str | None:
    """The approver an IAM principal may act as on the CLI (approver_principals in the registry), or None.
    An assumed-role session ARN matches patterns written for the role's session ARN
    (arn:aws:sts::<account>:assumed-role/<role>/<session>)."""
    pattern = principals.matching(principal_arn, approval.approver_principals)
    return approval.approver_principals[pattern] if pattern is not None else None
