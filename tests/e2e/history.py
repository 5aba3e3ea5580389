"""The workflow as Step Functions records it: an execution's history, the states it entered, and waits for the
event a test needs (a state entered N times, the execution's end) rather than sleeps that guess the machine's
speed."""

from __future__ import annotations

import itertools
import time
from typing import Any

from botocore.exceptions import ClientError
from ecs_handoff_embedded.runtime import EmbeddedAws


def execution_arn(aws: EmbeddedAws, env: str, deployment_id: str) -> str:
    """The deployment's execution (the intake names it after the deployment)."""
    return aws.stacks[env].state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + deployment_id


def history(aws: EmbeddedAws, execution_arn: str) -> list[dict[str, Any]]:
    sfn = aws.client("stepfunctions")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if "nextToken" not in page:
            return events
        kwargs["nextToken"] = page["nextToken"]


def entered(events: list[dict[str, Any]], state: str) -> list[int]:
    return [
        i
        for i, e in enumerate(events)
        if e["type"].endswith("StateEntered") and e.get("stateEnteredEventDetails", {}).get("name") == state
    ]


def gaps_between(events: list[dict[str, Any]], state: str) -> list[int]:
    starts = entered(events, state)
    return [b - a for a, b in itertools.pairwise(starts)]


def wait_for_entered(aws: EmbeddedAws, env: str, deployment_id: str, state: str, count: int) -> None:
    """Waits until the deployment's execution has entered `state` `count` times (the event a test needs, rather
    than a sleep that guesses how long the machine takes)."""
    arn = execution_arn(aws, env, deployment_id)
    deadline = time.monotonic() + 60
    while True:
        try:
            seen = len(entered(history(aws, arn), state))
        except ClientError as error:  # not started yet (each client has its own exception classes: match the code)
            if error.response["Error"]["Code"] != "ExecutionDoesNotExist":
                raise
            seen = 0
        if seen >= count:
            return
        assert time.monotonic() < deadline, f"{deployment_id} entered {state} {seen} times, not {count}"
        time.sleep(0.05)


def execution_ended(aws: EmbeddedAws, execution_arn: str, timeout: float = 60.0) -> str:
    sfn, deadline = aws.client("stepfunctions"), time.monotonic() + timeout
    while (status := str(sfn.describe_execution(executionArn=execution_arn)["status"])) == "RUNNING":
        assert time.monotonic() < deadline, "the execution is still running"
        time.sleep(0.05)
    return status


def execution(aws: EmbeddedAws, env: str, deployment_id: str) -> dict[str, Any]:
    """DescribeExecution of the deployment's execution, once it has ended."""
    arn = execution_arn(aws, env, deployment_id)
    sfn, deadline = aws.client("stepfunctions"), time.monotonic() + 60
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"execution {deployment_id} still running")
