"""The operator API: `handoff approve|reject|deploy-now|rollback` decided on the server, as the IAM identity API
Gateway authenticated.

Every route is AWS_IAM authorized: API Gateway checks the SigV4 signature and the caller's
execute-api:Invoke before the function runs, and names the caller in the request context
(requestContext.authorizer.iam). The caller is taken from there and nowhere else (a body naming a
principal is ignored); the registry's approver_principals and override_principals, the uploader rule and
the approval's or deployment's state are checked here, and the decision is written by handoff itself: the
vote through ApprovalDesk.apply, the override signed so the gate can tell it came this way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_handoff import principals
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.logic.approval_page import MAX_COMMENT, ApprovalDesk, approver_for_principal
from ecs_handoff.models import Approval, ApprovalStatus, ApprovalVote, DeploymentRecord, VoteDecision, iso, utcnow
from ecs_handoff.observability import logger

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SFNClient
    from ecs_handoff.aws.release_controls import Overrides
    from ecs_handoff.logic.promotion import Attestor

MAX_REASON = 500
OVERRIDE_KEEP_SECONDS = 7 * 86400  # the override item's TTL: long after any deployment it could open
VIA = "api"  # ApprovalVote.via for decisions made through this API (`handoff approve` is its client)


@dataclass(frozen=True)
class Caller:
    """Who API Gateway's IAM authorization says signed the request (requestContext.authorizer.iam)."""

    arn: str  # userArn: an IAM user's ARN, or an assumed-role session's sts ARN
    account_id: str = ""
    caller_id: str = ""


@dataclass
class Answer:
    status: int
    title: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"ok": self.status < 400, "title": self.title, "message": self.message, **self.details}


def uploader_of(approval: Approval) -> str:
    """Who handoff knows uploaded the release: only the `uploader` object metadata `handoff upload` sets
    (its caller's ARN). S3's Object Created event names the requester's account, not the principal, so an
    upload made without that metadata (`aws s3 cp`) has no known uploader."""
    return approval.ci.uploader if approval.ci is not None else ""


def _uploaded_by(approval: Approval, principal: str) -> bool:
    """Whether this principal's IAM identity uploaded the release (so cannot approve it too)."""
    uploader = uploader_of(approval)
    return bool(uploader) and principals.identity(uploader) == principals.identity(principal)


def _decision_details(approval: Approval, decision: VoteDecision, principal: str) -> dict[str, str]:
    """What a decision's answer says it was about."""
    return {
        "decision": decision.value,
        "approval_id": approval.approval_id,
        "deployment_id": approval.deployment_id,
        "service": approval.service_id,
        "env": approval.env,
        "principal": principal,
    }


def _not_an_approver(approval: Approval, principal: str, details: dict[str, str]) -> Answer:
    logger.warning("operator refused", principal=principal, approval_id=approval.approval_id, why="not an approver")
    return Answer(
        403,
        "Not an approver",
        f"{principal} may not decide approvals of {approval.service_id} in {approval.env}: it is not in the "
        "registry entry's approver_principals (approvers decide with their link, or Terraform lists their role)",
        details,
    )


class OperatorDesk:
    def __init__(
        self,
        approvals: ApprovalStore,
        records: DeploymentRecords,
        overrides: Callable[[], Overrides],
        registry_prefix: str,
        key: Callable[[], bytes],
        sfn_client: SFNClient | None = None,
        now: Callable[[], datetime] = utcnow,
        ecs_client: ECSClient | None = None,
        attestor: Callable[[], Attestor] | None = None,
    ) -> None:
        self.approvals, self.records, self.overrides = approvals, records, overrides
        self.registry_prefix, self.key, self.sfn, self.now = registry_prefix, key, sfn_client, now
        self.ecs = ecs_client
        self.attestor = attestor

    # -- approve / reject --------------------------------------------------------------------------------

    def decide(
        self,
        caller: Caller | None,
        approval_id: str,
        decision: VoteDecision,
        comment: str,
        source_ip: str = "",
        user_agent: str = "",
    ) -> Answer:
        if caller is None or not caller.arn:
            return _unauthenticated()
        approval = self.approvals.get(approval_id)
        if approval is None:
            return Answer(404, "Approval not found", f"there is no approval {approval_id}")
        details = _decision_details(approval, decision, caller.arn)
        approver = approver_for_principal(approval, caller.arn)
        if approver is None:
            return _not_an_approver(approval, caller.arn, details)
        details["approver"] = approver
        # The approval's own state is said first: an expired approval is expired, whoever asks. One that is no
        # longer pending (decided, superseded) is said by the desk below, whose conditional write records no
        # vote on it; the uploader rule decides only what could still be recorded.
        if approval.status is ApprovalStatus.PENDING and approval.expires_at <= self.now().timestamp():
            return Answer(410, "Approval expired", "This approval has expired; nothing was deployed.", details)
        pending = approval.status is ApprovalStatus.PENDING
        if pending and decision is VoteDecision.APPROVE and _uploaded_by(approval, caller.arn):
            logger.warning("operator refused", principal=caller.arn, approval_id=approval_id, why="uploader")
            return Answer(
                403,
                "Uploader cannot approve",
                f"{caller.arn} uploaded this deployment and cannot approve it too",
                details,
            )
        vote = ApprovalVote(
            approver=approver,
            principal=caller.arn,
            decision=decision,
            comment=comment.strip()[:MAX_COMMENT],
            at=iso(self.now()),
            source_ip=source_ip[:64],
            user_agent=user_agent[:300],
            via=VIA,
        )
        result = ApprovalDesk(self.approvals, self.records, None, self.sfn).apply(approval, vote)
        return Answer(result.status, result.title, result.text, details)

    # -- deploy-now --------------------------------------------------------------------------------------

    def _on_call_request(
        self, caller: Caller | None, deployment_id: str, reason: str
    ) -> Answer | tuple[Caller, DeploymentRecord, str, dict[str, Any]]:
        """What deploy-now and rollback both start with: an IAM-authorized caller, a reason (one line, bounded)
        and the deployment's record; or the answer that refuses the request."""
        if caller is None or not caller.arn:
            return _unauthenticated()
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            return Answer(400, "Reason required", "say why (it is recorded on the deployment with your identity)")
        record = self.records.get(deployment_id)
        if record is None:
            return Answer(404, "Deployment not found", f"there is no deployment {deployment_id}")
        return caller, record, reason, {"deployment_id": record.id, "principal": caller.arn, "reason": reason}

    def deploy_now(self, caller: Caller | None, deployment_id: str, reason: str) -> Answer:
        # deploy-now's own modules (the registry, release controls, override signing) load on its first call:
        # approve and reject, most of this function's calls, never need them.
        from ecs_handoff.approvals.overrides import OverrideClaims, sign
        from ecs_handoff.aws.registry import load_service
        from ecs_handoff.logic.gate import override_allowed

        asked = self._on_call_request(caller, deployment_id, reason)
        if isinstance(asked, Answer):
            return asked
        caller, record, reason, details = asked
        if record.outcome.terminal or record.phase is None or not record.phase.held:
            now = record.outcome.value if record.outcome.terminal else (record.phase or "starting")
            return Answer(
                409,
                "Not held",
                f"deployment {record.id} is not held by a release control (it is {now}); nothing to override",
                {**details, "granted": False},
            )
        try:
            config = load_service(self.registry_prefix, record.service)
        except ArtifactRejected as exc:
            return Answer(409, "Service not registered", str(exc), {**details, "granted": False})
        details["poll_seconds"] = config.gate_poll_seconds
        if not override_allowed(caller.arn, config.override_principals):
            logger.warning("operator refused", principal=caller.arn, deployment_id=record.id, why="not on call")
            return Answer(
                403,
                "Not allowed to override",
                f"{caller.arn} may not override the release controls of {record.service} in {record.env}: it is "
                "not in the registry entry's override_principals",
                {**details, "granted": False},
            )
        claims = OverrideClaims(record.id, caller.arn, reason, iso(self.now()))
        granted = self.overrides().grant(claims, sign(self.key(), claims), int(time.time()) + OVERRIDE_KEEP_SECONDS)
        if not granted:
            return Answer(
                409,
                "Already overridden",
                f"{record.id} already has a deploy-now; the first one stands",
                {**details, "granted": False},
            )
        self.records.append_note(record.id, f"{claims.at} deploy-now by {caller.arn}: {reason}")
        logger.info("deploy-now recorded", deployment_id=record.id, principal=caller.arn, reason=reason)
        return Answer(
            200,
            "Deploy-now recorded",
            f"it starts at its next look (within {config.gate_poll_seconds} s)",
            {**details, "granted": True},
        )

    # -- rollback during a blue/green, linear or canary deployment ----------------------------------------

    def rollback(self, caller: Caller | None, deployment_id: str, reason: str) -> Answer:
        """StopServiceDeployment(ROLLBACK) on the ECS service deployment that runs this deployment's revision:
        ECS moves production and test traffic back to blue at once, then cleans up. Who may: the registry
        entry's override_principals (as for deploy-now). Which service deployment: found in ECS (the
        service's running deployments whose target revision runs the record's new task definition), never
        named by the caller."""
        from ecs_handoff.aws import traffic_hooks
        from ecs_handoff.aws.registry import load_service
        from ecs_handoff.logic.gate import override_allowed

        asked = self._on_call_request(caller, deployment_id, reason)
        if isinstance(asked, Answer):
            return asked
        caller, record, reason, details = asked
        if record.outcome.terminal:
            return Answer(
                409,
                "Not in progress",
                f"deployment {record.id} ended {record.outcome.value}; roll back by deploying an earlier release "
                "(`handoff rollback` without a running deployment does)",
                {**details, "stopped": False},
            )
        try:
            config = load_service(self.registry_prefix, record.service)
        except ArtifactRejected as exc:
            return Answer(409, "Service not registered", str(exc), {**details, "stopped": False})
        if not override_allowed(caller.arn, config.override_principals):
            logger.warning("operator refused", principal=caller.arn, deployment_id=record.id, why="not on call")
            return Answer(
                403,
                "Not allowed to roll back",
                f"{caller.arn} may not roll back deployments of {record.service} in {record.env}: it is not in the "
                "registry entry's override_principals",
                {**details, "stopped": False},
            )
        running = self._service_deployment_of(record.new_task_definition, config.cluster, config.service)
        if running is None:
            return Answer(
                409,
                "Not in progress",
                f"ECS runs no blue/green, linear or canary deployment of {record.id}'s revision on {config.service} "
                f"(it is {record.phase or 'starting'}); nothing to stop",
                {**details, "stopped": False},
            )
        if not traffic_hooks.stop_service_deployment(running, self.ecs):
            return Answer(
                409,
                "Not in progress",
                f"{running} ended while this request was on its way; nothing to stop",
                {**details, "stopped": False},
            )
        self.records.append_note(record.id, f"{iso(self.now())} rollback by {caller.arn}: {reason} ({running} stopped)")
        logger.info("rollback requested", deployment_id=record.id, principal=caller.arn, service_deployment=running)
        return Answer(
            200,
            "Rollback started",
            "ECS moves production and test traffic back to the previous revision now, then cleans up",
            {**details, "service_deployment": running, "stopped": True},
        )

    def _service_deployment_of(self, task_definition: str | None, cluster: str, service: str) -> str | None:
        """The service deployment ECS runs now (PENDING or IN_PROGRESS) whose target revision runs
        `task_definition`, or None."""
        from ecs_handoff.aws import service_deployments, traffic_hooks

        if not task_definition:
            return None
        running = traffic_hooks.list_active_service_deployments(cluster, service, self.ecs)
        targets = service_deployments.revision_task_definitions(  # one call for all of them
            [str(d["targetServiceRevisionArn"]) for d in running if d.get("targetServiceRevisionArn")], self.ecs
        )
        for listed in running:
            if targets.get(str(listed.get("targetServiceRevisionArn", ""))) == task_definition:
                return str(listed["serviceDeploymentArn"])
        return None

    # -- attest (`handoff promote`) ----------------------------------------------------------------------

    def attest(self, caller: Caller | None, deployment_id: str) -> Answer:
        """A signed statement of what this environment proved about one of its deployments. Nothing in the
        request but the deployment id is read: the statement is re-derived from the records and ECS."""
        from ecs_handoff.logic.promotion import PromotionRefused

        if caller is None or not caller.arn:
            return _unauthenticated()
        if self.attestor is None:
            return Answer(501, "Promotion not configured", "this environment has no promotion key")
        details: dict[str, Any] = {"deployment_id": deployment_id, "principal": caller.arn}
        try:
            attestation = self.attestor().attest(deployment_id)
        except PromotionRefused as exc:
            logger.warning("promotion refused", principal=caller.arn, deployment_id=deployment_id, why=str(exc))
            return Answer(exc.status, "Not promotable", str(exc), details)
        logger.info("promotion statement issued", principal=caller.arn, deployment_id=deployment_id)
        return Answer(
            200,
            "Statement signed",
            f"{deployment_id} soaked {attestation.predicate.soaked_seconds} s in {attestation.predicate.environment}",
            {**details, "envelope": attestation.envelope, "predicate": attestation.predicate.model_dump(mode="json")},
        )


def _unauthenticated() -> Answer:
    # API Gateway answers an unsigned request itself; reaching here without a caller means the route was
    # deployed without AWS_IAM authorization (`handoff doctor` checks it): refuse rather than guess.
    return Answer(403, "Not IAM-authorized", "this route must use AWS_IAM authorization; nothing was recorded")
