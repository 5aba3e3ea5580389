"""Asynchronous delivery as AWS documents it (Lambda guide: "invocation-async-error-handling",
"invocation-async-retain-records"; EventBridge guide: "rule DLQ"): EventBridge's retries and the rule's
dead-letter queue cover only handing the event to Lambda; once Lambda accepted it, a function error is run
twice more by Lambda, then kept in the function's on-failure destination, never dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff_embedded import gaps
from ecs_handoff_embedded.scenario import artifact, image
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

from tests.helpers import s3_event
from tests.integration.conftest import Stack
from tests.integration.steps import BUCKET, KEY


def queue_messages(stack: Stack, name: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


@pytest.fixture
def invocations(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function the runner ran."""
    ran: list[str] = []
    real = stack.runner.invoke

    def counting(fn: Any, event: Any) -> Any:
        ran.append(fn.function_name)
        return real(fn, event)

    monkeypatch.setattr(stack.runner, "invoke", counting)
    monkeypatch.setattr(gaps.events, "RETRY_DELAYS_SECONDS", [0.0, 0.0])
    return ran


def upload_event(stack: Stack) -> dict[str, Any]:
    body = artifact({"app-container": image("api", "dev-4f2a9c1")})
    version = stack.client("s3").put_object(Bucket=BUCKET, Key=KEY, Body=body)["VersionId"]
    return s3_event(BUCKET, KEY, version, "0062E99A88DC407460")


def test_the_functions_eventbridge_invokes_keep_what_they_failed_on(stack: Stack) -> None:
    awslambda = stack.client("lambda")
    for name in ("intake", "rollout-event", "finalize", "sweeper"):
        config = awslambda.get_function_event_invoke_config(FunctionName=f"handoff-dev-{name}")
        assert config["MaximumRetryAttempts"] == 2
        assert config["DestinationConfig"]["OnFailure"]["Destination"].endswith(":handoff-dev-failed-events")


def test_an_upload_the_intake_fails_on_is_retried_by_lambda_then_kept(stack: Stack, invocations: list[str]) -> None:
    # GIVEN an intake that fails on every attempt (its state table is gone)
    event = upload_event(stack)
    stack.client("dynamodb").delete_table(TableName=stack.outputs["StateTableName"])
    deliveries = gaps.Deliveries()
    # WHEN EventBridge hands it the upload's event
    gaps.put_event(ACCOUNT_ID, REGION, event, stack.runner, deliveries)
    assert deliveries.wait_idle(10)
    # THEN Lambda ran it three times in all, and kept the event with why it failed in the on-failure destination
    assert invocations == ["handoff-dev-intake"] * 3
    [record] = queue_messages(stack, "handoff-dev-failed-events")
    assert record["requestPayload"] == event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:handoff-dev-intake:$LATEST")
    assert record["responsePayload"]["errorType"] == "NotFound"
    # AND the rule's dead-letter queue, which covers only delivery to Lambda, got nothing
    assert queue_messages(stack, "handoff-dev-intake-dlq") == []


def test_an_event_lambda_never_accepted_goes_to_the_rules_dead_letter_queue(
    stack: Stack, invocations: list[str]
) -> None:
    # GIVEN the intake function is gone, so EventBridge cannot hand it the event
    event = upload_event(stack)
    stack.client("lambda").delete_function(FunctionName="handoff-dev-intake")
    deliveries = gaps.Deliveries()
    # WHEN the upload's event comes
    gaps.put_event(ACCOUNT_ID, REGION, event, stack.runner, deliveries)
    assert deliveries.wait_idle(10)
    # THEN after EventBridge's own retries the bare event is in the rule target's dead-letter queue
    assert invocations == []
    assert queue_messages(stack, "handoff-dev-intake-dlq") == [event]


def test_the_sweepers_schedule_is_provisioned_and_matches_no_service_event(
    stack: Stack, invocations: list[str]
) -> None:
    # GIVEN the stack's scheduled rule (moto creates it and never fires it)
    events = stack.client("events")
    rule = events.describe_rule(Name="handoff-dev-sweeper")
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(5 minutes)", "ENABLED")
    [target] = events.list_targets_by_rule(Rule="handoff-dev-sweeper")["Targets"]
    assert target["Arn"].endswith(":function:handoff-dev-sweeper")
    # WHEN an upload's event is put on the bus
    deliveries = gaps.Deliveries()
    gaps.put_event(ACCOUNT_ID, REGION, upload_event(stack), stack.runner, deliveries)
    assert deliveries.wait_idle(10)
    # THEN only the intake got it: a schedule has no pattern, and matches no event
    assert invocations == ["handoff-dev-intake"]


def test_a_sweep_that_fails_is_retried_by_lambda_then_kept(stack: Stack, invocations: list[str]) -> None:
    # GIVEN a sweeper that fails on every attempt (the deployments table is gone)
    stack.client("dynamodb").delete_table(TableName=stack.outputs["DeploymentsTableName"])
    deliveries = gaps.Deliveries()
    # WHEN its schedule ticks
    gaps.fire_schedule(ACCOUNT_ID, REGION, "handoff-dev-sweeper", stack.runner, deliveries)
    assert deliveries.wait_idle(10)
    # THEN Lambda ran it three times, then kept the tick in the on-failure destination
    assert invocations == ["handoff-dev-sweeper"] * 3
    [record] = queue_messages(stack, "handoff-dev-failed-events")
    assert record["requestPayload"]["detail-type"] == "Scheduled Event"
    assert record["requestContext"]["functionArn"].endswith(":function:handoff-dev-sweeper:$LATEST")
