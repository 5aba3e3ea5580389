"""Request approval: store the pending approval (with the task token) and email each approver their own link."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ecs_handoff.approvals.links import LinkClaims, link
from ecs_handoff.approvals.page import human_duration
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import sns
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ApprovalChannelUnsafe, ArtifactRejected, DeploymentRefused, RecordConflict
from ecs_handoff.logic.approval_decision import tell_workflow
from ecs_handoff.logic.authority import Where, derive
from ecs_handoff.models import Approval, ApprovalInput, ApprovalStatus, Outcome, Phase, approval_id_for, iso, utcnow
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import new_revision, revision_changes, short_name, with_requested

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SFNClient, SNSClient, SSMClient

APPROVER_ATTRIBUTE = "approver"


def request_approval(
    event: ApprovalInput,
    store: ApprovalStore,
    records: DeploymentRecords,
    topic_arn: str,
    base_url: str,
    key: bytes,
    where: Where,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
    sns_client: SNSClient | None = None,
    sfn_client: SFNClient | None = None,
) -> Approval:
    req = event.request
    # Who approves, and what: from the registry and the record, never from the step's input (which anyone
    # who can start an execution writes).
    derived = derive(req, where, records, ecs_client, ssm_client)
    config = derived.config
    if not config.approval_required:
        raise DeploymentRefused(f"service {req.service_id} does not require approval in {req.env}; nothing to ask")
    if not config.approvers:
        raise ArtifactRejected(
            f"service {req.service_id} requires approval but its registry entry lists no approvers; "
            "nothing was deployed"
        )
    if config.approvals_required > len(set(a.lower() for a in config.approvers)):
        raise ArtifactRejected(
            f"service {req.service_id} requires {config.approvals_required} approvals but lists only "
            f"{len(config.approvers)} approvers"
        )
    approvers = [a.lower() for a in config.approvers]
    check_channel(topic_arn, approvers, sns_client)  # before anything is stored: no approval whose links cannot go
    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    running_arn = str(service["taskDefinition"])
    running, _ = ecs_access.describe_task_definition(running_arn, ecs_client)
    changes, other_changes = revision_changes(running, new_revision(derived.base, derived.images))
    changes = with_requested(changes, {c.container: c.requested for c in derived.record.images if c.requested})
    now = utcnow()
    approval = Approval(
        approval_id=approval_id_for(req.deployment_id),
        deployment_id=req.deployment_id,
        execution_arn=event.execution_arn,
        task_token=event.task_token,
        env=req.env,
        service_id=req.service_id,
        changes=changes,
        images=derived.images,
        other_changes=other_changes,
        base_task_definition=req.base_task_definition,
        running_task_definition=running_arn,
        requester=req.source.requester,
        ci=req.source.ci,
        requested_at=iso(now),
        expires_at=int(time.time()) + config.approval_timeout_seconds,
        approvers=approvers,
        approvals_required=config.approvals_required,
        approver_principals={k: v.lower() for k, v in config.approver_principals.items()},
    )
    if not store.create(approval):
        # A retry of this step (the earlier attempt died after storing the approval): the same approval,
        # the same links, no second email to anyone already emailed; only the task token is new.
        earlier = store.get(approval.approval_id)
        if earlier is None:
            raise RecordConflict(f"approval {approval.approval_id} vanished while it was being retried")
        if earlier.status is not ApprovalStatus.PENDING:
            # Decided while this step was being retried: the decision reached the earlier attempt's token,
            # which no longer waits, so it goes to the token that waits now.
            tell_workflow(earlier, event.task_token, sfn_client)
            return earlier
        approval = store.replace_task_token(approval.approval_id, event.task_token, event.execution_arn)
        logger.warning("approval request retried; reusing the approval", approval_id=approval.approval_id)
    for approver in approval.approvers:
        if approver in approval.emailed:
            continue
        # Again before each link: a subscription made or confirmed since the last look would receive it.
        try:
            check_channel(topic_arn, approval.approvers, sns_client)
        except ApprovalChannelUnsafe:
            _cancel(store, approval)  # the links already sent stop working; nothing waits on them
            raise
        claims = LinkClaims(approval.approval_id, approver, approval.expires_at)
        sns.publish(
            topic_arn,
            f"[handoff {req.env}] approve {req.service_id}? {_tags(approval)}",
            email_body(approval, approver, link(base_url, key, claims)),
            attributes={APPROVER_ATTRIBUTE: approver},
            sns=sns_client,
        )
        store.mark_emailed(approval.approval_id, approver)
    # Marked as waiting only once every approver has been sent their link.
    records.update(
        req.deployment_id,
        phase=Phase.AWAITING_APPROVAL,
        at=approval.requested_at,
        outcome=Outcome.AWAITING_APPROVAL,
        approval_id=approval.approval_id,
        images=approval.changes,
        other_changes=approval.other_changes,
    )
    logger.info("approval requested", approval_id=approval.approval_id, approvers=len(approval.approvers))
    return approval


def check_channel(topic_arn: str, approvers: Collection[str], sns_client: SNSClient | None = None) -> None:
    """Links go out only if every subscription on the approvals topic is one email address filtered to
    exactly its own links: anyone else who subscribed (an unfiltered address, a queue, a filter naming
    someone else) would receive other people's links, so then nobody gets one. A pending subscription
    receives nothing yet, but its filter policy cannot be read (SNS lists it without an ARN) and it may
    be confirmed at any moment: one that is not an approver's stops the gate too."""
    for subscription in sns.subscriptions(topic_arn, sns_client):
        if not subscription.confirmed:
            if subscription.email and subscription.endpoint.lower() in approvers:
                continue  # an approver's own, still unconfirmed; looked at again before each link
            raise ApprovalChannelUnsafe(
                f"no approval link was sent: a subscription waiting for confirmation ({subscription.protocol} "
                f"{subscription.endpoint}) on the approvals topic is not an approver's, and once confirmed it "
                "could receive other approvers' links; have it removed (or, for an approver of another "
                "service, confirmed with their own filter policy), then upload again"
            )
        if not subscription.receives_only_its_own(APPROVER_ATTRIBUTE):
            policy = json.dumps(subscription.filter_policy) if subscription.filter_policy else "no filter policy"
            own = json.dumps(subscription.own_filter(APPROVER_ATTRIBUTE))
            fix = f"remove it or give it the filter policy {own}" if subscription.email else "remove it"
            raise ApprovalChannelUnsafe(
                f"no approval link was sent: subscription {subscription.arn} ({subscription.protocol} "
                f"{subscription.endpoint}, {policy}) on the approvals topic could receive other approvers' "
                f"links; {fix}, then upload again"
            )


def _cancel(store: ApprovalStore, approval: Approval) -> None:
    with contextlib.suppress(RecordConflict):  # decided or superseded meanwhile: nothing left open
        store.close(approval.approval_id, ApprovalStatus.CANCELLED, iso(utcnow()), require_unexpired=False)


def _tags(approval: Approval) -> str:
    tags = sorted(
        {(c.requested or c.image_after).split("@", 1)[0].rsplit("/", 1)[-1].partition(":")[2] for c in approval.changes}
        - {""}
    )
    return ", ".join(tags)


def email_body(approval: Approval, approver: str, url: str) -> str:
    expires = datetime.fromtimestamp(approval.expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{approval.requester or 'CI'} uploaded a release of {approval.service_id} to {approval.env}.",
        "It needs your approval before handoff deploys it.",
        "",
        f"Service:      {approval.service_id} ({approval.env})",
        f"Deployment:   {approval.deployment_id}",
        f"Uploaded by:  {approval.requester or 'unknown'}",
        f"Commit tag:   {_tags(approval) or '(none)'}",
        f"Running now:  {short_name(approval.running_task_definition)}",
        "Changes:",
    ]
    for change in approval.changes:
        after = f"{change.requested} (pinned: {change.image_after})" if change.requested else change.image_after
        lines.append(f"  {change.container}: {change.image_before or '(not running)'} -> {after}")
    if approval.ci is not None:
        lines.append("What CI says about it (provided by CI, not verified):")
        lines += [f"  {line}" for line in approval.ci.lines()]
    if approval.other_changes:
        lines.append("Other changes (from Terraform's base task definition):")
        lines += [f"  {change}" for change in approval.other_changes]
    lines += [
        "",
        f"Review and decide (this link is for {approver} only; it expires {expires}, "
        f"in {human_duration(approval.expires_at - time.time())}):",
        url,
        "",
        "Opening the link changes nothing; you approve or reject on the page.",
    ]
    return "\n".join(lines) + "\n"
