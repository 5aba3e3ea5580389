"""Per-approver approval links: HMAC-SHA256 over (approval id, approver, expiry), checked in constant time.

A link names one approval and one approver and stops working at its expiry. It carries no task
token and grants nothing by being fetched: GET only shows the page, the decision is a POST."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode


@dataclass(frozen=True)
class LinkClaims:
    approval_id: str
    approver: str
    expires: int

    def message(self) -> bytes:
        # Unit separators cannot occur in ids, addresses or numbers, so fields cannot be shifted.
        return "\x1f".join(("handoff-approval-v1", self.approval_id, self.approver.lower(), str(self.expires))).encode()


def sign(key: bytes, claims: LinkClaims) -> str:
    digest = hmac.new(key, claims.message(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, claims: LinkClaims, signature: str) -> bool:
    """True only for the signature this key gives these exact claims (constant-time comparison)."""
    return hmac.compare_digest(sign(key, claims).encode(), (signature or "").encode())


def expired(claims: LinkClaims, now: float | None = None) -> bool:
    return (now if now is not None else time.time()) >= claims.expires


def link(base_url: str, key: bytes, claims: LinkClaims) -> str:
    query = urlencode({"approver": claims.approver, "expires": claims.expires, "sig": sign(key, claims)})
    return f"{base_url.rstrip('/')}/approvals/{claims.approval_id}?{query}"
