"""How the CLI prints: one line per thing, cut to the terminal's width, colour only on a terminal."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_handoff.models import Approval, DeploymentRecord, ImageChange, Phase, one_line

ELLIPSIS = "…"
COLOURS = {
    "SUCCEEDED": "32",
    "FAILED": "31",
    "INVALID": "31",
    "REJECTED": "33",
    "EXPIRED": "33",
    "SUPERSEDED": "33",
    "AWAITING_APPROVAL": "35",
    "IN_PROGRESS": "36",
}


def width() -> int:
    """The terminal's columns ($COLUMNS first, as the shell sets it); 80 when it cannot be known."""
    return max(shutil.get_terminal_size((80, 24)).columns, 40)


def is_terminal() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


def colour_on() -> bool:
    """Colour only on a terminal, never with NO_COLOR set (no-color.org)."""
    return is_terminal() and not os.environ.get("NO_COLOR")


def outcome(value: str, shown: str | None = None) -> str:
    """shown (default: value) in the outcome's colour, on a terminal."""
    text = value if shown is None else shown
    return f"\033[{COLOURS[value]}m{text}\033[0m" if value in COLOURS and colour_on() else text


def cut(text: str, size: int) -> str:
    """text in at most size characters, its end replaced by … when it does not fit; never a control character."""
    indent = " " * (len(text) - len(text.lstrip(" ")))
    text = indent + one_line(text, 4000)
    if size <= 0:
        return ""
    return text if len(text) <= size else text[: size - 1] + ELLIPSIS


def short_id(deployment_id: str, service: str) -> str:
    """<service>-<first 8 characters of the S3 version>: enough to tell deployments apart in a history
    (every command that takes a deployment id takes this too)."""
    rest = deployment_id.removeprefix(f"{service}-")
    return f"{service}-{rest[:8]}" if rest != deployment_id else deployment_id[:20]


def image_tag(image: str) -> str:
    """The repository and tag (or short digest) of an image reference, without the registry host."""
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" in name:
        repository, digest = name.split("@sha256:", 1)
        return f"{repository}@{digest[:12]}"
    return name


def images_text(changes: Sequence[ImageChange], containers: bool = True) -> str:
    """The images a deployment asked for (the tag CI uploaded where handoff pinned it to a digest)."""
    if not changes:
        return "(same images)"
    tags = [image_tag(c.requested or c.image_after) for c in changes]
    if not containers:
        return ", ".join(tags)
    return ", ".join(f"{c.container}={t}" for c, t in zip(changes, tags, strict=True))


def when(iso_time: str | None) -> str:
    """2026-11-26T07:26:16.656Z -> 2026-11-26 07:26 (UTC, as stored)."""
    return iso_time.replace("T", " ")[:16] if iso_time else "-"


@dataclass(frozen=True)
class Column:
    title: str
    least: int  # never narrower than this
    most: int = 1000  # nor wider
    shrink: int = 0  # when a line is too wide, columns with a higher number give up their width first


def table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    total: int | None = None,
    paint: Callable[[int, str, str], str] | None = None,
) -> list[str]:
    """A header and one line per row that fit in total columns (the terminal's width): each column as wide
    as its widest cell, then narrowed in shrink order down to its least; text that does not fit is cut
    with … rather than wrapped. paint(column, cell, padded cell) may colour a cell once it is laid out."""
    total = width() if total is None else total
    cells = [[one_line(value, 4000) for value in row] for row in rows]
    sizes = [min(max([len(c.title), *(len(row[i]) for row in cells)]), c.most) for i, c in enumerate(columns)]
    overflow = sum(sizes) + 2 * (len(columns) - 1) - total
    for i in sorted(range(len(columns)), key=lambda i: -columns[i].shrink):
        if overflow <= 0:
            break
        take = min(overflow, max(sizes[i] - columns[i].least, 0))
        sizes[i] -= take
        overflow -= take
    lines = ["  ".join(cut(c.title, s).ljust(s) for c, s in zip(columns, sizes, strict=True)).rstrip()]
    for row in cells:
        padded = [cut(v, s).ljust(s) for v, s in zip(row, sizes, strict=True)]
        if paint is not None:
            padded = [paint(i, v, p) for i, (v, p) in enumerate(zip(row, padded, strict=True))]
        lines.append("  ".join(padded).rstrip())
    return lines


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def record_json(record: DeploymentRecord) -> dict[str, Any]:
    """A deployment as `history --json`, `watch --json` and `status --json` print it: a stable contract, so
    a field is added here, never renamed or dropped."""
    return {
        "id": record.id,
        "env": record.env,
        "service": record.service,
        "outcome": record.outcome.value,
        "reason": record.reason,
        "phase": record.phase.value if record.phase else "",
        "object_version": record.object_version,
        "requester": record.source.requester if record.source else None,
        "images": [c.model_dump() for c in record.images],
        "base_task_definition": record.base_task_definition,
        "task_definition": record.new_task_definition,
        "previous_task_definition": record.previous_task_definition,
        "ecs_deployment_id": record.ecs_deployment_id,
        "approval_id": record.approval_id,
        "approvals": record.model_dump(mode="json", include={"approvals"})["approvals"],
        "approved_by": record.approved_by,
        "rollout": record.rollout,
        "verdict_by": record.verdict_by.value if record.verdict_by else None,
        "ecs_reported_at": record.ecs_reported_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "timeline": record.timeline,
        "override": record.override,  # `handoff deploy-now`: principal, reason, at (None when nobody overrode)
        # BLUE_GREEN, LINEAR, CANARY: ECS's service deployment as last seen (arn, strategy, status, stage,
        # production and test weights blue/green, hooks, test_traffic); {} for a rolling update
        "service_deployment": record.service_deployment,
        # `handoff promote`: the source environment's deployment the intake verified (None when not promoted)
        "promoted_from": record.promoted_from.model_dump(mode="json") if record.promoted_from else None,
    }


def approval_json(approval: Approval) -> dict[str, Any]:
    """An approval as `status --json` prints it: everything but the task token (whoever holds it can end
    the deployment's wait)."""
    return approval.model_dump(mode="json", exclude={"task_token"})


def deployment_line(record: DeploymentRecord, approval: Approval | None = None) -> str:
    """What a deployment is doing now, in a few words: phase, task counts, or who it waits for."""
    traffic = record.service_deployment.get("words") if not record.outcome.terminal else None
    if record.outcome.value == "AWAITING_APPROVAL":
        # approval before production traffic: green is on the test listener while they decide
        return waiting_for(record, approval) + (f"; ECS: {traffic}" if traffic else "")
    if traffic and record.phase is Phase.ROLLING_OUT:
        # ECS's own strategy (BLUE_GREEN, LINEAR, CANARY): its stage, traffic weights and hooks
        return f"{record.phase}: {traffic}"
    if record.gate.get("reason") and record.phase in (Phase.WAITING_FOR_WINDOW, Phase.WAITING_FOR_ALARM, Phase.BAKING):
        return f"{record.phase}: {record.gate['reason']}"
    counts = record.rollout
    tasks = f"  tasks {counts.get('running_count', 0)}/{counts.get('desired_count', 0)} running" if counts else ""
    return f"{record.phase or '-'}{tasks}"


def waiting_for(record: DeploymentRecord, approval: Approval | None = None) -> str:
    """Who a deployment awaiting approval waits for, and the approval id to decide it with."""
    if approval is None:
        return f"waiting for approval {record.approval_id or '(not yet requested)'}"
    done = set(approval.approved_by)
    still = [a for a in approval.approvers if a not in done]
    need = approval.approvals_required - len(done)
    so_far = f"; approved: {', '.join(sorted(done))}" if done else ""
    return f"waits for {need} approval{'s' if need != 1 else ''} of {', '.join(still) or '-'}{so_far}"


def approval_lines(approval: Approval, short: str, env: str) -> list[str]:
    """The approval's id and expiry, and the command that decides it. Each fits in 80 columns under watch's
    10-column indent (the expiry without its year, as history's and status's times: within days, as approvals
    expire)."""
    return [
        f"approval {approval.approval_id}, expires {when(_epoch_iso(approval.expires_at))[5:]} UTC",
        f"decide: handoff approve|reject {short} --env {env}",
    ]


def held_lines(record: DeploymentRecord, short: str, env: str) -> list[str]:
    """For a deployment its release controls hold (a window, the change calendar, an alarm): the command that
    starts it anyway, with a reason (once deploy-now is recorded, nothing: it starts at the gate's next look)."""
    if record.outcome.terminal or record.phase is None or not record.phase.held or record.override:
        return []
    return [f"start now: handoff deploy-now {short} --env {env} --reason '<why>'"]


def next_steps(record: DeploymentRecord, approval: Approval | None, env: str) -> list[str]:
    """What the operator can do about a deployment in flight: decide its approval, or start it past what holds it."""
    short = short_id(record.id, record.service)
    if approval is not None:
        return approval_lines(approval, short, env)
    return held_lines(record, short, env)


def _epoch_iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()
