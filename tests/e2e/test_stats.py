"""`handoff stats` against the embedded AWS: a few real deployments move the four measures by exactly what they
were, read from the deployments table through the stack's outputs like in AWS, and the text fits 80 columns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.scenario import World, artifact, image


def stats(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["stats", "--env", "dev", "--since", "1d", "--json", *args]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_stats_json_counts_the_deployments_just_made(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the measures before (other tests share this embedded AWS: what they deployed is counted too)
    env_before, before = stats(capsys), stats(capsys, "--service", "worker")
    # WHEN worker is deployed, fails a rollout, and is deployed again
    made = [
        world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", tag)})))
        for tag in ("dev-57a7500", "fail-57a7501", "dev-57a7502")
    ]
    assert [r.outcome for r in made] == [Outcome.SUCCEEDED, Outcome.FAILED, Outcome.SUCCEEDED], made
    env_after, after = stats(capsys), stats(capsys, "--service", "worker")
    # THEN two more SUCCEEDED, each with a lead time from its upload to its verdict
    assert after["service"] == "worker"
    assert after["deployments"] == before["deployments"] + 3
    assert after["deployment_frequency"]["succeeded"] == before["deployment_frequency"]["succeeded"] + 2
    assert after["lead_time"]["count"] == before["lead_time"]["count"] + 2
    assert after["lead_time"]["from_upload"] == before["lead_time"]["from_upload"] + 2
    assert after["lead_time"]["p90_seconds"] > 0
    # AND three more production changes, one of them failed
    rate = after["change_failure_rate"]
    assert rate["changes"] == before["change_failure_rate"]["changes"] + 3
    assert rate["failed"] == before["change_failure_rate"]["failed"] + 1
    assert rate["rate"] == round(rate["failed_changes"] / rate["changes"], 4)
    # AND the failure was restored by the deployment after it (and any failure left open before, by the first)
    restore = after["time_to_restore"]
    assert restore["unrestored"] == 0
    assert restore["restores"] == before["time_to_restore"]["restores"] + before["time_to_restore"]["unrestored"] + 1
    assert restore["p50_seconds"] is not None
    # AND the environment's measures moved alike, today's bar by two
    assert env_after["deployment_frequency"]["succeeded"] == env_before["deployment_frequency"]["succeeded"] + 2
    assert env_after["change_failure_rate"]["changes"] == env_before["change_failure_rate"]["changes"] + 3
    today = made[-1].started_at[:10]
    by_day = {report_day["day"]: report_day["succeeded"] for report_day in env_after["deployment_frequency"]["by_day"]}
    before_day = {d["day"]: d["succeeded"] for d in env_before["deployment_frequency"]["by_day"]}
    assert by_day[today] == before_day.get(today, 0) + 2


def test_stats_text_fits_80_columns(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN at least one deployment in dev, and a terminal of 80 columns
    world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-57a7503")})))
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    # WHEN the measures are printed as text, over the default 30 days
    assert main(["stats", "--env", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN every line fits, the four measures are named, and the chart has a bar for each of the 31 days
    assert max(len(line) for line in lines) <= 80, lines
    for measure in ("deployment frequency", "lead time", "change failure rate", "time to restore"):
        assert any(line.startswith(measure) for line in lines), (measure, lines)
    bars = next(line for line in lines if line.startswith(("│", "|")))
    assert len(bars) == 31 + 2, bars


def test_stats_of_an_unregistered_service_is_exit_3(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # (a name no test uploads to: stats still reads a service's records after it left the registry)
    assert main(["stats", "--env", "dev", "--service", "no-such-service"]) == 3
    assert "service 'no-such-service' is not registered in dev" in capsys.readouterr().err
