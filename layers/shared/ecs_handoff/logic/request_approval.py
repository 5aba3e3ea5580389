"""Request approval: store the pending approval (with the task token) and email each approver their own link,
each through the approver's own topic (ecs_handoff.approvals.channel)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ecs_handoff.approvals import channel
from ecs_handoff.approvals.links import LinkClaims, link
from ecs_handoff.approvals.page import CI_HEADING, human_duration, minute_utc
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import sns
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ApprovalChannelUnsafe, ArtifactRejected, DeploymentRefused, NotFound, RecordConflict
from ecs_handoff.logic import service_deployments as strategies
from ecs_handoff.logic.approval_page import tell_workflow
from ecs_handoff.logic.authority import Derived, Where, derive
from ecs_handoff.models import (
    Approval,
    ApprovalInput,
    ApprovalStage,
    ApprovalStatus,
    Outcome,
    Phase,
    ServiceConfig,
    approval_id_for,
    iso,
    parse_reference,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import new_revision, revision_changes, short_name, with_requested

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SFNClient, SNSClient, SSMClient


def request_approval(
    event: ApprovalInput,
    store: ApprovalStore,
    records: DeploymentRecords,
    sns_arn_prefix: str,
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
    approvers = _approvers(req.service_id, req.env, derived.config)
    _check_stage(derived, ecs_client)
    for approver in approvers:  # before anything is stored: no approval whose links cannot go
        check_channel(sns_arn_prefix, where.env, approver, sns_client)
    approval = _new_approval(event, derived, approvers, ecs_client)
    if not store.create(approval):
        approval, decided = _retried(store, approval, event, sfn_client)
        if decided:
            return approval
    _send_links(approval, store, sns_arn_prefix, where.env, base_url, key, sns_client)
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


def _approvers(service_id: str, env: str, config: ServiceConfig) -> list[str]:
    """The registry entry's approvers (lowercase), refused unless it requires approval and lists enough."""
    if not config.approval_required:
        raise DeploymentRefused(f"service {service_id} does not require approval in {env}; nothing to ask")
    if not config.approvers:
        raise ArtifactRejected(
            f"service {service_id} requires approval but its registry entry lists no approvers; nothing was deployed"
        )
    if config.approvals_required > len(set(a.lower() for a in config.approvers)):
        raise ArtifactRejected(
            f"service {service_id} requires {config.approvals_required} approvals but lists only "
            f"{len(config.approvers)} approvers"
        )
    return [a.lower() for a in config.approvers]


def _check_stage(derived: Derived, ecs_client: ECSClient | None) -> None:
    """Approval before production traffic is asked only while ECS holds this deployment's revision at its PAUSE
    hook (read from ECS); approval before the deploy only while nothing is deployed. Whatever started this step
    (a forged execution, a replayed payload) cannot ask the approvers about anything else."""
    record, config = derived.record, derived.config
    if not config.approves_before_production_traffic:
        if record.new_task_definition:
            raise DeploymentRefused(
                f"deployment {record.id} is already deployed; its approvers decide before the deploy"
            )
        return
    if not record.new_task_definition:
        raise DeploymentRefused(
            f"{record.service}'s approvers decide before production traffic, once ECS holds the new revision at its "
            "PAUSE hook; nothing is deployed yet"
        )
    found = strategies.find(
        config.cluster, config.service, record.new_task_definition, record.deploy_claimed_at, ecs_client
    )
    shot = strategies.snapshot(found) if found is not None else None
    if shot is None or shot.awaiting_pause() is None:
        raise DeploymentRefused(
            f"ECS does not hold deployment {record.id} at a PAUSE hook awaiting action "
            f"({shot.words() if shot else 'no service deployment of its revision'}); nothing to ask the approvers"
        )


def _new_approval(
    event: ApprovalInput, derived: Derived, approvers: list[str], ecs_client: ECSClient | None
) -> Approval:
    """The approval to store: what changes from the revision the service runs now to the one it would deploy."""
    req, config = event.request, derived.config
    before_traffic = config.approves_before_production_traffic
    if before_traffic and derived.record.previous_task_definition:
        # ECS already runs the new revision on the test listener: the change is against what production runs.
        running_arn = derived.record.previous_task_definition
    else:
        service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
        running_arn = str(service["taskDefinition"])
    running, _ = ecs_access.describe_task_definition(running_arn, ecs_client)
    changes, other_changes = revision_changes(running, new_revision(derived.base, derived.images))
    changes = with_requested(changes, {c.container: c.requested for c in derived.record.images if c.requested})
    return Approval(
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
        # who uploaded and what CI said, as the intake recorded them (not as the step's input says)
        requester=(derived.record.source or req.source).requester,
        ci=(derived.record.source or req.source).ci,
        requested_at=iso(utcnow()),
        expires_at=int(time.time()) + config.approval_timeout_seconds,
        approvers=approvers,
        approvals_required=config.approvals_required,
        approver_principals={k: v.lower() for k, v in config.approver_principals.items()},
        stage=config.approval_stage.value,
        test_traffic=config.test_traffic.words() if config.test_traffic is not None else "",
        # as the intake verified it, from the record (never the step's input)
        promoted_from=derived.record.promoted_from.summary(req.service_id) if derived.record.promoted_from else None,
    )


def _retried(
    store: ApprovalStore, approval: Approval, event: ApprovalInput, sfn_client: SFNClient | None
) -> tuple[Approval, bool]:
    """A retry of this step (the earlier attempt died after storing the approval): the same approval, the same
    links, no second email to anyone already emailed; only the task token is new. (The approval, True) when it
    was decided meanwhile: the decision reached the earlier attempt's token, which no longer waits, so it goes to
    the token that waits now."""
    earlier = store.get(approval.approval_id)
    if earlier is None:
        raise RecordConflict(f"approval {approval.approval_id} vanished while it was being retried")
    if earlier.status is not ApprovalStatus.PENDING:
        tell_workflow(earlier, event.task_token, sfn_client)
        return earlier, True
    approval = store.replace_task_token(approval.approval_id, event.task_token, event.execution_arn)
    logger.warning("approval request retried; reusing the approval", approval_id=approval.approval_id)
    return approval, False


def _send_links(
    approval: Approval,
    store: ApprovalStore,
    sns_arn_prefix: str,
    env: str,
    base_url: str,
    key: bytes,
    sns_client: SNSClient | None,
) -> None:
    """Each approver not yet emailed gets their own link, through their own topic; a topic found unsafe
    cancels the approval (the links already sent stop working)."""
    sent = list(approval.emailed)
    for approver in approval.approvers:
        if approver in approval.emailed:
            continue
        # Again right before this link: a subscription made or confirmed since the last look would receive it.
        try:
            topic_arn = check_channel(sns_arn_prefix, env, approver, sns_client, sent=sent)
        except ApprovalChannelUnsafe:
            _cancel(store, approval)  # nothing waits on the links already sent
            raise
        claims = LinkClaims(approval.approval_id, approver, approval.expires_at)
        sns.publish(
            topic_arn,
            f"[handoff {approval.env}] approve {approval.service_id}? {_tags(approval)}",
            email_body(approval, approver, link(base_url, key, claims)),
            sns=sns_client,
        )
        store.mark_emailed(approval.approval_id, approver)
        sent.append(approver)


def check_channel(
    sns_arn_prefix: str, env: str, approver: str, sns_client: SNSClient | None = None, sent: Sequence[str] = ()
) -> str:
    """The approver's own topic, if a link published to it reaches exactly them (approvals/channel.py):
    otherwise nobody (more) gets a link, and the reason names the subscription or the topic Terraform must
    make. `sent`: who already got their link (it stops working: the caller cancels the approval)."""
    topic = channel.topic_arn(sns_arn_prefix, env, approver)
    try:
        found: list[sns.Subscription] | None = sns.subscriptions(topic, sns_client)
    except NotFound:
        found = None
    trouble = channel.problem(approver, topic, found)
    if trouble is not None:
        stopped = (
            f"no further approval link was sent, and the links sent to {', '.join(sent)} no longer work"
            if sent
            else "no approval link was sent"
        )
        raise ApprovalChannelUnsafe(f"{stopped}: {trouble.detail}; {trouble.fix}, then upload again")
    return topic


def _cancel(store: ApprovalStore, approval: Approval) -> None:
    with contextlib.suppress(RecordConflict):  # decided or superseded meanwhile: nothing left open
        store.close(approval.approval_id, ApprovalStatus.CANCELLED, iso(utcnow()), require_unexpired=False)


def _tags(approval: Approval) -> str:
    tags = {parse_reference(c.requested or c.image_after)[1] for c in approval.changes}
    return ", ".join(sorted(t for t in tags if t))


def email_body(approval: Approval, approver: str, url: str) -> str:
    """What handoff checked comes first (the change, by digest), then the link, and CI's words last, labelled
    as unverified: an approver on a phone reaches the link before anything CI typed."""
    expires = minute_utc(approval.expires_at)
    before_traffic = approval.stage == ApprovalStage.BEFORE_PRODUCTION_TRAFFIC.value
    lines = [
        f"{approval.requester or 'CI'} uploaded a release of {approval.service_id} to {approval.env}.",
        "It needs your approval before production traffic moves to it."
        if before_traffic
        else "It needs your approval before handoff deploys it.",
        "",
        "What changes (checked by handoff: images in ECR, by digest; the revision ECS runs; Terraform's base):",
        f"Service:      {approval.service_id} ({approval.env})",
        f"Deployment:   {approval.deployment_id}",
        f"Uploaded by:  {approval.requester or 'unknown'}",
        f"Commit tag:   {_tags(approval) or '(none)'}",
        *([f"Promoted:     {approval.promoted_from} (verified by handoff)"] if approval.promoted_from else []),
        f"Running now:  {short_name(approval.running_task_definition)}",
        f"New revision: from base {short_name(approval.base_task_definition)}",
        "Changes:",
    ]
    for change in approval.changes:
        lines.append(f"  {change.container}: {change.image_before or '(not running)'} -> {change.shown_after}")
    if not approval.changes:
        lines.append("  no container changes its image")
    if approval.other_changes:
        lines.append("Other changes (from Terraform's base task definition):")
        lines += [f"  {change}" for change in approval.other_changes]
    if before_traffic:
        reach = f" Reach it at {approval.test_traffic}." if approval.test_traffic else ""
        lines += [
            "",
            "Green is up: ECS has deployed the new revision on the test listener and holds it there; production "
            f"traffic stays on the running revision until you decide.{reach}",
        ]
    lines += [
        "",
        f"Review and decide (this link is for {approver} only; it expires {expires}, "
        f"in {human_duration(approval.expires_at - time.time())}):",
        url,
        "",
        "Opening the link changes nothing; you approve or reject on the page.",
    ]
    if approval.ci is not None:
        lines += ["", f"{CI_HEADING}:"]
        lines += [f"  {line}" for line in approval.ci.lines()]
    return "\n".join(lines) + "\n"
