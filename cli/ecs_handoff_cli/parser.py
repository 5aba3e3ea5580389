"""The `handoff` command line: every command, its options and the function that runs it.

Each command runs a typed function of its group's module (follow, stats, release, decide, failed, doctor, local),
imported only when that command runs, so `handoff --help` loads neither boto3 nor pydantic."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from ecs_handoff_cli.exits import EXIT_CODES, EXIT_OK
from ecs_handoff_cli.local import LOCAL_STATE, LOCAL_VARIABLE

Run = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]  # what add_subparsers() returns


# --- what each command runs ----------------------------------------------------------------------------


def _history(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.follow import cmd_history

    return cmd_history(args)


def _status(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.follow import cmd_status

    return cmd_status(args)


def _watch(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.follow import cmd_watch

    return cmd_watch(args)


def _stats(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.stats import cmd_stats

    return cmd_stats(args)


def _upload(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.release import cmd_upload

    return cmd_upload(args)


def _rerun(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.release import cmd_rerun

    return cmd_rerun(args)


def _rollback(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.release import cmd_rollback

    return cmd_rollback(args)


def _diff(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.release import cmd_diff

    return cmd_diff(args)


def _promote(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.promote import cmd_promote

    return cmd_promote(args)


def _decide(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.decide import cmd_decide

    return cmd_decide(args)


def _deploy_now(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.decide import cmd_deploy_now

    return cmd_deploy_now(args)


def _failed(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.failed import cmd_failed

    return cmd_failed(args)


def _doctor(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.doctor import cmd_doctor

    return cmd_doctor(args)


def _local_up(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.local import cmd_local_up

    return cmd_local_up(args)


def _completion(args: argparse.Namespace) -> int:
    """Generated from this parser by shtab, so completion cannot drift from the commands."""
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))  # nosec B604 - a shell name for shtab; nothing runs
    return EXIT_OK


# --- option types and the options several commands share ------------------------------------------------


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


def period(value: str) -> timedelta:
    """A span of time as <number><unit>: h hours, d days, w weeks (30d)."""
    units = {"h": "hours", "d": "days", "w": "weeks"}
    number, unit = value[:-1], value[-1:]
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"must be whole hours, days or weeks, like 12h, 30d, 8w (got {value})")
    return timedelta(**{units[unit]: int(number)})


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


def _command(
    commands: Commands, common: argparse.ArgumentParser, name: str, help: str, run: Run
) -> argparse.ArgumentParser:
    sub: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=help, epilog=EXIT_CODES, parents=[common]
    )
    sub.set_defaults(run=run)
    return sub


# --- the commands, one function per group ---------------------------------------------------------------


def _add_reading(commands: Commands, common: argparse.ArgumentParser) -> None:
    """history, status, watch (follow.py), stats (stats.py)."""
    history = _command(
        commands, common, "history", "deployments of an environment, newest first, one line each", _history
    )
    _env(history)
    _service(history, required=False)
    history.add_argument("--limit", type=positive, default=20, help="how many deployments (default: 20)")
    history.add_argument("--wide", action="store_true", help="every column, full ids and reasons, nothing cut")
    _json(history, "print a JSON array (the fields are a stable contract)")

    status = _command(
        commands,
        common,
        "status",
        "per service: running revision, last outcome, a deployment in flight and what it waits for",
        _status,
    )
    _env(status, required=False)
    _service(status, required=False)
    status.add_argument("--wide", action="store_true", help="with the running images, nothing cut")
    _json(status)

    watch = _command(
        commands, common, "watch", "follow one deployment to its end (exit 0 only if it SUCCEEDED)", _watch
    )
    watch.add_argument("deployment_id", help="the deployment id or its short id (<service>-<8 characters>)")
    _env(watch, required=False)
    _following(watch)
    _json(watch, "print only the final record, as JSON")

    stats = _command(
        commands,
        common,
        "stats",
        "the four delivery measures (frequency, lead time, change failure rate, time to restore) and a chart",
        _stats,
    )
    _env(stats)
    _service(stats, required=False)
    stats.add_argument(
        "--since",
        type=period,
        default="30d",
        help="count the deployments uploaded in this span before now: 12h, 30d, 8w (default: 30d)",
    )
    _json(stats, "print the measures as JSON (the fields are a stable contract)")


def _add_releasing(commands: Commands, common: argparse.ArgumentParser) -> None:
    """upload, rerun, rollback, diff (release.py), and promote."""
    upload = _command(
        commands,
        common,
        "upload",
        "check imagedefinitions.json as the intake will, upload it as CI would, follow the deployment",
        _upload,
    )
    upload.add_argument("file", nargs="?", help="the imagedefinitions.json to deploy")
    _env(upload)
    _service(upload)
    upload.add_argument(
        "--print-ci", action="store_true", help="print the equivalent CI step and CI's IAM policy; upload nothing"
    )
    upload.add_argument(
        "--commit", help="the commit built, shown to approvers as CI's (default: from CI's environment, or none)"
    )
    upload.add_argument(
        "--summary", help="one line on the change, shown to approvers as CI's (default: from CI's environment)"
    )
    _uploading(upload)
    _json(upload)

    rerun = _command(
        commands, common, "rerun", "re-upload the current metadata (checked again), so one new deployment runs", _rerun
    )
    _env(rerun)
    _service(rerun)
    _uploading(rerun)
    _json(rerun)

    rollback = _command(
        commands,
        common,
        "rollback",
        "deploy again what ran before: an earlier SUCCEEDED deployment, or the revision before the first",
        _rollback,
    )
    _env(rollback)
    _service(rollback)
    rollback.add_argument("--to", help="the deployment (id or short id) to return to (default: the one before)")
    rollback.add_argument(
        "--reason",
        default="",
        help="why (recorded on the deployment); used when a blue/green, linear or canary deployment is still running, "
        "which is then stopped where it is (StopServiceDeployment) instead of deploying an earlier release",
    )
    _uploading(rollback)
    _json(rollback)

    _add_promoting(commands, common)  # listed between rollback and diff in `handoff --help`

    diff = _command(commands, common, "diff", "what an upload would change against the running revision", _diff)
    diff.add_argument("file", nargs="?", help="imagedefinitions.json (default: the current metadata in S3)")
    _env(diff)
    _service(diff)
    _json(diff)


def _add_promoting(commands: Commands, common: argparse.ArgumentParser) -> None:
    """promote (promote.py)."""
    promote = _command(
        commands,
        common,
        "promote",
        "carry a SUCCEEDED deployment's exact digests to another environment, with its environment's signed statement",
        _promote,
    )
    promote.add_argument("deployment_id", help="the source deployment's id or short id")
    promote.add_argument("--to", required=True, help="the environment to promote to (stack handoff-<env>)")
    _env(promote, required=False)
    promote.add_argument(
        "--to-profile", help="the AWS profile of the target environment's account (default: the same credentials)"
    )
    promote.add_argument("--dry-run", action="store_true", help="get the statement, check the digests; upload nothing")
    _json(promote, "print the plan and what was uploaded as JSON")


def _add_deciding(commands: Commands, common: argparse.ArgumentParser) -> None:
    """approve, reject, deploy-now (decide.py)."""
    for verb in ("approve", "reject"):
        decide = _command(
            commands, common, verb, f"{verb} a deployment waiting for approval, as your IAM identity", _decide
        )
        decide.add_argument(
            "approval_id", help="the approval id, or the id (or short id) of the deployment waiting for it"
        )
        _env(decide)
        decide.add_argument("--comment", default="", help="recorded with the decision (a change ticket, a reason)")
        _json(decide, "print the outcome as JSON")

    deploy_now = _command(
        commands,
        common,
        "deploy-now",
        "let a deployment held by its release controls (window, calendar, alarm) start now, with a reason",
        _deploy_now,
    )
    deploy_now.add_argument("deployment_id", help="the held deployment's id or short id")
    _env(deploy_now)
    deploy_now.add_argument("--reason", required=True, help="why (recorded on the deployment with your identity)")
    _json(deploy_now)


def _add_looking_after(commands: Commands, common: argparse.ArgumentParser) -> None:
    """failed (failed.py), doctor (doctor.py), local up (local.py), completion."""
    failed = _command(
        commands,
        common,
        "failed",
        "events handoff could not process (kept in its queues, never lost): list them, or hand them on again",
        _failed,
    )
    _env(failed)
    failed.add_argument(
        "--redrive", action="store_true", help="hand each kept event to its function again, then remove it"
    )
    _json(failed)

    doctor = _command(
        commands,
        common,
        "doctor",
        "check an installed environment: stack, bucket, rules, registry, services, approvers, IAM",
        _doctor,
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
    up.add_argument(
        "--account-per-env",
        action="store_true",
        help="each environment in its own account (ECR, KMS keys, buckets, stacks; a profile handoff-local-<env> "
        "for each but the first); default: all in one",
    )
    up.set_defaults(run=_local_up)

    completion = _command(commands, common, "completion", "print a shell completion script", _completion)
    completion.add_argument(
        "shell", choices=("bash", "zsh", "tcsh"), help='the shell; e.g. eval "$(handoff completion bash)"'
    )


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
    _add_reading(commands, common)
    _add_releasing(commands, common)
    _add_deciding(commands, common)
    _add_looking_after(commands, common)
    return parser


def command_of(args: argparse.Namespace) -> Run:
    """The function the parsed command line runs."""
    run: Run = args.run
    return run
