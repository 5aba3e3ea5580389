"""`handoff stats`: the four delivery measures from hand-made deployment records, and the chart that shows them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from ecs_handoff.models import CiDescription, DeploymentRecord, Outcome, Source, iso
from ecs_handoff_cli.parser import build_parser, period
from ecs_handoff_cli.stats import Window, bucketed, chart, compute, percentile, sparkline, text

END = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
WEEK = Window.ending(END, timedelta(days=7))
_ids = itertools.count()


def record(
    outcome: Outcome,
    started: timedelta,
    took: timedelta = timedelta(minutes=10),
    service: str = "api",
    changed: bool = True,
    summary: str = "",
    committed_before: timedelta | None = None,
) -> DeploymentRecord:
    """A finished deployment uploaded `started` before END, finished `took` later."""
    start = END - started
    ci = CiDescription(
        summary=summary, committed_at=iso(start - committed_before) if committed_before is not None else ""
    )
    return DeploymentRecord(
        id=f"{service}-{next(_ids):08d}",
        env="dev",
        service=service,
        outcome=outcome,
        started_at=iso(start),
        finished_at=iso(start + took),
        ecs_deployment_id="ecs-svc/1" if changed else None,
        source=Source(
            bucket="b",
            key="k",
            object_version="v",
            sequencer="1",
            event_time=iso(start),
            ci=ci if summary or committed_before is not None else None,
        ),
    )


def test_stats_of_no_deployments_are_empty_not_zero() -> None:
    # GIVEN no records  WHEN the measures are computed
    stats = compute([], WEEK, "dev")
    # THEN there is nothing to measure: counts are 0, rates and times are absent, every day is shown empty
    report = stats.as_json()
    assert report["deployment_frequency"]["succeeded"] == 0
    assert report["lead_time"]["p50_seconds"] is None
    assert report["change_failure_rate"]["rate"] is None
    assert report["time_to_restore"] == {"restores": 0, "p50_seconds": None, "unrestored": 0}
    assert len(report["deployment_frequency"]["by_day"]) == 8  # 7 days back from midday: 8 calendar days


def test_stats_of_one_service_count_successes_and_lead_time_from_upload() -> None:
    # GIVEN three SUCCEEDED deployments of api taking 5, 10 and 30 minutes, and a refused one
    records = [
        record(Outcome.SUCCEEDED, timedelta(days=3), timedelta(minutes=5)),
        record(Outcome.SUCCEEDED, timedelta(days=2), timedelta(minutes=10)),
        record(Outcome.SUCCEEDED, timedelta(days=1), timedelta(minutes=30)),
        record(Outcome.INVALID, timedelta(hours=5), changed=False),
    ]
    # WHEN the measures are computed for api
    report = compute(records, WEEK, "dev", "api").as_json()
    # THEN frequency counts the successes, per week over 7 days
    assert report["deployments"] == 4
    assert report["deployment_frequency"]["succeeded"] == 3
    assert report["deployment_frequency"]["per_week"] == 3.0
    # AND lead time runs from the upload (no commit time) to the verdict: nearest-rank p50 and p90
    assert report["lead_time"] == {
        "count": 3,
        "p50_seconds": 600.0,
        "p90_seconds": 1800.0,
        "from_commit": 0,
        "from_upload": 3,
    }
    # AND the refused upload changed nothing: no failure, three production changes
    assert report["change_failure_rate"]["rate"] == 0.0
    assert report["change_failure_rate"]["changes"] == 3


def test_stats_lead_time_starts_at_ci_commit_time_where_given() -> None:
    # GIVEN a success whose upload says the commit was made 2 hours before it, and one that says nothing
    records = [
        record(Outcome.SUCCEEDED, timedelta(days=2), timedelta(minutes=10), committed_before=timedelta(hours=2)),
        record(Outcome.SUCCEEDED, timedelta(days=1), timedelta(minutes=10)),
    ]
    # WHEN the measures are computed
    lead = compute(records, WEEK, "dev").as_json()["lead_time"]
    # THEN the first is measured from the commit, the second from its upload
    assert (lead["from_commit"], lead["from_upload"]) == (1, 1)
    assert lead["p90_seconds"] == 7800.0 and lead["p50_seconds"] == 600.0


def test_stats_failures_then_restore() -> None:
    # GIVEN api: a success, two FAILED rollouts, then a success 3 hours after the first failure ended;
    # worker: a FAILED rollout nothing has followed yet, and a FAILED refusal that changed nothing
    first_failure_ends = timedelta(days=2) - timedelta(minutes=10)
    records = [
        record(Outcome.SUCCEEDED, timedelta(days=3)),
        record(Outcome.FAILED, timedelta(days=2)),
        record(Outcome.FAILED, timedelta(days=2) - timedelta(hours=1)),
        record(Outcome.SUCCEEDED, first_failure_ends - timedelta(hours=3) + timedelta(minutes=10)),
        record(Outcome.FAILED, timedelta(hours=4), service="worker"),
        record(Outcome.FAILED, timedelta(hours=2), service="worker", changed=False),
    ]
    # WHEN the measures are computed for the environment
    report = compute(records, WEEK, "dev").as_json()
    # THEN three of five production changes failed (the refusal is no production change)
    assert report["change_failure_rate"] == {
        "rate": 0.6,
        "failed_changes": 3,
        "changes": 5,
        "failed": 3,
        "rolled_back": 0,
    }
    # AND api's two failures are one restore, timed from the first failure's end to the success's end
    assert report["time_to_restore"] == {"restores": 1, "p50_seconds": 3 * 3600.0, "unrestored": 1}


def test_stats_success_undone_by_handoff_rollback_is_a_failed_change() -> None:
    # GIVEN a success, then the upload `handoff rollback` makes (it says so in its summary)
    records = [
        record(Outcome.SUCCEEDED, timedelta(days=3)),
        record(Outcome.SUCCEEDED, timedelta(days=2)),
        record(Outcome.SUCCEEDED, timedelta(days=1), summary="rollback to deployment api-00000001"),
    ]
    # WHEN the measures are computed
    rate = compute(records, WEEK, "dev").as_json()["change_failure_rate"]
    # THEN the change it undid failed; the rollback itself is a production change that did not
    assert rate == {"rate": 0.3333, "failed_changes": 1, "changes": 3, "failed": 0, "rolled_back": 1}


def test_stats_window_edges_count_uploads_from_start_to_end_inclusive() -> None:
    # GIVEN uploads exactly at the window's start and end, and a millisecond either side of it
    on_start = record(Outcome.SUCCEEDED, timedelta(days=7))
    on_end = record(Outcome.SUCCEEDED, timedelta(0))
    before = record(Outcome.SUCCEEDED, timedelta(days=7, milliseconds=1))
    after = record(Outcome.SUCCEEDED, timedelta(milliseconds=-1))
    # WHEN the measures are computed over the week
    report = compute([on_start, on_end, before, after], WEEK, "dev").as_json()
    # THEN both edges are in, the others out
    assert report["deployment_frequency"]["succeeded"] == 2
    by_day = report["deployment_frequency"]["by_day"]
    assert by_day[0] == {"day": "2026-11-28", "succeeded": 1} and by_day[-1] == {"day": "2026-12-05", "succeeded": 1}


def test_stats_failure_before_window_is_not_counted_but_its_restore_is_not_invented() -> None:
    # GIVEN a failure uploaded before the window, and the success that restored it inside the window
    records = [
        record(Outcome.FAILED, timedelta(days=8)),
        record(Outcome.SUCCEEDED, timedelta(days=6)),
    ]
    # WHEN the measures are computed over the week
    report = compute(records, WEEK, "dev").as_json()
    # THEN only the success is counted, and no restore is measured from a failure outside the window
    assert report["change_failure_rate"]["failed_changes"] == 0
    assert report["change_failure_rate"]["changes"] == 1
    assert report["time_to_restore"]["restores"] == 0


def test_stats_failure_in_window_restored_after_it_is_measured() -> None:
    # GIVEN a failure inside a one-day window, restored by a success uploaded after the window ended
    window = Window.ending(END - timedelta(days=2), timedelta(days=1))
    records = [record(Outcome.FAILED, timedelta(days=2, hours=5)), record(Outcome.SUCCEEDED, timedelta(days=1))]
    # WHEN the measures are computed
    report = compute(records, window, "dev").as_json()
    # THEN the restore is timed, though the restoring deployment is not counted in the window
    assert report["time_to_restore"]["restores"] == 1
    assert report["deployment_frequency"]["succeeded"] == 0


def test_stats_in_flight_and_other_env_records_are_ignored() -> None:
    running = record(Outcome.IN_PROGRESS, timedelta(hours=1))
    elsewhere = record(Outcome.SUCCEEDED, timedelta(hours=2)).model_copy(update={"env": "prod"})
    assert compute([running, elsewhere], WEEK, "dev").deployments == 0


def test_stats_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([10.0, 20.0], 50) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90) == 9.0
    assert percentile([5.0], 90) == 5.0


def test_stats_sparkline_scales_to_the_highest_day_with_ascii_fallback() -> None:
    assert sparkline([0, 1, 2, 4]) == "·▂▄█"
    assert sparkline([0, 1, 2, 4], unicode=False) == " -+@"
    assert sparkline([0, 0]) == "··"


def test_stats_chart_of_a_long_window_groups_days_to_fit() -> None:
    # GIVEN 200 days  WHEN they are charted
    days = [(f"day{i:03d}", i % 3) for i in range(200)]
    groups, size = bucketed(days)
    lines = chart(days)
    # THEN the days are summed in groups of 3 and the chart fits 80 columns
    assert size == 3 and len(groups) == 67 and groups[0] == ("day000", 3)
    assert lines[0].startswith("SUCCEEDED per 3 days") and all(len(line) <= 80 for line in lines)


def test_stats_text_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a terminal of 80 columns and a 90-day window with a long service id
    monkeypatch.setenv("COLUMNS", "80")
    window = Window.ending(END, timedelta(days=90))
    service = "a-very-long-service-identifier-of-forty"
    records = [record(Outcome.SUCCEEDED, timedelta(days=d), service=service) for d in range(0, 90, 4)]
    # WHEN the text is drawn, in UTF-8 and in ASCII
    for unicode in (True, False):
        lines = text(compute(records, window, "dev", service), unicode)
        # THEN no line is wider than 80 columns, and the four measures are there
        assert max(len(line) for line in lines) <= 80
        assert [line.split("  ")[0] for line in lines[2:6]] == [
            "deployment frequency",
            "lead time",
            "change failure rate",
            "time to restore",
        ]


def test_stats_since_takes_hours_days_weeks_and_refuses_the_rest() -> None:
    assert period("12h") == timedelta(hours=12)
    assert period("30d") == timedelta(days=30)
    assert period("2w") == timedelta(weeks=2)
    for bad in ("0d", "30", "d", "1.5d", "-3d", "3m"):
        with pytest.raises(Exception, match="whole hours, days or weeks"):
            period(bad)
    args = build_parser().parse_args(["stats", "--env", "dev"])
    assert args.since == timedelta(days=30) and args.service is None and not args.json
