"""`handoff promote <deployment> --to <env>`: carry a deployment that SUCCEEDED (and soaked) in one environment
to the next, by digest, with the statement the source environment signs about it.

The source's operator API signs (it re-derives what it signs from its own records and ECS); this command only
carries the envelope: it checks the digests are in the target account's ECR, and uploads, through the target's
normal path (its bucket, its intake, its approvers), an imagedefinitions.json.zip that names the images by
digest and holds the envelope beside it. The target's intake verifies the envelope itself."""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from typing import Any

from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ServiceConfig

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env
from ecs_handoff_cli.decide import refused
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK, Refused, UsageError


@dataclass(frozen=True)
class PromotedImage:
    container: str
    repository: str
    digest: str

    def at(self, host: str) -> str:
        return f"{host}/{self.repository}@{self.digest}"


def images_of(predicate: dict[str, Any]) -> list[PromotedImage]:
    return [PromotedImage(str(i["container"]), str(i["repository"]), str(i["digest"])) for i in predicate["images"]]


def artifact(images: list[PromotedImage], host: str, envelope: dict[str, Any]) -> tuple[bytes, bytes]:
    """(imagedefinitions.json, the zip the target's intake reads): the images pinned by digest in the target's
    registry, and the source's DSSE envelope as a second member."""
    from ecs_handoff.artifact import MEMBER_NAME
    from ecs_handoff.promotion import EVIDENCE_MEMBER

    raw = json.dumps([{"name": i.container, "imageUri": i.at(host)} for i in images], indent=2).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((MEMBER_NAME, raw), (EVIDENCE_MEMBER, json.dumps(envelope).encode())):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return raw, buffer.getvalue()


def missing_in_target(images: list[PromotedImage], host: str, source_account: str) -> list[str]:
    """For each digest the target's ECR does not have, how to get it there."""
    from ecs_handoff.aws import ecr

    registry_id = host.split(".", 1)[0]
    problems: list[str] = []
    for image in images:
        try:
            ecr.image_digest(registry_id, image.repository, None, image.digest)
        except ArtifactRejected:
            problems.append(
                f"{image.repository}@{image.digest[:19]}… ({image.container}) is not in {host}/{image.repository}: "
                f"replicate it (ECR replication from account {source_account or 'of the source'} to this one), or push "
                "the same manifest (e.g. `crane copy <source>@<digest> "
                f"{image.at(host)}`): a digest is the manifest's content address, the same in every registry"
            )
    return problems


def soak_problem(predicate: dict[str, Any], config: ServiceConfig, target: str) -> str:
    """The target's rule checked here first (the intake checks it again): source environment and soak."""
    rule = config.promotion
    if rule is None:
        return ""
    if rule.from_env != predicate["environment"]:
        return f"{target} accepts only promotions from {rule.from_env}, not from {predicate['environment']}"
    soaked = int(predicate["soaked_seconds"])
    if soaked < rule.soak_seconds:
        left = rule.soak_seconds - soaked
        when = f"promote again in {left} s" if predicate["still_running"] else "it no longer runs there"
        return (
            f"{predicate['deployment_id']} ran in {predicate['environment']} for {soaked} s of the "
            f"{rule.soak_seconds} s soak {target} asks; {when}"
        )
    return ""


def _statement(source: Env, deployment_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    answer = source.operator_api(f"/deployments/{deployment_id}/attest", {})
    refused(answer)
    if answer.status >= 400:
        raise Refused(f"{source.name} will not sign for {deployment_id}: {answer.body.get('message') or answer.text}")
    envelope, predicate = answer.body.get("envelope"), answer.body.get("predicate")
    if not isinstance(envelope, dict) or not isinstance(predicate, dict):
        raise Refused(f"{source.name}'s operator API answered without a statement: {answer.text}")
    # What the source said is shown as signed: the payload, not the answer's copy of it.
    signed = json.loads(base64.b64decode(envelope["payload"]))
    return envelope, signed["predicate"]


def cmd_promote(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.connect import use_account
    from ecs_handoff_cli.follow import find_deployment

    source, record = find_deployment(args.deployment_id, args.env)
    if source.name == args.to:
        raise UsageError(f"{record.id} is in {args.to} already; --to names the environment to promote to")
    envelope, predicate = _statement(source, record.id)
    if args.to_profile:  # the target environment lives in another account: its credentials from here on
        from ecs_handoff_cli.connect import local_profile

        use_account(local_profile(args.to_profile) if getattr(args, "local", False) else args.to_profile, None)
    target = Env(args.to)
    config = target.service(record.service)
    images = images_of(predicate)
    host = target.default_registry()
    plan: dict[str, Any] = {
        "from": {
            "env": source.name,
            "account": predicate["account"],
            "deployment_id": predicate["deployment_id"],
            "succeeded_at": predicate["succeeded_at"],
            "soaked_seconds": predicate["soaked_seconds"],
            "still_running": predicate["still_running"],
        },
        "to": {"env": target.name, "service": record.service, "bucket": target.bucket},
        "images": [{"container": i.container, "image": i.at(host)} for i in images],
        "rule": config.promotion.model_dump(by_alias=True, include={"from_env", "soak_seconds", "key_id"})
        if config.promotion
        else None,
    }
    problems = missing_in_target(images, host, str(predicate["account"]))
    soak = soak_problem(predicate, config, target.name)
    if soak:
        problems.append(soak)
    if problems:
        return _refused(args, plan, problems)
    _, body = artifact(images, host, envelope)
    if args.dry_run:
        return _print_plan(args, plan, uploaded=None)
    from ecs_handoff.aws import s3
    from ecs_handoff.models import execution_name

    from ecs_handoff_cli.release import ci_metadata

    summary = f"promoted from {source.name} {record.id}, soaked {predicate['soaked_seconds']} s"
    version = s3.put_bytes(
        target.bucket, target.key(record.service), body, metadata=ci_metadata(None, summary, from_ci=False)
    )
    deployment_id = execution_name(record.service, version)
    uploaded = {"deployment_id": deployment_id, "object_version": version, "key": target.key(record.service)}
    return _print_plan(args, plan, uploaded)


def _refused(args: argparse.Namespace, plan: dict[str, Any], problems: list[str]) -> int:
    if args.json:
        show.print_json({**plan, "uploaded": None, "refused": problems})
    else:
        for problem in problems:
            print(f"handoff: {problem}", file=sys.stderr)
        print("nothing was uploaded", file=sys.stderr)
    return EXIT_FAILED


def _print_plan(args: argparse.Namespace, plan: dict[str, Any], uploaded: dict[str, Any] | None) -> int:
    if args.json:
        show.print_json({**plan, "uploaded": uploaded, "refused": None})
        return EXIT_OK
    came = plan["from"]
    print(
        f"{plan['to']['service']}: {came['deployment_id']} SUCCEEDED in {came['env']} (account {came['account']}) "
        f"at {came['succeeded_at']}, soaked {came['soaked_seconds']} s"
        + ("" if came["still_running"] else " (no longer running there)")
    )
    for image in plan["images"]:
        print(f"  {image['container']}: {image['image']}")
    if uploaded is None:
        print(f"dry run: every digest is in {plan['to']['env']}'s ECR; nothing uploaded")
    else:
        print(f"uploaded s3://{plan['to']['bucket']}/{uploaded['key']} (version {uploaded['object_version']})")
        print(f"deployment {uploaded['deployment_id']} in {plan['to']['env']}")
        print(f"follow it with: handoff watch {uploaded['deployment_id']} --env {plan['to']['env']}")
    return EXIT_OK
