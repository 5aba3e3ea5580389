"""Every path of statemachine/deployment.asl.json, run by moto's Step Functions interpreter
against the stack provisioned from template.yaml (the embedded AWS)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.gaps import next_sequencer
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.history import execution
from tests.helpers import s3_event

NEW = {"app-container": image("api", "dev-4f2a9c1"), "nginx-container": image("api-nginx", "dev-4f2a9c1")}
RULE = "handoff-dev-artifact-uploaded"


def errors_in_history(aws: EmbeddedAws, execution_arn: str) -> list[str]:
    events = aws.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [e["lambdaFunctionFailedEventDetails"]["error"] for e in events if e["type"] == "LambdaFunctionFailed"]


def test_workflow_success_deploys_new_images_and_records_each_phase(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev api on Terraform's revision  WHEN CI uploads new images
    before = world.running("dev", "api")
    record = world.wait("dev", world.upload("dev", "api", artifact(NEW)))
    # THEN the deployment SUCCEEDED because its own rollout COMPLETED, and the service runs the new images
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    after = world.running("dev", "api")
    assert after["images"] == {k: world.pinned(v) for k, v in NEW.items()}
    assert after["task_definition"] == record.new_task_definition
    assert record.previous_task_definition == before["task_definition"]
    assert {"received", "queued", "locked", "deploying", "finished"} <= set(record.timeline)
    assert execution(embedded, "dev", record.id)["status"] == "SUCCEEDED"


def test_workflow_rollout_failed_is_failure_and_service_is_back_on_last_good(
    world: World, embedded: EmbeddedAws
) -> None:
    good = world.running("dev", "api")
    record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "fail-6c4f1e3")})))
    # THEN a circuit-breaker rollback is FAILED, never "stable = success"
    assert record.outcome is Outcome.FAILED
    assert "circuit breaker" in record.reason and "back on" in record.reason
    assert world.running("dev", "api")["task_definition"] == good["task_definition"]
    assert execution(embedded, "dev", record.id)["status"] == "FAILED"


@pytest.mark.slow
def test_workflow_rollout_timeout_rolls_back_itself(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    # GIVEN a rollout that never finishes and a 5 s rollout timeout
    registry("dev", "worker", rollout_timeout_seconds=5)
    embedded.hold_rollouts()
    good = world.running("dev", "worker")
    record = world.wait(
        "dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-slow")})), timeout=30
    )
    # THEN FAILED with the timeout, and handoff (not ECS) put the last good revision back
    assert record.outcome is Outcome.FAILED
    assert "did not complete within 5 s" in record.reason and "handoff rolled the service back" in record.reason
    assert world.running("dev", "worker")["task_definition"] == good["task_definition"]


def test_workflow_transient_error_is_retried_with_backoff(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN the deploy function fails once with the project's transient error
    assert embedded.runner is not None
    embedded.runner.inject_failure("handoff-dev-deploy", "TransientAwsError", "ECS is throttling (ThrottlingException)")
    record = world.wait("dev", world.upload("dev", "api", artifact(NEW)), timeout=30)
    # THEN the ASL Retry ran it again and the deployment still succeeded
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert errors_in_history(embedded, execution(embedded, "dev", record.id)["executionArn"]) == ["TransientAwsError"]


def test_workflow_deploy_failure_is_failed_and_service_unchanged(world: World, embedded: EmbeddedAws) -> None:
    assert embedded.runner is not None
    before = world.running("dev", "api")
    embedded.runner.inject_failure(
        "handoff-dev-deploy", "AwsAccessError", "updating service api: AccessDeniedException"
    )
    record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "dev-1111111")})))
    assert record.outcome is Outcome.FAILED
    assert "AWS refused a call before the service was changed" in record.reason
    assert "AccessDeniedException" in record.reason
    assert world.running("dev", "api")["task_definition"] == before["task_definition"]


def test_workflow_invalid_artifact_deploys_nothing_and_notifies(world: World, embedded: EmbeddedAws) -> None:
    before = world.running("dev", "api")
    record = world.wait("dev", world.upload("dev", "api", artifact({"nginx": image("nginx", "1.27")})))
    assert record.outcome is Outcome.INVALID
    assert (
        record.reason == "container 'nginx' is not in task definition dev-api:1; it has: app-container, nginx-container"
    )
    assert world.running("dev", "api")["task_definition"] == before["task_definition"]
    notices = world.outcome_emails("dev", record.id)
    assert len(notices) == 1 and "container 'nginx' is not in task definition" in notices[0]


def test_workflow_lock_held_waits_for_running_deployment(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN a deployment rolling out until ECS is let finish it
    embedded.hold_rollouts()
    first = world.upload("dev", "worker", artifact({"app": image("worker", "dev-aaaaaaa")}))
    world.wait_phase("dev", first, "deploying")
    # WHEN a second upload for the same service arrives, and waits for the lock
    second = world.upload("dev", "worker", artifact({"app": image("worker", "dev-bbbbbbb")}))
    world.wait_phase("dev", second, "waiting_for_lock")
    embedded.rollout_seconds = 0.5
    assert embedded.release_rollouts("dev/worker") == 1
    a, b = world.wait("dev", first, timeout=30), world.wait("dev", second, timeout=30)
    # THEN the running one finishes first, the second waited for the lock, then deployed
    assert (a.outcome, b.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED), (a.reason, b.reason)
    assert "waiting_for_lock" in b.timeline
    assert b.timeline["locked"] >= a.timeline["finished"]
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-bbbbbbb"))


def test_workflow_duplicate_event_starts_one_deployment(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN an upload whose event EventBridge delivers twice
    events, lam = embedded.client("events"), embedded.client("lambda")
    events.disable_rule(Name=RULE)
    world.push(artifact(NEW))
    try:
        version = world.s3.put_object(
            Bucket="dev-ecsdef-123456789012", Key="api/imagedefinitions.json.zip", Body=artifact(NEW)
        )["VersionId"]
    finally:
        events.enable_rule(Name=RULE)
    event = s3_event("dev-ecsdef-123456789012", "api/imagedefinitions.json.zip", version, next_sequencer())
    answers = [
        json.loads(lam.invoke(FunctionName="handoff-dev-intake", Payload=json.dumps(event))["Payload"].read())
        for _ in range(5)
    ]
    # THEN one deployment, four duplicates
    assert sorted(a["action"] for a in answers) == ["DUPLICATE"] * 4 + ["STARTED"]
    record = world.wait("dev", answers[0]["deployment_id"])
    assert record.outcome is Outcome.SUCCEEDED
    names = [
        e["name"]
        for e in embedded.client("stepfunctions").list_executions(
            stateMachineArn=embedded.stacks["dev"].state_machine_arn
        )["executions"]
    ]
    assert names.count(record.id) == 1


def test_workflow_stale_event_is_ignored(world: World, embedded: EmbeddedAws) -> None:
    events, lam = embedded.client("events"), embedded.client("lambda")
    key = "worker/imagedefinitions.json.zip"
    events.disable_rule(Name=RULE)
    for t in ("dev-older00", "dev-newer00"):
        world.push(artifact({"app": image("worker", t)}))
    try:
        older, newer = (
            world.s3.put_object(Bucket="dev-ecsdef-123456789012", Key=key, Body=artifact({"app": image("worker", t)}))[
                "VersionId"
            ]
            for t in ("dev-older00", "dev-newer00")
        )
    finally:
        events.enable_rule(Name=RULE)

    def deliver(version: str, sequencer: str) -> dict[str, Any]:
        event = s3_event("dev-ecsdef-123456789012", key, version, sequencer)
        return dict(
            json.loads(lam.invoke(FunctionName="handoff-dev-intake", Payload=json.dumps(event))["Payload"].read())
        )

    # WHEN the newer upload's event arrives before the older one's
    older_sequencer, newer_sequencer = next_sequencer(), next_sequencer()
    started = deliver(newer, newer_sequencer)
    stale = deliver(older, older_sequencer)
    # THEN the older is recorded and ignored; the newer deploys
    assert (started["action"], stale["action"]) == ("STARTED", "STALE")
    assert world.wait("dev", stale["deployment_id"]).outcome is Outcome.SUPERSEDED
    assert world.wait("dev", started["deployment_id"]).outcome is Outcome.SUCCEEDED
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-newer00"))


def test_workflow_rerun_same_metadata_makes_a_second_deployment(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN a deployment that succeeded
    body = artifact({"app": image("worker", "dev-e5e5e5e")})
    first = world.wait("dev", world.upload("dev", "worker", body))
    # WHEN the same metadata is uploaded again (a new object version)
    second = world.wait("dev", world.upload("dev", "worker", body))
    # THEN a second, separate deployment runs and succeeds on a new revision with the same images
    assert (first.outcome, second.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert second.id != first.id and second.new_task_definition != first.new_task_definition
    assert second.previous_task_definition == first.new_task_definition
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-e5e5e5e"))
