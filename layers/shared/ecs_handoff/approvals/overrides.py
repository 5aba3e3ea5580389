"""Signed `handoff deploy-now` overrides: HMAC-SHA256 over (deployment id, principal, reason, time).

Only the operator API writes an override, with the caller's ARN that API Gateway's IAM authorization
gave it, and signs it with the link-signing key. The gate acts only on an override whose signature it
verifies, so whoever can write the state table (a function role, a person with table rights) cannot
make one: a forged, copied (another deployment's) or edited item fails the check and is ignored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class OverrideClaims:
    deployment_id: str
    principal: str  # the caller's ARN, as API Gateway's IAM authorization named it
    reason: str
    at: str

    def message(self) -> bytes:
        # JSON keeps the fields apart whatever a reason contains; the prefix keeps a link's signature
        # (handoff-approval-v1, the same key) from ever passing as an override's.
        fields = ["handoff-override-v1", self.deployment_id, self.principal, self.reason, self.at]
        return json.dumps(fields, ensure_ascii=True, separators=(",", ":")).encode()

    def public(self) -> dict[str, str]:
        """What the deployment record and the gate's result show (never the signature)."""
        return {"principal": self.principal, "reason": self.reason, "at": self.at}


def sign(key: bytes, claims: OverrideClaims) -> str:
    digest = hmac.new(key, claims.message(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, claims: OverrideClaims, signature: str) -> bool:
    """True only for the signature this key gives these exact claims (constant-time comparison)."""
    return hmac.compare_digest(sign(key, claims).encode(), (signature or "").encode())
