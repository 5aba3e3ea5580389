"""Promotion through the real ASL: prod takes only what SUCCEEDED and soaked in dev, proven by the statement
dev's operator API signs with dev's KMS key and prod's intake verifies with the public key its registry names."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff import promotion
from ecs_handoff.models import DeploymentRecord, Outcome
from ecs_handoff_cli.connect import call_signed
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ECR

from tests.e2e.people import ALICE

Trust = Callable[..., None]


@pytest.fixture
def trust_dev(embedded: EmbeddedAws, registry: Any) -> Trust:
    """Gives prod's api the promotion rule Terraform writes: from dev, dev's key and its public key."""

    def trust(soak_seconds: int = 0, service: str = "api", env: str = "dev", **more: Any) -> None:
        key_arn = embedded.stacks[env].outputs["PromotionKeyArn"]
        der = embedded.client("kms").get_public_key(KeyId=key_arn)["PublicKey"]
        rule = {
            "from": "dev",
            "soak_seconds": soak_seconds,
            "key_id": key_arn,
            "public_key": promotion.public_key_pem(der),
        }
        registry("prod", service, promotion={**rule, **more})

    return trust


def in_dev(world: World, tag: str, service: str = "api") -> DeploymentRecord:
    container = "app-container" if service == "api" else "app"
    record = world.wait("dev", world.upload("dev", service, artifact({container: image(service, tag)})))
    return record


def statement(embedded: EmbeddedAws, env: str, deployment_id: str) -> dict[str, Any]:
    """The envelope an environment's operator API signs (as `handoff promote` asks for it)."""
    answer = call_signed(f"{embedded.operator_apis[env].url}/deployments/{deployment_id}/attest", {})
    assert answer.status == 200, answer.body
    envelope: dict[str, Any] = answer.body["envelope"]
    return envelope


def promoted_zip(images: dict[str, str], envelope: dict[str, Any] | bytes) -> bytes:
    raw = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imagedefinitions.json", json.dumps([{"name": k, "imageUri": v} for k, v in images.items()]))
        archive.writestr(promotion.EVIDENCE_MEMBER, raw)
    return buffer.getvalue()


def upload_to_prod(world: World, body: bytes, service: str = "api") -> DeploymentRecord:
    return world.wait("prod", world.upload("prod", service, body))


def promote(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["promote", *args, "--json"])
    out, err = capsys.readouterr()
    assert out, err
    return code, json.loads(out)


def test_promotion_dev_to_prod_deploys_the_same_digests_and_prod_still_asks(
    world: World, embedded: EmbeddedAws, trust_dev: Trust, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN api SUCCEEDED in dev, and prod's api takes only what dev proved
    source = in_dev(world, "dev-9a9a9a1")
    assert source.outcome is Outcome.SUCCEEDED, source.reason
    trust_dev(soak_seconds=0)
    # WHEN it is promoted
    code, said = promote(capsys, source.id, "--to", "prod")
    assert code == 0, said
    deployment_id = said["uploaded"]["deployment_id"]
    assert said["from"]["deployment_id"] == source.id and said["from"]["env"] == "dev"
    # THEN prod verified dev's statement and still waits for its approvers
    waiting = world.wait_phase("prod", deployment_id, "awaiting_approval")
    assert waiting.outcome is Outcome.AWAITING_APPROVAL, waiting.reason
    assert waiting.promoted_from is not None and waiting.promoted_from.deployment_id == source.id
    assert waiting.promoted_from.from_env == "dev"
    # AND the approvers read where it comes from, on the email and the page
    summary = f"promoted from dev {source.id[:12]}, soaked "
    assert f"Promoted:     {summary}" in world.approval_email(ALICE, deployment_id)
    status, page = world.open(world.approval_link(ALICE, deployment_id))
    assert status == 200 and f"P{summary[1:]}" in page
    world.decide(world.approval_link(ALICE, deployment_id), "approve", "promoted")
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    # AND prod runs exactly the digests dev ran
    assert (
        world.running("prod", "api")["images"]["app-container"]
        == world.running("dev", "api")["images"]["app-container"]
    )
    assert [i.image_uri for i in record.validated_images or []] == [i.image_uri for i in source.validated_images or []]
    # AND history says it, linked to the source deployment
    capsys.readouterr()
    assert main(["history", "--env", "prod", "--service", "api", "--limit", "1"]) == 0
    assert summary in capsys.readouterr().out
    assert main(["history", "--env", "prod", "--service", "api", "--limit", "1", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["promoted_from"]["deployment_id"] == source.id and item["promoted_from"]["from_env"] == "dev"


def test_promotion_dry_run_uploads_nothing(world: World, trust_dev: Trust, capsys: pytest.CaptureFixture[str]) -> None:
    source = in_dev(world, "dev-9a9a9a2")
    trust_dev(soak_seconds=0)
    before = world.records("prod").history("prod", "api", limit=1)
    code, said = promote(capsys, source.id, "--to", "prod", "--dry-run")
    assert code == 0 and said["uploaded"] is None and said["images"][0]["image"].startswith(f"{ECR}/api@sha256:")
    assert world.records("prod").history("prod", "api", limit=1) == before


def test_promotion_upload_without_a_statement_is_refused(world: World, trust_dev: Trust) -> None:
    # GIVEN prod's rule  WHEN CI uploads digests never deployed in dev, with no statement
    trust_dev(soak_seconds=0)
    record = upload_to_prod(world, artifact({"app-container": image("api", "prod-never-in-dev")}))
    # THEN INVALID, naming dev and what to run
    assert record.outcome is Outcome.INVALID
    assert "api accepts only images promoted from dev" in record.reason and "handoff promote" in record.reason


def test_promotion_rule_makes_cli_upload_say_it_would_be_refused(
    world: World, trust_dev: Trust, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN prod's api takes only what dev promotes, and a zip whose images are in ECR
    trust_dev(soak_seconds=0)
    body = artifact({"app-container": image("api", "prod-dry-never-in-dev")})
    world.push(body)
    (tmp_path / "plain.zip").write_bytes(body)
    # WHEN the operator checks it with `handoff upload --dry-run` (what `rerun` and `rollback` check too)
    code = main(["upload", str(tmp_path / "plain.zip"), "--env", "prod", "--service", "api", "--dry-run"])
    # THEN it does not say the intake would take it (before: "passes the intake's checks"), and says what would
    out, err = capsys.readouterr()
    assert code != 0 and "passes the intake's checks" not in out
    assert "api accepts only images promoted from dev" in out + err and "handoff promote" in out + err


def test_promotion_other_digests_than_dev_signed_are_refused(
    world: World, embedded: EmbeddedAws, trust_dev: Trust
) -> None:
    # GIVEN a real statement from dev about one build
    source = in_dev(world, "dev-9a9a9a3")
    trust_dev(soak_seconds=0)
    envelope = statement(embedded, "dev", source.id)
    # WHEN prod gets it with another build's digest (pushed, so it exists in ECR)
    other = world.pinned(image("api", "dev-never-deployed"))
    record = upload_to_prod(world, promoted_zip({"app-container": other}, envelope))
    # THEN refused, naming the source environment and the container
    assert record.outcome is Outcome.INVALID
    assert "the promotion from dev is refused: container 'app-container' is uploaded as" in record.reason


def test_promotion_before_the_soak_ends_is_refused_with_the_time_left(
    world: World, embedded: EmbeddedAws, trust_dev: Trust, capsys: pytest.CaptureFixture[str]
) -> None:
    source = in_dev(world, "dev-9a9a9a4")
    trust_dev(soak_seconds=3600)
    # WHEN promoted a moment after it succeeded: the CLI refuses, uploading nothing
    code, said = promote(capsys, source.id, "--to", "prod")
    assert code == 1 and said["uploaded"] is None
    assert any("of the 3600 s soak prod asks; promote again in" in p for p in said["refused"])
    # AND an upload made around the CLI with the same statement is refused by the intake
    images = {"app-container": (source.validated_images or [])[0].image_uri}
    record = upload_to_prod(world, promoted_zip(images, statement(embedded, "dev", source.id)))
    assert record.outcome is Outcome.INVALID and "soak this environment asks; promote again in" in record.reason


def test_promotion_of_a_failed_deployment_is_refused(
    world: World, capsys: pytest.CaptureFixture[str], trust_dev: Trust
) -> None:
    trust_dev(soak_seconds=0)
    failed = in_dev(world, "fail-9a9a9a5")
    assert failed.outcome is Outcome.FAILED
    capsys.readouterr()
    assert main(["promote", failed.id, "--to", "prod"]) == 1
    assert f"dev will not sign for {failed.id}: {failed.id} is FAILED in dev" in capsys.readouterr().err


def test_promotion_of_a_rolled_back_deployment_is_refused(
    world: World, capsys: pytest.CaptureFixture[str], trust_dev: Trust
) -> None:
    # GIVEN worker went to a new build, and was rolled back to the one before
    trust_dev(soak_seconds=0, service="worker")
    in_dev(world, "dev-9a9a9a6", "worker")
    bad = in_dev(world, "dev-9a9a9a7", "worker")
    assert main(["rollback", "--env", "dev", "--service", "worker", "--json"]) == 0
    capsys.readouterr()
    # WHEN the rolled-back build is promoted  THEN dev will not sign for it
    assert main(["promote", bad.id, "--to", "prod"]) == 1
    assert f"{bad.id} was rolled back in dev" in capsys.readouterr().err


def _tampered_payload(envelope: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(base64.b64decode(envelope["payload"]))
    body["predicate"]["soaked_seconds"] += 86400
    return {**envelope, "payload": base64.b64encode(promotion.canonical(body)).decode()}


def test_promotion_tampered_statements_are_refused(world: World, embedded: EmbeddedAws, trust_dev: Trust) -> None:
    source = in_dev(world, "dev-9a9a9a8")
    trust_dev(soak_seconds=0)
    images = {"app-container": (source.validated_images or [])[0].image_uri}
    envelope = statement(embedded, "dev", source.id)
    # a statement edited after dev signed it
    edited = upload_to_prod(world, promoted_zip(images, _tampered_payload(envelope)))
    assert edited.outcome is Outcome.INVALID and "does not verify with dev's public key" in edited.reason
    # prod's own statement about a deployment of the same digests: another environment, another key
    prod_key = embedded.stacks["prod"].outputs["PromotionKeyArn"]
    forged = {**envelope, "signatures": [{"keyid": prod_key, "sig": envelope["signatures"][0]["sig"]}]}
    other = upload_to_prod(world, promoted_zip(images, forged))
    assert other.outcome is Outcome.INVALID and f"signed by {prod_key}, not by dev's key" in other.reason
    # signed by another key under dev's key id (prod's key signs the same bytes)
    pae = promotion.pae(promotion.PAYLOAD_TYPE, base64.b64decode(envelope["payload"]))
    signature = embedded.client("kms").sign(
        KeyId=prod_key, Message=pae, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256"
    )
    wrong = {
        **envelope,
        "signatures": [
            {"keyid": envelope["signatures"][0]["keyid"], "sig": base64.b64encode(signature["Signature"]).decode()}
        ],
    }
    record = upload_to_prod(world, promoted_zip(images, wrong))
    assert record.outcome is Outcome.INVALID and "does not verify" in record.reason
    # a payload type other than in-toto's
    typed = upload_to_prod(world, promoted_zip(images, {**envelope, "payloadType": "application/json"}))
    assert typed.outcome is Outcome.INVALID and "payloadType is 'application/json'" in typed.reason
