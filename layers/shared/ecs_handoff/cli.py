"""The `handoff` command: deployment history today; works against AWS or the embedded AWS alike."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ecs_handoff.errors import AwsAccessError, HandoffError, NotFound, TransientAwsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_AWS = 0, 1, 2, 3, 4
LOCAL_STATE = Path(".handoff") / "local.json"


class UsageError(HandoffError):
    """The command line or a file given to it is wrong."""


def stack_outputs(env: str) -> dict[str, str]:
    """An environment's resources, from the outputs of its stack handoff-<env>."""
    from ecs_handoff.aws.clients import aws_call, client

    stack = f"handoff-{env}"
    try:
        with aws_call(f"reading stack {stack}"):
            stacks = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except AwsAccessError as exc:
        if "does not exist" in str(exc):
            raise NotFound(f"environment {env!r} has no stack {stack} in this account and region") from exc
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def use_local(path: Path = LOCAL_STATE) -> None:
    """Point every AWS call at the embedded AWS that `handoff local up` is running."""
    if not path.exists():
        raise NotFound(f"{path} does not exist; start the embedded AWS with `handoff local up` first")
    local = json.loads(path.read_text(encoding="utf-8"))
    os.environ["AWS_ENDPOINT_URL"] = local["aws_endpoint"]
    os.environ["AWS_DEFAULT_REGION"] = local["region"]
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def cmd_history(args: argparse.Namespace) -> int:
    from ecs_handoff.aws.records import DeploymentRecords

    outputs = stack_outputs(args.env)
    records = DeploymentRecords(outputs["DeploymentsTableName"]).history(args.env, args.service, args.limit)
    if args.service and not records:
        known = _known_services(outputs)
        if args.service not in known:
            raise NotFound(
                f"service {args.service!r} is not registered in {args.env}; registered: {', '.join(known) or 'none'}"
            )
    if args.json:
        print(json.dumps([r.summary() for r in records], indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    from ecs_handoff.taskdef import short_name

    table = Table(title=f"handoff {args.env}" + (f" / {args.service}" if args.service else ""), show_lines=False)
    for column in ("started", "service", "outcome", "revision", "version"):
        table.add_column(column, no_wrap=True)
    table.add_column("images", overflow="fold")
    table.add_column("reason", overflow="fold")
    colours = {"SUCCEEDED": "green", "FAILED": "red", "INVALID": "red", "REJECTED": "yellow", "EXPIRED": "yellow"}
    for r in records:
        images = "\n".join(f"{c.container}={c.image_after.rsplit('/', 1)[-1]}" for c in r.images)
        colour = colours.get(r.outcome.value, "cyan")
        table.add_row(
            r.started_at.replace("T", " ")[:19],
            r.service,
            f"[{colour}]{r.outcome.value}[/]",
            short_name(r.new_task_definition) if r.new_task_definition else "-",
            (r.object_version or "-")[:12],
            images,
            r.reason,
        )
    Console().print(table)
    if not records:
        print("no deployments recorded yet")
    return EXIT_OK


def _known_services(outputs: dict[str, str]) -> list[str]:
    from ecs_handoff.aws.registry import list_service_ids

    return list_service_ids(outputs["RegistryPrefix"])


def cmd_decide(args: argparse.Namespace) -> int:
    """approve / reject from the command line, recorded with the caller's IAM identity."""
    from ecs_handoff.aws.approvals import ApprovalStore
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.aws.records import DeploymentRecords
    from ecs_handoff.logic.approval_decision import ApprovalDesk
    from ecs_handoff.models import ApprovalVote, iso, utcnow

    outputs = stack_outputs(args.env)
    store = ApprovalStore(outputs["ApprovalsTableName"])
    approval = store.get(args.approval_id)
    if approval is None:
        raise NotFound(f"approval {args.approval_id!r} does not exist in {args.env}")
    with aws_call("finding who you are (sts:GetCallerIdentity)"):
        identity = str(client("sts").get_caller_identity()["Arn"])
    vote = ApprovalVote(
        approver=identity, decision=args.command, comment=args.comment or "", at=iso(utcnow()), via="cli"
    )
    desk = ApprovalDesk(store, DeploymentRecords(outputs["DeploymentsTableName"]), key=None)
    result = desk.apply(approval, vote)
    if result.status >= 400:
        print(f"handoff: {result.title}: {_page_text(result.html)}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"{args.command}d {approval.service_id} in {approval.env} (deployment {approval.deployment_id}) as {identity}"
    )
    return EXIT_OK


def _page_text(html: str) -> str:
    import re

    match = re.search(r"<p>(.*?)</p>", html)
    return match.group(1) if match else html


def cmd_local_up(args: argparse.Namespace) -> int:
    try:
        from ecs_handoff_embedded.local import serve
    except ImportError as exc:
        raise UsageError("the embedded AWS needs the local extra: pip install 'ecs-handoff[local]'") from exc
    return serve(port=args.port, rollout_seconds=args.rollout_seconds)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff",
        description="Continuous delivery for Amazon ECS. Exit codes: 0 ok, 1 deployment failed or refused, "
        "2 usage or input error, 3 not found, 4 AWS access error.",
    )
    parser.add_argument("--local", action="store_true", help=f"use the embedded AWS described by {LOCAL_STATE}")
    parser.add_argument("--debug", action="store_true", help="show the full error with its traceback")
    commands = parser.add_subparsers(dest="command", required=True)

    history = commands.add_parser("history", help="deployments of an environment, newest first")
    history.add_argument("--env", required=True)
    history.add_argument("--service")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true", help="print a JSON array")
    history.set_defaults(func=cmd_history)

    for verb in ("approve", "reject"):
        decide = commands.add_parser(verb, help=f"{verb} a deployment waiting for approval, as your IAM identity")
        decide.add_argument("approval_id")
        decide.add_argument("--env", required=True)
        decide.add_argument("--comment", default="")
        decide.set_defaults(func=cmd_decide)

    local = commands.add_parser("local", help="the embedded AWS (no account, no Docker)")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    up = local_commands.add_parser("up", help="run the embedded AWS in the foreground until Ctrl-C")
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument("--rollout-seconds", type=float, default=1.0, help="how long a simulated ECS rollout takes")
    up.set_defaults(func=cmd_local_up)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.local:
            use_local()
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.debug:
            raise
        code = _exit_code(exc)
        print(f"handoff: error: {_one_line(exc)}", file=sys.stderr)
        return code


def _exit_code(exc: Exception) -> int:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, AwsAccessError | TransientAwsError | ClientError | BotoCoreError | NoCredentialsError):
        return EXIT_AWS
    return EXIT_FAILED


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
