"""`approve`, `reject` and `deploy-now` from the terminal: requests to the environment's operator API,
signed with SigV4 by your AWS credentials. The server decides who you are (from API Gateway's IAM
authorization), whether you may (approver_principals, override_principals, the uploader rule) and whether
the approval or deployment still allows it; you need only execute-api:Invoke on its routes."""

from __future__ import annotations

import argparse
import re
import sys

from ecs_handoff.errors import AwsAccessError, NotFound
from ecs_handoff.models import approval_id_for

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env, OperatorAnswer
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK, UsageError
from ecs_handoff_cli.follow import find_deployment

APPROVAL_ID = re.compile(r"^[0-9a-f]{32}$")


def approval_id_of(env: Env, ident: str) -> str:
    """The approval an id names: an approval id as it is; a deployment id (or short id) through its record,
    when you may read the deployments table (`handoff watch` needs that too); without that right, a full
    deployment id's approval id (one approval per deployment: the id follows from it)."""
    if APPROVAL_ID.match(ident):
        return ident
    try:
        _, record = find_deployment(ident, env.name)
    except AwsAccessError:
        return approval_id_for(ident)
    except NotFound as exc:
        raise NotFound(f"no approval {ident!r} in {env.name}, nor a deployment of that id waiting for one") from exc
    if record.approval_id is None and not record.outcome.terminal and record.phase != "awaiting_approval":
        raise NotFound(
            f"deployment {record.id} in {env.name} has not asked for an approval "
            f"(it is {record.phase or 'starting'}); "
            f"`handoff watch {record.id} --env {env.name}` shows when it does"
        )
    return record.approval_id or approval_id_for(record.id)


def refused(answer: OperatorAnswer) -> None:
    """Raises what an operator API refusal means for the exit code: API Gateway's own 403 (no signature it
    accepts, or no execute-api:Invoke on the route) is an AWS access error; the function's 400/403 (not an
    approver, the uploader, no reason) a usage error; 404 not found. Other refusals (409 already decided,
    410 expired) are printed by the command, which exits 1."""
    if answer.refused_by_api_gateway:
        raise AwsAccessError(f"the operator API refused the request (API Gateway, IAM): {answer.text}")
    if answer.status in (400, 403):
        raise UsageError(answer.body.get("message") or answer.text)
    if answer.status == 404:
        raise NotFound(answer.body.get("message") or answer.text)


def cmd_decide(args: argparse.Namespace) -> int:
    env = Env(args.env)
    approval_id = approval_id_of(env, args.approval_id)
    answer = env.operator_api(f"/approvals/{approval_id}/{args.command}", {"comment": args.comment or ""})
    refused(answer)
    said = answer.body
    done = {"approve": "approved", "reject": "rejected"}[args.command]
    if args.json:
        show.print_json(
            {
                "ok": answer.status < 400,
                "decision": args.command,
                "approval_id": said.get("approval_id", approval_id),
                "deployment_id": said.get("deployment_id"),
                "service": said.get("service"),
                "env": said.get("env", env.name),
                "approver": said.get("approver"),
                "principal": said.get("principal"),
                "message": answer.text,
            }
        )
    elif answer.status >= 400:
        print(f"handoff: {answer.text}", file=sys.stderr)
    else:
        print(
            f"{done} {said.get('service')} in {said.get('env')} (deployment {said.get('deployment_id')}) "
            f"as {said.get('approver')} ({said.get('principal')}): {said.get('message')}"
        )
    return EXIT_FAILED if answer.status >= 400 else EXIT_OK


def cmd_deploy_now(args: argparse.Namespace) -> int:
    """Let a deployment held by a release control start at its next look, with a reason. The operator API
    checks that you are in the registry entry's override_principals and that the deployment is held, and
    records a signed override the gate verifies."""
    if not args.reason.strip():
        raise UsageError("say why with --reason (it is recorded on the deployment)")
    try:
        env, record = find_deployment(args.deployment_id, args.env)
        deployment_id = record.id
    except AwsAccessError:  # no read rights on the deployments table: the full id is needed then
        env, deployment_id = Env(args.env), args.deployment_id
    answer = env.operator_api(f"/deployments/{deployment_id}/deploy-now", {"reason": args.reason})
    refused(answer)
    said = answer.body
    if args.json:
        show.print_json({k: said.get(k) for k in ("deployment_id", "principal", "reason", "granted", "poll_seconds")})
    elif answer.status < 400:
        print(
            f"deploy-now recorded for {said.get('deployment_id')} by {said.get('principal')}: {said.get('reason')}; "
            f"it starts at its next look (within {said.get('poll_seconds')} s)"
        )
    else:
        print(f"handoff: {said.get('message') or answer.text}", file=sys.stderr)
    return EXIT_OK if answer.status < 400 else EXIT_FAILED
