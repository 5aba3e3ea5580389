"""Deployment windows at fixed instants: days, hours, time zones, midnight and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ecs_handoff.models import DeployWindow
from ecs_handoff.windows import parse_days, parse_hours, window_state


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


TOKYO_OFFICE = DeployWindow(days="MON-FRI", hours="10:00-17:00", time_zone="Asia/Tokyo")


@pytest.mark.parametrize(
    ("now", "is_open", "opens"),
    [
        ("2026-11-30T10:00:00+09:00", True, None),  # Monday, the opening minute
        ("2026-11-30T16:59:59+09:00", True, None),
        ("2026-11-30T17:00:00+09:00", False, "2026-12-01T10:00:00+09:00"),  # the end is exclusive
        ("2026-11-30T09:59:59+09:00", False, "2026-11-30T10:00:00+09:00"),
        ("2026-11-28T09:00:00+09:00", False, "2026-11-30T10:00:00+09:00"),  # Saturday -> Monday
        ("2026-12-04T18:00:00+09:00", False, "2026-12-07T10:00:00+09:00"),  # Friday evening -> Monday
        ("2026-11-30T02:00:00+00:00", True, None),  # 11:00 in Tokyo, given in UTC
    ],
)
def test_office_hours_in_tokyo(now: str, is_open: bool, opens: str | None) -> None:
    assert window_state([TOKYO_OFFICE], at(now)) == (is_open, at(opens) if opens else None)


def test_a_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    night = DeployWindow(days="FRI", hours="22:00-02:00", time_zone="UTC")
    assert window_state([night], at("2026-12-04T23:30:00+00:00"))[0]  # Friday night
    assert window_state([night], at("2026-12-05T01:59:00+00:00"))[0]  # still Friday's window, on Saturday
    assert window_state([night], at("2026-12-05T02:00:00+00:00")) == (False, at("2026-12-11T22:00:00+00:00"))


def test_daylight_saving_moves_the_window_in_utc() -> None:
    berlin = DeployWindow(days="*", hours="09:00-10:00", time_zone="Europe/Berlin")
    # 09:00 in Berlin is 07:00 UTC in summer (CEST) and 08:00 UTC in winter (CET)
    assert window_state([berlin], at("2026-07-01T07:30:00+00:00"))[0]
    assert not window_state([berlin], at("2026-12-01T07:30:00+00:00"))[0]
    assert window_state([berlin], at("2026-12-01T08:30:00+00:00"))[0]
    # the Sunday the clocks go back (2026-10-25), the next opening is 09:00 CET = 08:00 UTC
    assert window_state([berlin], at("2026-10-24T10:00:00+00:00")) == (False, at("2026-10-25T08:00:00+00:00"))


def test_several_windows_open_at_the_earliest() -> None:
    windows = [TOKYO_OFFICE, DeployWindow(days="SAT", hours="00:00-24:00", time_zone="UTC")]
    # Saturday 09:00 Tokyo is Saturday 00:00 UTC: the second window is open
    assert window_state(windows, at("2026-11-28T00:00:00+00:00")) == (True, None)
    assert window_state(windows, at("2026-11-29T00:00:00+00:00")) == (False, at("2026-11-30T10:00:00+09:00"))


@pytest.mark.parametrize(
    ("days", "expected"),
    [("*", set(range(7))), ("MON-FRI", {0, 1, 2, 3, 4}), ("sat-sun", {5, 6}), ("FRI-MON", {4, 5, 6, 0}),
     ("MON,WED,FRI", {0, 2, 4}), ("TUE", {1})],
)  # fmt: skip
def test_days_are_cron_day_of_week_names(days: str, expected: set[int]) -> None:
    assert parse_days(days) == expected


@pytest.mark.parametrize("days", ["MON-FRY", "1-5", "MON-TUE-WED", ""])
def test_days_refused(days: str) -> None:
    with pytest.raises(ValueError, match=r"use MON\.\.SUN"):
        parse_days(days)


@pytest.mark.parametrize("hours", ["10-17", "25:00-26:00", "10:60-11:00", "24:30-01:00", "10:00-24:01"])
def test_hours_refused(hours: str) -> None:
    with pytest.raises(ValueError, match="hours"):
        parse_hours(hours)
