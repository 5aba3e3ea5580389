"""What a deployment's execution cost: the states it entered (Step Functions bills a transition each)."""

from __future__ import annotations

from ecs_handoff_embedded.runtime import EmbeddedAws

from tests.e2e.history import execution_arn, history


def state_transitions(aws: EmbeddedAws, env: str, deployment_id: str) -> list[str]:
    """The states the deployment's execution entered, in order (what Step Functions bills: a transition each)."""
    events = history(aws, execution_arn(aws, env, deployment_id))
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
