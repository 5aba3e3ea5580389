"""Promotion evidence: the in-toto Statement in its DSSE envelope, and the target's local checks of it."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from ecs_handoff import promotion
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import iso
from ecs_handoff.models.registry import ServiceConfig
from pydantic import ValidationError

from tests.unit.promotion_evidence import (
    KEY_ARN,
    NOW,
    OTHER_KEY,
    TARGET,
    UPLOADED,
    check,
    pem,
    predicate,
    rule,
    signed,
)


def test_promotion_pae_is_dsse_v1() -> None:
    # THEN the pre-authentication encoding is DSSE's: lengths in ASCII decimal, single spaces
    assert promotion.pae("application/example", b"hello world") == b"DSSEv1 19 application/example 11 hello world"


def test_promotion_statement_is_in_toto_v1_with_one_subject_per_image() -> None:
    document = promotion.statement(predicate())
    assert document["_type"] == "https://in-toto.io/Statement/v1"
    assert document["subject"] == [
        {"name": "api", "digest": {"sha256": "a" * 64}},
        {"name": "api-nginx", "digest": {"sha256": "b" * 64}},
    ]
    assert document["predicate"]["environment"] == "dev"


def test_promotion_verify_accepts_the_source_statement_for_the_same_digests() -> None:
    provenance = check(signed())
    assert (provenance.from_env, provenance.deployment_id, provenance.soaked_seconds) == ("dev", "api-v1", 7200)
    assert provenance.key_id == KEY_ARN


def test_promotion_verify_refuses_a_changed_digest() -> None:
    other = {**UPLOADED, "app-container": f"{TARGET}/api@sha256:{'c' * 64}"}
    with pytest.raises(ArtifactRejected, match=r"promotion from dev is refused: container 'app-container' is uploaded"):
        check(signed(), other)


def test_promotion_verify_refuses_a_tag_instead_of_a_digest() -> None:
    with pytest.raises(ArtifactRejected, match="without a digest"):
        check(signed(), {**UPLOADED, "app-container": f"{TARGET}/api:prod-1"})


def test_promotion_verify_refuses_an_upload_that_leaves_a_container_out() -> None:
    with pytest.raises(ArtifactRejected, match="leaves out nginx-container"):
        check(signed(), {"app-container": UPLOADED["app-container"]})


def test_promotion_verify_refuses_a_statement_from_another_environment() -> None:
    with pytest.raises(
        ArtifactRejected, match="is about environment 'stg'; this environment accepts only what succeeded in dev"
    ):
        check(signed(predicate(environment="stg")))


def test_promotion_verify_refuses_a_statement_about_another_service() -> None:
    with pytest.raises(ArtifactRejected, match="about service 'worker' in dev"):
        check(signed(predicate(service="worker")))


def test_promotion_verify_refuses_another_key_under_the_trusted_key_id() -> None:
    with pytest.raises(ArtifactRejected, match="signature does not verify with dev's public key"):
        check(signed(key=OTHER_KEY))


def test_promotion_verify_refuses_an_unknown_key() -> None:
    other = KEY_ARN.replace("111111111111", "333333333333")
    with pytest.raises(
        ArtifactRejected, match=r"it is signed by arn:aws:kms:ap-northeast-1:333333333333.*not by dev's key"
    ):
        check(signed(key_id=other))


def test_promotion_verify_refuses_a_payload_edited_after_signing() -> None:
    # GIVEN a signed statement whose payload is changed to claim a longer soak
    document = signed(predicate(soaked_seconds=60))
    body = json.loads(base64.b64decode(document["payload"]))
    body["predicate"]["soaked_seconds"] = 999999
    document["payload"] = base64.b64encode(promotion.canonical(body)).decode()
    # THEN the signature no longer verifies
    with pytest.raises(ArtifactRejected, match="changed after it was signed"):
        check(document)


def test_promotion_verify_refuses_a_bad_payload_type() -> None:
    with pytest.raises(ArtifactRejected, match="payloadType is 'application/json'"):
        check(signed(payload_type="application/json"))


def test_promotion_verify_refuses_a_type_swapped_after_signing() -> None:
    # GIVEN a statement signed as another payload type, then relabelled: PAE binds the type, so it fails
    document = signed(payload_type="application/json")
    document["payloadType"] = promotion.PAYLOAD_TYPE
    with pytest.raises(ArtifactRejected, match="does not verify"):
        check(document)


def test_promotion_verify_refuses_before_the_soak_ends_with_the_time_left() -> None:
    with pytest.raises(ArtifactRejected, match=r"ran in dev for 600 s of the 3600 s soak .* promote again in 3000 s"):
        check(signed(predicate(soaked_seconds=600)))


def test_promotion_verify_refuses_a_short_soak_that_can_no_longer_grow() -> None:
    with pytest.raises(ArtifactRejected, match="no longer runs there"):
        check(signed(predicate(soaked_seconds=600, still_running=False)))


def test_promotion_verify_refuses_an_old_statement() -> None:
    with pytest.raises(ArtifactRejected, match="signed the statement 7260 s ago; it is accepted for 3600 s"):
        check(signed(predicate(attested_at=iso(NOW - timedelta(seconds=7260)))))


def test_promotion_verify_refuses_a_statement_dated_in_the_future() -> None:
    # GIVEN a statement whose signing time is 2 h ahead of this environment's clock (a skewed source clock):
    # before, its age was negative, so it was accepted for max_age_seconds + 2 h
    future = signed(predicate(attested_at=iso(NOW + timedelta(hours=2))))
    with pytest.raises(ArtifactRejected, match=r"dated 7200 s after this environment's clock"):
        check(future)
    # a few seconds ahead (clocks never agree exactly) is accepted
    assert check(signed(predicate(attested_at=iso(NOW + timedelta(seconds=30))))).from_env == "dev"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "is not JSON"),
        (b"[]", "not a DSSE envelope"),
        (json.dumps({"payloadType": promotion.PAYLOAD_TYPE, "payload": "@@", "signatures": []}).encode(), "not base64"),
        (json.dumps({"payloadType": promotion.PAYLOAD_TYPE, "payload": "", "signatures": []}).encode(), "no signature"),
    ],
)
def test_promotion_verify_refuses_malformed_envelopes(raw: bytes, reason: str) -> None:
    with pytest.raises(ArtifactRejected, match=reason):
        promotion.verify(raw, rule(), "api", UPLOADED, NOW)


def test_promotion_rule_refuses_unknown_keys_and_a_negative_soak() -> None:
    with pytest.raises(ValidationError, match="extra"):
        rule(from_account="x")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        rule(soak_seconds=-1)
    with pytest.raises(ValidationError, match="PEM public key"):
        rule(public_key="not a key")


def test_promotion_rule_null_is_no_rule() -> None:
    base = {"cluster": "prod", "service": "api", "task_definition": "prod-api"}
    assert ServiceConfig.model_validate({**base, "promotion": None}).promotion is None
    entry = ServiceConfig.model_validate({**base, "promotion": rule().model_dump(by_alias=True)})
    assert entry.promotion is not None and entry.promotion.from_env == "dev"


def test_promotion_provenance_summary_is_what_history_and_approvers_read() -> None:
    provenance = check(signed())
    provenance.deployment_id = "api-1a2b3c4d5e6f"
    assert provenance.summary("api") == "promoted from dev api-1a2b3c4d, soaked 2 h"
    provenance.soaked_seconds = 5400
    assert provenance.summary("api") == "promoted from dev api-1a2b3c4d, soaked 1.5 h"


@pytest.mark.parametrize(
    ("public_key", "reason"),
    [
        # PEM-shaped (the rule's pattern admits it) but no key inside: cryptography raises ValueError
        ("-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n-----END PUBLIC KEY-----\n", "is not a public key"),
        # a real key, of another curve than KMS's ECC_NIST_P256
        (pem(ec.generate_private_key(ec.SECP384R1())), "is secp384r1, not P-256"),
    ],
)
def test_promotion_verify_names_a_registry_public_key_that_cannot_verify(public_key: str, reason: str) -> None:
    # GIVEN a registry rule whose public_key is not a P-256 public key  WHEN a promotion arrives
    # THEN it is INVALID naming the registry field to fix (not a crash of the intake, nor "changed after signing")
    with pytest.raises(ArtifactRejected, match=rf"registry's promotion\.public_key {reason}"):
        check(signed(), public_key=public_key)


def test_promotion_verify_names_a_few_of_many_unknown_signers() -> None:
    # GIVEN an envelope (within the 16 KiB cap) with 5000 signatures, none by the trusted key
    document = signed()
    document["signatures"] = [{} for _ in range(5000)]
    # WHEN it is checked  THEN the reason a person reads (record, email, history) stays short
    # (before: every signer listed, a 30 KB reason)
    with pytest.raises(ArtifactRejected, match="not by dev's key") as refused:
        check(document)
    assert len(str(refused.value)) < 1000


def test_promotion_rule_naming_this_environment_as_its_source_is_refused_before_any_statement_is_read() -> None:
    from ecs_handoff.logic.intake import promoted
    from ecs_handoff.models import ImageDefinition

    images = [ImageDefinition.model_validate({"name": k, "imageUri": v}) for k, v in UPLOADED.items()]
    with pytest.raises(ArtifactRejected) as refused:
        promoted(rule(), "api", images, json.dumps(signed()).encode(), "dev")  # the rule says from dev
    assert str(refused.value) == (
        "api's promotion rule names dev, this environment, as where images come from: a promotion comes from another "
        "environment; set promotion.from in its registry entry to the one before it"
    )
    # the same statement in another environment is checked as usual
    with pytest.raises(ArtifactRejected, match=r"no promotion\.dsse\.json"):
        promoted(rule(), "api", images, None, "prod")
