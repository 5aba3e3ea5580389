"""Deploy step: register Terraform's base with the new images, then point the service at it.

The step trusts nothing its input says: anyone allowed to invoke it (or to start the workflow, or to end its
approval wait with a task token) could have written that input. Before it changes anything it re-derives what
to deploy (authorize): the record, the registry entry and Terraform's base (logic/authority.py), then what
only the workflow's own path gives a deployment: the service's lock, release controls that let it start (or
a signed deploy-now), and, where approval is required, the approval as the approval functions recorded it.
A mismatch is DeploymentRefused, naming it; nothing is registered or updated.

Safe to retry: the new revision carries this deployment's id as a tag, and a retry asks ECS what the first
attempt did (its revision; whether the service already runs it) instead of doing it twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_handoff import principals
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.release_controls import Overrides
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import ArtifactRejected, DeployFailed, DeploymentRefused, HandoffError, TransientAwsError
from ecs_handoff.logic import gate
from ecs_handoff.logic.authority import Where, derive
from ecs_handoff.logic.service_deployments import approval_hook_problem
from ecs_handoff.models import (
    ApprovalStatus,
    ApprovalVote,
    DeploymentRecord,
    DeploymentRequest,
    DeployResult,
    ImageChange,
    ImageDefinition,
    Outcome,
    Phase,
    ServiceConfig,
    VoteDecision,
    approval_id_for,
    iso,
    utcnow,
)
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import TAG_DEPLOYMENT_ID, render, revision_changes, short_name, with_requested

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import CloudWatchClient, ECSClient, SSMClient


@dataclass(frozen=True)
class Authorized:
    """What the deploy step may do, as it re-derived it: never taken from its input."""

    config: ServiceConfig  # the registry entry (with the environment's approval floor)
    images: list[ImageDefinition]  # as the intake validated and pinned them
    registration: dict[str, Any]  # Terraform's base with those images, rendered here
    base_task_definition: str
    record: DeploymentRecord


@dataclass(frozen=True)
class Guards:
    """The tables and keys the deploy step reads its authority from, besides the record and the registry."""

    approvals: ApprovalStore
    state: ServiceState
    overrides: Overrides
    signing_key: Callable[[], bytes]  # verifies a deploy-now's signature (read only when one is stored)


def authorize(
    request: DeploymentRequest,
    where: Where,
    records: DeploymentRecords,
    guards: Guards,
    attempt: int = 0,
    ecs_client: ECSClient | None = None,
    ssm_client: SSMClient | None = None,
    cloudwatch_client: CloudWatchClient | None = None,
    now: gate.Clock = utcnow,
) -> Authorized:
    """Re-derives the deployment (logic/authority.py) and checks what only the workflow's own path gives it:
    it holds its service's lock, it has not deployed already (a retry excepted), its release controls let it
    start (or a deploy-now the operator API signed does), and, where approval is required, the approvers
    approved exactly these images. DeploymentRefused, naming what did not hold, otherwise."""
    me = request.deployment_id
    derived = derive(request, where, records, ecs_client, ssm_client)
    record, config = derived.record, derived.config
    holder = guards.state.lock_holder(record.service)
    if holder != me:
        raise DeploymentRefused(
            f"deployment {me} does not hold the lock of {record.service} "
            f"({'held by ' + holder if holder else 'nobody holds it'}): only the workflow's own path deploys"
        )
    if (record.new_task_definition or record.deploy_claimed_at) and attempt == 0:
        raise DeploymentRefused(
            f"deployment {me} was already deployed (at {record.deploy_claimed_at or '?'}); "
            "a deployment deploys once (a retried step finds what it did)"
        )
    if not (attempt > 0 and record.deploy_claimed_at):
        # A retry after the claim finishes what that attempt started (it may have updated the service already):
        # the release controls held it back then; refusing now (say the new tasks set an alarm off) would end
        # the deployment "nothing was deployed" with a new revision running and no rollback.
        _check_release_controls(config, me, guards, now(), cloudwatch_client, ssm_client)
    if config.approves_before_production_traffic:
        # No approval yet: the approvers decide while ECS holds the new revision at its PAUSE hook, so that hook
        # must be there now (Terraform may have changed the service since the upload), or nothing deploys.
        described = ecs_access.describe_service(config.cluster, config.service, ecs_client)
        problem = approval_hook_problem(described, config.approval_timeout_seconds)
        if problem is not None:
            raise DeploymentRefused(f"its approvers decide before production traffic, but {problem}")
    elif config.approval_required:
        check_approval(me, config, derived.images, guards.approvals)
    object_version = record.source.object_version if record.source else ""
    registration = render(derived.base, derived.base_tags, derived.images, me, object_version)
    return Authorized(config, derived.images, registration, str(derived.base["taskDefinitionArn"]), record)


def _check_release_controls(
    config: ServiceConfig,
    me: str,
    guards: Guards,
    now: datetime,
    cloudwatch_client: CloudWatchClient | None,
    ssm_client: SSMClient | None,
) -> None:
    """The release gate's own check, again: a direct invocation, or an execution started with the gate
    skipped, must not deploy while an alarm fires or a window is closed."""
    if not (config.deploy_windows or config.change_calendar or config.blocking_alarms):
        return
    try:
        held = gate.holds(config, now, cloudwatch_client, ssm_client)
    except ArtifactRejected as exc:
        raise DeploymentRefused(str(exc)) from exc
    if not held:
        return
    claims, _ = gate.verified_override(guards.overrides, me, config.override_principals, guards.signing_key)
    if claims is None:
        reasons = "; ".join(h.reason for h in held)
        raise DeploymentRefused(f"its release controls hold it ({reasons}), and no deploy-now lets it start")


def check_approval(
    deployment_id: str, config: ServiceConfig, images: list[ImageDefinition], approvals: ApprovalStore
) -> None:
    """The approval as the approval functions recorded it (a consistent read), never the wait's output: for
    this deployment, APPROVED, by enough distinct registry approvers whose votes are recorded (those cast
    from the CLI by a principal the registry maps to them), for exactly the images that would run."""
    approval = approvals.get(approval_id_for(deployment_id))
    if approval is None or approval.deployment_id != deployment_id:
        raise DeploymentRefused(f"deployment {deployment_id} needs approval and none was requested or recorded")
    if approval.status is not ApprovalStatus.APPROVED:
        raise DeploymentRefused(
            f"the approval wait ended, but the approval is {approval.status.value}, not APPROVED: the wait was "
            "ended by something other than the approvers' decision"
        )
    approvers = {a.lower() for a in config.approvers}
    mapped = {pattern: who.lower() for pattern, who in config.approver_principals.items()}
    if {p: w.lower() for p, w in approval.approver_principals.items()} != mapped:
        raise DeploymentRefused("the approval's approver_principals are not the registry entry's")
    # Who cast each approver's vote: the link's approver, or the IAM identity behind a CLI vote. Sessions of
    # one role are one identity (a session name is whatever the caller chose), so one person holding a role
    # cannot count as two approvers by naming two sessions.
    cast_by: dict[str, str] = {}
    for vote in approval.votes:
        if vote.decision is VoteDecision.APPROVE and _vote_holds(vote, mapped):
            who = principals.identity(vote.principal) if vote.principal else f"link:{vote.approver.lower()}"
            cast_by.setdefault(vote.approver.lower(), who)
    people = [a for a in dict.fromkeys(a.lower() for a in approval.approved_by) if a in cast_by and a in approvers]
    identities = {cast_by[a] for a in people}
    required = max(config.approvals_required, approval.approvals_required)
    if len(identities) < required:
        shared = " (two of them cast by one IAM identity)" if len(identities) < len(people) else ""
        raise DeploymentRefused(
            f"the approval has {len(identities)} recorded approval(s) from distinct registry approvers "
            f"({', '.join(people) or 'none'}){shared}; {required} required"
        )
    if [i.model_dump() for i in approval.images or []] != [i.model_dump() for i in images]:
        raise DeploymentRefused("what was approved is not what would run: the approval names other images")


def _vote_holds(vote: ApprovalVote, mapped: dict[str, str]) -> bool:
    """A link vote is bound to its approver by the link's signature; a CLI vote counts only if the principal
    AWS authenticated is one the registry maps to that approver now."""
    if not vote.principal:
        return vote.via == "link"
    pattern = principals.matching(vote.principal, list(mapped))
    return pattern is not None and mapped[pattern] == vote.approver.lower()


def deploy(
    request: DeploymentRequest,
    allowed: Authorized,
    records: DeploymentRecords,
    ecs_client: ECSClient | None = None,
    attempt: int = 0,
) -> DeployResult:
    """Deploys what authorize() allowed. The lock's lease was taken long enough for the approval wait plus the
    rollout, and the rollout's looks renew it, so this step does not."""
    config, me = allowed.config, request.deployment_id
    if attempt > 0:
        done = _done_by_earlier_attempt(records, me, config)
        if done is not None:
            return done
    if attempt == 0 and not records.claim_deploy(me, iso(utcnow())):
        raise DeploymentRefused(f"another invocation is deploying {me} already; a deployment deploys once")
    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    new_arn = None
    if attempt > 0:  # an earlier attempt may have registered, and even updated, before it could record
        new_arn = ecs_access.find_revision_tagged(allowed.base_task_definition, TAG_DEPLOYMENT_ID, me, ecs_client)
    ecs_deployment_id = _ours_running(service, new_arn)
    previous = _previous(service, new_arn, request) if ecs_deployment_id else str(service["taskDefinition"])
    spec = allowed.registration
    if new_arn:
        logger.warning("reusing the revision an earlier attempt registered", task_definition=new_arn)
    else:
        new_arn = ecs_access.register_task_definition(spec, ecs_client)
        logger.info("task definition registered", task_definition=new_arn)
    changes, other_changes = _changes_from(previous, spec, request, ecs_client)
    deployed_at = iso(utcnow())
    if not ecs_deployment_id:
        ecs_deployment_id = ecs_access.update_service(config.cluster, config.service, new_arn, ecs_client)
        logger.info("service updated", ecs_deployment_id=ecs_deployment_id, task_definition=short_name(new_arn))
    deployed = _result(config, new_arn, previous, ecs_deployment_id, deployed_at, changes)
    _record_or_undo(records, me, config, deployed, other_changes, ecs_client)
    return deployed


def _done_by_earlier_attempt(records: DeploymentRecords, me: str, config: ServiceConfig) -> DeployResult | None:
    """What an earlier attempt of this step deployed and recorded (a retry returns it), or None."""
    record = records.get(me)
    if record is None or not record.ecs_deployment_id or not record.new_task_definition:
        return None
    logger.info("an earlier attempt finished this step", ecs_deployment_id=record.ecs_deployment_id)
    return _result(
        config,
        record.new_task_definition,
        str(record.previous_task_definition),
        record.ecs_deployment_id,
        record.timeline.get("deploying", ""),
        record.images,
    )


def _changes_from(
    previous: str, spec: dict[str, Any], request: DeploymentRequest, ecs_client: ECSClient | None
) -> tuple[list[ImageChange], list[str] | None]:
    """The images changed from the revision the service ran before, and, when another deployment ran since the
    intake looked, the other changes too (None: keep what intake and approval found)."""
    moved_on = previous != request.running_task_definition  # another deployment ran since the intake looked
    if moved_on:
        running, _ = ecs_access.describe_task_definition(previous, ecs_client)
    else:  # the images are all this step compares; the rest was compared at intake and approval
        running = {"containerDefinitions": [{"name": k, "image": v} for k, v in request.running_images.items()]}
    changes, other_changes = revision_changes(running, spec)
    return with_requested(changes, request.pinned_from), other_changes if moved_on else None


def _record_or_undo(
    records: DeploymentRecords,
    me: str,
    config: ServiceConfig,
    deployed: DeployResult,
    other_changes: list[str] | None,
    ecs_client: ECSClient | None,
) -> None:
    """Records what was deployed; when that fails for good, puts the service back and fails (nobody could roll
    back a change the record does not show)."""
    try:
        records.update(
            me,
            phase=Phase.DEPLOYING,
            at=deployed.deployed_at,
            new_task_definition=deployed.new_task_definition,
            previous_task_definition=deployed.previous_task_definition,  # where rollback returns
            ecs_deployment_id=deployed.ecs_deployment_id,
            images=deployed.images,
            other_changes=other_changes,  # None: keep what intake and approval found
            outcome=Outcome.IN_PROGRESS,  # past the approval gate, if there was one
        )
    except TransientAwsError:
        raise  # retried: the retry finds the service on this revision and records it
    except HandoffError as exc:
        previous = deployed.previous_task_definition
        ecs_access.update_service(config.cluster, config.service, previous, ecs_client)
        raise DeployFailed(
            f"the deployment could not be recorded ({exc}); the service was put back on {short_name(previous)}"
        ) from exc


def _result(
    config: ServiceConfig,
    new_arn: str,
    previous: str,
    ecs_deployment_id: str,
    deployed_at: str,
    images: list[ImageChange],
) -> DeployResult:
    return DeployResult(
        new_task_definition=new_arn,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_deployment_id,
        deployed_at=deployed_at or iso(utcnow()),
        check_every_seconds=config.rollout_check_every,
        max_failed_checks=max(1, config.rollout_timeout_seconds // config.rollout_check_every),
        images=images,
    )


def _ours_running(service: dict[str, Any], new_arn: str | None) -> str | None:
    """The ECS deployment of new_arn, when an earlier attempt already pointed the service at it."""
    if not new_arn or service.get("taskDefinition") != new_arn:
        return None
    primary = [d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"]
    return next((str(d["id"]) for d in primary if d.get("taskDefinition") == new_arn), None)


def _previous(service: dict[str, Any], new_arn: str | None, request: DeploymentRequest) -> str:
    """What ran before an earlier attempt's UpdateService: the newest other deployment ECS still lists,
    else what the intake saw running."""
    others = sorted(
        (d for d in service.get("deployments", []) if d.get("taskDefinition") != new_arn),
        key=lambda d: str(d.get("createdAt", "")),
        reverse=True,
    )
    if others:
        return str(others[0]["taskDefinition"])
    return str(request.running_task_definition or service["taskDefinition"])
