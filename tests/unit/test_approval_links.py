"""Approval links and the review page: signatures, expiry, escaping."""

from __future__ import annotations

import time
from typing import Any

from ecs_handoff.approvals.links import LinkClaims, expired, link, sign, verify
from ecs_handoff.approvals.page import SECURITY_HEADERS, human_duration, review_page
from ecs_handoff.models import ImageChange

KEY = b"k" * 64


def claims(**changes: object) -> LinkClaims:
    values = {"approval_id": "a1", "approver": "alice@example.com", "expires": 2_000_000_000, **changes}
    return LinkClaims(**values)  # type: ignore[arg-type]


def test_links_signature_verifies_for_exact_claims() -> None:
    assert verify(KEY, claims(), sign(KEY, claims()))


def test_links_signature_bound_to_approval_approver_and_expiry() -> None:
    signature = sign(KEY, claims())
    assert not verify(KEY, claims(approval_id="a2"), signature)
    assert not verify(KEY, claims(approver="bob@example.com"), signature)
    assert not verify(KEY, claims(expires=2_000_000_001), signature)
    assert not verify(b"x" * 64, claims(), signature)
    assert not verify(KEY, claims(), "")


def test_links_fields_cannot_be_shifted_between_each_other() -> None:
    # "a1" + "|x" must not sign the same as "a1|" + "x"
    assert sign(KEY, claims(approval_id="a1", approver="b")) != sign(KEY, claims(approval_id="a", approver="1b"))


def test_links_expiry() -> None:
    now = time.time()
    assert expired(claims(expires=int(now) - 1), now) and not expired(claims(expires=int(now) + 60), now)


def test_links_url_carries_no_token_only_claims_and_signature() -> None:
    url = link("https://x.example/", KEY, claims())
    assert url.startswith("https://x.example/approvals/a1?approver=alice%40example.com&expires=2000000000&sig=")
    assert "token" not in url.lower()


def page(**overrides: Any) -> str:
    values: dict[str, Any] = {
        "env": "prod",
        "service": "api",
        "deployment_id": "api-1",
        "requester": "ci",
        "changes": [],
        "other_changes": [],
        "ci_lines": [],
        "base_task_definition": "prod-api:1",
        "running_task_definition": "prod-api:2",
        "approver": "alice@example.com",
        "time_left": "5 min",
        "approvals_so_far": [],
        "approvals_required": 1,
        "form_action": "",
        "hidden": {},
        **overrides,
    }
    return review_page(**values)


def test_page_escapes_everything_it_shows() -> None:
    html = page(
        deployment_id="<script>alert(1)</script>",
        requester='"><img src=x>',
        changes=[ImageChange(container="app", image_before=None, image_after="repo/app:<b>")],
        other_changes=["app environment <i>X</i> added"],
        ci_lines=["Summary: <script>x</script>"],
        hidden={"sig": '"onmouseover="x'},
    )
    assert "<script>" not in html and "<img" not in html and "repo/app:<b>" not in html
    assert "&lt;b&gt;" in html and "<i>" not in html and "&lt;i&gt;X&lt;/i&gt;" in html
    assert "<li>Summary: &lt;script&gt;x&lt;/script&gt;</li>" in html and "Provided by CI, not verified." in html
    assert "&lt;script&gt;" in html and 'value="&quot;onmouseover=&quot;x"' in html
    assert "<form method=post" in html and "javascript" not in html.lower()


def test_page_security_headers_forbid_framing_scripts_and_referrers() -> None:
    assert "default-src 'none'" in SECURITY_HEADERS["Content-Security-Policy"]
    assert SECURITY_HEADERS["Referrer-Policy"] == "no-referrer" and SECURITY_HEADERS["X-Frame-Options"] == "DENY"


def test_human_duration() -> None:
    assert [human_duration(s) for s in (5, 120, 3700, 200_000)] == ["5 s", "2 min", "1 h 1 min", "2 days"]


def test_page_shows_each_container_as_repository_and_old_to_new_tag() -> None:
    html = page(
        changes=[
            ImageChange(
                container="app",
                image_before="111.dkr.ecr.r.amazonaws.com/api:prod-1",
                image_after="111.dkr.ecr.r.amazonaws.com/api:prod-2",
            ),
            ImageChange(container="proxy", image_before="nginx:1.25", image_after="nginx@sha256:" + "a" * 64),
        ],
        other_changes=["task memory: 1024 -> 2048"],
    )
    assert "<div class=name>app</div><div class=repo>111.dkr.ecr.r.amazonaws.com/api</div>" in html
    assert "<div class=tags>prod-1 &rarr; prod-2</div>" in html
    assert f"<div class=tags>1.25 &rarr; @sha256:{'a' * 64}</div>" in html
    assert "<li>task memory: 1024 -&gt; 2048</li>" in html
