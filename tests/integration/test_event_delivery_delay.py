"""EventBridge does not keep events in order and can deliver one late; the embedded AWS can delay each delivery
by a random, bounded time, so events reach their targets out of order (the lagging e2e tests run every
workflow path so). Off by default: deliveries then start at once, in order."""

from __future__ import annotations

import time
from typing import Any

import pytest
from ecs_handoff_embedded import gaps
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

from tests.helpers import s3_event
from tests.integration.conftest import Stack
from tests.integration.steps import BUCKET, KEY


@pytest.fixture
def arrivals(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, float]]:
    """(sequencer, when) of each S3 event the intake was handed; the intake itself does not run."""
    seen: list[tuple[str, float]] = []

    def invoke(fn: Any, event: dict[str, Any]) -> tuple[str, bool, str]:
        seen.append((event["detail"]["object"]["sequencer"], time.monotonic()))
        return "null", False, ""

    monkeypatch.setattr(stack.runner, "invoke", invoke)
    return seen


def publish(stack: Stack, deliveries: gaps.Deliveries, count: int) -> list[str]:
    sequencers = [f"{n:018X}" for n in range(1, count + 1)]
    for sequencer in sequencers:
        gaps.put_event(ACCOUNT_ID, REGION, s3_event(BUCKET, KEY, "v" + sequencer, sequencer), stack.runner, deliveries)
    assert deliveries.wait_idle(10)
    return sequencers


def test_event_delivery_delay_lets_events_arrive_late_and_out_of_order(
    stack: Stack, arrivals: list[tuple[str, float]]
) -> None:
    # GIVEN deliveries delayed by up to 0.3 s each
    deliveries = gaps.Deliveries(lambda: 0.3)
    started = time.monotonic()
    # WHEN twelve events are put in order
    sent = publish(stack, deliveries, 12)
    # THEN each arrives once, within the bound, and not in the order sent
    assert sorted(s for s, _ in arrivals) == sent
    assert all(when - started <= 0.3 + 1.0 for _, when in arrivals)
    assert [s for s, _ in arrivals] != sent, "twelve random delays kept the order (1 in 12! by chance)"


def test_event_delivery_delay_is_bounded_and_off_by_default() -> None:
    # GIVEN a delay bound, and none
    bounded, default = gaps.Deliveries(lambda: 0.2), gaps.Deliveries()
    # WHEN each draws delays
    drawn = [bounded.delay() for _ in range(200)]
    # THEN the bounded ones vary within [0, 0.2]; the default never waits
    assert all(0.0 <= d <= 0.2 for d in drawn) and len(set(drawn)) > 100
    assert {default.delay() for _ in range(20)} == {0.0}
