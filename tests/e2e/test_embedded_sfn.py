"""Step Functions behaviour the embedded AWS makes as strict as AWS (gaps/stepfunctions.py), on small state machines."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws

ROLE = "arn:aws:iam::123456789012:role/embedded-sfn-test"


def run(embedded: EmbeddedAws, choices: list[dict[str, Any]], payload: dict[str, Any]) -> dict[str, Any]:
    sfn = embedded.client("stepfunctions")
    definition = {
        "StartAt": "Decide",
        "States": {
            "Decide": {"Type": "Choice", "Choices": choices, "Default": "Other"},
            "Matched": {"Type": "Succeed"},
            "Other": {"Type": "Pass", "Result": "other", "ResultPath": "$.went", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name=f"choice-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return dict(described)


def test_choice_on_a_missing_path_fails_the_execution_as_aws_does(embedded: EmbeddedAws) -> None:
    # GIVEN a Choice that compares $.rollout.state, and an input without it (a renamed ResultPath)
    choices = [{"Variable": "$.rollout.state", "StringEquals": "COMPLETED", "Next": "Matched"}]
    ended = run(embedded, choices, {"rollout_result": {"state": "COMPLETED"}})
    # THEN the execution fails with States.Runtime naming the path, instead of quietly taking Default
    assert ended["status"] == "FAILED"
    assert ended["error"] == "States.Runtime"
    assert "Invalid path '$.rollout.state'" in ended["cause"]


def test_choice_on_a_present_path_and_is_present_still_work(embedded: EmbeddedAws) -> None:
    present = [{"Variable": "$.rollout.state", "StringEquals": "COMPLETED", "Next": "Matched"}]
    assert run(embedded, present, {"rollout": {"state": "COMPLETED"}})["status"] == "SUCCEEDED"
    other = run(embedded, present, {"rollout": {"state": "FAILED"}})
    assert other["status"] == "SUCCEEDED" and json.loads(other["output"])["went"] == "other"
    missing_ok = [{"Variable": "$.rollout", "IsPresent": False, "Next": "Matched"}]
    assert run(embedded, missing_ok, {})["status"] == "SUCCEEDED"
