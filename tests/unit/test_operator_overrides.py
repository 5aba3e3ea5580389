"""Signed deploy-now overrides and the identity the uploader rule compares: pure parts, no AWS."""

from __future__ import annotations

import pytest
from ecs_handoff.approvals import links, overrides
from ecs_handoff.approvals.overrides import OverrideClaims
from ecs_handoff.principals import identity

KEY = b"k" * 64
CLAIMS = OverrideClaims(
    "api-0001", "arn:aws:sts::123456789012:assumed-role/oncall/erin", "INC-1", "2026-12-01T00:00:00Z"
)


def test_override_signature_verifies_only_the_claims_it_was_made_for() -> None:
    # GIVEN the operator API's signature over one override
    signature = overrides.sign(KEY, CLAIMS)
    # THEN it verifies for those claims, with that key
    assert overrides.verify(KEY, CLAIMS, signature)
    # AND not for any changed field, another deployment (an item copied to another key), or another key
    changed = [
        OverrideClaims("api-0002", CLAIMS.principal, CLAIMS.reason, CLAIMS.at),
        OverrideClaims(CLAIMS.deployment_id, "arn:aws:iam::123456789012:role/admin", CLAIMS.reason, CLAIMS.at),
        OverrideClaims(CLAIMS.deployment_id, CLAIMS.principal, "INC-2", CLAIMS.at),
        OverrideClaims(CLAIMS.deployment_id, CLAIMS.principal, CLAIMS.reason, "2026-12-02T00:00:00Z"),
    ]
    assert not any(overrides.verify(KEY, c, signature) for c in changed)
    assert not overrides.verify(b"x" * 64, CLAIMS, signature)
    assert not overrides.verify(KEY, CLAIMS, "")


def test_override_fields_cannot_be_shifted_and_a_link_signature_never_passes() -> None:
    # GIVEN claims whose fields would read the same if joined naively
    a = OverrideClaims("api-1", "p", "r,x", "t")
    b = OverrideClaims("api-1", "p", "r", "x,t")
    # THEN their signatures differ, and an approval link's signature (same key) is no override's
    assert overrides.sign(KEY, a) != overrides.sign(KEY, b)
    link = links.sign(KEY, links.LinkClaims(CLAIMS.deployment_id, CLAIMS.principal, 0))
    assert not overrides.verify(KEY, CLAIMS, link)


def test_override_public_view_never_shows_the_signature() -> None:
    assert CLAIMS.public() == {"principal": CLAIMS.principal, "reason": "INC-1", "at": CLAIMS.at}


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:sts::123456789012:assumed-role/ci/run-42", "arn:aws:iam::123456789012:role/ci"),
        ("arn:aws:iam::123456789012:role/teams/ci", "arn:aws:iam::123456789012:role/ci"),
        ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice"),
        ("arn:aws:iam::123456789012:user/people/alice", "arn:aws:iam::123456789012:user/alice"),
        ("arn:aws:sts::123456789012:user/moto", "arn:aws:iam::123456789012:user/moto"),
        ("123456789012", "123456789012"),  # what S3's event says of a requester: an account, no principal
    ],
)
def test_identity_normalizes_sessions_to_their_role(arn: str, expected: str) -> None:
    assert identity(arn) == expected


def test_identity_two_sessions_of_one_role_are_one_identity_other_roles_are_not() -> None:
    laptop = identity("arn:aws:sts::123456789012:assumed-role/approver/carol-laptop")
    assert laptop == identity("arn:aws:sts::123456789012:assumed-role/approver/carol")
    assert laptop != identity("arn:aws:sts::123456789012:assumed-role/ci/carol")
    assert laptop != identity("arn:aws:sts::210987654321:assumed-role/approver/carol")
