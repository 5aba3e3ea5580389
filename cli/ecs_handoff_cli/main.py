"""The `handoff` command for operators; works against AWS or the embedded AWS alike."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

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
    from ecs_handoff.models import one_line
    from ecs_handoff.taskdef import short_name
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def plain(value: str) -> Text:
        """Stored text shown as text: no rich markup, no escape sequences, no extra lines."""
        return Text(one_line(value, 4000))

    table = Table(title=f"handoff {args.env}" + (f" / {args.service}" if args.service else ""), show_lines=False)
    for column in ("started", "service", "outcome", "revision", "version"):
        if column != "service" or not args.service:
            table.add_column(column, no_wrap=True)
    table.add_column("approved by", overflow="fold")
    table.add_column("images", overflow="fold")
    table.add_column("reason", overflow="fold")
    colours = {"SUCCEEDED": "green", "FAILED": "red", "INVALID": "red", "REJECTED": "yellow", "EXPIRED": "yellow"}
    for r in records:
        images = "\n".join(f"{c.container}={c.image_after.rsplit('/', 1)[-1]}" for c in r.images)
        colour = colours.get(r.outcome.value, "cyan")
        cells: list[str | Text] = [
            r.started_at.replace("T", " ")[:19],
            r.service,
            f"[{colour}]{r.outcome.value}[/]",
            short_name(r.new_task_definition) if r.new_task_definition else "-",
            (r.object_version or "-")[:8],
            plain(", ".join(r.approved_by) or "-"),
            images,
            plain(r.reason),
        ]
        if args.service:
            cells.pop(1)
        table.add_row(*cells)
    Console().print(table)
    if not records:
        print("no deployments recorded yet")
    return EXIT_OK


def _known_services(outputs: dict[str, str]) -> list[str]:
    from ecs_handoff.aws.registry import list_service_ids

    return list_service_ids(outputs["RegistryPrefix"])


class Env:
    """One environment's resources, found from its stack's outputs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.outputs = stack_outputs(name)

    @property
    def bucket(self) -> str:
        return self.outputs["ArtifactBucketName"]

    def records(self) -> Any:
        from ecs_handoff.aws.records import DeploymentRecords

        return DeploymentRecords(self.outputs["DeploymentsTableName"])

    def service(self, service_id: str) -> Any:
        from ecs_handoff.aws.registry import load_service
        from ecs_handoff.errors import ArtifactRejected

        try:
            return load_service(self.outputs["RegistryPrefix"], service_id)
        except ArtifactRejected as exc:
            raise NotFound(str(exc).replace("Terraform must add it before CI can deploy it", "").rstrip(". ")) from exc

    def key(self, service_id: str) -> str:
        return f"{service_id}/imagedefinitions.json.zip"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def cmd_upload(args: argparse.Namespace) -> int:
    from ecs_handoff.aws import s3
    from ecs_handoff.errors import ArtifactRejected
    from ecs_handoff.models import execution_name

    from ecs_handoff_cli.operator import build_artifact, print_ci

    env = Env(args.env)
    env.service(args.service)
    if args.print_ci:
        print(print_ci(env.bucket, args.service), end="")
        return EXIT_OK
    if not args.file:
        raise UsageError("give the imagedefinitions.json to upload (or --print-ci)")
    try:
        body, images = build_artifact(_read_file(args.file))
    except ArtifactRejected as exc:
        raise UsageError(f"{args.file}: {exc}") from exc
    version = s3.put_bytes(env.bucket, env.key(args.service), body, metadata=ci_metadata())
    deployment_id = execution_name(args.service, version)
    if args.json:
        _print_json(
            {
                "deployment_id": deployment_id,
                "object_version": version,
                "bucket": env.bucket,
                "key": env.key(args.service),
                "images": [i.model_dump(by_alias=True) for i in images],
            }
        )
    else:
        print(f"uploaded s3://{env.bucket}/{env.key(args.service)} (version {version})")
        print(f"deployment {deployment_id}; follow it with: handoff watch {deployment_id} --env {args.env}")
    return EXIT_OK


def ci_metadata() -> dict[str, str]:
    """What this upload says about the change (object metadata the approver sees, labelled as CI's):
    the commit and its subject from git, the CI run's URL where the CI says it, and who uploads."""
    import subprocess  # nosec B404 - fixed git commands, no shell

    from ecs_handoff.aws.clients import aws_call, client

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False)  # noqa: S603, S607  # nosec B603 B607
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    metadata = {
        "commit": git("rev-parse", "HEAD"),
        "codepipeline-artifact-revision-summary": git("log", "-1", "--format=%s"),
    }
    if os.environ.get("GITHUB_SERVER_URL") and os.environ.get("GITHUB_RUN_ID"):
        repository = os.environ.get("GITHUB_REPOSITORY", "")
        metadata["url"] = f"{os.environ['GITHUB_SERVER_URL']}/{repository}/actions/runs/{os.environ['GITHUB_RUN_ID']}"
    elif os.environ.get("CIRCLE_BUILD_URL"):
        metadata["url"] = os.environ["CIRCLE_BUILD_URL"]
    with aws_call("finding who you are (sts:GetCallerIdentity)"):
        metadata["uploader"] = str(client("sts").get_caller_identity()["Arn"])
    # S3 metadata is ASCII: anything else is dropped rather than mangled.
    return {k: v.encode("ascii", "ignore").decode()[:1000] for k, v in metadata.items() if v}


def _env_names(env: str | None) -> list[str]:
    if env:
        return [env]
    from ecs_handoff.aws.clients import aws_call, client

    names: list[str] = []
    with aws_call("listing handoff stacks"):
        for page in client("cloudformation").get_paginator("describe_stacks").paginate():
            names += [
                s["StackName"].removeprefix("handoff-") for s in page["Stacks"] if s["StackName"].startswith("handoff-")
            ]
    if not names:
        raise NotFound("no handoff-<env> stacks in this account and region")
    return sorted(names)


def cmd_status(args: argparse.Namespace) -> int:
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.aws.registry import list_service_ids

    from ecs_handoff_cli.operator import ServiceStatus, summarise

    statuses: dict[str, list[ServiceStatus]] = {}
    for name in _env_names(args.env):
        env = Env(name)
        ids = [args.service] if args.service else list_service_ids(env.outputs["RegistryPrefix"])
        rows = []
        for service_id in ids:
            config = env.service(service_id)
            status = ServiceStatus(service_id, config.cluster, config.service)
            try:
                running = ecs_access.describe_service(config.cluster, config.service)
                status.running_task_definition = str(running["taskDefinition"])
                td, _ = ecs_access.describe_task_definition(status.running_task_definition)
                status.running_images = {c["name"]: c.get("image", "") for c in td["containerDefinitions"]}
            except NotFound as exc:
                status.problem = str(exc)
            status.in_flight, status.last = summarise(service_id, env.records().history(name, service_id, 20))
            rows.append(status)
        statuses[name] = rows
    if args.json:
        _print_json({env: [s.as_json() for s in rows] for env, rows in statuses.items()})
        return EXIT_OK
    from ecs_handoff.taskdef import short_name
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for name, rows in statuses.items():
        table = Table(title=f"handoff {name}")
        for column in ("service", "running", "images", "in flight", "last outcome"):
            table.add_column(column, overflow="fold")
        for s in rows:
            flight = f"{s.in_flight.outcome.value} {s.in_flight.id} ({s.in_flight.phase})" if s.in_flight else "-"
            last = f"{s.last.outcome.value} {s.last.finished_at or ''}\n{s.last.reason}" if s.last else "-"
            images = "\n".join(f"{k}={v.rsplit('/', 1)[-1]}" for k, v in s.running_images.items())
            table.add_row(
                s.service_id,
                short_name(s.running_task_definition) if s.running_task_definition else s.problem,
                images,
                flight,
                last,
            )
        console.print(table)
    return EXIT_OK


def _find_record(deployment_id: str, env_name: str | None, wait_seconds: float = 0.0) -> tuple[Env, Any]:
    """The environment and record of a deployment; waits a little for one just uploaded (the intake
    runs asynchronously after the upload)."""
    import time

    envs = [Env(name) for name in _env_names(env_name)]
    deadline = time.monotonic() + wait_seconds
    while True:
        for env in envs:
            record = env.records().get(deployment_id)
            if record is not None:
                return env, record
        if time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    raise NotFound(
        f"deployment {deployment_id!r} not found" + (f" in {env_name}" if env_name else " in any environment")
    )


def cmd_watch(args: argparse.Namespace) -> int:
    import time

    env, record = _find_record(args.deployment_id, args.env, wait_seconds=args.wait_for_intake)
    started = time.monotonic()
    last_line = ""
    deadline = started + args.timeout
    while True:
        counts = record.rollout
        tasks = f"  tasks {counts.get('running_count', 0)}/{counts.get('desired_count', 0)} running" if counts else ""
        if record.outcome.value == "AWAITING_APPROVAL":
            so_far = ", ".join(record.approved_by)
            tasks = f"  waiting for approvers{' (approved so far: ' + so_far + ')' if so_far else ''}"
        line = f"{record.outcome.value:<17} {record.phase:<18}{tasks}"
        if line != last_line and not args.json:
            print(f"{time.monotonic() - started:7.1f}s  {line}", flush=True)
            last_line = line
        if record.outcome.terminal and record.phase == "finished":
            break
        if time.monotonic() > deadline:
            print(
                f"handoff: {record.id} is still {record.outcome.value} after {args.timeout:.0f} s of watching",
                file=sys.stderr,
            )
            return EXIT_FAILED
        time.sleep(args.interval)
        record = env.records().get(args.deployment_id) or record
    if args.json:
        _print_json(record.summary())
    else:
        print(f"{record.outcome.value}: {record.reason}")
    return EXIT_OK if record.outcome.value == "SUCCEEDED" else EXIT_FAILED


def _reupload(env: Env, service_id: str, version_id: str | None, what: str, as_json: bool) -> int:
    from ecs_handoff.aws import s3
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.models import execution_name

    kwargs: dict[str, Any] = {"Bucket": env.bucket, "Key": env.key(service_id)}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        with aws_call(f"reading s3://{env.bucket}/{env.key(service_id)}"):
            body = client("s3").get_object(**kwargs)["Body"].read()
    except NotFound as exc:
        raise NotFound(f"no metadata for {service_id} in {env.name} to {what} ({exc})") from exc
    version = s3.put_bytes(env.bucket, env.key(service_id), body)
    deployment_id = execution_name(service_id, version)
    if as_json:
        _print_json({"deployment_id": deployment_id, "object_version": version, "source_version": version_id})
    else:
        print(
            f"{what}: re-uploaded {'version ' + version_id if version_id else 'the current metadata'} "
            f"as version {version}"
        )
        print(f"deployment {deployment_id}; follow it with: handoff watch {deployment_id} --env {env.name}")
    return EXIT_OK


def cmd_rerun(args: argparse.Namespace) -> int:
    env = Env(args.env)
    env.service(args.service)
    return _reupload(env, args.service, None, "rerun", args.json)


def cmd_rollback(args: argparse.Namespace) -> int:
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.errors import ArtifactRejected

    from ecs_handoff_cli.operator import rollback_target

    env = Env(args.env)
    config = env.service(args.service)
    history = env.records().history(args.env, args.service, 200)
    if args.to:
        target = next((r for r in history if r.id == args.to), None)
        if target is None:
            raise NotFound(f"deployment {args.to!r} is not in the history of {args.service} in {args.env}")
        if target.outcome.value != "SUCCEEDED" or target.source is None:
            print(
                f"handoff: refused: {args.to} ended {target.outcome.value}; roll back only to a SUCCEEDED deployment",
                file=sys.stderr,
            )
            return EXIT_FAILED
    else:
        running = str(ecs_access.describe_service(config.cluster, config.service)["taskDefinition"])
        try:
            target = rollback_target(history, running)
        except ArtifactRejected as exc:
            print(f"handoff: refused: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if not args.json:
        images = ", ".join(f"{c.container}={c.image_after.rsplit('/', 1)[-1]}" for c in target.images)
        print(f"rolling {args.service} in {args.env} back to deployment {target.id} ({images})")
    if target.source is None:
        raise NotFound(f"deployment {target.id} has no source object version to re-upload")
    return _reupload(env, args.service, target.source.object_version, "rollback", args.json)


def cmd_diff(args: argparse.Namespace) -> int:
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.errors import ArtifactRejected
    from ecs_handoff.taskdef import short_name

    from ecs_handoff_cli.operator import diff, read_artifact_json

    env = Env(args.env)
    config = env.service(args.service)
    if args.file:
        raw, source = _read_file(args.file), args.file
    else:
        with aws_call(f"reading s3://{env.bucket}/{env.key(args.service)}"):
            zipped = client("s3").get_object(Bucket=env.bucket, Key=env.key(args.service))["Body"].read()
        raw, source = read_artifact_json(zipped), f"s3://{env.bucket}/{env.key(args.service)} (current)"
    from ecs_handoff.artifact import parse_image_definitions

    try:
        images = parse_image_definitions(raw)
    except ArtifactRejected as exc:
        raise UsageError(f"{source}: {exc}") from exc
    running_arn = str(ecs_access.describe_service(config.cluster, config.service)["taskDefinition"])
    running, _ = ecs_access.describe_task_definition(running_arn)
    base, _ = ecs_access.resolve_base(config.task_definition, keep_revisions=config.keep_revisions)
    rows = diff(running, base, images)
    unknown = [r.container for r in rows if r.listed and r.proposed is None]
    if args.json:
        _print_json(
            {
                "running_task_definition": running_arn,
                "base_task_definition": base["taskDefinitionArn"],
                "source": source,
                "containers": [
                    {"container": r.container, "running": r.running, "proposed": r.proposed, "change": r.change}
                    for r in rows
                ],
            }
        )
    else:
        print(
            f"{args.service} in {args.env}: running {short_name(running_arn)}; the new revision would be "
            f"Terraform's base {short_name(base['taskDefinitionArn'])} with the images in {source}"
        )
        for r in rows:
            mark = "=" if r.change == "unchanged" else ("!" if r.change.startswith("refused") else "~")
            after = f" -> {r.proposed}" if r.proposed and r.proposed != r.running else ""
            print(f"  {mark} {r.container}: {r.running or '(not running)'}{after}  [{r.change}]")
        if unknown:
            print(f"handoff: {', '.join(unknown)} would be refused: not in the task definition", file=sys.stderr)
    return EXIT_FAILED if unknown else EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    """approve / reject from the command line, recorded with the caller's IAM identity."""
    from ecs_handoff.aws.approvals import ApprovalStore
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.aws.records import DeploymentRecords
    from ecs_handoff.logic.approval_decision import ApprovalDesk, approver_for_principal
    from ecs_handoff.models import ApprovalVote, approval_id_for, iso, utcnow

    outputs = stack_outputs(args.env)
    store = ApprovalStore(outputs["ApprovalsTableName"])
    # An approval id, or the deployment id `watch` and `history` show (its approval id derives from it).
    approval = store.get(args.approval_id) or store.get(approval_id_for(args.approval_id))
    if approval is None:
        raise NotFound(f"no approval {args.approval_id!r} in {args.env}, nor one for a deployment of that id")
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
    desk = ApprovalDesk(store, DeploymentRecords(outputs["DeploymentsTableName"]), key=None)
    result = desk.apply(approval, vote)
    done = {"approve": "approved", "reject": "rejected"}[args.command]
    if args.json:
        _print_json(
            {
                "ok": result.status < 400,
                "decision": args.command,
                "approval_id": approval.approval_id,
                "deployment_id": approval.deployment_id,
                "service": approval.service_id,
                "env": approval.env,
                "approver": approver,
                "principal": identity,
                "message": f"{result.title}: {_page_text(result.html)}",
            }
        )
    elif result.status >= 400:
        print(f"handoff: {result.title}: {_page_text(result.html)}", file=sys.stderr)
    else:
        print(
            f"{done} {approval.service_id} in {approval.env} (deployment {approval.deployment_id}) "
            f"as {approver} ({identity})"
        )
    return EXIT_FAILED if result.status >= 400 else EXIT_OK


def _page_text(html: str) -> str:
    import re

    match = re.search(r"<p>(.*?)</p>", html)
    return match.group(1) if match else html


def cmd_doctor(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.doctor import diagnose

    findings = diagnose(args.env)
    problems = [f for f in findings if not f.ok]
    if args.json:
        _print_json({"env": args.env, "ok": not problems, "findings": [f.as_json() for f in findings]})
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handoff",
        description="Continuous delivery for Amazon ECS. Exit codes: 0 ok, 1 deployment failed or refused, "
        "2 usage or input error, 3 not found, 4 AWS access error.",
    )
    parser.add_argument("--local", action="store_true", help=f"use the embedded AWS described by {LOCAL_STATE}")
    parser.add_argument("--debug", action="store_true", help="show the full error with its traceback")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    history = commands.add_parser("history", help="deployments of an environment, newest first")
    history.add_argument("--env", required=True)
    history.add_argument("--service")
    history.add_argument("--limit", type=int, default=20)
    history.add_argument("--json", action="store_true", help="print a JSON array")
    history.set_defaults(func=cmd_history)

    upload = commands.add_parser("upload", help="zip and upload imagedefinitions.json as CI would")
    upload.add_argument("file", nargs="?", help="imagedefinitions.json")
    upload.add_argument("--env", required=True)
    upload.add_argument("--service", required=True)
    upload.add_argument("--print-ci", action="store_true", help="print the equivalent CI step and CI's IAM policy")
    upload.add_argument("--json", action="store_true")
    upload.set_defaults(func=cmd_upload)

    status = commands.add_parser("status", help="per service: running revision, deployment in flight, last outcome")
    status.add_argument("--env")
    status.add_argument("--service")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=cmd_status)

    watch = commands.add_parser("watch", help="follow one deployment to its end (exit 0 only if SUCCEEDED)")
    watch.add_argument("deployment_id")
    watch.add_argument("--env")
    watch.add_argument("--interval", type=float, default=1.0)
    watch.add_argument("--timeout", type=float, default=7200.0)
    watch.add_argument("--wait-for-intake", type=float, default=30.0, help="seconds to wait for a new upload's record")
    watch.add_argument("--json", action="store_true")
    watch.set_defaults(func=cmd_watch)

    rerun = commands.add_parser("rerun", help="re-upload the current metadata, so a new deployment runs")
    rerun.add_argument("--env", required=True)
    rerun.add_argument("--service", required=True)
    rerun.add_argument("--json", action="store_true")
    rerun.set_defaults(func=cmd_rerun)

    rollback = commands.add_parser("rollback", help="re-upload an earlier SUCCEEDED deployment's metadata")
    rollback.add_argument("--env", required=True)
    rollback.add_argument("--service", required=True)
    rollback.add_argument("--to", help="deployment id (default: the last SUCCEEDED one before the running one)")
    rollback.add_argument("--json", action="store_true")
    rollback.set_defaults(func=cmd_rollback)

    diff = commands.add_parser("diff", help="what an upload would change against the running revision")
    diff.add_argument("file", nargs="?", help="imagedefinitions.json (default: the current metadata in S3)")
    diff.add_argument("--env", required=True)
    diff.add_argument("--service", required=True)
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=cmd_diff)

    for verb in ("approve", "reject"):
        decide = commands.add_parser(verb, help=f"{verb} a deployment waiting for approval, as your IAM identity")
        decide.add_argument("approval_id", help="the approval id, or the id of the deployment waiting for it")
        decide.add_argument("--env", required=True, help="the environment (stack handoff-<env>)")
        decide.add_argument("--comment", default="", help="recorded with the decision (a change ticket, a reason)")
        decide.add_argument("--json", action="store_true", help="print the outcome as JSON")
        decide.set_defaults(func=cmd_decide)

    doctor = commands.add_parser(
        "doctor", help="check an installed environment: stack, bucket, registry, services, approvers, secret, IAM"
    )
    doctor.add_argument("--env", required=True, help="the environment (stack handoff-<env>)")
    doctor.add_argument("--json", action="store_true", help="findings as JSON")
    doctor.set_defaults(func=cmd_doctor)

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
    if not args.debug:
        from ecs_handoff.observability import logger

        logger.setLevel("WARNING")  # the functions' structured logs are for CloudWatch, not this terminal
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
