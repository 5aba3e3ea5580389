"""A real browser (Debian's Chromium, driven by Playwright) approves prod from the emailed link."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ecs_handoff.approvals.page import split_image
from ecs_handoff.models import Outcome, execution_name
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import ECR, push_image

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


COMMIT = "c0ffee1d" * 5  # 40 characters, as git prints a commit: it made a phone's page 417 px wide
# Every element whose right edge is past the window: none may be, or the page scrolls sideways.
PAST_THE_RIGHT_EDGE = """() => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(e => `${e.tagName.toLowerCase()}.${e.className} right=${e.getBoundingClientRect().right}`)"""


def fits_sideways(page: Page) -> None:
    """Nothing scrolls sideways: the document is no wider than the window, and no element sticks out."""
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        f"the page is {page.evaluate('document.documentElement.scrollWidth')} px wide in a {width} px window"
    )
    assert page.evaluate(PAST_THE_RIGHT_EDGE) == [], f"elements past the right edge of {width} px"


def top(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return float(box["y"])


def test_browser_approver_reads_the_change_and_approves(world: World, embedded: EmbeddedAws, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    # GIVEN a prod release waiting for approval, with long tokens (a 40-character commit, a tag and image URI
    # that long, a 71-character digest, a CI run's URL) and CI's words; and the link from alice's email
    running = split_image(world.running("prod", "api")["images"]["app-container"])[1]  # tag or @digest
    tag = f"prod-{COMMIT}"
    digest = push_image(world.ecr_client, image("api", tag))
    body = artifact({"app-container": image("api", tag)})
    world.push(body)
    metadata = {
        "commit": COMMIT,
        "codepipeline-artifact-revision-summary": "Fix the login page for every user " * 3,
        "url": "https://github.com/example/api/actions/runs/" + "1234567890" * 6,
    }
    version = world.s3.put_object(
        Bucket="prod-ecsdef-123456789012", Key="api/imagedefinitions.json.zip", Body=body, Metadata=metadata
    )["VersionId"]
    deployment_id = execution_name("api", version)
    world.wait_phase("prod", deployment_id, "awaiting_approval")
    url = world.approval_link("alice@example.com", deployment_id)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            desktop.goto(url)
            fits_sideways(desktop)
            desktop.screenshot(path=str(tmp_path / "review-desktop.png"), full_page=True)
            page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # a phone
            # WHEN she opens it, reads the change, writes a comment and presses Approve
            page.goto(url)
            assert page.title() == "Approve api in prod?"
            change = page.locator(".change").first.inner_text()
            assert change.replace("\n", "") == (  # (lines wrap wherever a long token needs to)
                "app-container"
                "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api"
                f"{running} \u2192 {tag}"
                f"pinned to {digest}"  # what will run: the digest the tag had when it was uploaded
            ), change
            # THEN nothing scrolls sideways on a phone: not the commit, the digest, the tag or the CI run's URL
            fits_sideways(page)
            ci = page.locator(".ci").inner_text()
            assert ci.startswith("CI says (not verified by handoff)") and f"Commit: {COMMIT}" in ci
            # what handoff checked comes first, then the buttons, then CI's words; the buttons on the first screen
            assert top(page, ".change") < top(page, "button[value=approve]") < top(page, ".ci")
            approve = page.locator("button[value=approve]").bounding_box()
            assert approve is not None and approve["y"] + approve["height"] <= 844, approve
            page.fill("textarea[name=comment]", "looks good, CHG-77")
            page.screenshot(path=str(tmp_path / "review-phone.png"), full_page=True)
            page.click("button[value=approve]")
            assert page.locator("h1").inner_text() == "Approved"
            # the page after the decision says what was approved, where, and when, as people read it
            about = page.locator("p.muted").inner_text()
            assert re.fullmatch(
                rf"api in prod, deployment {re.escape(deployment_id)}; approved by alice@example\.com "
                r"at \d{4}-\d\d-\d\d \d\d:\d\d UTC",
                about,
            ), about
            fits_sideways(page)
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
