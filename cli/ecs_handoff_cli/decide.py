"""`approve` and `reject` from the terminal, recorded with the caller's IAM identity."""

from __future__ import annotations

import argparse
import sys

from ecs_handoff.errors import NotFound
from ecs_handoff.models import Approval, approval_id_for

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env, UsageError
from ecs_handoff_cli.follow import EXIT_FAILED, EXIT_OK, find_deployment


def find_approval(env: Env, ident: str) -> Approval:
    """An approval by its id, or by the id (or short id) of the deployment waiting for it."""
    store = env.approvals()
    approval: Approval | None = store.get(ident)
    if approval is None:
        try:
            _, record = find_deployment(ident, env.name)
        except NotFound as exc:
            raise NotFound(f"no approval {ident!r} in {env.name}, nor a deployment of that id waiting for one") from exc
        approval = store.get(record.approval_id or approval_id_for(record.id))
        if approval is None and not record.outcome.terminal:
            raise NotFound(
                f"deployment {record.id} in {env.name} has not asked for an approval "
                f"(it is {record.phase or 'starting'}); "
                f"`handoff watch {record.id} --env {env.name}` shows when it does"
            )
        if approval is None:
            raise NotFound(f"deployment {record.id} in {env.name} ended {record.outcome.value} without an approval")
    return approval


def cmd_decide(args: argparse.Namespace) -> int:
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.logic.approval_decision import ApprovalDesk, approver_for_principal
    from ecs_handoff.models import ApprovalVote, iso, utcnow

    env = Env(args.env)
    approval = find_approval(env, args.approval_id)
    with aws_call("finding who you are (sts:GetCallerIdentity)"):
        identity = str(client("sts").get_caller_identity()["Arn"])
    approver = approver_for_principal(approval, identity)
    if approver is None:
        raise UsageError(
            f"{identity} may not decide approvals of {approval.service_id} in {args.env}: it is not in the "
            "registry entry's approver_principals (approvers decide with their link, or Terraform lists their role)"
        )
    if args.command == "approve" and approval.ci is not None and approval.ci.uploader == identity:
        raise UsageError(f"{identity} uploaded this deployment and cannot approve it too")
    vote = ApprovalVote(
        approver=approver,
        principal=identity,
        decision=args.command,
        comment=args.comment or "",
        at=iso(utcnow()),
        via="cli",
    )
    result = ApprovalDesk(env.approvals(), env.records(), key=None).apply(approval, vote)
    done = {"approve": "approved", "reject": "rejected"}[args.command]
    if args.json:
        show.print_json(
            {
                "ok": result.status < 400,
                "decision": args.command,
                "approval_id": approval.approval_id,
                "deployment_id": approval.deployment_id,
                "service": approval.service_id,
                "env": approval.env,
                "approver": approver,
                "principal": identity,
                "message": f"{result.title}: {result.text}",
            }
        )
    elif result.status >= 400:
        print(f"handoff: {result.title}: {result.text}", file=sys.stderr)
    else:
        print(
            f"{done} {approval.service_id} in {approval.env} (deployment {approval.deployment_id}) "
            f"as {approver} ({identity}): {result.text}"
        )
    return EXIT_FAILED if result.status >= 400 else EXIT_OK


def cmd_deploy_now(args: argparse.Namespace) -> int:
    """Let a deployment held by a release control start at its next look, as your IAM identity, with a
    reason; only principals in the registry entry's override_principals may."""
    import time as clock

    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.aws.release_controls import Overrides
    from ecs_handoff.logic.gate import override_allowed
    from ecs_handoff.models import iso, utcnow

    if not args.reason.strip():
        raise UsageError("say why with --reason (it is recorded on the deployment)")
    env, record = find_deployment(args.deployment_id, args.env)
    if record.outcome.terminal or record.phase is None or not record.phase.held:
        now = record.outcome.value if record.outcome.terminal else record.phase
        raise UsageError(f"deployment {record.id} is not held by a release control (it is {now}); nothing to override")
    config = env.service(record.service)
    with aws_call("finding who you are (sts:GetCallerIdentity)"):
        identity = str(client("sts").get_caller_identity()["Arn"])
    if not override_allowed(identity, config.override_principals):
        raise UsageError(
            f"{identity} may not override the release controls of {record.service} in {env.name}: it is not in "
            "the registry entry's override_principals"
        )
    reason = " ".join(args.reason.split())[:500]
    at = iso(utcnow())
    granted = Overrides(env.outputs["StateTableName"]).grant(
        record.id, identity, reason, at, int(clock.time()) + 7 * 86400
    )
    if granted:
        env.records().append_note(record.id, f"{at} deploy-now by {identity}: {reason}")
    said = {
        "deployment_id": record.id,
        "principal": identity,
        "reason": reason,
        "granted": granted,
        "poll_seconds": config.gate_poll_seconds,
    }
    if args.json:
        show.print_json(said)
    elif granted:
        print(
            f"deploy-now recorded for {record.id} by {identity}: {reason}; it starts at its next look "
            f"(within {config.gate_poll_seconds} s)"
        )
    else:
        print(f"handoff: {record.id} already has a deploy-now; the first one stands", file=sys.stderr)
    return EXIT_OK if granted else EXIT_FAILED
