"""Making deployments: `upload`, `rerun`, `rollback` and `diff`. Each checks what it would upload as the
intake will (the file, the containers against Terraform's base, the registry policy, the images in ECR),
so that a file the intake would refuse never becomes the service's current metadata."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_handoff.errors import ArtifactRejected, NotFound
from ecs_handoff.models import DeploymentRecord, ImageDefinition, ServiceConfig, execution_name
from ecs_handoff.taskdef import short_name

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK, Refused, UsageError
from ecs_handoff_cli.follow import watch
from ecs_handoff_cli.release_logic import (
    ECR_REGISTRY,
    CiTarget,
    ImageDiff,
    RollbackTarget,
    build_artifact,
    by_digest,
    change_metadata,
    diff,
    image_definitions_json,
    images_of,
    print_ci,
    read_artifact_json,
    rollback_target,
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
    registry: str = ""  # this account's ECR, whose host lines leave out

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "running_task_definition": self.running,
            "base_task_definition": self.base,
            "refused": self.refused or None,
            "containers": [
                {
                    "container": r.container,
                    "running": r.running,
                    "proposed": r.proposed,
                    "requested": r.requested,
                    "change": r.change,
                }
                for r in self.rows
            ],
        }

    def print(self, env: Env, service_id: str) -> None:
        """The plan in lines that fit the terminal: each container's line cut with … before its [change],
        which always shows."""
        size = show.width()
        print(show.cut(f"{service_id} in {env.name}: running {short_name(self.running)}", size))
        base = short_name(self.base)
        print(show.cut(f"new revision: Terraform's base {base} with the images in {self.source}", size))
        for r in self.rows:
            line = r.text(self.registry)
            what, sep, change = line.rpartition("  [")
            tail = f"{sep}{change}" if sep else ""
            print(show.cut(what if sep else line, max(size - len(tail), 20)) + tail)


def plan(env: Env, service_id: str, config: ServiceConfig, raw: bytes, source: str) -> Plan:
    """The intake's checks, run here before anything is uploaded; a bad file is a UsageError naming it. Each
    image is compared with the running one as the intake will deploy it: pinned to the digest its tag has now
    (pin_images, the intake's own), so a tag of the running digest is no change."""
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
    registry = env.default_registry()
    deployed, refused = images, ""
    pinned_from: dict[str, str] = {}
    try:
        check_policy(config.allowed_registries or [registry], config.containers, service_id, images)
        check_containers(base, images)
        deployed, pinned_from = pin_images(images, registry, config.pin_digests)
        check_release_controls(config)  # the gate's own refusal, before anything is uploaded
    except ArtifactRejected as exc:
        refused = str(exc)
    rows = diff(running, base, deployed, pinned_from)
    return Plan(source, images, running_arn, str(base["taskDefinitionArn"]), rows, refused, registry)


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


def ci_metadata(commit: str | None = None, summary: str | None = None, from_ci: bool = True) -> dict[str, str]:
    """What this upload says about the change (object metadata the approver sees, labelled as CI's): the
    commit, its subject and the CI run's URL from CI's environment (or as given), and who uploads. Never
    from git in the current folder: what is deployed need not be built from it."""
    from ecs_handoff.aws.clients import aws_call, client

    metadata = change_metadata(os.environ, commit, summary, from_ci)
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
    checked = _as_the_intake_sees_it(env, service_id, config, raw, source)
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
    if metadata is None:
        metadata = ci_metadata(getattr(args, "commit", None), getattr(args, "summary", None))
    uploaded = _put(env, service_id, raw, metadata)
    deployment_id, version = uploaded["deployment_id"], uploaded["object_version"]
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


def _as_the_intake_sees_it(env: Env, service_id: str, config: ServiceConfig, raw: bytes, source: str) -> Plan:
    """The intake's checks, run here; in an environment with a promotion rule, also its refusal of a zip that
    carries no promotion statement."""
    from ecs_handoff.logic.intake import promoted

    checked = plan(env, service_id, config, raw, source)
    if not checked.refused and config.promotion is not None:
        # What this command zips carries no promotion statement, so the intake refuses it (its reason, naming
        # `handoff promote`); `diff` is not refused this way, as it may look at an upload that carries one.
        try:
            promoted(config.promotion, service_id, checked.images, None, env.name)
        except ArtifactRejected as exc:
            checked.refused = str(exc)
    return checked


def _put(env: Env, service_id: str, raw: bytes, metadata: dict[str, str]) -> dict[str, Any]:
    """Zips and uploads as CI would; what was uploaded, and the deployment id the intake will give it."""
    from ecs_handoff.aws import s3

    body, images = build_artifact(raw)
    version = s3.put_bytes(env.bucket, env.key(service_id), body, metadata=metadata)
    return {
        "deployment_id": execution_name(service_id, version),
        "object_version": version,
        "bucket": env.bucket,
        "key": env.key(service_id),
        "images": [i.model_dump(by_alias=True) for i in images],
    }


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


def _current(env: Env, service_id: str, version_id: str | None, what: str) -> tuple[bytes, str]:
    """The imagedefinitions.json of the service's current metadata (or of one version of it), and its version."""
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
    version = str(got.get("VersionId") or version_id or "null")
    try:
        return read_artifact_json(body), version
    except ArtifactRejected as exc:
        raise Refused(
            f"s3://{env.bucket}/{env.key(service_id)} (version {version}) is not metadata the intake takes, "
            f"so there is nothing to {what}: {exc}; upload good metadata with "
            f"`handoff upload FILE --env {env.name} --service {service_id}`"
        ) from exc


def _ran(record: DeploymentRecord, uploaded: bytes | None) -> tuple[bytes, list[str]] | None:
    """imagedefinitions.json of exactly the images record deployed (its validated images: by digest where the
    intake pinned them), with a line for each naming the tag it was uploaded as; None when the intake
    refused the record, so it deployed nothing."""
    from ecs_handoff.artifact import parse_image_definitions

    if not record.validated_images:
        return None
    tags = [ImageDefinition(name=c.container, image_uri=c.requested) for c in record.images if c.requested]
    if uploaded is not None:
        with contextlib.suppress(ArtifactRejected):  # the tags are only shown: the record has the digests
            tags = parse_image_definitions(uploaded) + tags
    return by_digest(record.validated_images, tags)


def _listed(raw: bytes) -> list[str]:
    """A line for each image of metadata that deploys tags (no deployment recorded the digests they ran)."""
    from ecs_handoff.artifact import parse_image_definitions

    return [f"  {i.name}: {i.image_uri.rsplit('/', 1)[-1]}" for i in parse_image_definitions(raw)]


def cmd_rerun(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    raw, version = _current(env, args.service, None, "rerun")
    record = env.records().get(execution_name(args.service, version))
    ran = _ran(record, raw) if record is not None else None
    if record is not None and ran is not None:
        raw, lines = ran
        source, summary = f"deployment {record.id}", f"rerun of deployment {record.id}"
        said = f"rerunning {args.service} in {args.env}: the images deployment {record.id} ran, by digest"
    else:
        source, summary = f"s3://{env.bucket}/{env.key(args.service)} (current)", "rerun of the current metadata"
        lines = _listed(raw)
        said = f"rerunning {args.service} in {args.env}: the current metadata, its tags at the digests they have now"
    if not args.json:
        print(said)
        print("\n".join(lines))
    return _upload(env, args.service, config, raw, source, args, "rerun", ci_metadata(summary=summary, from_ci=False))


def _stop_running(env: Env, config: ServiceConfig, running: DeploymentRecord, args: argparse.Namespace) -> int | None:
    """A deployment still running on a BLUE_GREEN, LINEAR or CANARY service is stopped where it is: the operator
    API calls StopServiceDeployment(ROLLBACK), and ECS puts production and test traffic back on the previous
    revision at once. None when ECS runs no such deployment of it (a rolling one, or one that has just ended):
    then rollback deploys an earlier release, as for a finished deployment."""
    from ecs_handoff.aws import ecs as ecs_access

    from ecs_handoff_cli.decide import refused

    service = ecs_access.describe_service(config.cluster, config.service)
    if (service.get("deploymentConfiguration") or {}).get("strategy") not in ("BLUE_GREEN", "LINEAR", "CANARY"):
        return None  # a rolling update: ECS's own rollback, or an earlier release deployed after it
    reason = args.reason or f"handoff rollback during {running.id}"
    answer = env.operator_api(f"/deployments/{running.id}/rollback", {"reason": reason})
    if answer.status == 409:
        return None
    refused(answer)
    said = answer.body
    if args.json:
        show.print_json(
            {k: said.get(k) for k in ("deployment_id", "service_deployment", "principal", "reason", "stopped")}
        )
    elif answer.status < 400:
        print(
            f"rolling back {running.id} in {env.name} where it is: ECS stopped {said.get('service_deployment')} and "
            f"moves production and test traffic back to the previous revision ({said.get('principal')}: "
            f"{said.get('reason')})"
        )
    else:
        print(f"handoff: {said.get('message') or answer.text}", file=sys.stderr)
    return EXIT_OK if answer.status < 400 else EXIT_FAILED


def cmd_rollback(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    history = env.records().history(args.env, args.service, 200)
    if not args.to and history and not history[0].outcome.terminal and history[0].new_task_definition:
        stopped = _stop_running(env, config, history[0], args)
        if stopped is not None:
            return stopped
    target = _rollback_target(args, config, history)
    if target is None:
        return EXIT_FAILED
    raw, source, summary = _images_to_roll_back_to(env, args, target)
    metadata = ci_metadata(summary=summary, from_ci=False)
    return _upload(env, args.service, config, raw, source, args, "rollback", metadata)


def _rollback_target(
    args: argparse.Namespace, config: ServiceConfig, history: list[DeploymentRecord]
) -> RollbackTarget | None:
    """The deployment (--to, or the last SUCCEEDED before what runs) or revision to roll back to; None, with the
    refusal printed, when there is none."""
    from ecs_handoff.aws import ecs as ecs_access

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
            return None
        return RollbackTarget(chosen, record=chosen)
    running = str(ecs_access.describe_service(config.cluster, config.service)["taskDefinition"])
    try:
        return rollback_target(history, running)
    except ArtifactRejected as exc:
        print(f"handoff: refused: {exc}", file=sys.stderr)
        return None


def _images_to_roll_back_to(env: Env, args: argparse.Namespace, target: RollbackTarget) -> tuple[bytes, str, str]:
    """(imagedefinitions.json of what the target ran, where it comes from, the upload's summary); says so."""
    from ecs_handoff.aws import ecs as ecs_access

    if target.record is None:
        assert target.revision is not None
        previous, _ = ecs_access.describe_task_definition(target.revision)
        raw = images_of(previous, [c.container for c in target.current.images])
        if not args.json:
            print(
                f"rolling {args.service} in {args.env} back to {short_name(target.revision)}, the revision that ran "
                f"before handoff's first deployment {target.current.id}: its images go onto Terraform's base"
            )
        return raw, f"revision {short_name(target.revision)}", f"rollback to {short_name(target.revision)}"
    record = target.record
    assert record.source is not None  # rollback_target and --to take only deployments with a source
    uploaded: bytes | None = None
    try:
        uploaded, _ = _current(env, args.service, record.source.object_version, "roll back to")
    except (NotFound, Refused):
        if not record.validated_images:  # nothing else says what it deployed
            raise
    ran = _ran(record, uploaded)
    if ran is not None:
        raw, lines = ran
        said = f"rolling {args.service} in {args.env} back to deployment {record.id}: the images it ran, by digest"
    else:  # a record from before handoff kept the validated images
        assert uploaded is not None
        raw, lines = uploaded, _listed(uploaded)
        said = f"rolling {args.service} in {args.env} back to deployment {record.id}: its metadata again"
    if not args.json:
        print(said)
        print("\n".join(lines))
    return raw, f"deployment {record.id}", f"rollback to deployment {record.id}"


def cmd_diff(args: argparse.Namespace) -> int:
    env = Env(args.env)
    config = env.service(args.service)
    if args.file:
        raw, source = _read_file(args.file), args.file
    else:
        raw, _ = _current(env, args.service, None, "diff")
        source = f"s3://{env.bucket}/{env.key(args.service)} (current)"
    checked = plan(env, args.service, config, raw, source)
    if args.json:
        show.print_json(checked.as_json())
    else:
        checked.print(env, args.service)
        if checked.refused:
            print(f"handoff: the intake would refuse it: {checked.refused}", file=sys.stderr)
    return EXIT_FAILED if checked.refused else EXIT_OK
