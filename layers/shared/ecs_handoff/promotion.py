"""Promotion evidence: the in-toto Statement a source environment signs about a deployment that SUCCEEDED
and soaked there, wrapped in a DSSE envelope, and the checks a target environment makes on it locally.

Pure code (no AWS): the source signs the PAE bytes with its KMS key (aws/kms.py), the target verifies them
with the public key its registry rule names. `cryptography` is imported only inside verify_signature, so
a function that never meets a promotion never loads it (docs/security.md, "Promotion")."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import Field, ValidationError

from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models.base import Model, parse_iso
from ecs_handoff.models.records import Provenance
from ecs_handoff.models.registry import PromotionRule

# in-toto Statement v1 (github.com/in-toto/attestation, spec/v1/statement.md) in a DSSE envelope
# (github.com/secure-systems-lab/dsse, envelope.md and protocol.md).
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://github.com/ecs-handoff/handoff/promotion/v1"
SIGNING_ALGORITHM: Final = "ECDSA_SHA_256"  # KMS key spec ECC_NIST_P256
# KMS Sign takes a RAW message of at most 4096 bytes (KMS API reference, Sign: Message); a statement of ten
# images is about 2 KB, so the limit is checked rather than working around it with MessageType=DIGEST.
MAX_SIGNED_BYTES = 4096
MAX_ENVELOPE_BYTES = 16 * 1024  # read from the zip with the same bounded reader as imagedefinitions.json
EVIDENCE_MEMBER = "promotion.dsse.json"
# How far ahead of the target's clock a statement's signing time may be: AWS's clocks agree within far less.
MAX_CLOCK_SKEW_SECONDS = 300


class PromotedImage(Model):
    """One container's image as the source ran it: the repository path (no registry host: the same
    content address lives in every account's ECR) and its manifest digest."""

    container: str
    repository: str
    digest: str


class PromotionPredicate(Model):
    """What the source environment re-derived from its own records and ECS when it signed."""

    environment: str
    account: str
    region: str
    service: str
    deployment_id: str
    succeeded_at: str
    attested_at: str
    soaked_seconds: int = Field(ge=0)
    still_running: bool
    images: list[PromotedImage] = Field(min_length=1, max_length=10)


def image_parts(image_uri: str) -> tuple[str, str, str | None]:
    """(registry host, repository path, digest) of a `host/repository[:tag][@sha256:...]` reference."""
    name, _, digest = image_uri.partition("@")
    host, _, path = name.partition("/")
    if ":" in path.rsplit("/", 1)[-1]:
        path = path.rsplit(":", 1)[0]
    return host, path, digest or None


def statement(predicate: PromotionPredicate) -> dict[str, Any]:
    """The in-toto Statement v1 for a promotion: one subject per image, named by its repository."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": i.repository, "digest": {"sha256": i.digest.removeprefix("sha256:")}} for i in predicate.images
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate.model_dump(mode="json"),
    }


def canonical(document: Mapping[str, Any]) -> bytes:
    """The payload bytes that are signed (sorted keys, no spaces: the same statement, the same bytes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is signed, binding the payload type to the payload."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, key_id: str, signature: bytes) -> dict[str, Any]:
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key_id, "sig": base64.b64encode(signature).decode()}],
    }


def verify(
    raw: bytes,
    rule: PromotionRule,
    service_id: str,
    uploaded: Mapping[str, str],
    now: datetime,
) -> Provenance:
    """Checks a DSSE envelope against the target's rule and the upload; ArtifactRejected names the source
    environment and what is wrong. `uploaded` maps each container to the image the upload names."""
    source = rule.from_env
    refused = f"the promotion from {source} is refused: "
    payload = _signed_payload(raw, rule, refused)
    predicate = _statement(payload, rule, service_id, refused)
    _same_images(refused, source, predicate, uploaded)
    _fresh_and_soaked(predicate, rule, now, refused)
    return Provenance(
        from_env=source,
        account=predicate.account,
        deployment_id=predicate.deployment_id,
        succeeded_at=predicate.succeeded_at,
        soaked_seconds=predicate.soaked_seconds,
        attested_at=predicate.attested_at,
        key_id=rule.key_id,
    )


def _signed_payload(raw: bytes, rule: PromotionRule, refused: str) -> bytes:
    """The envelope's payload, once the signature of the rule's key over it verifies (nothing in it is read
    before that)."""
    source = rule.from_env
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ArtifactRejected(f"{refused}{EVIDENCE_MEMBER} is not JSON") from exc
    if not isinstance(document, dict):
        raise ArtifactRejected(f"{refused}{EVIDENCE_MEMBER} is not a DSSE envelope (a JSON object)")
    if document.get("payloadType") != PAYLOAD_TYPE:
        raise ArtifactRejected(
            f"{refused}the envelope's payloadType is {str(document.get('payloadType'))[:60]!r}, not {PAYLOAD_TYPE}"
        )
    payload = _b64(document.get("payload"), refused, "payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise ArtifactRejected(f"{refused}the envelope carries no signature")
    ours = [s for s in signatures if isinstance(s, dict) and s.get("keyid") == rule.key_id]
    if not ours:
        listed = [str(s.get("keyid"))[:120] for s in signatures[:3] if isinstance(s, dict)]
        more = f" and {len(signatures) - 3} more" if len(signatures) > 3 else ""
        keys = (", ".join(listed) or "none") + more  # a few: the reason is stored and emailed
        raise ArtifactRejected(
            f"{refused}it is signed by {keys}, not by {source}'s key {rule.key_id} that the registry trusts"
        )
    signature = _b64(ours[0].get("sig"), refused, "signature")
    if not verify_signature(rule.public_key, pae(PAYLOAD_TYPE, payload), signature):
        raise ArtifactRejected(
            f"{refused}the signature does not verify with {source}'s public key: the statement was changed after "
            "it was signed, or another key signed it"
        )
    return payload


def _statement(payload: bytes, rule: PromotionRule, service_id: str, refused: str) -> PromotionPredicate:
    """The signed statement's predicate, if it is a handoff promotion statement about this service in the rule's
    source environment whose subjects are its images."""
    source = rule.from_env
    # Only now, signed by the source, is the statement read.
    try:
        body = json.loads(payload)
        predicate = PromotionPredicate.model_validate(body["predicate"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise ArtifactRejected(f"{refused}the signed statement is not a handoff promotion statement") from exc
    if body.get("_type") != STATEMENT_TYPE or body.get("predicateType") != PREDICATE_TYPE:
        raise ArtifactRejected(f"{refused}the signed statement is not an in-toto v1 handoff promotion statement")
    if predicate.environment != source:
        raise ArtifactRejected(
            f"{refused}the statement is about environment {predicate.environment!r}; this environment accepts "
            f"only what succeeded in {source}"
        )
    if predicate.service != service_id:
        raise ArtifactRejected(
            f"{refused}the statement is about service {predicate.service!r} in {source}, not {service_id!r}"
        )
    subjects = {(s.get("name"), (s.get("digest") or {}).get("sha256")) for s in body.get("subject") or []}
    if subjects != {(i.repository, i.digest.removeprefix("sha256:")) for i in predicate.images}:
        raise ArtifactRejected(f"{refused}the statement's subjects and its images disagree")
    return predicate


def _fresh_and_soaked(predicate: PromotionPredicate, rule: PromotionRule, now: datetime, refused: str) -> None:
    """Refuses a statement dated ahead of this clock, older than the rule's max age, or whose deployment has not
    soaked as long as the rule asks."""
    source = rule.from_env
    age = (now - parse_iso(predicate.attested_at)).total_seconds()
    if age < -MAX_CLOCK_SKEW_SECONDS:  # a source clock ahead would otherwise stretch max_age_seconds by as much
        raise ArtifactRejected(
            f"{refused}the statement is dated {int(-age)} s after this environment's clock; the clocks of {source} "
            "and this environment disagree: run `handoff promote` again"
        )
    if age > rule.max_age_seconds:
        raise ArtifactRejected(
            f"{refused}{source} signed the statement {int(age)} s ago; it is accepted for {rule.max_age_seconds} s "
            "(what has happened in the source since is not in it): run `handoff promote` again"
        )
    if predicate.soaked_seconds < rule.soak_seconds:
        left = rule.soak_seconds - predicate.soaked_seconds
        when = (
            f"promote again in {left} s"
            if predicate.still_running
            else "it no longer runs there, so it cannot soak longer"
        )
        raise ArtifactRejected(
            f"{refused}deployment {predicate.deployment_id} ran in {source} for {predicate.soaked_seconds} s of the "
            f"{rule.soak_seconds} s soak this environment asks; {when}"
        )


def _same_images(refused: str, source: str, predicate: PromotionPredicate, uploaded: Mapping[str, str]) -> None:
    signed = {i.container: (i.repository, i.digest) for i in predicate.images}
    for container, image_uri in uploaded.items():
        _, repository, digest = image_parts(image_uri)
        if digest is None:
            raise ArtifactRejected(
                f"{refused}container {container!r} names {image_uri[:120]!r} without a digest; a promotion carries "
                "the exact digests that ran"
            )
        if container not in signed:
            raise ArtifactRejected(f"{refused}container {container!r} did not run in {source}'s deployment")
        if signed[container] != (repository, digest):
            raise ArtifactRejected(
                f"{refused}container {container!r} is uploaded as {repository}@{digest[:19]}…, but {source} ran "
                f"{signed[container][0]}@{signed[container][1][:19]}…"
            )
    missing = sorted(set(signed) - set(uploaded))
    if missing:
        raise ArtifactRejected(f"{refused}the upload leaves out {', '.join(missing)}, which {source} deployed")


def _b64(value: Any, refused: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise ArtifactRejected(f"{refused}the envelope's {what} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactRejected(f"{refused}the envelope's {what} is not base64") from exc


def verify_signature(public_key_pem: str, message: bytes, signature: bytes) -> bool:
    """ECDSA P-256 / SHA-256 over `message` (KMS's ECDSA_SHA_256 signs the SHA-256 of a RAW message and
    returns a DER signature, which is what cryptography verifies). A public key that can verify nothing is
    ArtifactRejected naming the registry field: the rule's pattern admits any PEM-shaped text."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    fix = "set it to the source key's public key (KMS GetPublicKey, Terraform's aws_kms_public_key)"
    try:
        key = load_pem_public_key(public_key_pem.encode())
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ArtifactRejected(f"the registry's promotion.public_key is not a public key ({exc}); {fix}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        kind = key.curve.name if isinstance(key, ec.EllipticCurvePublicKey) else type(key).__name__
        raise ArtifactRejected(
            f"the registry's promotion.public_key is {kind}, not P-256 (KMS ECC_NIST_P256), so it verifies no "
            f"promotion statement; {fix}"
        )
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def public_key_pem(der: bytes) -> str:
    """KMS GetPublicKey's DER SubjectPublicKeyInfo as PEM (what the registry rule and Terraform carry)."""
    text = base64.b64encode(der).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"
