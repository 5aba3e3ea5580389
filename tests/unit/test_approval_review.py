"""The review an approver trusts: what handoff checked (the change, by digest) before what CI says, in the
approval email, the review page and the outcome email; the buttons before CI's words; the pages after a
decision name the service, environment and deployment, with a time people read."""

from __future__ import annotations

import re
from typing import Any

from ecs_handoff import notify
from ecs_handoff.approvals.page import CI_HEADING, STYLE, review_page
from ecs_handoff.logic.request_approval import email_body
from ecs_handoff.models import (
    ApprovalStatus,
    ApprovalVote,
    CiDescription,
    DeploymentRecord,
    ImageChange,
    Outcome,
    Source,
    VoteDecision,
)

from tests.samples import approval
from tests.unit.approval_desk import desk_with, signed

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"
DIGEST = "sha256:" + "d" * 64
RUNNING = f"{ECR}/api@sha256:" + "0" * 64
COMMIT = "4f2a9c1e" * 5  # 40 characters, as git prints a commit
CI = CiDescription(summary="Fix the login page", commit=COMMIT, url="https://ci.example/run/" + "9" * 60)
CHANGES = [
    ImageChange(
        container="app-container",
        image_before=RUNNING,
        image_after=f"{ECR}/api@{DIGEST}",
        requested=f"{ECR}/api:prod-4f2a9c1",
    ),
    ImageChange(container="nginx-container", image_before=f"{ECR}/nginx:1.25", image_after=f"{ECR}/nginx:1.27"),
]
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def page(**overrides: Any) -> str:
    values: dict[str, Any] = {
        "env": "prod",
        "service": "api",
        "deployment_id": "api-v1",
        "requester": "123456789012",
        "changes": CHANGES,
        "other_changes": ["task memory: 1024 -> 2048"],
        "ci_lines": CI.lines(),
        "base_task_definition": "prod-api:1",
        "running_task_definition": "prod-api:2",
        "approver": "alice@example.com",
        "time_left": "23 h 59 min",
        "approvals_so_far": [],
        "approvals_required": 1,
        "form_action": "",
        "hidden": {"approver": "alice@example.com", "expires": "4000000000", "sig": "s"},
        **overrides,
    }
    return review_page(**values)


def positions(text: str, *parts: str) -> list[int]:
    """Where each part first appears in text (each must appear)."""
    found = [text.find(part) for part in parts]
    missing = [part for part, at in zip(parts, found, strict=True) if at < 0]
    assert not missing, f"not in the text: {missing}"
    return found


def test_review_page_shows_the_verified_change_then_the_buttons_then_ci() -> None:
    # GIVEN a release whose CI says something about it
    html = page()
    # WHEN the approver reads the page top to bottom  THEN the change by digest, the base and the other
    # changes come first, then the buttons, and CI's words last, labelled as not verified by handoff
    order = positions(
        html,
        "<h2>What changes</h2>",
        f"pinned to {DIGEST}",
        "1.25 &rarr; 1.27",
        "task memory: 1024 -&gt; 2048",
        "from base <b>prod-api:1</b>",
        "<button class=approve",
        "<button class=reject",
        f"<h2>{CI_HEADING}</h2>",
        f"Commit: {COMMIT}",
    )
    assert order == sorted(order), order
    assert CI_HEADING == "CI says (not verified by handoff)"


def test_review_page_without_ci_words_has_no_ci_section() -> None:
    assert CI_HEADING not in page(ci_lines=[])


def test_review_page_style_lets_every_long_token_wrap() -> None:
    # a 40-character commit made a phone's page 417 px wide: every text may break anywhere, and no box is
    # wider than its container (the browser test measures it)
    assert "overflow-wrap:anywhere" in STYLE.split("body{", 1)[1].split("}", 1)[0]
    assert "*{box-sizing:border-box}" in STYLE and "body *{min-width:0;max-width:100%}" in STYLE


def test_email_lists_the_verified_change_then_the_link_then_ci() -> None:
    # GIVEN an approval with CI's words on it
    pending = approval(changes=CHANGES, other_changes=["task memory: 1024 -> 2048"], ci=CI)
    # WHEN alice's email is written
    email = email_body(pending, "alice@example.com", "https://pages.example/approvals/a?sig=s")
    # THEN the change (tag and pinned digest, the base) first, then the link, then CI's words, labelled
    order = positions(
        email,
        "What changes (checked by handoff",
        "Commit tag:   1.27, prod-4f2a9c1",
        "New revision: from base prod-api:1",
        f"  app-container: {RUNNING} -> {ECR}/api:prod-4f2a9c1 (pinned: {ECR}/api@{DIGEST})",
        f"  nginx-container: {ECR}/nginx:1.25 -> {ECR}/nginx:1.27",
        "  task memory: 1024 -> 2048",
        "\nhttps://pages.example/approvals/a?sig=s\n",
        "\nCI says (not verified by handoff):\n",
        f"  Commit: {COMMIT}\n",
    )
    assert order == sorted(order), order
    assert "token" not in email.lower()


def test_email_without_ci_words_has_no_ci_section() -> None:
    email = email_body(approval(), "alice@example.com", "https://pages.example/approvals/a")
    assert CI_HEADING not in email and email.rstrip().endswith("you approve or reject on the page.")


def test_outcome_email_says_what_ran_before_what_ci_says() -> None:
    # GIVEN a finished deployment whose upload carried CI's words
    record = DeploymentRecord(
        id="api-v1",
        env="prod",
        service="api",
        outcome=Outcome.SUCCEEDED,
        reason="approved by alice@example.com",
        started_at="2026-11-27T00:00:00.000Z",
        finished_at="2026-11-27T00:05:00.000Z",
        images=CHANGES[:1],
        source=Source(bucket="b", key="api/imagedefinitions.json.zip", object_version="v1", sequencer="1", ci=CI),
    )
    # WHEN the outcome is emailed  THEN the images and times come first, CI's words last, labelled
    body = notify.body(record)
    order = positions(body, "Image:       app-container:", "Finished:", f"{CI_HEADING}:\n", f"  Commit: {COMMIT}\n")
    assert order == sorted(order), order


def test_page_after_approving_names_the_service_environment_deployment_and_minute() -> None:
    # GIVEN alice's pending approval of api in prod
    desk, *_ = desk_with()
    # WHEN she approves
    result = desk.decide(signed(), "approve", "", "", "")
    # THEN the page says what was approved, where, by whom, when (to the minute, in UTC), not an ISO time
    assert (result.status, result.title) == (200, "Approved")
    about = re.search(r"<p class=muted>(.*?)</p>", result.html)
    assert about is not None, result.html
    assert re.fullmatch(
        r"api in prod, deployment api-v1; approved by alice@example\.com at \d{4}-\d\d-\d\d \d\d:\d\d UTC",
        about.group(1),
    ), about.group(1)
    assert not ISO_TIME.search(result.html)


def test_page_after_rejecting_names_the_service_and_environment() -> None:
    desk, *_ = desk_with()
    result = desk.decide(signed(), "reject", "not today", "", "")
    assert (result.status, result.title) == (200, "Rejected")
    assert "<p class=muted>api in prod, deployment api-v1; rejected by alice@example.com at " in result.html


def test_page_of_an_approval_decided_already_shows_a_human_time_and_names_the_deployment() -> None:
    # GIVEN an approval bob approved at 2026-11-26T00:00:05.000Z
    vote = ApprovalVote(approver="bob@example.com", decision=VoteDecision.APPROVE, at="2026-11-26T00:00:05.000Z")
    desk, *_ = desk_with(approval(status=ApprovalStatus.APPROVED, votes=[vote]))
    # WHEN alice opens her link  THEN 409, saying by whom and when as people read it, and which deployment
    result = desk.view(signed(), "/x")
    assert (result.status, result.title) == (409, "Already approved")
    assert "<p class=muted>api in prod, deployment api-v1</p>" in result.html
    assert "already approved by bob@example.com at 2026-11-26 00:00 UTC." in result.html
    assert not ISO_TIME.search(result.html)


def test_page_after_a_decision_escapes_what_it_names() -> None:
    desk, *_ = desk_with(approval(service_id="<script>x</script>"))
    result = desk.decide(signed(), "approve", "", "", "")
    assert "<script>" not in result.html and "&lt;script&gt;x&lt;/script&gt; in prod" in result.html
