"""What a deployment's execution cost: the states it entered (Step Functions bills a transition each)."""

from __future__ import annotations

from ecs_handoff_embedded.runtime import EmbeddedAws

from tests.e2e.history import execution_arn, execution_ended, history


def state_transitions(aws: EmbeddedAws, env: str, deployment_id: str) -> list[str]:
    """The states the deployment's execution entered, in order, once it has ended (what Step Functions bills: a
    transition each)."""
    arn = execution_arn(aws, env, deployment_id)
    execution_ended(aws, arn)
    events = history(aws, arn)
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def without_fallback_looks(entered: list[str]) -> list[str]:
    """The states entered, less each fallback look (NoVerdictYet and the WatchRollout it goes back to), which
    comes once per rollout_check_seconds a deployment outlasts, however many stages or steps it has."""
    kept: list[str] = []
    for name in entered:
        if name == "WatchRollout" and kept and kept[-1] == "NoVerdictYet":
            kept.pop()
            continue
        kept.append(name)
    return kept
