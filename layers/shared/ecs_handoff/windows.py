"""Deployment windows: cron-style days and hours in a time zone ("MON-FRI", "10:00-17:00", "Asia/Tokyo").

Pure: the clock is an argument, so every rule is tested at fixed instants (daylight saving included)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Window(Protocol):
    """A deployment window as the registry gives it (models.registry.DeployWindow validates it with this module)."""

    @property
    def days(self) -> str: ...
    @property
    def hours(self) -> str: ...
    @property
    def time_zone(self) -> str: ...


DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_HOURS = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


def parse_days(days: str) -> frozenset[int]:
    """Cron's day-of-week field with names: "*", "MON-FRI", "MON,WED,FRI", "SAT-SUN", "FRI-MON" (wraps).
    Monday is 0, as datetime.weekday()."""
    text = days.strip().upper()
    if text == "*":
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.split(","):
        names = part.strip().split("-")
        if len(names) > 2 or any(n not in DAY_NAMES for n in names):
            raise ValueError(f"days {days!r}: use MON..SUN, ranges such as MON-FRI, lists such as MON,WED, or *")
        first, last = DAY_NAMES.index(names[0]), DAY_NAMES.index(names[-1])
        span = (last - first) % 7
        found |= {(first + i) % 7 for i in range(span + 1)}
    return frozenset(found)


def parse_hours(hours: str) -> tuple[time, time | None]:
    """ "HH:MM-HH:MM": start inclusive, end exclusive; "24:00" ends at midnight (None); an end before the
    start runs past midnight into the next day (the window belongs to the day it starts)."""
    match = _HOURS.match(hours.strip())
    if not match:
        raise ValueError(f"hours {hours!r}: use HH:MM-HH:MM, e.g. 10:00-17:00 (24-hour clock)")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"hours {hours!r}: not a time of day")
    if (sh, sm) == (eh, em):
        raise ValueError(f"hours {hours!r}: the window must not be empty (use 00:00-24:00 for all day)")
    return time(sh, sm), (None if eh == 24 else time(eh, em))


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time_zone {name!r} is not an IANA time zone (e.g. Asia/Tokyo, Europe/Berlin, UTC)") from exc


def _spans(window: Window, around: datetime) -> list[tuple[datetime, datetime]]:
    """The window's openings (start, end) in UTC, from the day before `around` to a week after."""
    tz = zone(window.time_zone)
    days = parse_days(window.days)
    start, end = parse_hours(window.hours)
    local_day = around.astimezone(tz).date()
    spans = []
    for offset in range(-1, 9):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opens = datetime.combine(day, start, tz)
        if end is None:
            closes = datetime.combine(day + timedelta(days=1), time(0), tz)
        elif end > start:
            closes = datetime.combine(day, end, tz)
        else:
            closes = datetime.combine(day + timedelta(days=1), end, tz)
        spans.append((opens.astimezone(UTC), closes.astimezone(UTC)))
    return spans


def window_state(windows: Sequence[Window], now: datetime) -> tuple[bool, datetime | None]:
    """(open now, the next opening when closed; None when none is within a week, which a valid window
    never is)."""
    next_opening: datetime | None = None
    for window in windows:
        for opens, closes in _spans(window, now):
            if opens <= now < closes:
                return True, None
            if opens > now and (next_opening is None or opens < next_opening):
                next_opening = opens
    return False, next_opening


def describe(window: Window) -> str:
    return f"{window.days} {window.hours} {window.time_zone}"
