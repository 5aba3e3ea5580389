"""Making deployments: `upload`, `rerun`, `rollback` and `diff`. Each checks what it would upload as the
intake will (the file, the containers against Terraform's base, the registry policy, the images in ECR),
so that a file the intake would refuse never becomes the service's current metadata."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_handoff.errors import ArtifactRejected, NotFound
from ecs_handoff.models import ImageDefinition, ServiceConfig, execution_name
from ecs_handoff.taskdef import short_name

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK, Refused, UsageError
from ecs_handoff_cli.follow import watch
from ecs_handoff_cli.release_logic import (
    ECR_REGISTRY,
    CiTarget,
    ImageDiff,
    build_artifact,
    diff,
    image_definitions_json,
    images_of,
    print_ci,
    read_artifact_json,
)

TAKES = "give imagedefinitions.json (a JSON array of name and imageUri) or the imagedefinitions.json.zip CI uploads"


@dataclass
class Plan:
    """What an upload would deploy, and whether the intake would take it."""

    source: str  # the file, or the S3 object, the images come from
    images: list[ImageDefinition]
    running: str  # the task definition running now
    base: str  # Terraform's base, onto which the images go
    rows: list[ImageDiff]
    refused: str = ""  # the intake's reason to refuse it; empty when it would deploy

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "running_task_definition": self.running,
            "base_task_definition": self.base,
            "refused": self.refused or None,
            "containers": [
                {"container": r.container, "running": r.running, "proposed": r.proposed, "change": r.change}
                for r in self.rows
            ],
        }

    def print(self, env: Env, service_id: str) -> None:
        print(
            f"{service_id} in {env.name}: running {short_name(self.running)}; the new revision would be "
            f"Terraform's base {short_name(self.base)} with the images in {self.source}"
        )
        for r in self.rows:
            mark = "=" if r.change == "unchanged" else ("!" if r.change.startswith("refused") else "~")
            after = f" -> {r.proposed}" if r.proposed and r.proposed != r.running else ""
            print(f"  {mark} {r.container}: {r.running or '(not running)'}{after}  [{r.change}]")


def plan(env: Env, service_id: str, config: ServiceConfig, raw: bytes, source: str) -> Plan:
    """The intake's checks, run here before anything is uploaded; a bad file is a UsageError naming it."""
    from ecs_handoff.artifact import parse_image_definitions
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.logic.intake import pin_images
    from ecs_handoff.taskdef import check_containers, check_policy

    from ecs_handoff_cli.release_controls import check_release_controls

    try:
        images = parse_image_definitions(raw)
    except ArtifactRejected as exc:
        # a file that is not JSON at all (undecodable, or not JSON: both ValueErrors) was probably not the one
        # meant: say what the command takes
        hint = f"; {TAKES}" if isinstance(exc.__cause__, ValueError) else ""
        raise UsageError(f"{source}: {exc}{hint}") from exc
    running_arn = str(ecs_access.describe_service(config.cluster, config.service)["taskDefinition"])
    running, _ = ecs_access.describe_task_definition(running_arn)
    base, _ = ecs_access.resolve_base(config.task_definition, keep_revisions=config.keep_revisions)
    result = Plan(source, images, running_arn, str(base["taskDefinitionArn"]), diff(running, base, images))
    try:
        registry = env.default_registry()
        check_policy(config.allowed_registries or [registry], config.containers, service_id, images)
        check_containers(base, images)
        pin_images(images, registry, config.pin_digests)
        check_release_controls(config)  # the gate's own refusal, before anything is uploaded
    except ArtifactRejected as exc:
        result.refused = str(exc)
    return result


def _read_file(path: str) -> bytes:
    """The imagedefinitions.json the operator names, or the one inside the zip they name."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        hint = ""
        if not Path(path).is_absolute() and exc.errno == 2:
            hint = f" (relative to {Path.cwd()})"
        raise UsageError(f"cannot read {path}{hint}: {exc.strerror}") from exc
    try:
        return image_definitions_json(data)
    except ArtifactRejected as exc:
        raise UsageError(f"{path}: a zip the intake would refuse: {exc}") from exc


def ci_metadata(summary: str | None = None) -> dict[str, str]:
    """What this upload says about the change (object metadata the approver sees, labelled as CI's):
    the commit and its subject from git (or summary), the CI run's URL where the CI says it, and who uploads."""
    import subprocess  # nosec B404 - fixed git commands, no shell

    from ecs_handoff.aws.clients import aws_call, client

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, check=False)  # noqa: S603, S607  # nosec B603 B607
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    metadata = {
        "commit": git("rev-parse", "HEAD") if summary is None else "",
        "codepipeline-artifact-revision-summary": summary or git("log", "-1", "--format=%s"),
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


def _upload(
    env: Env,
    service_id: str,
    config: ServiceConfig,
    raw: bytes,
    source: str,
    args: argparse.Namespace,
    what: str,
    metadata: dict[str, str] | None = None,
) -> int:
    """Check, then (unless --dry-run) zip and upload as CI would, then (unless --no-wait) follow the deployment."""
    from ecs_handoff.aws import s3

    checked = plan(env, service_id, config, raw, source)
    if checked.refused:
        if args.json:
            show.print_json({"uploaded": False, **checked.as_json()})
        # a file given on the command line is bad input; what rerun or rollback found is a refusal
        error = UsageError if what == "upload" else Refused
        raise error(f"{source}: the intake would refuse it, so nothing was uploaded: {checked.refused}")
    if args.dry_run:
        if args.json:
            show.print_json({"uploaded": False, **checked.as_json()})
        else:
            checked.print(env, service_id)
            print(f"dry run: {source} passes the intake's checks; nothing uploaded")
        return EXIT_OK
    body, images = build_artifact(raw)
    version = s3.put_bytes(env.bucket, env.key(service_id), body, metadata=metadata or ci_metadata())
    deployment_id = execution_name(service_id, version)
    uploaded = {
        "deployment_id": deployment_id,
        "object_version": version,
        "bucket": env.bucket,
        "key": env.key(service_id),
        "images": [i.model_dump(by_alias=True) for i in images],
    }
    if not args.json:
        label = "" if what == "upload" else f"{what}: "
        print(f"{label}uploaded s3://{env.bucket}/{env.key(service_id)} (version {version})")
        print(f"deployment {deployment_id}")
    if args.no_wait:
        if args.json:
            show.print_json(uploaded)
        else:
            print(f"follow it with: handoff watch {deployment_id} --env {env.name}")
        return EXIT_OK
    from ecs_handoff_cli.follow import find_deployment, interrupted

    try:
        _, record = find_deployment(deployment_id, env.name, wait_seconds=args.wait_for_intake)
    except KeyboardInterrupt:  # uploaded: the intake starts the deployment whether this waits or not
        return interrupted(deployment_id, service_id, env.name)
    return watch(env, record, args, extra={"deployment_id": deployment_id, "upload": uploaded})


def ci_target(env: Env, service_id: str, config: ServiceConfig) -> CiTarget:
    """What --print-ci fills in: this account and region (from its ECR registry), and the containers CI may
    set (the registry entry's, else every container of Terraform's base) with their base images."""
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.aws.clients import client

    registry = ECR_REGISTRY.match(env.default_registry())
    account = registry["account"] if registry else "<account_id>"
    region = registry["region"] if registry else str(client("ecs").meta.region_name)
    base, _ = ecs_access.resolve_base(config.task_definition, keep_revisions=config.keep_revisions)
    images = {str(c["name"]): str(c.get("image", "")) for c in base.get("containerDefinitions", [])}
    settable = config.containers if config.containers is not None else list(images)
    return CiTarget(env.name, env.bucket, service_id, region, account, {c: images.get(c, "") for c in settable})


def cmd_upload(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    if args.print_ci:
        print(print_ci(ci_target(env, args.service, config)), end="")
        return EXIT_OK
    if not args.file:
        raise UsageError("give the imagedefinitions.json to upload (or --print-ci)")
    return _upload(env, args.service, config, _read_file(args.file), args.file, args, "upload")


def _current(env: Env, service_id: str, version_id: str | None, what: str) -> bytes:
    """The imagedefinitions.json of the service's current metadata (or of one version of it)."""
    from ecs_handoff.aws.clients import aws_call, client

    kwargs: dict[str, Any] = {"Bucket": env.bucket, "Key": env.key(service_id)}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        with aws_call(f"reading s3://{env.bucket}/{env.key(service_id)}"):
            got = client("s3").get_object(**kwargs)
            body = got["Body"].read()
    except NotFound as exc:
        raise NotFound(f"no metadata for {service_id} in {env.name} to {what} ({exc})") from exc
    try:
        return read_artifact_json(body)
    except ArtifactRejected as exc:
        version = got.get("VersionId") or version_id or "null"
        raise Refused(
            f"s3://{env.bucket}/{env.key(service_id)} (version {version}) is not metadata the intake takes, "
            f"so there is nothing to {what}: {exc}; upload good metadata with "
            f"`handoff upload FILE --env {env.name} --service {service_id}`"
        ) from exc


def cmd_rerun(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    raw = _current(env, args.service, None, "rerun")
    source = f"s3://{env.bucket}/{env.key(args.service)} (current)"
    return _upload(env, args.service, config, raw, source, args, "rerun", ci_metadata("rerun of the current metadata"))


def cmd_rollback(args: argparse.Namespace) -> int:
    from ecs_handoff.aws import ecs as ecs_access

    from ecs_handoff_cli.release_logic import RollbackTarget, rollback_target

    env = Env(args.env)
    config = env.service(args.service)
    history = env.records().history(args.env, args.service, 200)
    if args.to:
        from ecs_handoff_cli.follow import find_deployment

        _, chosen = find_deployment(args.to, args.env)
        if chosen.service != args.service:
            raise NotFound(f"deployment {args.to!r} is not in the history of {args.service} in {args.env}")
        if chosen.outcome.value != "SUCCEEDED" or chosen.source is None:
            print(
                f"handoff: refused: {chosen.id} ended {chosen.outcome.value}; roll back only to a SUCCEEDED deployment",
                file=sys.stderr,
            )
            return EXIT_FAILED
        target = RollbackTarget(chosen, record=chosen)
    else:
        running = str(ecs_access.describe_service(config.cluster, config.service)["taskDefinition"])
        try:
            target = rollback_target(history, running)
        except ArtifactRejected as exc:
            print(f"handoff: refused: {exc}", file=sys.stderr)
            return EXIT_FAILED
    if target.record is not None:
        record = target.record
        assert record.source is not None  # rollback_target and --to take only deployments with a source
        raw = _current(env, args.service, record.source.object_version, "roll back to")
        source, summary = f"deployment {record.id}", f"rollback to deployment {record.id}"
        if not args.json:
            images = show.images_text(record.images)
            print(f"rolling {args.service} in {args.env} back to deployment {record.id} ({images})")
    else:
        assert target.revision is not None
        previous, _ = ecs_access.describe_task_definition(target.revision)
        raw = images_of(previous, [c.container for c in target.current.images])
        source, summary = f"revision {short_name(target.revision)}", f"rollback to {short_name(target.revision)}"
        if not args.json:
            print(
                f"rolling {args.service} in {args.env} back to {short_name(target.revision)}, the revision that ran "
                f"before handoff's first deployment {target.current.id}: its images go onto Terraform's base"
            )
    return _upload(env, args.service, config, raw, source, args, "rollback", ci_metadata(summary))


def cmd_diff(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    if args.file:
        raw, source = _read_file(args.file), args.file
    else:
        raw, source = _current(env, args.service, None, "diff"), f"s3://{env.bucket}/{env.key(args.service)} (current)"
    checked = plan(env, args.service, config, raw, source)
    if args.json:
        show.print_json(checked.as_json())
    else:
        checked.print(env, args.service)
        if checked.refused:
            print(f"handoff: the intake would refuse it: {checked.refused}", file=sys.stderr)
    return EXIT_FAILED if checked.refused else EXIT_OK
