"""Approval integrity: a link reaches only the approver it is for (through their own topic), or nobody."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from ecs_handoff.approvals import channel
from ecs_handoff.models import Outcome, execution_name
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ACCOUNT_ID, ECR, REGION, create_approver_topics, push_image


def topic_of(aws: EmbeddedAws, approver: str) -> str:
    """The approver's own topic in prod, as Terraform made it (world.seed) and request-approval looks for it."""
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{channel.topic_name('prod', approver)}"


@contextmanager
def subscribed(aws: EmbeddedAws, approver: str, endpoint: str, protocol: str = "email") -> Iterator[str]:
    sns = aws.client("sns")
    arn = sns.subscribe(TopicArn=topic_of(aws, approver), Protocol=protocol, Endpoint=endpoint)["SubscriptionArn"]
    try:
        yield str(arn)
    finally:
        sns.unsubscribe(SubscriptionArn=arn)


@contextmanager
def topic_missing(aws: EmbeddedAws, approver: str) -> Iterator[str]:
    """The approver's topic deleted (or never made), then made again as Terraform would."""
    aws.client("sns").delete_topic(TopicArn=topic_of(aws, approver))
    try:
        yield channel.topic_name("prod", approver)
    finally:
        create_approver_topics(aws.session(), "prod", [approver])


def emails_mentioning(aws: EmbeddedAws, deployment_id: str) -> list[str]:
    return [p.read_text().split("\n", 1)[0] for p in aws.outbox.messages() if deployment_id in p.read_text()]


@pytest.mark.parametrize(
    ("protocol", "endpoint", "tag"),
    [("email", "mallory@evil.example", "prod-leak001"), ("email-json", "alice@example.com", "prod-leak004")],
    ids=["a-second-address", "another-protocol"],
)
def test_no_link_goes_out_while_an_approvers_topic_has_another_subscription(
    world: World, embedded: EmbeddedAws, protocol: str, endpoint: str, tag: str
) -> None:
    # GIVEN a second subscription on alice's topic, besides her own
    with subscribed(embedded, "alice@example.com", endpoint, protocol) as arn:
        record = world.wait("prod", world.upload("prod", "api", artifact({"app-container": image("api", tag)})))
    # THEN nobody got a link, the deployment ended saying which subscription, and the platform was told
    assert record.outcome is Outcome.FAILED
    assert record.reason.startswith(
        f"no approval link was sent: subscription {arn} ({protocol} {endpoint}) on alice@example.com's approval topic "
    )
    assert record.reason.endswith("then upload again; nothing was deployed")
    notices = world.outcome_emails("prod", record.id)
    assert len(notices) == 1 and "no approval link was sent" in notices[0]
    assert emails_mentioning(embedded, record.id) == ["To: platform-prod@example.com"]


def test_no_link_goes_out_to_an_approver_without_a_topic(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN bob's topic missing
    with topic_missing(embedded, "bob@example.com") as name:
        record = world.wait(
            "prod", world.upload("prod", "api", artifact({"app-container": image("api", "prod-leak003")}))
        )
    # THEN nobody got a link (alice neither), and the reason names the topic Terraform must create
    assert record.outcome is Outcome.FAILED
    assert f"Terraform must create {name} with bob@example.com's email subscription" in record.reason
    world.outcome_emails("prod", record.id)  # the outcome is sent just after it is recorded: wait for it
    assert emails_mentioning(embedded, record.id) == ["To: platform-prod@example.com"]


def test_each_approver_gets_only_their_own_link_through_their_own_topic(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN each approver's topic with their own confirmed subscription
    deployment = world.upload("prod", "api", artifact({"app-container": image("api", "prod-leak002")}))
    world.wait_phase("prod", deployment, "awaiting_approval")
    # THEN alice and bob got one email each, from their own topic, with the link issued to them
    assert sorted(emails_mentioning(embedded, deployment)) == ["To: alice@example.com", "To: bob@example.com"]
    for approver in ("alice@example.com", "bob@example.com"):
        email = world.approval_email(approver, deployment)
        assert f"X-SNS-Topic: {topic_of(embedded, approver)}\n" in email
        assert f"this link is for {approver} only" in email
    status, _ = world.decide(world.approval_link("alice@example.com", deployment), "reject", comment="test over")
    assert status == 200
    assert world.wait("prod", deployment).outcome is Outcome.REJECTED


def test_a_comment_cannot_forge_email_lines_or_reach_a_terminal_raw(
    world: World, embedded: EmbeddedAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ecs_handoff_cli.main import main

    # GIVEN an approver who rejects with a comment that tries to add lines and terminal escapes
    deployment = world.upload("prod", "api", artifact({"app-container": image("api", "prod-forge01")}))
    world.wait_phase("prod", deployment, "awaiting_approval")
    comment = "looks fine\nOutcome:     SUCCEEDED\n\x1b[2J\x1b[31m[red]pwned[/red]"
    status, _ = world.decide(world.approval_link("bob@example.com", deployment), "reject", comment=comment)
    assert status == 200
    record = world.wait("prod", deployment)
    # THEN the email has exactly one Outcome line, the true one
    notice = world.outcome_emails("prod", record.id)[0]
    assert [line for line in notice.splitlines() if line.startswith("Outcome:")] == ["Outcome:     REJECTED"]
    # AND history prints the comment as plain text: no escape sequence, no markup interpreted
    capsys.readouterr()
    assert main(["history", "--env", "prod", "--service", "api", "--limit", "1", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "looks fine Outcome: SUCCEEDED [2J [31m[red]pwned[/red]" in out


def test_the_approver_sees_the_whole_change_including_a_reset_sidecar_and_base_changes(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN prod api running CI images in both containers
    both = {"app-container": image("api", "prod-whole01"), "nginx-container": image("api-nginx", "prod-whole01")}
    first = world.upload("prod", "api", artifact(both))
    world.wait_phase("prod", first, "awaiting_approval")
    assert world.decide(world.approval_link("alice@example.com", first), "approve")[0] == 200
    assert world.wait("prod", first).outcome is Outcome.SUCCEEDED
    # AND Terraform's new base: more memory, one more environment variable
    ecs = embedded.client("ecs")
    base = ecs.describe_task_definition(taskDefinition="prod-api:1")["taskDefinition"]
    containers = base["containerDefinitions"]
    containers[0]["environment"] = [*containers[0].get("environment", []), {"name": "FEATURE_X", "value": "on"}]
    new_base = ecs.register_task_definition(
        family="prod-api",
        taskRoleArn=base["taskRoleArn"],
        executionRoleArn=base["executionRoleArn"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="2048",
        containerDefinitions=containers,
    )["taskDefinition"]["taskDefinitionArn"]
    registry("prod", "api", task_definition=new_base)
    # WHEN CI uploads only the app
    second = world.upload("prod", "api", artifact({"app-container": image("api", "prod-whole02")}))
    record = world.wait_phase("prod", second, "awaiting_approval")
    # THEN the email, the page and the record all show nginx going back to the base image, and the base changes
    email = world.approval_email("bob@example.com", second)
    running_nginx = world.running("prod", "api")["images"]["nginx-container"]  # pinned by digest
    reset = f"nginx-container: {running_nginx} -> {image('api-nginx', 'prod-0a1b2c3')}"
    assert reset in email
    assert "  task memory: 1024 -> 2048" in email and "  app-container environment FEATURE_X added" in email
    _, page = world.open(world.approval_link("bob@example.com", second))
    assert "nginx-container" in page and f"{running_nginx.split('@')[1]} &rarr; prod-0a1b2c3" in page
    assert "task memory: 1024 -&gt; 2048" in page
    assert [c.container for c in record.images] == ["app-container", "nginx-container"]
    assert record.other_changes == ["task memory: 1024 -> 2048", "app-container environment FEATURE_X added"]
    assert world.decide(world.approval_link("bob@example.com", second), "reject", comment="test over")[0] == 200
    assert world.wait("prod", second).outcome is Outcome.REJECTED


def test_an_image_that_is_not_in_ecr_is_refused(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN an upload whose image was never pushed
    version = world.s3.put_object(
        Bucket="dev-ecsdef-123456789012",
        Key="api/imagedefinitions.json.zip",
        Body=artifact({"app-container": image("api", "dev-nopush1")}),
    )["VersionId"]
    record = world.wait("dev", execution_name("api", version))
    # THEN it is INVALID, saying what to do
    assert record.outcome is Outcome.INVALID
    assert record.reason == "api:dev-nopush1 is not in repository api; push it before uploading"


def test_a_tag_pushed_again_after_approval_was_requested_cannot_change_what_runs(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a prod upload of api:prod-pin0001 waiting for approval; the approver sees its digest
    uri = image("api", "prod-pin0001")
    approved_digest = push_image(world.ecr_client, uri)
    deployment = world.upload("prod", "api", artifact({"app-container": uri}))
    world.wait_phase("prod", deployment, "awaiting_approval")
    link = world.approval_link("alice@example.com", deployment)
    _, page = world.open(link)
    assert f"{approved_digest}" in page and "&rarr; prod-pin0001" in page
    assert f"{uri} (pinned: {ECR}/api@{approved_digest})" in world.approval_email("alice@example.com", deployment)
    # WHEN someone pushes other content under the same tag, and then alice approves
    moved_to = push_image(world.ecr_client, uri, build="tampered")
    assert moved_to != approved_digest
    assert world.decide(link, "approve")[0] == 200
    record = world.wait("prod", deployment)
    # THEN what runs is the digest she approved, not what the tag points at now
    assert record.outcome is Outcome.SUCCEEDED
    assert world.running("prod", "api")["images"]["app-container"] == f"{ECR}/api@{approved_digest}"
    [change] = [c for c in record.images if c.container == "app-container"]
    assert (change.requested, change.image_after) == (uri, f"{ECR}/api@{approved_digest}")


def test_pinning_can_be_turned_off_for_a_service(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    registry("dev", "worker", pin_digests=False)
    uri = image("worker", "dev-nopin01")
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": uri})))
    assert record.outcome is Outcome.SUCCEEDED
    assert world.running("dev", "worker")["images"]["app"] == uri
