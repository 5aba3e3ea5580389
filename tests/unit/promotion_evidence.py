"""Promotion evidence the unit tests start from: a source environment's P-256 key (and another), the target's
registry rule trusting it, a predicate about a dev deployment of api, and envelopes signed as `handoff promote`
signs them (or signed over any statement, to show what the target refuses once the signature verifies)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ecs_handoff import promotion
from ecs_handoff.models import iso
from ecs_handoff.models.records import Provenance
from ecs_handoff.models.registry import PromotionRule

KEY_ARN = "arn:aws:kms:ap-northeast-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
APP = "sha256:" + "a" * 64
NGINX = "sha256:" + "b" * 64
TARGET = "222222222222.dkr.ecr.ap-northeast-1.amazonaws.com"
UPLOADED = {"app-container": f"{TARGET}/api@{APP}", "nginx-container": f"{TARGET}/api-nginx@{NGINX}"}


def pem(key: ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


SOURCE_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def rule(**changes: Any) -> PromotionRule:
    fields = {"from": "dev", "soak_seconds": 3600, "key_id": KEY_ARN, "public_key": pem(SOURCE_KEY), **changes}
    return PromotionRule.model_validate(fields)


def predicate(**changes: Any) -> promotion.PromotionPredicate:
    fields: dict[str, Any] = {
        "environment": "dev",
        "account": "111111111111",
        "region": "ap-northeast-1",
        "service": "api",
        "deployment_id": "api-v1",
        "succeeded_at": iso(NOW - timedelta(hours=3)),
        "attested_at": iso(NOW - timedelta(minutes=1)),
        "soaked_seconds": 7200,
        "still_running": True,
        "images": [
            {"container": "app-container", "repository": "api", "digest": APP},
            {"container": "nginx-container", "repository": "api-nginx", "digest": NGINX},
        ],
        **changes,
    }
    return promotion.PromotionPredicate.model_validate(fields)


def signed(
    pred: promotion.PromotionPredicate | None = None,
    key: ec.EllipticCurvePrivateKey = SOURCE_KEY,
    key_id: str = KEY_ARN,
    payload_type: str = promotion.PAYLOAD_TYPE,
) -> dict[str, Any]:
    return signed_over(promotion.statement(pred or predicate()), key, key_id, payload_type)


def signed_over(
    body: dict[str, Any],
    key: ec.EllipticCurvePrivateKey = SOURCE_KEY,
    key_id: str = KEY_ARN,
    payload_type: str = promotion.PAYLOAD_TYPE,
) -> dict[str, Any]:
    """An envelope whose signature verifies over any statement body."""
    payload = promotion.canonical(body)
    signature = key.sign(promotion.pae(payload_type, payload), ec.ECDSA(hashes.SHA256()))
    document = promotion.envelope(payload, key_id, signature)
    document["payloadType"] = payload_type
    return document


def check(document: dict[str, Any], uploaded: dict[str, str] | None = None, **rule_changes: Any) -> Provenance:
    raw = json.dumps(document).encode()
    return promotion.verify(raw, rule(**rule_changes), "api", UPLOADED if uploaded is None else uploaded, NOW)
