"""A real browser (Debian's Chromium, driven by Playwright) approves prod from the emailed link."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ecs_handoff.approvals.page import split_image
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ECR, push_image

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
    reason="Debian's chromium is not installed (.ci/run installs it with apt)",
)


def test_browser_approver_reads_the_change_and_approves(world: World, embedded: EmbeddedAws, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    # GIVEN a prod release waiting for approval, and the link from alice's email
    running = split_image(world.running("prod", "api")["images"]["app-container"])[1]  # tag or @digest
    digest = push_image(world.ecr_client, image("api", "prod-c0ffee1"))
    deployment_id = world.upload("prod", "api", artifact({"app-container": image("api", "prod-c0ffee1")}))
    world.wait_phase("prod", deployment_id, "awaiting_approval")
    url = world.approval_link("alice@example.com", deployment_id)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            desktop.goto(url)
            desktop.screenshot(path=str(tmp_path / "review-desktop.png"), full_page=True)
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
            # WHEN she opens it, reads the change, writes a comment and presses Approve
            page.goto(url)
            assert page.title() == "Approve api in prod?"
            change = page.locator(".change").first.inner_text()
            assert change.splitlines() == [
                "app-container",
                "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api",
                f"{running} \u2192 prod-c0ffee1",
                str(digest),  # what will run: the digest the tag had when it was uploaded
            ]
            # one row per container, readable without scrolling sideways on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.fill("textarea[name=comment]", "looks good, CHG-77")
            page.screenshot(path=str(tmp_path / "review-phone.png"), full_page=True)
            page.click("button[value=approve]")
            assert page.locator("h1").inner_text() == "Approved"
        finally:
            browser.close()
    assert all((tmp_path / name).stat().st_size > 10_000 for name in ("review-desktop.png", "review-phone.png"))

    # THEN the deployment runs to SUCCEEDED with her decision on record
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED
    [vote] = record.approvals
    assert vote.approver == "alice@example.com" and vote.comment == "looks good, CHG-77"
    assert "Chrome" in vote.user_agent
    assert world.running("prod", "api")["images"]["app-container"] == f"{ECR}/api@{digest}"
