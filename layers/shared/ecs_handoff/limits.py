"""Step Functions' history limit, and what one deployment's execution can spend of it.

A standard execution keeps at most 25,000 history events (AWS Step Functions quotas); past that it
fails. Each loop in statemachine/deployment.asl.json adds a fixed number of events per turn:
tests/e2e/test_history_budget.py derives these numbers from the ASL and measures them in a real
execution history, so a change to the workflow that changes them fails the gate."""

from __future__ import annotations

HISTORY_EVENT_LIMIT = 25_000
# What a registry entry may plan for: the rest covers retries (3 events per retried attempt) and
# whatever a future state adds before anyone re-measures.
HISTORY_BUDGET = 20_000

# One wait for ECS's event that ends without one, so the deployment is looked at again: WatchRollout
# (entered, scheduled, started, submitted, timed out, exited), NoVerdictYet (entered, exited).
EVENTS_PER_ROLLOUT_CHECK = 8
# One lock wait: AcquireLock (5), LockAcquired? (2), WaitForLock (2).
EVENTS_PER_LOCK_WAIT = 9
# A failed look that is looked at again: WatchRollout with its failure (entered, scheduled, started,
# failed, exited: a function that fails never submits), CountFailedCheck (2), TooManyFailedChecks? (2),
# WaitAfterFailedCheck (2).
EVENTS_PER_FAILED_CHECK = 11
# One wait of a release control (deployment window, change calendar, alarm) or of the bake:
# CheckReleaseGates or CheckBake (5), its choice (2), its Wait (2).
EVENTS_PER_GATE_WAIT = 9
# Everything outside the loops on the longest path, each task retried to its MaxAttempts:
# derived from the ASL by the same test.
EVENTS_OUTSIDE_LOOPS = 315


def planned_events(rollout_checks: float, lock_waits: float, gate_waits: float = 0, bake_checks: float = 0) -> int:
    """Worst case for one execution whose loops turn at most this often (a failed check costs more)."""
    per_check = max(EVENTS_PER_ROLLOUT_CHECK, EVENTS_PER_FAILED_CHECK)
    waits = lock_waits * EVENTS_PER_LOCK_WAIT + (gate_waits + bake_checks) * EVENTS_PER_GATE_WAIT
    return int(EVENTS_OUTSIDE_LOOPS + rollout_checks * per_check + waits)
