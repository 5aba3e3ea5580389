"""A promotion across two embedded accounts, run in a process of its own (an embedded AWS is process-wide, and
the e2e package's own runs in the tests' process): dev in 123456789012, prod in 210987654321, each with its own
ECR, KMS key, bucket and stack. `python -m tests.e2e.across_accounts` prints what happened as JSON;
tests/e2e/test_promotion_accounts.py holds it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecs_handoff import promotion
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.models import DeploymentRecord, Phase, execution_name
from ecs_handoff_embedded import seed
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact

from tests.e2e.people import ALICE


def _wait(records: DeploymentRecords, deployment_id: str, phase: str | None = None) -> DeploymentRecord:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        record = records.get(deployment_id)
        if record is not None and (record.phase is Phase.FINISHED or (phase and phase in record.timeline)):
            return record
        time.sleep(0.05)
    raise TimeoutError(deployment_id)


def _copy_manifest(aws: EmbeddedAws, repository: str, digest: str) -> None:
    """Pushes the same manifest into prod's ECR (what ECR replication or `crane copy` does): same digest."""
    [found] = aws.env_client("dev", "ecr").batch_get_image(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )["images"]
    ecr = aws.env_client("prod", "ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    ecr.put_image(repositoryName=repository, imageManifest=found["imageManifest"], imageTag="promoted")


@contextlib.contextmanager
def _process_environment(**more: str) -> Iterator[None]:
    """The CLI switches this process's credentials (--to-profile): put them back for the embedded AWS after."""
    saved = dict(os.environ)
    os.environ.update(more)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _promote(aws: EmbeddedAws, deployment_id: str) -> tuple[int, dict[str, Any], str]:
    """`handoff promote` as a person holding dev's credentials and a profile for prod's account."""
    from ecs_handoff_cli.main import main

    out, err = io.StringIO(), io.StringIO()
    credentials = str(aws.state_dir / "credentials")
    with (
        _process_environment(AWS_SHARED_CREDENTIALS_FILE=credentials),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = main(["promote", deployment_id, "--to", "prod", "--to-profile", "handoff-local-prod", "--json"])
    return code, json.loads(out.getvalue() or "{}"), err.getvalue()


def run() -> dict[str, Any]:
    aws = EmbeddedAws(state_dir=Path(tempfile.mkdtemp()), rollout_seconds=0.3, account_per_env=True).start()
    try:
        world, dev, prod = World(aws), aws.accounts["dev"], aws.accounts["prod"]
        said: dict[str, Any] = {"accounts": aws.accounts}
        # GIVEN api SUCCEEDED in dev (dev's account, dev's ECR)
        uri = f"{seed.ecr_host(dev)}/api:dev-accounts1"
        source = world.wait("dev", world.upload("dev", "api", artifact({"app-container": uri})))
        said["source"] = {"id": source.id, "outcome": source.outcome.value}
        digest = promotion.image_parts((source.validated_images or [])[0].image_uri)[2]
        assert digest is not None
        # AND prod (its own account) trusts dev's key: its ARN and public key, read from dev's account
        key_arn = aws.stacks["dev"].outputs["PromotionKeyArn"]
        der = aws.env_client("dev", "kms").get_public_key(KeyId=key_arn)["PublicKey"]
        rule = {"from": "dev", "soak_seconds": 0, "key_id": key_arn, "public_key": promotion.public_key_pem(der)}
        ssm = aws.env_client("prod", "ssm")
        entry = json.loads(ssm.get_parameter(Name="/handoff/prod/services/api")["Parameter"]["Value"])
        ssm.put_parameter(
            Name="/handoff/prod/services/api",
            Type="String",
            Overwrite=True,
            Value=json.dumps({**entry, "promotion": rule}),
        )
        # WHEN promoted before the digest is in prod's ECR: refused, saying how to get it there
        code, plan, _ = _promote(aws, source.id)
        said["missing"] = {"code": code, "refused": plan.get("refused")}
        # AND after the same manifest is pushed to prod's ECR
        _copy_manifest(aws, "api", digest)
        code, plan, err = _promote(aws, source.id)
        said["promoted"] = {"code": code, "images": plan.get("images"), "uploaded": plan.get("uploaded"), "err": err}
        if code != 0:
            return said
        records = DeploymentRecords(
            aws.stacks["prod"].outputs["DeploymentsTableName"], aws.env_client("prod", "dynamodb")
        )
        deployment_id = plan["uploaded"]["deployment_id"]
        waiting = _wait(records, deployment_id, "awaiting_approval")
        said["waiting"] = {
            "outcome": waiting.outcome.value,
            "reason": waiting.reason,
            "promoted_from": waiting.promoted_from.model_dump() if waiting.promoted_from else None,
        }
        status, _ = world.decide(world.approval_link(ALICE, deployment_id), "approve", "across accounts")
        done = _wait(records, deployment_id)
        running = aws.env_client("prod", "ecs").describe_services(cluster="prod", services=["api"])["services"][0]
        task = aws.env_client("prod", "ecs").describe_task_definition(taskDefinition=running["taskDefinition"])
        images = {c["name"]: c["image"] for c in task["taskDefinition"]["containerDefinitions"]}
        said["deployed"] = {"decided": status, "outcome": done.outcome.value, "reason": done.reason, "images": images}
        said["digest"] = digest
        # AND another build's digests with dev's statement are refused in prod
        other = f"{seed.ecr_host(prod)}/api@sha256:{'f' * 64}"
        body = io.BytesIO()
        envelope = json.dumps(dev_statement(aws, source.id)).encode()
        with zipfile.ZipFile(body, "w") as archive:
            archive.writestr("imagedefinitions.json", json.dumps([{"name": "app-container", "imageUri": other}]))
            archive.writestr(promotion.EVIDENCE_MEMBER, envelope)
        version = aws.env_client("prod", "s3").put_object(
            Bucket=seed.bucket_name("prod", prod), Key="api/imagedefinitions.json.zip", Body=body.getvalue()
        )["VersionId"]
        refused = _wait(records, execution_name("api", version))
        said["other_digests"] = {"outcome": refused.outcome.value, "reason": refused.reason}
        said["denials"] = aws.authorizer.denials
        return said
    finally:
        aws.stop()


def dev_statement(aws: EmbeddedAws, deployment_id: str) -> dict[str, Any]:
    """dev's signed statement, asked of dev's operator API as `handoff promote` asks."""
    from ecs_handoff_cli.connect import call_signed

    answer = call_signed(f"{aws.operator_apis['dev'].url}/deployments/{deployment_id}/attest", {})
    envelope: dict[str, Any] = answer.body["envelope"]
    return envelope


if __name__ == "__main__":
    result = run()
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")  # the last line (the functions log above it)
