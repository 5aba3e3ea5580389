"""KMS access: the source environment signs promotion statements with its asymmetric key (ECC_NIST_P256)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.promotion import MAX_SIGNED_BYTES, SIGNING_ALGORITHM

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import KMSClient


def sign(key_id: str, message: bytes, kms: KMSClient | None = None) -> tuple[str, bytes]:
    """(the key's ARN, the DER ECDSA signature) of a RAW message (KMS hashes it with SHA-256 itself)."""
    if len(message) > MAX_SIGNED_BYTES:
        raise ValueError(f"a RAW KMS Sign message is at most {MAX_SIGNED_BYTES} bytes; this one is {len(message)}")
    kms = kms or client("kms")
    with aws_call(f"signing with KMS key {key_id}"):
        response = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM)
    return str(response["KeyId"]), bytes(response["Signature"])


def public_key(key_id: str, kms: KMSClient | None = None) -> tuple[str, bytes]:
    """(the key's ARN, its DER SubjectPublicKeyInfo): what a target environment's registry rule trusts."""
    kms = kms or client("kms")
    with aws_call(f"reading the public key of KMS key {key_id}"):
        response = kms.get_public_key(KeyId=key_id)
    return str(response["KeyId"]), bytes(response["PublicKey"])
