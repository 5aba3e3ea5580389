"""The review page: plain HTML, readable on a phone, no JavaScript; every value escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import UTC, datetime

from ecs_handoff.models import ImageChange, parse_iso, parse_reference

# Every long token (a 40-character commit, a 71-character digest, an image URI, a CI run's URL) may break
# anywhere, and no box is wider than the screen: nothing scrolls sideways on a 390 px phone.
STYLE = (
    "*{box-sizing:border-box}"
    "body{font-family:system-ui,sans-serif;max-width:44rem;margin:1rem auto;padding:0 1rem;line-height:1.4;"
    "overflow-wrap:anywhere;word-break:break-word}"
    "body *{min-width:0;max-width:100%}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;"
    "word-break:break-all}textarea{width:100%;min-height:4rem}button{font-size:1.1rem;padding:.5rem 1.2rem;"
    "margin:.5rem .5rem 0 0}.approve{background:#1a7f37;color:#fff}.reject{background:#cf222e;color:#fff}"
    ".muted{color:#555}.change{border-bottom:1px solid #ccc;padding:.4rem 0}.name{font-weight:600}"
    ".repo{color:#555;font-size:.9rem;overflow-wrap:anywhere}.tags{font-family:ui-monospace,monospace;"
    "overflow-wrap:anywhere}ul.other{padding-left:1.2rem}.ci{border-top:2px solid #ccc;margin-top:1.5rem}"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def document(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def message_page(title: str, text: str, about: str = "") -> str:
    """A page after a decision or a refusal; `about` names the service, environment and deployment it is about."""
    context = f"<p class=muted>{_e(about)}</p>" if about else ""
    return document(title, f"<h1>{_e(title)}</h1>{context}<p>{_e(text)}</p>")


def about(service: str, env: str, deployment_id: str) -> str:
    """The line a page after a decision shows under its title: which deployment of what, where."""
    return f"{service} in {env}, deployment {deployment_id}"


CI_HEADING = "CI says (not verified by handoff)"
CI_NOTE = "Provided by CI, not verified. handoff checked the change above, not these words."


def review_page(
    *,
    env: str,
    service: str,
    deployment_id: str,
    requester: str,
    changes: Iterable[ImageChange],
    other_changes: Iterable[str],
    ci_lines: Iterable[str],
    base_task_definition: str,
    running_task_definition: str,
    approver: str,
    time_left: str,
    approvals_so_far: list[str],
    approvals_required: int,
    form_action: str,
    hidden: dict[str, str],
    green: str | None = None,
    promoted_from: str = "",
) -> str:
    """`green`: set when the approvers decide before production traffic (ECS holds the new revision on the test
    listener): how to reach it, or "" when the registry says nothing. `promoted_from`: the source deployment the
    intake verified (`handoff promote`), or ""."""
    rows = "".join(_change_row(c) for c in changes) or "<p>No container changes its image.</p>"
    fields = "".join(f'<input type=hidden name="{_e(k)}" value="{_e(v)}">' for k, v in hidden.items())
    body = (
        f"<h1>Deploy {_e(service)} to {_e(env)}?</h1>"
        f"<p class=muted>Deployment {_e(deployment_id)}, requested by {_e(requester or 'unknown')}. "
        f"This link is for {_e(approver)} and expires in {_e(time_left)}.</p>"
        "<h2>What changes</h2><p class=muted>Checked by handoff: each image in ECR (by digest), "
        "the revision ECS runs, Terraform's base.</p>"
        f"{_promoted_block(promoted_from)}{rows}{_others_block(other_changes)}"
        f"<p>New revision from base <b>{_e(base_task_definition)}</b>; "
        f"the service runs <b>{_e(running_task_definition)}</b> now.</p>"
        f"{_green_block(green)}"
        f"{_so_far(approvals_so_far, approvals_required)}"
        f'<form method=post action="{_e(form_action)}">{fields}'
        "<label for=comment>Comment (optional)</label><textarea id=comment name=comment maxlength=1000></textarea>"
        "<button class=approve type=submit name=decision value=approve>Approve</button>"
        "<button class=reject type=submit name=decision value=reject>Reject</button>"
        "</form>"
        # CI's words come last, below the buttons: what handoff checked is what the approver reads first.
        f"{_ci_block(ci_lines)}"
    )
    return document(f"Approve {service} in {env}?", body)


def _promoted_block(promoted_from: str) -> str:
    if not promoted_from:
        return ""
    return (
        f"<p><b>{_e(promoted_from[:1].upper() + promoted_from[1:])}</b>. Verified by handoff: that environment "
        "signed that these digests succeeded and ran there that long.</p>"
    )


def _others_block(other_changes: Iterable[str]) -> str:
    items = "".join(f"<li>{_e(c)}</li>" for c in other_changes)
    if not items:
        return ""
    return (
        "<h2>Other changes</h2><p class=muted>From Terraform's base task definition, against what runs now.</p>"
        f"<ul class=other>{items}</ul>"
    )


def _so_far(approvals_so_far: list[str], approvals_required: int) -> str:
    if approvals_so_far:
        return (
            f"<p>Approved so far by {_e(', '.join(approvals_so_far))} "
            f"({len(approvals_so_far)} of {approvals_required}).</p>"
        )
    return f"<p>{approvals_required} approvals are needed.</p>" if approvals_required > 1 else ""


def _ci_block(ci_lines: Iterable[str]) -> str:
    ci = "".join(f"<li>{_e(line)}</li>" for line in ci_lines)
    if not ci:
        return ""
    heading = f"<h2>{_e(CI_HEADING)}</h2><p class=muted>{_e(CI_NOTE)}</p>"
    return f"<section class=ci>{heading}<ul class=other>{ci}</ul></section>"


def _green_block(green: str | None) -> str:
    if green is None:
        return ""
    reach = f" Reach it at <b>{_e(green)}</b>." if green else ""
    return (
        "<h2>Green is up on the test listener</h2><p>ECS has deployed the new revision and holds it before any "
        f"production traffic moves.{reach} Approve to move production traffic to it; reject to roll it back.</p>"
    )


def split_image(image: str) -> tuple[str, str]:
    """(repository, tag and/or digest) of an image reference, for reading on a small screen."""
    repository, tag, digest = parse_reference(image)
    version = (tag or "") + (f"@{digest}" if digest else "")
    return repository, version or "latest"


def _change_row(change: ImageChange) -> str:
    """One container: its name, the repository, and old -> new tag (or digest)."""
    new_repo, new_version = split_image(change.image_after)
    pinned = ""
    if change.requested:  # deployed by the digest the uploaded tag had at intake
        _, tag = split_image(change.requested)
        pinned = f"<div class=repo>pinned to {_e(new_version.lstrip('@'))}</div>"
        new_version = tag
    elif "@" not in change.image_after:
        pinned = "<div class=repo>not pinned to a digest</div>"
    if change.image_before is None:
        before, old_repo = "(not running)", new_repo
    else:
        old_repo, before = split_image(change.image_before)
    moved = f"<div class=repo>was {_e(old_repo)}</div>" if old_repo != new_repo else ""
    return (
        f"<div class=change><div class=name>{_e(change.container)}</div>"
        f"<div class=repo>{_e(new_repo)}</div>{moved}"
        f"<div class=tags>{_e(before)} &rarr; {_e(new_version)}</div>{pinned}</div>"
    )


def minute_utc(epoch: float) -> str:
    """An instant as the approval's email and page show it: to the minute, in UTC (2026-11-27 09:00 UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def minute_of(timestamp: str) -> str:
    """A stored ISO 8601 time (a vote's `at`) as people read it: minute_utc's form; unreadable ones as they are."""
    try:
        return minute_utc(parse_iso(timestamp).timestamp())
    except ValueError:
        return timestamp


def human_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours >= 48:
        return f"{hours // 24} days"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
