"""The source side of a promotion on the stack from template.yaml: its KMS key is an ECC_NIST_P256 signing key
(the embedded AWS's KMS gap keeps the template's KeySpec), and the attestor signs only what its records and
ECS bear out; the target's local check accepts what it signed with the key's public key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ecs_handoff import promotion
from ecs_handoff.aws import kms
from ecs_handoff.logic import promotion as attestor_module
from ecs_handoff.logic.promotion import Attestor, PromotionRefused
from ecs_handoff.models import DeploymentRecord, ImageChange, ImageDefinition, Outcome, iso, parse_iso, utcnow
from ecs_handoff.models.registry import PromotionRule
from ecs_handoff_embedded.seed import ECR, push_image

from tests.integration.conftest import Stack
from tests.integration.steps import records


def _succeeded(stack: Stack, hours: float = 2.0, outcome: Outcome = Outcome.SUCCEEDED) -> DeploymentRecord:
    """A record as the workflow leaves a deployment of api that finished `hours` ago, the service on its revision."""
    ecs = stack.client("ecs")
    digest = push_image(stack.client("ecr"), f"{ECR}/api:dev-promote")
    service = ecs.describe_services(cluster="dev", services=["api"])["services"][0]
    finished = utcnow() - timedelta(hours=hours)
    record = DeploymentRecord(
        id="api-v-promote",
        env="dev",
        service="api",
        outcome=outcome,
        cluster="dev",
        ecs_service="api",
        started_at=iso(finished - timedelta(minutes=5)),
        finished_at=iso(finished),
        validated_images=[ImageDefinition(name="app-container", image_uri=f"{ECR}/api@{digest}")],
        new_task_definition=service["taskDefinition"],
        reason="" if outcome is Outcome.SUCCEEDED else "ECS's circuit breaker rolled it back",
    )
    assert records(stack).create(record)
    return record


def test_kms_template_key_has_its_key_spec(stack: Stack) -> None:
    key = stack.client("kms").describe_key(KeyId=stack.outputs["PromotionKeyArn"])["KeyMetadata"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert key["SigningAlgorithms"] == ["ECDSA_SHA_256"]


def test_promotion_signing_a_soaked_deployment_verifies_with_the_public_key(stack: Stack) -> None:
    # GIVEN api SUCCEEDED in dev two hours ago and still runs
    record = _succeeded(stack)
    key_arn = stack.outputs["PromotionKeyArn"]
    # WHEN dev signs a statement about it
    attestation = Attestor(records(stack), "dev", key_arn).attest(record.id)
    # THEN the statement says what dev saw, and prod's local check accepts it with the key's public key
    assert attestation.predicate.still_running and 7190 <= attestation.predicate.soaked_seconds <= 7300
    _, der = kms.public_key(key_arn)
    rule = PromotionRule.model_validate(
        {"from": "dev", "soak_seconds": 3600, "key_id": key_arn, "public_key": promotion.public_key_pem(der)}
    )
    _, repository, digest = promotion.image_parts(f"{ECR}/api@{attestation.predicate.images[0].digest}")
    uploaded = {"app-container": f"999999999999.dkr.ecr.ap-northeast-1.amazonaws.com/{repository}@{digest}"}
    raw = promotion.canonical(attestation.envelope)
    provenance = promotion.verify(raw, rule, "api", uploaded, utcnow())
    assert (provenance.from_env, provenance.deployment_id, provenance.account) == ("dev", record.id, "123456789012")


def test_promotion_signing_refuses_a_failed_deployment(stack: Stack) -> None:
    record = _succeeded(stack, outcome=Outcome.FAILED)
    with pytest.raises(PromotionRefused, match=r"api-v-promote is FAILED in dev \(ECS's circuit breaker"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def test_promotion_signing_refuses_a_deployment_ecs_no_longer_runs(stack: Stack) -> None:
    # GIVEN the service was moved to another revision outside handoff (no later record explains it)
    record = _succeeded(stack)
    records(stack).update(record.id, new_task_definition=f"{record.new_task_definition}-gone")
    with pytest.raises(PromotionRefused, match="no longer runs"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def _later(stack: Stack, record: DeploymentRecord, minutes: int, outcome: Outcome, same_images: bool) -> None:
    """A deployment of the same service that started `minutes` after `record` succeeded."""
    assert record.finished_at is not None
    started = parse_iso(record.finished_at) + timedelta(minutes=minutes)
    images = (
        record.validated_images
        if same_images
        else [ImageDefinition(name="app-container", image_uri=f"{ECR}/api@sha256:{'e' * 64}")]
    )
    later = DeploymentRecord(
        id=f"api-v-later-{minutes}",
        env="dev",
        service="api",
        outcome=outcome,
        started_at=iso(started),
        finished_at=iso(started + timedelta(minutes=2)),
        timeline={"deploying": iso(started + timedelta(seconds=30))},
        validated_images=images,
        reason="ECS's circuit breaker rolled it back" if outcome is Outcome.FAILED else "",
    )
    assert records(stack).create(later)


def test_promotion_signing_the_soak_ends_where_the_next_deployment_began(stack: Stack) -> None:
    # GIVEN api succeeded 2 h ago, and the next deployment started changing the service 30 min later
    record = _succeeded(stack)
    _later(stack, record, 30, Outcome.SUCCEEDED, same_images=False)
    _later(stack, record, 60, Outcome.SUCCEEDED, same_images=False)
    # WHEN dev signs  THEN the soak stated is those 30 minutes, and the images no longer run there
    predicate = Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id).predicate
    assert (predicate.soaked_seconds, predicate.still_running) == (30 * 60 + 30, False)


def test_promotion_signing_refuses_images_that_failed_again_since(stack: Stack) -> None:
    record = _succeeded(stack)
    _later(stack, record, 30, Outcome.FAILED, same_images=True)
    with pytest.raises(
        PromotionRefused, match=r"the same images were deployed again in dev as api-v-later-30 and it FAILED"
    ):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def _refused_uploads(stack: Stack, record: DeploymentRecord, count: int) -> None:
    """`count` uploads of api that source CI made after `record` and dev refused (nothing deployed)."""
    assert record.finished_at is not None
    for n in range(count):
        at = parse_iso(record.finished_at) + timedelta(seconds=n + 1)
        refused = DeploymentRecord(
            id=f"api-v-junk-{n:03d}",
            env="dev",
            service="api",
            outcome=Outcome.INVALID,
            started_at=iso(at),
            finished_at=iso(at),
            reason="the zip has no imagedefinitions.json at its root",
        )
        assert records(stack).create(refused)


def test_promotion_signing_reads_past_a_page_of_refused_uploads(stack: Stack) -> None:
    # GIVEN api succeeded in dev, then source CI uploaded 120 zips that were refused, and only then the same
    # images were deployed again and FAILED (ECS's circuit breaker put the service back on the succeeded
    # deployment's revision, so ECS runs it again)
    record = _succeeded(stack)
    _refused_uploads(stack, record, 120)
    _later(stack, record, 30, Outcome.FAILED, same_images=True)
    # WHEN dev is asked to sign  THEN the failure behind the refused uploads is found and nothing is signed
    with pytest.raises(PromotionRefused, match=r"deployed again in dev as api-v-later-30 and it FAILED"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def test_promotion_signing_refuses_when_what_came_after_is_not_all_read(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN more deployments after api's than the attestor reads (20 here)
    monkeypatch.setattr(attestor_module, "LATER_RECORDS", 20)
    record = _succeeded(stack)
    _refused_uploads(stack, record, 25)
    # WHEN dev is asked to sign  THEN it refuses rather than sign a soak it did not check to the end
    with pytest.raises(PromotionRefused, match=r"api has more than 19 deployments in dev since api-v-promote"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


@pytest.mark.parametrize("outcome", [Outcome.SUCCEEDED, Outcome.IN_PROGRESS, Outcome.FAILED])
def test_promotion_signing_refuses_a_deployment_whose_rollback_began(stack: Stack, outcome: Outcome) -> None:
    # GIVEN api went from v0 to the promoted images in dev, and someone then began putting v0 back (a rollback
    # still deploying, or one that failed and left the service where it was)
    record = _succeeded(stack)
    assert record.finished_at is not None
    promoted = record.validated_images[0].image_uri if record.validated_images else ""
    before = f"{ECR}/api:v0"
    records(stack).update(
        record.id, images=[ImageChange(container="app-container", image_before=before, image_after=promoted)]
    )
    started = parse_iso(record.finished_at) + timedelta(minutes=90)
    rollback = DeploymentRecord(
        id="api-v-rollback",
        env="dev",
        service="api",
        outcome=outcome,
        started_at=iso(started),
        timeline={"deploying": iso(started + timedelta(seconds=30))},
        images=[ImageChange(container="app-container", image_before=promoted, image_after=before)],
        validated_images=[ImageDefinition(name="app-container", image_uri=before)],
    )
    assert records(stack).create(rollback)
    # WHEN dev is asked to sign  THEN it refuses: people decided these images should not run there
    with pytest.raises(PromotionRefused, match=r"api-v-promote was rolled back in dev: api-v-rollback"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def test_promotion_signing_refuses_the_same_digests_failing_under_another_reference(stack: Stack) -> None:
    # GIVEN api succeeded in dev, and its digest was later deployed again, written with a tag before the digest
    # (`repo:tag@sha256:...`, which the intake deploys as uploaded), and FAILED
    record = _succeeded(stack)
    assert record.finished_at is not None and record.validated_images
    name, _, digest = record.validated_images[0].image_uri.partition("@")
    started = parse_iso(record.finished_at) + timedelta(minutes=30)
    again = DeploymentRecord(
        id="api-v-again",
        env="dev",
        service="api",
        outcome=Outcome.FAILED,
        started_at=iso(started),
        finished_at=iso(started + timedelta(minutes=2)),
        timeline={"deploying": iso(started + timedelta(seconds=30))},
        validated_images=[ImageDefinition(name="app-container", image_uri=f"{name}:retry@{digest}")],
        reason="ECS's circuit breaker rolled it back",
    )
    assert records(stack).create(again)
    # WHEN dev is asked to sign  THEN it refuses: the same image (container, repository, digest) failed there
    with pytest.raises(PromotionRefused, match=r"deployed again in dev as api-v-again and it FAILED"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


def test_promotion_signing_refuses_a_rollback_written_with_a_tag_before_the_digest(stack: Stack) -> None:
    # GIVEN api went from v0 (a pinned digest) to the promoted images in dev, and a later deployment put v0's
    # digest back, uploaded as `repo:tag@sha256:...` (deployed as uploaded, so image_after keeps that form)
    record = _succeeded(stack)
    assert record.finished_at is not None and record.validated_images
    promoted = record.validated_images[0].image_uri
    before = f"{ECR}/api@sha256:{'0' * 64}"
    records(stack).update(
        record.id, images=[ImageChange(container="app-container", image_before=before, image_after=promoted)]
    )
    started = parse_iso(record.finished_at) + timedelta(minutes=90)
    back = f"{ECR}/api:v0@sha256:{'0' * 64}"
    rollback = DeploymentRecord(
        id="api-v-rollback",
        env="dev",
        service="api",
        outcome=Outcome.SUCCEEDED,
        started_at=iso(started),
        finished_at=iso(started + timedelta(minutes=2)),
        timeline={"deploying": iso(started + timedelta(seconds=30))},
        images=[ImageChange(container="app-container", image_before=promoted, image_after=back)],
        validated_images=[ImageDefinition(name="app-container", image_uri=back)],
    )
    assert records(stack).create(rollback)
    # WHEN dev is asked to sign  THEN it refuses: the same digest went back, whatever the reference looked like
    with pytest.raises(PromotionRefused, match=r"api-v-promote was rolled back in dev: api-v-rollback"):
        Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id)


@pytest.mark.parametrize("changed", ["another container", "no image"])
def test_promotion_signing_a_later_deployment_that_leaves_its_images_alone_is_no_rollback(
    stack: Stack, changed: str
) -> None:
    # GIVEN api's app-container went from v0 to the promoted image in dev, then a later deployment changed only
    # nginx-container (uploaded by digest), or no image at all (Terraform changed the base task definition)
    record = _succeeded(stack)
    assert record.finished_at is not None and record.validated_images
    promoted = record.validated_images[0].image_uri
    records(stack).update(
        record.id, images=[ImageChange(container="app-container", image_before=f"{ECR}/api:v0", image_after=promoted)]
    )
    nginx = f"{ECR}/api-nginx@sha256:{'1' * 64}"
    started = parse_iso(record.finished_at) + timedelta(minutes=90)
    later = DeploymentRecord(
        id="api-v-nginx",
        env="dev",
        service="api",
        outcome=Outcome.SUCCEEDED,
        started_at=iso(started),
        finished_at=iso(started + timedelta(minutes=2)),
        timeline={"deploying": iso(started + timedelta(seconds=30))},
        images=[ImageChange(container="nginx-container", image_before=f"{ECR}/api-nginx:v0", image_after=nginx)]
        if changed == "another container"
        else [],
        validated_images=[ImageDefinition(name="nginx-container", image_uri=nginx)]
        if changed == "another container"
        else record.validated_images,
    )
    assert records(stack).create(later)
    # WHEN dev is asked to sign  THEN it signs, the soak ending where that deployment began (before: "rolled back")
    predicate = Attestor(records(stack), "dev", stack.outputs["PromotionKeyArn"]).attest(record.id).predicate
    assert (predicate.soaked_seconds, predicate.still_running) == (90 * 60 + 30, False)
