"""The history budget in ecs_handoff.limits, derived from the ASL and measured in real execution histories.

Step Functions fails a standard execution past 25,000 history events, so the registry refuses loop
settings that could get there. These tests keep its numbers true: if the workflow changes, they fail."""

from __future__ import annotations

import json
from typing import Any

from ecs_handoff import limits
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import entered, gaps_between, history, wait_for_entered
from tests.helpers import ROOT

ASL = json.loads((ROOT / "statemachine" / "deployment.asl.json").read_text())["States"]
ROLLOUT_LOOP = ("WatchRollout", "NoVerdictYet")  # a wait for ECS's event that times out
LOCK_LOOP = ("AcquireLock", "LockAcquired?", "WaitForLock")
FAILED_CHECK_LOOP = ("WatchRollout", "CountFailedCheck", "TooManyFailedChecks?", "WaitAfterFailedCheck")
GATE_LOOP = ("CheckReleaseGates", "GatesOpen?", "WaitForReleaseGates")  # a release control holds it
BAKE_LOOP = ("CheckBake", "Baked?", "WaitDuringBake")


def events_per_attempt(state: dict[str, Any], succeeded: bool = True) -> int:
    """A Lambda task attempt: scheduled, started, then succeeded, failed or timed out; a callback task is
    also submitted once its function has returned (not when the function failed)."""
    callback = str(state.get("Resource", "")).endswith(".waitForTaskToken")
    return 4 if callback and succeeded else 3


def events_once(name: str, retried: bool = False, succeeded: bool = True) -> int:
    state = ASL[name]
    if state["Type"] != "Task":
        return 2  # entered, exited
    attempts = 1 + (sum(r.get("MaxAttempts", 3) for r in state.get("Retry", [])) if retried else 0)
    return 2 + events_per_attempt(state, succeeded) * attempts


def cycle(names: tuple[str, ...], succeeded: bool = True) -> int:
    return sum(events_once(n, succeeded=succeeded) for n in names)


def test_history_budget_constants_are_what_the_asl_implies() -> None:
    assert cycle(ROLLOUT_LOOP) == limits.EVENTS_PER_ROLLOUT_CHECK
    assert cycle(LOCK_LOOP) == limits.EVENTS_PER_LOCK_WAIT
    assert cycle(FAILED_CHECK_LOOP, succeeded=False) == limits.EVENTS_PER_FAILED_CHECK
    assert cycle(GATE_LOOP) == cycle(BAKE_LOOP) == limits.EVENTS_PER_GATE_WAIT
    # every state once, every task retried to its MaxAttempts, plus ExecutionStarted and the end event
    assert 2 + sum(events_once(n, retried=True) for n in ASL) == limits.EVENTS_OUTSIDE_LOOPS


def test_history_budget_measured_per_rollout_check_and_per_lock_wait(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN a rollout that outlasts a few waits for ECS's event (2 s each), and a second upload that waits
    # for its lock
    embedded.hold_rollouts()
    first = world.upload("dev", "worker", artifact({"app": image("worker", "dev-budget1")}))
    world.wait_phase("dev", first, "deploying")
    second = world.upload("dev", "worker", artifact({"app": image("worker", "dev-budget2")}))
    # (ECS finishes the first only once it has been looked at three times and the second has asked three times)
    wait_for_entered(embedded, "dev", first, "WatchRollout", 3)
    wait_for_entered(embedded, "dev", second, "AcquireLock", 3)
    embedded.rollout_seconds = 0.5  # the second's own rollout
    assert embedded.release_rollouts("dev/worker") == 1
    a, b = world.wait("dev", first), world.wait("dev", second)
    assert (a.outcome, b.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert a.execution_arn is not None and b.execution_arn is not None
    polled, waited = history(embedded, a.execution_arn), history(embedded, b.execution_arn)
    # THEN each look again and each lock wait cost exactly what the budget says
    poll_gaps, lock_gaps = gaps_between(polled, "WatchRollout"), gaps_between(waited, "AcquireLock")
    # (every turn costs the budget exactly; on a busy machine a look can outlive its wait, and its "submitted" event
    # is then written during the next turn: that turn shows one more, this one one fewer, and only the last turn's
    # can fall after the final look)
    assert len(poll_gaps) >= 2
    budget = len(poll_gaps) * limits.EVENTS_PER_ROLLOUT_CHECK
    assert budget - 1 <= sum(poll_gaps) <= budget, poll_gaps
    assert len(lock_gaps) >= 2 and set(lock_gaps) == {limits.EVENTS_PER_LOCK_WAIT}
    # AND what is outside the loops stays within its share
    outside = len(polled) - sum(poll_gaps)
    assert outside <= limits.EVENTS_OUTSIDE_LOOPS


def test_history_budget_measured_per_failed_check(world: World, embedded: EmbeddedAws) -> None:
    assert embedded.runner is not None
    embedded.hold_rollouts()
    embedded.runner.inject_failure("handoff-dev-rollout", "AwsAccessError", "injected", times=1)
    deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", "dev-budget3")}))
    # (ECS finishes only after the failed check and a look after it)
    wait_for_entered(embedded, "dev", deployment_id, "CountFailedCheck", 1)
    wait_for_entered(embedded, "dev", deployment_id, "WatchRollout", 2)
    assert embedded.release_rollouts("dev/worker") == 1
    record = world.wait("dev", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED and record.execution_arn is not None
    events = history(embedded, record.execution_arn)
    failed_at = entered(events, "CountFailedCheck")[0]
    checks = entered(events, "WatchRollout")
    before = max(i for i in checks if i < failed_at)
    after = min(i for i in checks if i > failed_at)
    assert after - before == limits.EVENTS_PER_FAILED_CHECK
