"""`handoff doctor` on the embedded AWS: a correct install is all ok; each broken item is named with its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.doctor import check_registry, load_install, needed_permissions
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

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
