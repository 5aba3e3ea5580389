"""The intake handler: exact versions in, a started deployment or a recorded refusal out."""

from __future__ import annotations

import json
from typing import Any

from ecs_handoff_embedded.scenario import artifact, image
from pytest import MonkeyPatch

from tests.helpers import s3_event, zip_members
from tests.integration.conftest import Stack
from tests.integration.steps import BUCKET, KEY, NEW


def upload(stack: Stack, body: bytes, key: str = KEY) -> str:
    stack.push(body)
    return str(stack.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"])


def record(stack: Stack, deployment_id: str) -> dict[str, Any]:
    from ecs_handoff.aws.records import DeploymentRecords

    found = DeploymentRecords(stack.outputs["DeploymentsTableName"]).get(deployment_id)
    assert found is not None
    return found.model_dump(mode="json")


def executions(stack: Stack) -> list[dict[str, Any]]:
    sfn = stack.client("stepfunctions")
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=stack.outputs["StateMachineArn"])["executions"]
    return found


def test_intake_valid_upload_starts_one_deployment_of_that_version(stack: Stack) -> None:
    # GIVEN an upload of a valid artifact
    version = upload(stack, artifact(NEW))
    # WHEN the intake gets its event
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    # THEN one execution named after service and version runs, with the request as its input
    assert result["action"] == "STARTED"
    [execution] = executions(stack)
    assert execution["name"] == result["deployment_id"] == f"api-{version}"
    sfn_input = json.loads(
        stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    )
    assert sfn_input["request"]["source"]["object_version"] == version
    assert sfn_input["request"]["base_task_definition"].endswith("task-definition/dev-api:1")
    saved = record(stack, result["deployment_id"])
    assert saved["outcome"] == "IN_PROGRESS" and saved["phase"] == "queued"
    assert saved["images"] == [
        {
            "container": "app-container",
            "image_before": image("api", "dev-0a1b2c3"),
            "image_after": stack.pinned(NEW["app-container"]),  # deployed by the digest the tag has now
            "requested": NEW["app-container"],
        }
    ]


def test_intake_reads_the_named_version_not_latest(stack: Stack) -> None:
    # GIVEN two versions, the newer one invalid
    good = upload(stack, artifact(NEW))
    upload(stack, b"not a zip")
    # WHEN the event names the older, valid version
    result = stack.invoke("intake", s3_event(BUCKET, KEY, good, "0062E99A88DC407460"))
    # THEN that version is what gets deployed
    assert result["action"] == "STARTED"


def test_intake_duplicate_event_starts_nothing_more(stack: Stack) -> None:
    version = upload(stack, artifact(NEW))
    event = s3_event(BUCKET, KEY, version, "0062E99A88DC407460")
    first, second = stack.invoke("intake", event), stack.invoke("intake", event)
    assert (first["action"], second["action"]) == ("STARTED", "DUPLICATE")
    assert len(executions(stack)) == 1


def test_intake_stale_event_is_recorded_and_ignored(stack: Stack) -> None:
    # GIVEN the newer upload's event handled first
    older, newer = upload(stack, artifact(NEW)), upload(stack, artifact(NEW))
    assert stack.invoke("intake", s3_event(BUCKET, KEY, newer, "0062E99A88DC407470"))["action"] == "STARTED"
    # WHEN the older upload's event arrives late
    result = stack.invoke("intake", s3_event(BUCKET, KEY, older, "0062E99A88DC407460"))
    # THEN it is recorded as superseded and nothing else starts
    assert result["action"] == "STALE"
    assert len(executions(stack)) == 1
    saved = record(stack, result["deployment_id"])
    assert saved["outcome"] == "SUPERSEDED" and newer in saved["reason"]


def test_intake_unknown_container_is_invalid_with_actionable_reason_and_notified(stack: Stack) -> None:
    version = upload(stack, artifact({"nginx": image("nginx", "1.27")}))
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    assert result["action"] == "INVALID"
    assert (
        result["reason"]
        == "container 'nginx' is not in task definition dev-api:1; it has: app-container, nginx-container"
    )
    assert record(stack, result["deployment_id"])["outcome"] == "INVALID"
    assert executions(stack) == []
    [message] = stack.notifications()
    assert "Outcome:     INVALID" in message and "container 'nginx' is not in task definition dev-api:1" in message


def test_intake_unregistered_service_lists_registered_ones(stack: Stack) -> None:
    key = "billing/imagedefinitions.json.zip"
    version = upload(stack, artifact(NEW), key=key)
    result = stack.invoke("intake", s3_event(BUCKET, key, version, "0062E99A88DC407460"))
    assert result["action"] == "INVALID"
    assert (
        "service 'billing' is not registered" in result["reason"]
        and "registered services: api, web, worker" in result["reason"]
    )


def test_intake_unsafe_service_id_is_invalid(stack: Stack) -> None:
    key = "../api/imagedefinitions.json.zip"
    result = stack.invoke("intake", s3_event(BUCKET, key, "v1", "0062E99A88DC407460"))
    assert result["action"] == "INVALID" and "is not a safe name" in result["reason"]


def test_intake_unversioned_object_is_invalid(stack: Stack) -> None:
    result = stack.invoke("intake", s3_event(BUCKET, KEY, None, "0062E99A88DC407460"))
    assert result["action"] == "INVALID" and "not versioned" in result["reason"]


def test_intake_bad_archive_is_invalid(stack: Stack) -> None:
    version = upload(stack, zip_members({"../imagedefinitions.json": "[]"}))
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    assert result["action"] == "INVALID" and "escapes the archive root" in result["reason"]


def test_intake_other_bucket_and_other_keys_are_ignored(stack: Stack) -> None:
    assert stack.invoke("intake", s3_event("someone-elses", KEY, "v", "01"))["action"] == "IGNORED"
    assert stack.invoke("intake", s3_event(BUCKET, "api/notes.txt", "v", "01"))["action"] == "IGNORED"
    assert stack.invoke("intake", {"hello": "world"})["action"] == "IGNORED"
    assert stack.notifications() == []


def test_intake_malformed_registry_entry_is_invalid(stack: Stack) -> None:
    stack.client("ssm").put_parameter(
        Name="/handoff/dev/services/api", Type="String", Overwrite=True, Value='{"cluster": "dev"}'
    )
    version = upload(stack, artifact(NEW))
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    assert result["action"] == "INVALID" and "registry entry /handoff/dev/services/api is malformed" in result["reason"]


def test_intake_registry_pointing_at_missing_service_is_invalid(stack: Stack) -> None:
    stack.client("ssm").put_parameter(
        Name="/handoff/dev/services/api",
        Type="String",
        Overwrite=True,
        Value=json.dumps({"cluster": "dev", "service": "gone", "task_definition": "dev-api"}),
    )
    version = upload(stack, artifact(NEW))
    result = stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    assert result["action"] == "INVALID" and "service 'gone'" in result["reason"]


def test_intake_environment_floor_forces_approval(stack: Stack, monkeypatch: MonkeyPatch) -> None:
    # GIVEN an environment deployed with RequireApproval=true and a registry entry that says false
    from moto.awslambda.models import lambda_backends

    fn = lambda_backends["123456789012"]["ap-northeast-1"].get_function("handoff-dev-intake")
    monkeypatch.setitem(fn.environment_vars, "HANDOFF_REQUIRE_APPROVAL", "true")
    version = upload(stack, artifact(NEW))
    stack.invoke("intake", s3_event(BUCKET, KEY, version, "0062E99A88DC407460"))
    [execution] = executions(stack)
    sfn_input = json.loads(
        stack.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"]
    )
    # THEN the workflow is told approval is required
    assert sfn_input["request"]["service"]["approval_required"] is True
