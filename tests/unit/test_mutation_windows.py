"""Deployment windows at the instants where a rule could slip by one: the exact opening and closing, a window
past midnight (also across the week's end), "24:00", both daylight-saving transitions, the earliest of several
windows, and what a registry entry is told when its window does not parse."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from ecs_handoff.models import DeployWindow
from ecs_handoff.windows import describe, parse_days, parse_hours, window_state, zone


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def state(window: DeployWindow, now: str) -> tuple[bool, datetime | None]:
    return window_state([window], at(now))


# -- days -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(" * ", set(range(7))), ("mon", {0}), ("SUN", {6}), ("MON-MON", {0}), ("SUN-MON", {6, 0}),
     ("SAT-TUE", {5, 6, 0, 1}), ("MON-SUN", set(range(7))), ("TUE-MON", set(range(7))),
     (" MON , WED-THU ", {0, 2, 3}), ("FRI,MON-TUE", {4, 0, 1})],
)  # fmt: skip
def test_days_ranges_wrap_over_the_weeks_end_and_lists_combine(days: str, expected: set[int]) -> None:
    assert parse_days(days) == expected


@pytest.mark.parametrize("days", ["MON-", "-FRI", "MON,,FRI", "MONDAY", "**", "MON-*"])
def test_days_refusal_names_the_value_and_the_forms_allowed(days: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_days(days)
    assert str(refused.value) == (f"days {days!r}: use MON..SUN, ranges such as MON-FRI, lists such as MON,WED, or *")


# -- hours ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "expected"),
    [("00:00-24:00", (time(0, 0), None)), (" 09:30-17:45 ", (time(9, 30), time(17, 45))),
     ("23:59-00:00", (time(23, 59), time(0, 0))), ("22:00-02:00", (time(22, 0), time(2, 0))),
     ("00:59-23:59", (time(0, 59), time(23, 59))), ("23:00-24:00", (time(23, 0), None))],
)  # fmt: skip
def test_hours_start_and_end_with_24_00_as_midnight(hours: str, expected: tuple[time, time | None]) -> None:
    assert parse_hours(hours) == expected


@pytest.mark.parametrize("hours", ["24:00-01:00", "10:60-11:00", "10:00-11:60", "10:00-25:00", "10:00-24:01"])
def test_hours_out_of_the_clock_are_not_a_time_of_day(hours: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_hours(hours)
    assert str(refused.value) == f"hours {hours!r}: not a time of day"


@pytest.mark.parametrize("hours", ["9:00-17:00", "10:00", "10:00-17:00x", "10:00 - 17:00", "aa:bb-cc:dd"])
def test_hours_not_in_the_form_are_refused_with_an_example(hours: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_hours(hours)
    assert str(refused.value) == f"hours {hours!r}: use HH:MM-HH:MM, e.g. 10:00-17:00 (24-hour clock)"


@pytest.mark.parametrize("hours", ["10:00-10:00", "00:00-00:00"])
def test_an_empty_window_is_refused_and_all_day_is_suggested(hours: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_hours(hours)
    assert str(refused.value) == f"hours {hours!r}: the window must not be empty (use 00:00-24:00 for all day)"


# -- time zones -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Asia/Tokio", "../etc/passwd", "", "Europe/"])
def test_a_time_zone_that_is_not_iana_is_refused_with_examples(name: str) -> None:
    with pytest.raises(ValueError) as refused:
        zone(name)
    assert str(refused.value) == (f"time_zone {name!r} is not an IANA time zone (e.g. Asia/Tokyo, Europe/Berlin, UTC)")


def test_describe_says_days_hours_and_zone_as_the_registry_gives_them() -> None:
    window = DeployWindow(days="MON-FRI", hours="10:00-17:00", time_zone="Asia/Tokyo")
    assert describe(window) == "MON-FRI 10:00-17:00 Asia/Tokyo"


# -- edge instants ----------------------------------------------------------------------------------------


def test_a_window_is_open_from_its_first_instant_to_just_before_its_end() -> None:
    lunch = DeployWindow(days="*", hours="12:00-13:00", time_zone="UTC")
    assert state(lunch, "2026-12-02T11:59:59.999999+00:00") == (False, at("2026-12-02T12:00:00+00:00"))
    assert state(lunch, "2026-12-02T12:00:00+00:00") == (True, None)
    assert state(lunch, "2026-12-02T12:59:59.999999+00:00") == (True, None)
    assert state(lunch, "2026-12-02T13:00:00+00:00") == (False, at("2026-12-03T12:00:00+00:00"))


def test_a_window_ending_at_24_00_closes_at_midnight_and_reopens_the_next_day() -> None:
    evening = DeployWindow(days="*", hours="20:00-24:00", time_zone="UTC")
    assert state(evening, "2026-12-02T23:59:59+00:00") == (True, None)
    assert state(evening, "2026-12-03T00:00:00+00:00") == (False, at("2026-12-03T20:00:00+00:00"))


def test_an_all_day_window_on_one_day_is_open_to_its_last_second_only() -> None:
    monday = DeployWindow(days="MON", hours="00:00-24:00", time_zone="UTC")
    assert state(monday, "2026-11-30T00:00:00+00:00") == (True, None)  # Monday
    assert state(monday, "2026-11-30T23:59:59+00:00") == (True, None)
    assert state(monday, "2026-12-01T00:00:00+00:00") == (False, at("2026-12-07T00:00:00+00:00"))
    assert state(monday, "2026-11-29T23:59:59+00:00") == (False, at("2026-11-30T00:00:00+00:00"))


def test_a_window_past_midnight_on_sunday_runs_into_monday_and_closes_at_its_end() -> None:
    sunday_night = DeployWindow(days="SUN", hours="23:00-01:00", time_zone="UTC")
    assert state(sunday_night, "2026-11-29T22:59:59+00:00") == (False, at("2026-11-29T23:00:00+00:00"))
    assert state(sunday_night, "2026-11-29T23:00:00+00:00") == (True, None)  # Sunday
    assert state(sunday_night, "2026-11-30T00:59:59+00:00") == (True, None)  # Monday, still Sunday's window
    assert state(sunday_night, "2026-11-30T01:00:00+00:00") == (False, at("2026-12-06T23:00:00+00:00"))


def test_a_window_past_midnight_does_not_open_after_a_day_that_has_none() -> None:
    # GIVEN Friday's night window only: Saturday 00:30 is inside it, Sunday 00:30 (after Saturday) is not
    friday_night = DeployWindow(days="FRI", hours="22:00-02:00", time_zone="UTC")
    assert state(friday_night, "2026-12-05T00:30:00+00:00") == (True, None)
    assert state(friday_night, "2026-12-06T00:30:00+00:00") == (False, at("2026-12-11T22:00:00+00:00"))
    # AND just before the week's opening, the next opening is minutes away, not a week
    assert state(friday_night, "2026-12-04T21:59:00+00:00") == (False, at("2026-12-04T22:00:00+00:00"))


def test_the_local_day_decides_not_the_utc_day() -> None:
    # GIVEN Monday 08:00-10:00 in Tokyo, which is Sunday 23:00 to Monday 01:00 UTC
    tokyo = DeployWindow(days="MON", hours="08:00-10:00", time_zone="Asia/Tokyo")
    assert state(tokyo, "2026-11-29T23:00:00+00:00") == (True, None)  # Sunday in UTC, Monday in Tokyo
    assert state(tokyo, "2026-11-30T01:00:00+00:00") == (False, at("2026-12-06T23:00:00+00:00"))
    # AND a window in a zone west of UTC: Friday 20:00-23:00 in Los Angeles is Saturday 04:00-07:00 UTC
    la = DeployWindow(days="FRI", hours="20:00-23:00", time_zone="America/Los_Angeles")
    assert state(la, "2026-12-05T04:00:00+00:00") == (True, None)
    assert state(la, "2026-12-05T07:00:00+00:00") == (False, at("2026-12-12T04:00:00+00:00"))


def test_a_week_away_is_still_found_from_the_last_minute_of_the_local_day() -> None:
    # GIVEN a Tuesday-only window in Tokyo, and now Tuesday 23:59 there, after the window
    tokyo = DeployWindow(days="TUE", hours="09:00-10:00", time_zone="Asia/Tokyo")
    assert state(tokyo, "2026-12-01T23:59:00+09:00") == (False, at("2026-12-08T09:00:00+09:00"))
    assert state(tokyo, "2026-12-01T00:00:00+09:00") == (False, at("2026-12-01T09:00:00+09:00"))


# -- daylight saving --------------------------------------------------------------------------------------


def test_a_night_window_over_the_spring_forward_is_an_hour_shorter() -> None:
    # GIVEN 01:00-04:00 in Berlin on 2026-03-29, when 02:00 CET becomes 03:00 CEST
    night = DeployWindow(days="SUN", hours="01:00-04:00", time_zone="Europe/Berlin")
    # THEN it opens at 01:00 CET (00:00 UTC) and closes at 04:00 CEST (02:00 UTC): two hours, not three
    assert state(night, "2026-03-28T23:59:59+00:00") == (False, at("2026-03-29T00:00:00+00:00"))
    assert state(night, "2026-03-29T00:00:00+00:00") == (True, None)
    assert state(night, "2026-03-29T01:59:59+00:00") == (True, None)
    assert state(night, "2026-03-29T02:00:00+00:00") == (False, at("2026-04-04T23:00:00+00:00"))  # then CEST


def test_a_night_window_over_the_fall_back_is_an_hour_longer() -> None:
    # GIVEN 01:00-04:00 in Berlin on 2026-10-25, when 03:00 CEST becomes 02:00 CET
    night = DeployWindow(days="SUN", hours="01:00-04:00", time_zone="Europe/Berlin")
    # THEN it opens at 01:00 CEST (23:00 UTC the day before) and closes at 04:00 CET (03:00 UTC): four hours
    assert state(night, "2026-10-24T22:59:59+00:00") == (False, at("2026-10-24T23:00:00+00:00"))
    assert state(night, "2026-10-24T23:00:00+00:00") == (True, None)
    assert state(night, "2026-10-25T02:59:59+00:00") == (True, None)
    assert state(night, "2026-10-25T03:00:00+00:00") == (False, at("2026-11-01T00:00:00+00:00"))  # then CET


def test_a_window_past_midnight_keeps_local_hours_when_the_clocks_change_in_between() -> None:
    # GIVEN New York's Saturday 22:00-02:00; the clocks go forward at 02:00 on Sunday 2026-03-08
    night = DeployWindow(days="SAT", hours="22:00-02:00", time_zone="America/New_York")
    # THEN it opens at 22:00 EST (03:00 UTC) and closes at 02:00 EST = 03:00 EDT (07:00 UTC)
    assert state(night, "2026-03-08T03:00:00+00:00") == (True, None)
    assert state(night, "2026-03-08T06:59:59+00:00") == (True, None)
    assert state(night, "2026-03-08T07:00:00+00:00") == (False, at("2026-03-15T02:00:00+00:00"))  # 22:00 EDT


# -- several windows ------------------------------------------------------------------------------------


def test_the_next_opening_is_the_earliest_of_all_windows_whatever_their_order() -> None:
    later = DeployWindow(days="*", hours="15:00-16:00", time_zone="UTC")
    sooner = DeployWindow(days="*", hours="13:00-14:00", time_zone="UTC")
    now = at("2026-12-02T12:00:00+00:00")
    assert window_state([later, sooner], now) == (False, at("2026-12-02T13:00:00+00:00"))
    assert window_state([sooner, later], now) == (False, at("2026-12-02T13:00:00+00:00"))
    # AND any open window opens the gate, even one listed after a closed one
    assert window_state([later, sooner], at("2026-12-02T13:30:00+00:00")) == (True, None)


def test_no_window_means_closed_with_no_opening() -> None:
    assert window_state([], at("2026-12-02T12:00:00+00:00")) == (False, None)


def test_a_window_ending_at_24_00_closes_at_local_midnight_not_utc_midnight() -> None:
    # GIVEN 20:00-24:00 in Tokyo: 11:00 to 15:00 UTC
    evening = DeployWindow(days="*", hours="20:00-24:00", time_zone="Asia/Tokyo")
    assert state(evening, "2026-12-02T14:59:59+00:00") == (True, None)
    assert state(evening, "2026-12-02T15:00:00+00:00") == (False, at("2026-12-03T11:00:00+00:00"))


def test_a_long_window_from_the_day_before_in_a_zone_west_of_utc_is_still_open() -> None:
    # GIVEN Thursday 20:00 to Friday 19:00 in Los Angeles, and now Friday 18:00 there: Saturday 02:00 UTC
    thursday = DeployWindow(days="THU", hours="20:00-19:00", time_zone="America/Los_Angeles")
    # THEN it is open: the window belongs to Thursday, the day before Friday in Los Angeles (two before in UTC)
    assert state(thursday, "2026-12-05T02:00:00+00:00") == (True, None)
    assert state(thursday, "2026-12-05T03:00:00+00:00") == (False, at("2026-12-11T04:00:00+00:00"))


def test_a_window_inside_the_spring_forward_gap_is_not_open_nor_opening_at_its_nominal_start() -> None:
    # GIVEN New York's Sunday 02:30-03:00, which does not exist on 2026-03-08 (02:00 EST becomes 03:00 EDT): taken
    # literally it would open at 07:30 UTC (02:30 EST) and close before, at 07:00 UTC (03:00 EDT)
    gap = DeployWindow(days="SUN", hours="02:30-03:00", time_zone="America/New_York")
    # WHEN it is 07:30 UTC  THEN it is closed, and the next opening is next Sunday's, not this instant
    assert state(gap, "2026-03-08T07:30:00+00:00") == (False, at("2026-03-15T06:30:00+00:00"))
