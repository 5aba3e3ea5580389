"""`handoff doctor` on the embedded AWS: a correct install is all ok; each broken item is named with its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.doctor import check_registry, load_install, needed_permissions
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import bucket_name, push_image

from tests.e2e.release_gates import ALARM
from tests.e2e.roles import function_role, narrowed


def doctor(env: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["doctor", "--env", env, "--json"])
    return code, json.loads(capsys.readouterr().out)


def problems(report: dict[str, Any]) -> dict[str, str]:
    return {f["item"]: f["detail"] for f in report["findings"] if not f["ok"]}


@contextmanager
def versioning_suspended(aws: EmbeddedAws, bucket: str) -> Iterator[None]:
    s3 = aws.client("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    try:
        yield
    finally:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


@contextmanager
def stranger_subscribed(aws: EmbeddedAws, approver: str) -> Iterator[str]:
    """mallory on the approver's own topic: the subscription's ARN."""
    from ecs_handoff.approvals import channel
    from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

    sns = aws.client("sns")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{channel.topic_name('prod', approver)}"
    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="mallory@evil.example")["SubscriptionArn"]
    try:
        yield str(arn)
    finally:
        sns.unsubscribe(SubscriptionArn=arn)


def test_doctor_a_correct_install_is_all_ok(embedded: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = doctor("prod", capsys)
    assert problems(report) == {}
    assert code == 0 and report["ok"] is True
    items = {f["item"] for f in report["findings"]}
    assert {"approver alice@example.com", "IAM of handoff-prod-approval-page", "link-signing secret"} <= items
    assert {"approver alice@example.com topic policy", "approver bob@example.com topic policy"} <= items
    assert "service api deployment circuit breaker" in items
    assert {
        f"event rule handoff-prod-{r}" for r in ("artifact-uploaded", "execution-ended", "ecs-deployment-state")
    } <= items


def test_doctor_names_each_broken_item_and_exits_1(embedded: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN versioning suspended, a stranger on alice's topic, and the page unable to resume workflows
    stack = embedded.stacks["prod"]
    with (
        versioning_suspended(embedded, stack.outputs["ArtifactBucketName"]),
        stranger_subscribed(embedded, "alice@example.com") as stranger,
        narrowed(embedded, function_role(embedded, "handoff-prod-approval-page"), "states:SendTaskSuccess"),
    ):
        code, report = doctor("prod", capsys)
    # THEN each is a problem, in words that say what and how to fix it
    found = problems(report)
    assert code == 1 and report["ok"] is False
    assert found["bucket prod-ecsdef-123456789012 versioning"] == "versioning is Suspended"
    assert found["approver alice@example.com"] == (
        f"subscription {stranger} (email mallory@evil.example) on alice@example.com's approval topic "
        "handoff-prod-approver-ff8d9819fc0e12bf is not theirs and would receive their links"
    )
    assert found["IAM of handoff-prod-approval-page"] == "denied: states:SendTaskSuccess on * (implicitDeny)"
    assert len(found) == 3
    fixes = {f["item"]: f["fix"] for f in report["findings"] if not f["ok"]}
    assert "eventbridge" not in fixes["bucket prod-ecsdef-123456789012 versioning"]
    assert 'status = "Enabled"' in fixes["bucket prod-ecsdef-123456789012 versioning"]


def test_doctor_finds_a_disabled_ecs_event_rule(embedded: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN someone disabled the rule that brings ECS's deployment events to handoff
    events = embedded.client("events")
    events.disable_rule(Name="handoff-prod-ecs-deployment-state")
    try:
        code, report = doctor("prod", capsys)
    finally:
        events.enable_rule(Name="handoff-prod-ecs-deployment-state")
    # THEN doctor names it, says what it costs, and how to turn it back on
    assert code == 1
    assert problems(report) == {
        "event rule handoff-prod-ecs-deployment-state": "DISABLED: ECS's verdicts never arrive; "
        "every rollout waits for the fallback look"
    }
    fixes = {f["item"]: f["fix"] for f in report["findings"] if not f["ok"]}
    assert fixes["event rule handoff-prod-ecs-deployment-state"] == (
        "aws events enable-rule --name handoff-prod-ecs-deployment-state"
    )


def test_doctor_knows_every_call_each_function_really_makes(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN deployments through every function: approved in prod, rolled back in dev, refused in dev
    deployment = world.upload("prod", "api", artifact({"app-container": image("api", "prod-doctor1")}))
    world.wait_phase("prod", deployment, "awaiting_approval")
    status, _ = world.decide(world.approval_link("alice@example.com", deployment), "approve")
    assert status == 200
    assert world.wait("prod", deployment).outcome is Outcome.SUCCEEDED
    assert world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "fail-doctor")})))
    # THEN doctor's table of calls covers every action each function was allowed to make
    for env in ("prod", "dev"):
        install, _ = load_install(env)
        assert install is not None
        list(check_registry(install))  # the services and their bases, as diagnose() reads them first
        table = needed_permissions(install)
        for function, used in embedded.authorizer.used.items():
            if function.startswith(f"handoff-{env}-"):
                listed = {p.action for p in table[function.removeprefix(f"handoff-{env}-")]}
                assert used <= listed, (function, used - listed)


MISSPELT = "dev-api-5xxx"
ELSEWHERE = "arn:aws:ssm:ap-northeast-1:999999999999:document/release-freeze"  # another account's calendar


def test_doctor_names_a_misspelt_blocking_alarm_and_a_calendar_the_gate_may_not_read(
    embedded: EmbeddedAws, registry: Any, alarm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev's api blocks on an alarm CloudWatch does not have (one letter off the one it has), and the worker
    # on another account's change calendar the stack was not told of (CrossAccountChangeCalendarArns)
    alarm("OK")  # dev-api-5xx exists
    registry("dev", "api", blocking_alarms=[MISSPELT])
    embedded.calendars["release-freeze"] = ("OPEN", None)
    registry("dev", "worker", change_calendar=ELSEWHERE)
    try:
        code, report = doctor("dev", capsys)
    finally:
        embedded.calendars.pop("release-freeze", None)
    # THEN both are problems: the alarm by name with the one meant, the calendar with the roles that may not read it
    found = problems(report)
    assert code == 1
    assert found["service api release controls"] == (
        "blocking alarm 'dev-api-5xxx' does not exist in CloudWatch (did you mean 'dev-api-5xx'?); the gate would "
        "refuse every deployment (a misspelt alarm would never hold one)"
    )
    assert found["service worker release controls"] == (
        f"handoff-dev-gate may not read them: ssm:GetCalendarState on {ELSEWHERE} (implicitDeny); "
        f"handoff-dev-deploy may not read them: ssm:GetCalendarState on {ELSEWHERE} (implicitDeny)"
    )
    fixes = {f["item"]: f["fix"] for f in report["findings"] if not f["ok"]}
    assert fixes["service api release controls"] == (
        "fix blocking_alarms in the registry entry (Terraform writes it), then upload again"
    )
    assert "CrossAccountChangeCalendarArns" in fixes["service worker release controls"]


def test_doctor_release_controls_that_exist_and_may_be_read_are_ok(
    embedded: EmbeddedAws, registry: Any, alarm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev's api blocks on an alarm that exists, and the worker on this account's calendar
    alarm("OK")
    registry("dev", "api", blocking_alarms=[ALARM])
    embedded.calendars["release-freeze"] = ("CLOSED", None)
    registry("dev", "worker", change_calendar="release-freeze")
    try:
        code, report = doctor("dev", capsys)
    finally:
        embedded.calendars.pop("release-freeze", None)
    # THEN all is well (a CLOSED calendar holds deployments; it is not a problem of the install)
    assert problems(report) == {} and code == 0
    details = {f["item"]: f["detail"] for f in report["findings"]}
    assert details["service api release controls"] == (
        "alarm dev-api-5xx: present, and handoff-dev-gate and handoff-dev-deploy may read them"
    )
    assert details["service worker release controls"] == (
        "change calendar release-freeze: present, and handoff-dev-gate and handoff-dev-deploy may read them"
    )


def test_upload_refuses_a_misspelt_blocking_alarm_before_anything_is_uploaded(
    world: World, registry: Any, alarm: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev's api blocks on an alarm CloudWatch does not have
    alarm("OK")
    registry("dev", "api", blocking_alarms=[MISSPELT])
    path = tmp_path / "imagedefinitions.json"
    path.write_text(json.dumps([{"name": "app-container", "imageUri": image("api", "dev-a1a1a1a")}]))
    push_image(world.aws.client("ecr"), image("api", "dev-a1a1a1a"))
    versions = world.aws.client("s3").list_object_versions(Bucket=bucket_name("dev"), Prefix="api/")
    before = len(versions.get("Versions", []))
    capsys.readouterr()
    # WHEN an operator uploads
    code = main(["upload", str(path), "--env", "dev", "--service", "api"])
    # THEN refused with the alarm's name, the one meant and the fix; nothing reached the bucket
    err = capsys.readouterr().err
    assert code == 2, err
    assert "the intake would refuse it, so nothing was uploaded: blocking alarm 'dev-api-5xxx' does not exist" in err
    assert "(did you mean 'dev-api-5xx'?)" in err and "fix blocking_alarms in the registry entry" in err
    versions = world.aws.client("s3").list_object_versions(Bucket=bucket_name("dev"), Prefix="api/")
    assert len(versions.get("Versions", [])) == before


@contextmanager
def deployed_by_ecs(embedded: EmbeddedAws, env: str, service: str, configuration: dict[str, Any]) -> Iterator[None]:
    """The service's deployment configuration with `configuration`'s keys as Terraform would set them (moto keeps it
    as it is given); put back afterwards."""
    from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION
    from moto.ecs.models import ecs_backends

    ecs = ecs_backends[ACCOUNT_ID][REGION].services[f"{env}:{service}"]
    saved = getattr(ecs, "deployment_configuration", None)
    ecs.deployment_configuration = {**(saved or {}), **configuration}
    try:
        yield
    finally:
        ecs.deployment_configuration = saved


def test_doctor_checks_a_blue_green_services_hooks_against_its_registry_entry(
    embedded: EmbeddedAws, registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN prod's api deploys BLUE_GREEN with handoff's lifecycle hook before production traffic, through the
    # stack's role, and has a deployment window that may hold a shift 30 s (within its rollout_timeout_seconds, 60)
    outputs = embedded.stacks["prod"].outputs
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": outputs["LifecycleHookFunctionArn"],
        "roleArn": outputs["LifecycleHookRoleArn"],
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
    }
    registry("prod", "api", deploy_windows=[{"hours": "00:00-24:00"}], max_gate_wait_seconds=30)
    with deployed_by_ecs(embedded, "prod", "api", {"strategy": "BLUE_GREEN", "lifecycleHooks": [hook]}):
        code, report = doctor("prod", capsys)
    # THEN its strategy, hook and role are ok, and so is the hook function's own IAM
    details = {f["item"]: (f["ok"], f["detail"]) for f in report["findings"]}
    assert details["service api deployment strategy"] == (
        True,
        "BLUE_GREEN, handoff's lifecycle hook at PRE_PRODUCTION_TRAFFIC_SHIFT (1440 min)",
    )
    assert details["service api lifecycle hook role"][0] is True
    assert details["IAM of handoff-prod-lifecycle-hook"][0] is True
    assert problems(report) == {} and code == 0
    # WHEN the hook is missing (a window, but nothing holds the production traffic shifts)
    with deployed_by_ecs(embedded, "prod", "api", {"strategy": "BLUE_GREEN", "lifecycleHooks": []}):
        code, report = doctor("prod", capsys)
    # THEN doctor says so, and how to fix it
    assert code == 1
    assert problems(report) == {
        "service api deployment strategy": "the entry has release controls but handoff's lifecycle hook does not run "
        "at PRE_PRODUCTION_TRAFFIC_SHIFT: they apply before the deploy only, never to the production traffic shifts"
    }


def test_doctor_names_a_hook_role_ecs_cannot_use(
    embedded: EmbeddedAws, registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN api's hook names a role ECS cannot assume (the deploy function's own role)
    outputs = embedded.stacks["prod"].outputs
    role = str(embedded.client("lambda").get_function_configuration(FunctionName="handoff-prod-deploy")["Role"])
    hook = {
        "hookTargetArn": outputs["LifecycleHookFunctionArn"],
        "roleArn": role,
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
    }
    with deployed_by_ecs(embedded, "prod", "api", {"strategy": "LINEAR", "lifecycleHooks": [hook]}):
        code, report = doctor("prod", capsys)
    # THEN the role is a problem: not trusted by ECS, and not allowed to invoke the hook
    found = problems(report)["service api lifecycle hook role"]
    assert code == 1
    assert found.startswith(f"{role} does not let ecs.amazonaws.com assume it; lambda:InvokeFunction on ")
