"""Attack: approver_principals maps sessions of one shared role to people (the documented
`arn:aws:sts::<acct>:assumed-role/approver/alice` form), but the session name is chosen by whoever calls
sts:AssumeRole. One person who may assume the approver role votes as alice and as bob: a two-person rule
met by one IAM identity (the uploader rule itself says two sessions of one role are one identity)."""

from __future__ import annotations

from typing import Any

from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World
from ecs_handoff_embedded.seed import ACCOUNT_ID

from tests.e2e.operator_calls import assume, call, invoke_policy
from tests.e2e.people import ALICE, BOB, approval_of, release


def test_one_person_cannot_meet_a_two_person_rule_with_two_session_names(
    world: World, embedded: EmbeddedAws, api_id: str, registry: Any
) -> None:
    # GIVEN worker needs two approvals, and the registry maps two sessions of the approver role to alice and bob
    role = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/approver"
    registry("prod", "worker", approvals_required=2, approver_principals={f"{role}/alice": ALICE, f"{role}/bob": BOB})
    deployment_id = release(world, "prod-atk2s01", service="worker")
    approval = approval_of(world, deployment_id)
    policy = invoke_policy(api_id, "POST/approvals/*/approve", "POST/approvals/*/reject")
    # WHEN bob assumes the approver role twice, once naming his session "alice", and approves with each
    as_alice = assume(embedded, "approver", "alice", policy)
    as_bob = assume(embedded, "approver", "bob", policy)
    first = call(embedded, f"/approvals/{approval}/approve", {"comment": "lgtm"}, as_alice)
    second = call(embedded, f"/approvals/{approval}/approve", {"comment": "lgtm"}, as_bob)
    # THEN one IAM identity (one role) does not count as two people: nothing deploys
    record = world.wait("prod", deployment_id)
    assert record.outcome is not Outcome.SUCCEEDED, (first, second, record.reason, record.approvals)
