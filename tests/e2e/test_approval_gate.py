"""The prod approval gate through the real ASL (waitForTaskToken), the emailed links and the review page."""

from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any

import pytest
from ecs_handoff.approvals.links import LinkClaims, link
from ecs_handoff.models import ApprovalStatus, Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from pytest import CaptureFixture

from tests.e2e.people import ALICE, BOB, approval_status, release


def test_gate_each_approver_gets_an_own_link_without_the_task_token(world: World, embedded: EmbeddedAws) -> None:
    running = world.running("prod", "api")["images"]["app-container"].rsplit("/", 1)[-1]
    deployment_id = release(world, "prod-1111111")
    alice, bob = world.approval_email(ALICE, deployment_id), world.approval_email(BOB, deployment_id)
    assert "approver=alice%40example.com" in alice and "approver=bob%40example.com" in bob
    assert "bob" not in world.approval_link(ALICE, deployment_id)
    # the email says what changes and who uploaded; the platform inbox got no link
    assert running in alice and "api:prod-1111111" in alice and "Commit tag:   prod-1111111" in alice
    inbox = [p.read_text() for p in embedded.outbox.messages() if p.name.endswith("platform-prod@example.com.txt")]
    assert not any(deployment_id in text and "/approvals/" in text for text in inbox)
    # the task token (kept in the approvals table) appears in no email and no link
    from ecs_handoff.aws.approvals import ApprovalStore

    store = ApprovalStore(embedded.stacks["prod"].outputs["ApprovalsTableName"], embedded.client("dynamodb"))
    pending = store.pending_for_deployment(deployment_id)
    assert pending is not None and len(pending.task_token) > 10
    for path in embedded.outbox.messages():
        assert pending.task_token not in path.read_text()
    world.decide(world.approval_link(ALICE, deployment_id), "reject", "cleanup")
    world.wait("prod", deployment_id)


def test_gate_approve_deploys_and_records_who(world: World, embedded: EmbeddedAws) -> None:
    deployment_id = release(world, "prod-2222222")
    url = world.approval_link(ALICE, deployment_id)
    # GET only shows: twice, as a mail scanner would prefetch, and nothing changes
    for _ in range(2):
        status, page = world.open(url)
        assert status == 200 and "/api</div>" in page and "&rarr; prod-2222222" in page and "prod-api:" in page
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    status, page = world.decide(url, "approve", "CHG-42")
    assert status == 200 and "Approved" in page
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED and "approved by alice@example.com" in record.reason
    [vote] = record.approvals
    assert (vote.approver, vote.decision, vote.comment, vote.source_ip) == (
        ALICE,
        "approve",
        "CHG-42",
        "127.0.0.1",
    )
    assert vote.user_agent.startswith("Python-urllib") and vote.at
    assert world.running("prod", "api")["images"]["app-container"] == world.pinned(image("api", "prod-2222222"))


def test_gate_reject_deploys_nothing_and_keeps_the_comment(world: World, embedded: EmbeddedAws) -> None:
    before = world.running("prod", "api")["task_definition"]
    deployment_id = release(world, "prod-3333333")
    status, _ = world.decide(world.approval_link(BOB, deployment_id), "reject", "not during the sale")
    assert status == 200
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.REJECTED
    assert record.reason == "rejected by bob@example.com: not during the sale; nothing was deployed"
    assert world.running("prod", "api")["task_definition"] == before
    # the other approver's link now answers 409, naming who decided
    status, page = world.open(world.approval_link(ALICE, deployment_id))
    assert status == 409 and "bob@example.com" in page


@pytest.mark.slow
def test_gate_expires_when_nobody_decides(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    registry("prod", "worker", approval_timeout_seconds=5)
    before = world.running("prod", "worker")["task_definition"]
    deployment_id = release(world, "prod-4444444", service="worker")
    record = world.wait("prod", deployment_id, timeout=30)
    assert record.outcome is Outcome.EXPIRED and "nobody approved within 5 s" in record.reason
    assert world.running("prod", "worker")["task_definition"] == before
    status, page = world.open(world.approval_link(ALICE, deployment_id))
    assert status == 410 and "expired" in page
    assert world.decide(world.approval_link(ALICE, deployment_id), "approve")[0] == 410


def test_gate_newer_upload_supersedes_one_waiting(world: World, embedded: EmbeddedAws) -> None:
    older = release(world, "prod-5555555")
    old_link = world.approval_link(ALICE, older)
    newer = world.upload("prod", "api", artifact({"app-container": image("api", "prod-6666666")}))
    record = world.wait("prod", older)
    assert record.outcome is Outcome.SUPERSEDED and newer in record.reason
    status, page = world.decide(old_link, "approve")
    assert status == 409 and newer in page
    world.wait_phase("prod", newer, "awaiting_approval")
    world.decide(world.approval_link(ALICE, newer), "approve")
    assert world.wait("prod", newer).outcome is Outcome.SUCCEEDED
    assert world.running("prod", "api")["images"]["app-container"] == world.pinned(image("api", "prod-6666666"))


def test_gate_two_approvals_required(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    registry("prod", "worker", approvals_required=2)
    deployment_id = release(world, "prod-7777777", service="worker")
    alice = world.approval_link(ALICE, deployment_id)
    assert world.decide(alice, "approve")[0] == 200
    assert world.decide(alice, "approve")[0] == 409  # the same person twice does not count twice
    time.sleep(0.5)
    assert world.records("prod").get(deployment_id).outcome is Outcome.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert world.decide(world.approval_link(BOB, deployment_id), "approve")[0] == 200
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED
    assert sorted(v.approver for v in record.approvals) == [ALICE, BOB]


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ({"sig": "A" * 43}, 403),  # forged signature
        ({"approver": "mallory@example.com"}, 403),  # the link re-addressed to someone else
        ({"expires": "4102444800"}, 403),  # expiry pushed out
        ({"sig": ""}, 403),
        ({"expires": "soon"}, 403),
    ],
)
def test_gate_tampered_links_are_refused_and_change_nothing(
    world: World, embedded: EmbeddedAws, tamper: dict[str, str], status: int
) -> None:
    deployment_id = release(world, "prod-8888888")
    url = world.approval_link(ALICE, deployment_id)
    parts = urllib.parse.urlsplit(url)
    query = {**dict(urllib.parse.parse_qsl(parts.query)), **tamper}
    forged = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    assert world.open(forged)[0] == status
    assert world.decide(forged, "approve")[0] == status
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    world.decide(url, "reject", "test cleanup")
    assert world.wait("prod", deployment_id).outcome is Outcome.REJECTED


def test_gate_link_for_unknown_approval_is_404_and_bad_decision_400(world: World, embedded: EmbeddedAws) -> None:
    from ecs_handoff.aws.secrets import signing_key

    sm = embedded.client("secretsmanager")
    key = signing_key("handoff-prod/approval-link-key", sm)
    unknown = link(embedded.http_apis["prod"].url, key, LinkClaims("0" * 32, ALICE, int(time.time()) + 600))
    assert world.open(unknown)[0] == 404
    deployment_id = release(world, "prod-9999999")
    url = world.approval_link(ALICE, deployment_id)
    assert world.decide(url, "maybe")[0] == 400
    world.decide(url, "reject")
    world.wait("prod", deployment_id)


def test_gate_operator_cli_approve_records_iam_identity(
    world: World, embedded: EmbeddedAws, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    deployment_id = release(world, "prod-aaaa111")
    approval_id = world.records("prod").get(deployment_id).approval_id  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["approve", str(approval_id), "--env", "prod", "--comment", "hotfix INC-7"]) == 0
    assert capsys.readouterr().out.startswith(f"approved api in prod (deployment {deployment_id})")
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED
    [vote] = record.approvals
    assert (vote.via, vote.approver, vote.comment) == ("api", "bob@example.com", "hotfix INC-7")
    assert vote.principal == "arn:aws:sts::123456789012:user/moto"
    # a second decision on the same approval is refused with exit code 1
    assert main(["reject", str(approval_id), "--env", "prod"]) == 1
    assert "Already approved" in capsys.readouterr().err


def test_gate_operator_cli_reject_and_unknown_approval(
    world: World, embedded: EmbeddedAws, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    deployment_id = release(world, "prod-bbbb222")
    # the deployment id that `watch` and `history` show is enough; --json says what happened
    capsys.readouterr()
    assert main(["reject", deployment_id, "--env", "prod", "--comment", "wrong build", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert (said["ok"], said["decision"], said["deployment_id"]) == (True, "reject", deployment_id)
    assert said["approver"] == "bob@example.com"
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.REJECTED and "wrong build" in record.reason
    assert main(["approve", "f" * 32, "--env", "prod"]) == 3


def test_gate_oversized_form_is_400(world: World, embedded: EmbeddedAws) -> None:
    deployment_id = release(world, "prod-dddd444")
    url = world.approval_link(ALICE, deployment_id)
    extra = {f"x{i}": "y" for i in range(20)}
    assert world.decide(url, "approve", **extra)[0] == 400
    assert approval_status(embedded, deployment_id) is ApprovalStatus.PENDING
    world.decide(url, "reject", "cleanup")
    world.wait("prod", deployment_id)


def test_gate_cli_refuses_a_principal_not_in_approver_principals(
    world: World, embedded: EmbeddedAws, registry: Any, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    # GIVEN a service whose registry lets no IAM principal decide from the CLI
    registry("prod", "api", approver_principals={})
    deployment_id = release(world, "prod-cccc333")
    approval_id = world.records("prod").get(deployment_id).approval_id  # type: ignore[union-attr]
    capsys.readouterr()
    # WHEN an operator with IAM rights tries  THEN exit 2, saying why, and the approval stays pending
    assert main(["approve", str(approval_id), "--env", "prod"]) == 2
    assert "is not in the registry entry's approver_principals" in capsys.readouterr().err
    assert world.records("prod").get(deployment_id).outcome is Outcome.AWAITING_APPROVAL  # type: ignore[union-attr]
    world.decide(world.approval_link(ALICE, deployment_id), "reject", comment="test over")
    world.wait("prod", deployment_id)


def test_gate_cli_refuses_the_uploader_approving_their_own_upload(
    world: World, embedded: EmbeddedAws, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    # GIVEN an upload made with `handoff upload` (it says who uploaded) by the same principal
    capsys.readouterr()
    path = embedded.state_dir / "self-approve.json"
    path.write_text(json.dumps([{"name": "app-container", "imageUri": image("api", "prod-self001")}]))
    world.push(artifact({"app-container": image("api", "prod-self001")}))
    assert main(["upload", str(path), "--env", "prod", "--service", "api", "--json", "--no-wait"]) == 0
    deployment_id = json.loads(capsys.readouterr().out)["deployment_id"]
    record = world.wait_phase("prod", deployment_id, "awaiting_approval")
    # WHEN the uploader tries to approve it  THEN refused, and the email shows who uploaded, as CI says
    assert main(["approve", str(record.approval_id), "--env", "prod"]) == 2
    assert "uploaded this deployment and cannot approve it too" in capsys.readouterr().err
    email = world.approval_email(ALICE, deployment_id)
    assert "CI says (not verified by handoff):" in email
    assert "  Uploader: arn:aws:sts::123456789012:user/moto" in email
    world.decide(world.approval_link(ALICE, deployment_id), "reject", comment="test over")
    world.wait("prod", deployment_id)
