"""Promotion evidence at its edges, without AWS: the exact bytes signed and the envelope's fields, the image
reference's parts, the registry's public key as PEM, and each refusal a target makes in full (the reason is
stored, emailed and shown in history, so its words and its limits are behaviour): a few of many signers, an
envelope part missing or not base64, a statement that is not handoff's, and the clock, age and soak exactly at
their limits."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from ecs_handoff import promotion
from ecs_handoff.artifact import read_upload
from ecs_handoff.aws import kms
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import iso
from ecs_handoff.models.records import Provenance
from pydantic import ValidationError

from tests.helpers import zip_members
from tests.unit.promotion_evidence import (
    APP,
    KEY_ARN,
    NGINX,
    NOW,
    SOURCE_KEY,
    TARGET,
    UPLOADED,
    check,
    pem,
    predicate,
    rule,
    signed,
    signed_over,
)

REFUSED = "the promotion from dev is refused: "


def refusal(document: dict[str, Any], uploaded: dict[str, str] | None = None, **rule_changes: Any) -> str:
    with pytest.raises(ArtifactRejected) as refused:
        check(document, uploaded, **rule_changes)
    return str(refused.value)


# -- what is signed ----------------------------------------------------------------------------------------------


def test_the_signed_bytes_are_the_statement_with_sorted_keys_and_no_spaces() -> None:
    assert promotion.canonical({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == b'{"a":[1,{"c":3,"d":2}],"b":1}'


def test_the_envelope_carries_the_payload_its_type_and_one_signature_in_base64() -> None:
    assert promotion.envelope(b'{"a":1}', KEY_ARN, b"\x00\xff") == {
        "payload": "eyJhIjoxfQ==",
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"keyid": KEY_ARN, "sig": "AP8="}],
    }


def test_the_statement_carries_the_whole_predicate_as_json() -> None:
    document = promotion.statement(predicate())
    assert document["predicateType"] == "https://github.com/ecs-handoff/handoff/promotion/v1"
    assert document["predicate"] == json.loads(predicate().model_dump_json())


@pytest.mark.parametrize(
    ("image_uri", "parts"),
    [
        (f"{TARGET}/team/api:v1@{APP}", (TARGET, "team/api", APP)),
        (f"{TARGET}/team/api@{APP}", (TARGET, "team/api", APP)),
        (f"{TARGET}/api:v1", (TARGET, "api", None)),
        ("localhost:5000/team/api", ("localhost:5000", "team/api", None)),
    ],
)
def test_an_image_reference_is_its_host_its_repository_without_the_tag_and_its_digest(
    image_uri: str, parts: tuple[str, str, str | None]
) -> None:
    assert promotion.image_parts(image_uri) == parts


def test_kms_public_key_is_written_as_the_pem_the_registry_carries() -> None:
    der = SOURCE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    written = promotion.public_key_pem(der)
    # THEN it is the PEM cryptography writes (64-character lines), and it verifies what the key signs
    assert written == pem(SOURCE_KEY)
    assert promotion.verify_signature(written, b"m", SOURCE_KEY.sign(b"m", ec.ECDSA(hashes.SHA256()))) is True
    assert promotion.verify_signature(written, b"m", b"not a signature") is False


def test_a_registry_public_key_of_another_kind_names_its_kind_and_the_fix() -> None:
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    text = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ArtifactRejected) as refused:
        promotion.verify_signature(text, b"m", b"s")
    assert str(refused.value) == (
        "the registry's promotion.public_key is Ed25519PublicKey, not P-256 (KMS ECC_NIST_P256), so it verifies no "
        "promotion statement; set it to the source key's public key (KMS GetPublicKey, Terraform's "
        "aws_kms_public_key)"
    )


def test_a_registry_public_key_that_is_no_key_names_the_fix() -> None:
    with pytest.raises(ArtifactRejected) as refused:
        promotion.verify_signature("-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n-----END PUBLIC KEY-----\n", b"", b"")
    reason = str(refused.value)
    assert reason.startswith("the registry's promotion.public_key is not a public key (")
    assert reason.endswith(
        "); set it to the source key's public key (KMS GetPublicKey, Terraform's aws_kms_public_key)"
    )


# -- the envelope --------------------------------------------------------------------------------------------


def test_an_envelope_without_a_payload_or_with_one_not_base64_says_which() -> None:
    document = signed()
    del document["payload"]
    assert refusal(document) == f"{REFUSED}the envelope's payload is missing"
    document["payload"] = "not base64!"
    assert refusal(document) == f"{REFUSED}the envelope's payload is not base64"


def test_a_signature_missing_or_not_base64_says_which() -> None:
    document = signed()
    del document["signatures"][0]["sig"]
    assert refusal(document) == f"{REFUSED}the envelope's signature is missing"
    document["signatures"][0]["sig"] = "@@"
    assert refusal(document) == f"{REFUSED}the envelope's signature is not base64"


def test_a_long_payload_type_is_named_by_its_first_60_characters() -> None:
    document = signed()
    document["payloadType"] = "x" * 100
    assert refusal(document) == f"{REFUSED}the envelope's payloadType is {'x' * 60!r}, not application/vnd.in-toto+json"


@pytest.mark.parametrize(
    ("signers", "named"),
    [
        ([1, "not a signature"], "none"),
        ([{"keyid": "k1"}, {"keyid": "k2"}], "k1, k2"),
        ([{"keyid": "k1"}, {"keyid": "k2"}, {"keyid": "k3"}], "k1, k2, k3"),
        ([{"keyid": "k1"}, {"keyid": "k2"}, {"keyid": "k3"}, {"keyid": "k4"}], "k1, k2, k3 and 1 more"),
        ([{"keyid": f"k{i}"} for i in range(1, 8)], "k1, k2, k3 and 4 more"),
        ([{"keyid": "k" * 130}], "k" * 120),
    ],
)
def test_an_envelope_not_signed_by_the_trusted_key_names_at_most_three_signers(signers: list[Any], named: str) -> None:
    document = signed()
    document["signatures"] = signers
    assert refusal(document) == (
        f"{REFUSED}it is signed by {named}, not by dev's key {KEY_ARN} that the registry trusts"
    )


# -- the statement, once signed ----------------------------------------------------------------------------------


def test_a_signed_statement_without_a_handoff_predicate_is_not_a_promotion_statement() -> None:
    body = {**promotion.statement(predicate()), "predicate": {"environment": "dev"}}
    assert refusal(signed_over(body)) == f"{REFUSED}the signed statement is not a handoff promotion statement"


@pytest.mark.parametrize(
    ("field", "value"),
    [("_type", "https://in-toto.io/Statement/v0.1"), ("predicateType", "https://slsa.dev/provenance/v1")],
)
def test_a_signed_statement_of_another_type_is_refused(field: str, value: str) -> None:
    body = {**promotion.statement(predicate()), field: value}
    assert refusal(signed_over(body)) == (
        f"{REFUSED}the signed statement is not an in-toto v1 handoff promotion statement"
    )


def test_a_signed_statement_whose_subjects_are_not_its_images_is_refused() -> None:
    body = promotion.statement(predicate())
    body["subject"] = body["subject"][:1]
    assert refusal(signed_over(body)) == f"{REFUSED}the statement's subjects and its images disagree"


# -- the upload against the statement ------------------------------------------------------------------------


def test_a_changed_digest_names_both_images_by_their_first_digits() -> None:
    other = "sha256:" + "c" * 64
    reason = refusal(signed(), {**UPLOADED, "app-container": f"{TARGET}/api@{other}"})
    assert reason == (
        f"{REFUSED}container 'app-container' is uploaded as api@sha256:cccccccccccc…, but dev ran "
        "api@sha256:aaaaaaaaaaaa…"
    )


def test_an_image_without_a_digest_is_named_by_its_first_120_characters() -> None:
    uri = f"{TARGET}/api:{'v' * 120}"
    reason = refusal(signed(), {**UPLOADED, "app-container": uri})
    assert reason == (
        f"{REFUSED}container 'app-container' names {uri[:120]!r} without a digest; a promotion carries "
        "the exact digests that ran"
    )


def test_a_container_the_source_did_not_run_is_refused() -> None:
    reason = refusal(signed(), {**UPLOADED, "sidecar": f"{TARGET}/api-nginx@{NGINX}"})
    assert reason == f"{REFUSED}container 'sidecar' did not run in dev's deployment"


def test_an_upload_that_leaves_out_containers_names_them_all() -> None:
    assert refusal(signed(), {}) == f"{REFUSED}the upload leaves out app-container, nginx-container, which dev deployed"


# -- the clock, the age and the soak, exactly at their limits --------------------------------------------------


def test_a_statement_up_to_300_seconds_ahead_of_this_clock_is_accepted() -> None:
    assert check(signed(predicate(attested_at=iso(NOW + timedelta(seconds=300))))).from_env == "dev"
    ahead = signed(predicate(attested_at=iso(NOW + timedelta(seconds=301))))
    assert refusal(ahead) == (
        f"{REFUSED}the statement is dated 301 s after this environment's clock; the clocks of dev and this "
        "environment disagree: run `handoff promote` again"
    )


def test_a_statement_exactly_as_old_as_the_rule_allows_is_accepted() -> None:
    assert check(signed(predicate(attested_at=iso(NOW - timedelta(seconds=600)))), max_age_seconds=600)
    old = signed(predicate(attested_at=iso(NOW - timedelta(seconds=601))))
    assert refusal(old, max_age_seconds=600) == (
        f"{REFUSED}dev signed the statement 601 s ago; it is accepted for 600 s (what has happened in the source "
        "since is not in it): run `handoff promote` again"
    )


def test_a_deployment_that_soaked_exactly_as_long_as_the_rule_asks_is_accepted() -> None:
    assert check(signed(predicate(soaked_seconds=3600))).soaked_seconds == 3600
    assert refusal(signed(predicate(soaked_seconds=3599))) == (
        f"{REFUSED}deployment api-v1 ran in dev for 3599 s of the 3600 s soak this environment asks; "
        "promote again in 1 s"
    )
    assert refusal(signed(predicate(soaked_seconds=3599, still_running=False))) == (
        f"{REFUSED}deployment api-v1 ran in dev for 3599 s of the 3600 s soak this environment asks; "
        "it no longer runs there, so it cannot soak longer"
    )


def test_the_provenance_is_the_signed_statements() -> None:
    assert check(signed()) == Provenance(
        from_env="dev",
        account="111111111111",
        deployment_id="api-v1",
        succeeded_at=iso(NOW - timedelta(hours=3)),
        soaked_seconds=7200,
        attested_at=iso(NOW - timedelta(minutes=1)),
        key_id=KEY_ARN,
    )


# -- the limits, written out here (never read from the module), so a changed constant fails ------------------


def test_an_envelope_that_is_not_json_or_not_an_object_names_the_member() -> None:
    with pytest.raises(ArtifactRejected) as refused:
        promotion.verify(b"{", rule(), "api", UPLOADED, NOW)
    assert str(refused.value) == f"{REFUSED}promotion.dsse.json is not JSON"
    with pytest.raises(ArtifactRejected) as refused:
        promotion.verify(b'"envelope"', rule(), "api", UPLOADED, NOW)
    assert str(refused.value) == f"{REFUSED}promotion.dsse.json is not a DSSE envelope (a JSON object)"


@pytest.mark.parametrize(("size", "read"), [(16 * 1024, True), (16 * 1024 + 1, False)])
def test_an_evidence_member_of_16_kib_is_read_and_one_byte_more_refused(size: int, read: bool) -> None:
    definitions = json.dumps([{"name": "app", "imageUri": f"{TARGET}/api@{APP}"}]).encode()
    data = zip_members({"imagedefinitions.json": definitions, "promotion.dsse.json": b" " * size})
    if read:
        assert read_upload(data)[1] == b" " * size
        return
    with pytest.raises(ArtifactRejected, match=r"promotion\.dsse\.json is larger than 16384 bytes uncompressed"):
        read_upload(data)


class Kms:
    def __init__(self) -> None:
        self.signed: list[dict[str, Any]] = []

    def sign(self, **kwargs: Any) -> dict[str, Any]:
        self.signed.append(kwargs)
        return {"KeyId": KEY_ARN, "Signature": b"der"}


def test_kms_signs_raw_messages_of_at_most_4096_bytes_with_ecdsa_sha_256() -> None:
    # KMS Sign takes a RAW message of at most 4096 bytes; the key spec ECC_NIST_P256 signs with ECDSA_SHA_256
    fake = Kms()
    assert kms.sign(KEY_ARN, b"m" * 4096, fake) == (KEY_ARN, b"der")  # type: ignore[arg-type]
    assert fake.signed == [
        {"KeyId": KEY_ARN, "Message": b"m" * 4096, "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"}
    ]
    with pytest.raises(ValueError, match="at most 4096 bytes; this one is 4097"):
        kms.sign(KEY_ARN, b"m" * 4097, fake)  # type: ignore[arg-type]


def test_a_predicate_holds_one_to_ten_images_and_a_soak_of_no_less_than_zero() -> None:
    image = {"container": "app", "repository": "api", "digest": APP}
    assert len(predicate(images=[{**image, "container": f"c{i}"} for i in range(10)]).images) == 10
    assert predicate(soaked_seconds=0).soaked_seconds == 0
    refused: dict[str, Any]
    for refused in (
        {"images": []},
        {"images": [{**image, "container": f"c{i}"} for i in range(11)]},
        {"soaked_seconds": -1},
    ):
        with pytest.raises(ValidationError):
            predicate(**refused)
