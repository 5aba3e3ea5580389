"""`handoff stats`: the four delivery measures teams report (DORA), computed from an environment's deployment
records, and a chart of deployments per day that fits 80 columns.

The measures are pure functions of the records and the window (unit-tested with hand-made records); docs/cli.md
("handoff stats") defines each one in the same words as the comments here."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_handoff.errors import NotFound
from ecs_handoff.models import DeploymentRecord, Outcome, iso, parse_iso, utcnow

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env
from ecs_handoff_cli.exits import EXIT_OK

# What `handoff rollback` writes as the summary of the upload it makes (release.py): a SUCCEEDED deployment whose
# service's next production change is one of these was undone by an operator, a failed change too.
ROLLBACK_SUMMARY = "rollback to "
BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_BLOCKS = "_-=+*#%@"
CHART_COLUMNS = 72  # the chart's bars at most; with its frame and labels it fits 80 columns


@dataclass(frozen=True)
class Window:
    """The deployments counted: those uploaded (the record's started_at) from `start` to `end`, both included."""

    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, length: timedelta) -> Window:
        return cls(end - length, end)

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def holds(self, record: DeploymentRecord) -> bool:
        return self.start <= parse_iso(record.started_at) <= self.end


@dataclass
class Stats:
    """The four measures over one window, and what they were computed from."""

    env: str
    service: str | None
    window: Window
    deployments: int = 0  # finished (an outcome other than IN_PROGRESS / AWAITING_APPROVAL), in the window
    succeeded: int = 0
    per_day: list[tuple[str, int]] = field(default_factory=list)  # (UTC day, SUCCEEDED that day), oldest first
    lead_times: list[float] = field(default_factory=list)  # seconds, one per SUCCEEDED
    lead_from_commit: int = 0  # how many lead times start at CI's commit time (the rest at the upload)
    changes: int = 0  # deployments that reached production: they changed the ECS service
    failed_changes: int = 0
    rolled_back: int = 0  # SUCCEEDED deployments undone by `handoff rollback` (among failed_changes)
    restore_times: list[float] = field(default_factory=list)  # seconds, one per restored failure
    unrestored: int = 0  # failures with no SUCCEEDED deployment of their service after them yet

    @property
    def per_week(self) -> float:
        return self.succeeded / self.window.days * 7 if self.window.days else 0.0

    @property
    def failure_rate(self) -> float | None:
        return self.failed_changes / self.changes if self.changes else None

    def as_json(self) -> dict[str, Any]:
        """What `handoff stats --json` prints: a stable contract (fields are added, never renamed)."""
        return {
            "env": self.env,
            "service": self.service,
            "since": iso(self.window.start),
            "until": iso(self.window.end),
            "days": round(self.window.days, 3),
            "deployments": self.deployments,
            "deployment_frequency": {
                "succeeded": self.succeeded,
                "per_day": round(self.succeeded / self.window.days, 3) if self.window.days else 0.0,
                "per_week": round(self.per_week, 3),
                "by_day": [{"day": day, "succeeded": count} for day, count in self.per_day],
            },
            "lead_time": {
                "count": len(self.lead_times),
                "p50_seconds": percentile(self.lead_times, 50),
                "p90_seconds": percentile(self.lead_times, 90),
                "from_commit": self.lead_from_commit,
                "from_upload": len(self.lead_times) - self.lead_from_commit,
            },
            "change_failure_rate": {
                "rate": round(rate, 4) if (rate := self.failure_rate) is not None else None,
                "failed_changes": self.failed_changes,
                "changes": self.changes,
                "failed": self.failed_changes - self.rolled_back,
                "rolled_back": self.rolled_back,
            },
            "time_to_restore": {
                "restores": len(self.restore_times),
                "p50_seconds": percentile(self.restore_times, 50),
                "unrestored": self.unrestored,
            },
        }


# --- the measures: pure functions of records ------------------------------------------------------------


def percentile(values: Sequence[float], p: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least p % of the values at or below it (p50 of
    [10, 20] is 10); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1], 3)


def changed_production(record: DeploymentRecord) -> bool:
    """The deployment changed the ECS service (handoff called UpdateService): a SUCCEEDED one, or one that
    FAILED after the service was updated. Refusals, rejections, expiries and supersessions changed nothing."""
    return record.outcome is Outcome.SUCCEEDED or (
        record.outcome is Outcome.FAILED and record.ecs_deployment_id is not None
    )


def is_rollback(record: DeploymentRecord) -> bool:
    """An upload `handoff rollback` made (it says so in the summary it attaches)."""
    ci = record.source.ci if record.source else None
    return ci is not None and ci.summary.startswith(ROLLBACK_SUMMARY)


def commit_time(record: DeploymentRecord) -> datetime | None:
    """When CI says the deployed commit was made, where the upload carried it and it reads as a time."""
    ci = record.source.ci if record.source else None
    if ci is None or not ci.committed_at:
        return None
    try:
        committed = parse_iso(ci.committed_at)
    except ValueError:  # CI's words, not checked at the intake: one that is not a time is not used
        return None
    return committed if committed.tzinfo is not None else None


def upload_time(record: DeploymentRecord) -> datetime:
    """When the metadata was uploaded: S3's event time, else when the intake wrote the record."""
    event_time = record.source.event_time if record.source else ""
    return parse_iso(event_time or record.started_at)


def _finished(record: DeploymentRecord) -> datetime:
    return parse_iso(record.finished_at or record.started_at)


def compute(records: Iterable[DeploymentRecord], window: Window, env: str, service: str | None = None) -> Stats:
    """The measures over the deployments uploaded in the window. `records` may hold more (any order, any
    service of env): the deployments after the window's failures are what restores them."""
    mine = sorted(
        (r for r in records if r.env == env and (service is None or r.service == service) and r.outcome.terminal),
        key=lambda r: (r.started_at, r.id),
    )
    stats = Stats(env, service, window)
    counted = [r for r in mine if window.holds(r)]
    stats.deployments = len(counted)
    succeeded = [r for r in counted if r.outcome is Outcome.SUCCEEDED]
    stats.succeeded = len(succeeded)
    stats.per_day = per_day(succeeded, window)
    for record in succeeded:
        started = commit_time(record)
        stats.lead_from_commit += started is not None
        stats.lead_times.append(max((_finished(record) - (started or upload_time(record))).total_seconds(), 0.0))
    by_service: dict[str, list[DeploymentRecord]] = {}
    for record in mine:
        if changed_production(record):
            by_service.setdefault(record.service, []).append(record)
    for changes in by_service.values():
        _failures_and_restores(changes, window, stats)
    return stats


def _failures_and_restores(changes: list[DeploymentRecord], window: Window, stats: Stats) -> None:
    """One service's production changes, in upload order: the change failure rate's counts, and each run of
    failures to the SUCCEEDED deployment after it (one restore, timed from the first failure's end)."""
    failing_since: datetime | None = None  # the end of the first FAILED change not yet followed by a success
    for number, record in enumerate(changes):
        in_window = window.holds(record)
        stats.changes += in_window
        undone = number + 1 < len(changes) and is_rollback(changes[number + 1])
        if record.outcome is Outcome.FAILED:
            stats.failed_changes += in_window
            if failing_since is None and in_window:
                failing_since = _finished(record)
            continue
        if undone and in_window:
            stats.failed_changes += 1
            stats.rolled_back += 1
        if failing_since is not None:
            stats.restore_times.append(max((_finished(record) - failing_since).total_seconds(), 0.0))
            failing_since = None
    stats.unrestored += failing_since is not None


def per_day(succeeded: Iterable[DeploymentRecord], window: Window) -> list[tuple[str, int]]:
    """SUCCEEDED deployments per UTC day of their upload, every day of the window (a day without any is 0)."""
    counts: dict[str, int] = {}
    day = window.start.astimezone(UTC).date()
    while day <= window.end.astimezone(UTC).date():
        counts[day.isoformat()] = 0
        day += timedelta(days=1)
    for record in succeeded:
        key = parse_iso(record.started_at).astimezone(UTC).date().isoformat()
        if key in counts:
            counts[key] += 1
    return list(counts.items())


# --- how they are shown ---------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """A time span as people read it: 45 s, 12 min, 3 h 5 min, 2.5 days."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        hours, rest = divmod(int(seconds), 3600)
        return f"{hours} h {rest // 60} min"
    return f"{seconds / 86400:.1f} days"


def unicode_ok(stream: Any = None) -> bool:
    """Whether the output takes the block characters: its encoding is UTF-8 (else the chart is ASCII)."""
    encoding = getattr(stream or sys.stdout, "encoding", None) or ""
    return encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def sparkline(counts: Sequence[int], unicode: bool = True) -> str:
    """One character per count, its height in eighths of the largest; a day of none is a dot on the baseline."""
    blocks, empty = (BLOCKS, "·") if unicode else (ASCII_BLOCKS, " ")
    top = max(counts, default=0)
    if top == 0:
        return empty * len(counts)
    return "".join(blocks[math.ceil(c / top * len(blocks)) - 1] if c else empty for c in counts)


def bucketed(days: Sequence[tuple[str, int]], columns: int = CHART_COLUMNS) -> tuple[list[tuple[str, int]], int]:
    """The days summed in groups of equal length (the last group may be shorter), so at most `columns`
    groups: (first day of each group, its sum) and how many days a group holds."""
    size = max(math.ceil(len(days) / columns), 1)
    return [(days[i][0], sum(c for _, c in days[i : i + size])) for i in range(0, len(days), size)], size


def chart(days: Sequence[tuple[str, int]], unicode: bool = True) -> list[str]:
    """Lines of the SUCCEEDED-per-day chart: a title, the bars between frame marks, first and last day."""
    if not days:
        return []
    groups, size = bucketed(days)
    counts = [c for _, c in groups]
    per = "day" if size == 1 else f"{size} days"
    bar = "|" if not unicode else "│"
    lines = [f"SUCCEEDED per {per} (highest: {max(counts)})", f"{bar}{sparkline(counts, unicode)}{bar}"]
    first, last = days[0][0], days[-1][0]
    gap = max(len(counts) + 2 - len(first) - len(last), 1)
    lines.append(f"{first}{' ' * gap}{last}" if len(counts) + 2 >= len(first) + len(last) + 1 else first)
    return lines


def text(stats: Stats, unicode: bool = True) -> list[str]:
    """What `handoff stats` prints: the four measures one line each, then the chart; no line over 80 columns
    (a line longer than the terminal is cut to its width)."""
    what = stats.service or "all services"
    until = show.when(iso(stats.window.end))
    lines = [f"handoff {stats.env}, {what}: {stats.window.days:g} days of uploads to {until} UTC", ""]
    rate = stats.failure_rate
    lead_from = f"{stats.lead_from_commit} from commit, {len(stats.lead_times) - stats.lead_from_commit} from upload"
    rows = [
        (
            "deployment frequency",
            f"{stats.succeeded} SUCCEEDED, {stats.per_week:.1f} a week ({stats.deployments} finished)",
        ),
        (
            "lead time",
            f"p50 {duration(percentile(stats.lead_times, 50))}, p90 {duration(percentile(stats.lead_times, 90))}"
            f" ({lead_from})",
        ),
        (
            "change failure rate",
            ("-" if rate is None else f"{rate:.0%}")
            + f" ({stats.failed_changes} of {stats.changes} production changes"
            + (f", {stats.rolled_back} rolled back)" if stats.rolled_back else ")"),
        ),
        (
            "time to restore",
            f"p50 {duration(percentile(stats.restore_times, 50))} ({len(stats.restore_times)} restored"
            + (f", {stats.unrestored} not yet)" if stats.unrestored else ")"),
        ),
    ]
    lines += [f"{label:<21} {value}" for label, value in rows]
    lines += ["", *chart(stats.per_day, unicode)]
    columns = min(show.width(), 80)
    return [line if len(line) <= columns else line[: columns - 1] + ("…" if unicode else "~") for line in lines]


# --- the command ----------------------------------------------------------------------------------------


def read_records(env: Env, service: str | None, window: Window) -> list[DeploymentRecord]:
    """Every record of the environment (or service) uploaded since the window began, newest first."""
    records: list[DeploymentRecord] = env.records().history(env.name, service, limit=10**6, since=iso(window.start))
    return records


def cmd_stats(args: argparse.Namespace) -> int:
    env = Env(args.env)
    window = Window.ending(utcnow(), args.since)
    records = read_records(env, args.service, window)
    if args.service and not records and args.service not in (known := env.service_ids()):
        raise NotFound(
            f"service {args.service!r} is not registered in {args.env}; registered: {', '.join(known) or 'none'}"
        )
    stats = compute(records, window, args.env, args.service)
    if args.json:
        show.print_json(stats.as_json())
        return EXIT_OK
    print("\n".join(text(stats, unicode_ok())))
    return EXIT_OK
