"""The `handoff` command for operators; works against AWS or the embedded AWS alike.

One module per command group: follow (history, status, watch), release (upload, rerun, rollback, diff),
decide (approve, reject), doctor; connect finds the AWS and the environment; show prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ecs_handoff.errors import AwsAccessError, NotFound, TransientAwsError

from ecs_handoff_cli.connect import LOCAL_STATE, LOCAL_VARIABLE, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_AWS = 0, 1, 2, 3, 4
EXIT_CODES = (
    "exit codes: 0 ok (watch, upload: the deployment SUCCEEDED); 1 the deployment failed or was refused; "
    "2 usage or input error; 3 not found; 4 AWS access error"
)


def cmd_doctor(args: argparse.Namespace) -> int:
    from ecs_handoff_cli import show
    from ecs_handoff_cli.doctor import diagnose

    findings = diagnose(args.env)
    problems = [f for f in findings if not f.ok]
    if args.json:
        show.print_json({"env": args.env, "ok": not problems, "findings": [f.as_json() for f in findings]})
    else:
        for finding in findings:
            print(f"{'ok     ' if finding.ok else 'PROBLEM'}  {finding.item}: {finding.detail}")
            if finding.fix:
                print(f"         fix: {finding.fix}")
        print(f"{len(findings) - len(problems)} ok, {len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_local_up(args: argparse.Namespace) -> int:
    try:
        from ecs_handoff_embedded.local import serve
    except ImportError as exc:
        raise UsageError("the embedded AWS needs the local extra: pip install 'ecs-handoff[local]'") from exc
    return serve(port=args.port, rollout_seconds=args.rollout_seconds)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ecs-handoff")
    except PackageNotFoundError:
        return "unknown (not installed as a package)"


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return number


def seconds(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds (got {value})")
    return number


def _common() -> argparse.ArgumentParser:
    """Options every command takes, before or after the command's name (defaults are set in main, so a
    value given before the command is not reset by the command's own parser)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("where")
    group.add_argument(
        "--local",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"use the embedded AWS of `handoff local up`: ${LOCAL_VARIABLE}, or the nearest {LOCAL_STATE} "
        "in this folder or above",
    )
    group.add_argument(
        "--profile", default=argparse.SUPPRESS, help="AWS profile (default: $AWS_PROFILE, then the default chain)"
    )
    group.add_argument(
        "--region", default=argparse.SUPPRESS, help="AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, profile)"
    )
    group.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="on error, show the traceback too"
    )
    return common


def _env(parser: argparse.ArgumentParser, required: bool = True) -> None:
    if required:
        parser.add_argument("--env", required=True, help="the environment (stack handoff-<env>)")
    else:
        parser.add_argument("--env", help="the environment (stack handoff-<env>; default: every one)")


def _service(parser: argparse.ArgumentParser, required: bool = True) -> None:
    what = "the service id in the registry" if required else "only this service id (default: all)"
    parser.add_argument("--service", required=required, help=what)


def _json(parser: argparse.ArgumentParser, what: str = "print JSON instead of text") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def _following(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("following the deployment")
    group.add_argument("--interval", type=seconds, default=1.0, help="seconds between looks (default: 1)")
    group.add_argument(
        "--timeout", type=seconds, default=7200.0, help="give up watching after this many seconds (default: 7200)"
    )
    group.add_argument(
        "--wait-for-intake",
        type=seconds,
        default=30.0,
        help="seconds to wait for a new upload's record to appear (default: 30)",
    )


def _uploading(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="run the intake's checks and stop; upload nothing")
    parser.add_argument(
        "--no-wait", action="store_true", help="return once uploaded instead of following the deployment to its end"
    )
    _following(parser)


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="handoff",
        description="Continuous delivery for Amazon ECS: CI uploads imagedefinitions.json, handoff deploys it.",
        epilog=EXIT_CODES,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, func: str) -> argparse.ArgumentParser:
        """func is "module.function" in this package, imported only when the command runs (start-up time)."""
        sub = commands.add_parser(name, help=help, description=help, epilog=EXIT_CODES, parents=[common])
        sub.set_defaults(func=func)
        return sub

    history = command("history", "deployments of an environment, newest first, one line each", "follow.cmd_history")
    _env(history)
    _service(history, required=False)
    history.add_argument("--limit", type=positive, default=20, help="how many deployments (default: 20)")
    history.add_argument("--wide", action="store_true", help="every column, full ids and reasons, nothing cut")
    _json(history, "print a JSON array (the fields are a stable contract)")

    status = command(
        "status",
        "per service: running revision, last outcome, a deployment in flight and what it waits for",
        "follow.cmd_status",
    )
    _env(status, required=False)
    _service(status, required=False)
    status.add_argument("--wide", action="store_true", help="with the running images, nothing cut")
    _json(status)

    watch = command("watch", "follow one deployment to its end (exit 0 only if it SUCCEEDED)", "follow.cmd_watch")
    watch.add_argument("deployment_id", help="the deployment id or its short id (<service>-<8 characters>)")
    _env(watch, required=False)
    _following(watch)
    _json(watch, "print only the final record, as JSON")

    upload = command(
        "upload",
        "check imagedefinitions.json as the intake will, upload it as CI would, follow the deployment",
        "release.cmd_upload",
    )
    upload.add_argument("file", nargs="?", help="the imagedefinitions.json to deploy")
    _env(upload)
    _service(upload)
    upload.add_argument(
        "--print-ci", action="store_true", help="print the equivalent CI step and CI's IAM policy; upload nothing"
    )
    _uploading(upload)
    _json(upload)

    rerun = command(
        "rerun", "re-upload the current metadata (checked again), so one new deployment runs", "release.cmd_rerun"
    )
    _env(rerun)
    _service(rerun)
    _uploading(rerun)
    _json(rerun)

    rollback = command(
        "rollback",
        "deploy again what ran before: an earlier SUCCEEDED deployment, or the revision before the first",
        "release.cmd_rollback",
    )
    _env(rollback)
    _service(rollback)
    rollback.add_argument("--to", help="the deployment (id or short id) to return to (default: the one before)")
    _uploading(rollback)
    _json(rollback)

    diff = command("diff", "what an upload would change against the running revision", "release.cmd_diff")
    diff.add_argument("file", nargs="?", help="imagedefinitions.json (default: the current metadata in S3)")
    _env(diff)
    _service(diff)
    _json(diff)

    for verb in ("approve", "reject"):
        decide_parser = command(
            verb, f"{verb} a deployment waiting for approval, as your IAM identity", "decide.cmd_decide"
        )
        decide_parser.add_argument(
            "approval_id", help="the approval id, or the id (or short id) of the deployment waiting for it"
        )
        _env(decide_parser)
        decide_parser.add_argument(
            "--comment", default="", help="recorded with the decision (a change ticket, a reason)"
        )
        _json(decide_parser, "print the outcome as JSON")

    deploy_now = command(
        "deploy-now",
        "let a deployment held by its release controls (window, calendar, alarm) start now, with a reason",
        "decide.cmd_deploy_now",
    )
    deploy_now.add_argument("deployment_id", help="the held deployment's id or short id")
    _env(deploy_now)
    deploy_now.add_argument("--reason", required=True, help="why (recorded on the deployment with your identity)")
    _json(deploy_now)

    failed = command(
        "failed",
        "events handoff could not process (kept in its queues, never lost): list them, or hand them on again",
        "failed.cmd_failed",
    )
    _env(failed)
    failed.add_argument(
        "--redrive", action="store_true", help="hand each kept event to its function again, then remove it"
    )
    _json(failed)

    doctor = command(
        "doctor",
        "check an installed environment: stack, bucket, rules, registry, services, approvers, IAM",
        "main.cmd_doctor",
    )
    _env(doctor)
    _json(doctor, "findings as JSON")

    local = commands.add_parser("local", help="the embedded AWS (no account, no Docker)", parents=[common])
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="COMMAND")
    up = local_commands.add_parser(
        "up",
        help="run the embedded AWS in the foreground until Ctrl-C",
        description="run the embedded AWS in the foreground until Ctrl-C",
        parents=[common],
    )
    up.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    up.add_argument(
        "--rollout-seconds", type=float, default=1.0, help="how long a simulated ECS rollout takes (default: 1)"
    )
    up.set_defaults(func="main.cmd_local_up")

    completion = command("completion", "print a shell completion script", "main.cmd_completion")
    completion.add_argument(
        "shell", choices=("bash", "zsh", "tcsh"), help='the shell; e.g. eval "$(handoff completion bash)"'
    )
    return parser


def cmd_completion(args: argparse.Namespace) -> int:
    """Generated from this parser by shtab, so completion cannot drift from the commands."""
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))  # nosec B604 - a shell name for shtab; nothing runs
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    if not debug:
        from ecs_handoff.observability import logger

        logger.setLevel("WARNING")  # the functions' structured logs are for CloudWatch, not this terminal
    try:
        if getattr(args, "local", False):
            from ecs_handoff_cli.connect import find_local_state, use_local

            use_local(find_local_state())
        elif getattr(args, "profile", None) or getattr(args, "region", None):
            from ecs_handoff_cli.connect import use_account

            use_account(getattr(args, "profile", None), getattr(args, "region", None))
        return int(_function(args.func)(args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        code = _exit_code(exc)
        print(f"handoff: error: {_one_line(exc)}", file=sys.stderr)
        return code


def _function(name: str) -> Callable[[argparse.Namespace], int]:
    from importlib import import_module

    module, function = name.rsplit(".", 1)
    found: Callable[[argparse.Namespace], int] = getattr(import_module(f"ecs_handoff_cli.{module}"), function)
    return found


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
