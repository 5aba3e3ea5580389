"""Release controls through the real ASL: deployment windows (a fixed clock, not real waiting), a
change calendar, blocking alarms, the bake, the maximum wait, and `handoff deploy-now`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ecs_handoff import limits
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, image
from pytest import CaptureFixture, MonkeyPatch

from tests.e2e.history import gaps_between, history, wait_for_entered
from tests.e2e.release_gates import ALARM, FAST, upload, wait_for


class Clock:
    """The gate and deploy functions' clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(embedded: EmbeddedAws) -> Iterator[Clock]:
    fixed = Clock(datetime.now(UTC))
    assert embedded.runner is not None
    undo = [embedded.runner.replace(f"handoff-dev-{fn}", "utcnow", fixed) for fn in ("gate", "deploy")]
    yield fixed
    for each in undo:
        each()


def test_outside_the_window_it_waits_and_deploys_when_the_window_opens(
    world: World, registry: Any, clock: Clock
) -> None:
    # GIVEN weekdays 10:00-17:00 in Tokyo, and Saturday 09:00 there
    window = {"days": "MON-FRI", "hours": "10:00-17:00", "time_zone": "Asia/Tokyo"}
    registry("dev", "api", deploy_windows=[window], **FAST)
    clock.at = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # Saturday 09:00 JST
    before = world.running("dev", "api")["task_definition"]
    # WHEN CI uploads  THEN it waits for Monday 10:00 JST (01:00 UTC), the service untouched
    deployment = upload(world, "dev-win0001")
    record = wait_for(world, deployment, "waiting_for_window")
    assert record.gate["opens_at"] == "2026-11-30T01:00:00.000Z"
    assert "outside the deployment windows (MON-FRI 10:00-17:00 Asia/Tokyo)" in record.gate["reason"]
    wait_for_entered(world.aws, "dev", deployment, "CheckReleaseGates", 3)  # a few more looks
    assert world.running("dev", "api")["task_definition"] == before
    assert world.records("dev").get(deployment).outcome is Outcome.IN_PROGRESS  # type: ignore[union-attr]
    # WHEN the clock reaches Monday 10:00 JST  THEN it deploys
    clock.at = datetime(2026, 11, 30, 1, 0, 30, tzinfo=UTC)
    done = world.wait("dev", deployment)
    assert done.outcome is Outcome.SUCCEEDED, done.reason
    assert world.running("dev", "api")["images"]["app-container"] == world.pinned(image("api", "dev-win0001"))


def test_a_closed_change_calendar_holds_the_deployment(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    embedded.calendars["release-freeze"] = ("CLOSED", "2026-12-01T00:00:00Z")
    try:
        registry("dev", "api", change_calendar="release-freeze", **FAST)
        deployment = upload(world, "dev-cal0001")
        record = wait_for(world, deployment, "waiting_for_window")
        assert record.gate["reason"] == "change calendar release-freeze is CLOSED until 2026-12-01T00:00:00.000Z"
        embedded.calendars["release-freeze"] = ("OPEN", None)
        assert world.wait("dev", deployment).outcome is Outcome.SUCCEEDED
    finally:
        embedded.calendars.pop("release-freeze", None)


def test_a_firing_alarm_holds_the_deployment_until_it_clears(world: World, registry: Any, alarm: Any) -> None:
    registry("dev", "api", blocking_alarms=[ALARM], **FAST)
    alarm("ALARM", "Threshold Crossed: 1 datapoint [42.0] was greater than the threshold (10.0).")
    before = world.running("dev", "api")["task_definition"]
    deployment = upload(world, "dev-alm0001")
    record = wait_for(world, deployment, "waiting_for_alarm")
    assert record.gate["reason"] == (
        f"alarm {ALARM} is in ALARM: Threshold Crossed: 1 datapoint [42.0] was greater than the threshold (10.0)."
    )
    wait_for_entered(world.aws, "dev", deployment, "CheckReleaseGates", 3)  # a few more looks
    assert world.running("dev", "api")["task_definition"] == before
    alarm("OK")
    done = world.wait("dev", deployment)
    assert done.outcome is Outcome.SUCCEEDED and done.execution_arn is not None
    # AND each look while held cost what the history budget says
    looks = gaps_between(history(world.aws, done.execution_arn), "CheckReleaseGates")
    assert len(looks) >= 2 and set(looks) == {limits.EVENTS_PER_GATE_WAIT}


def test_a_newer_upload_supersedes_one_held_by_an_alarm(world: World, registry: Any, alarm: Any) -> None:
    registry("dev", "api", blocking_alarms=[ALARM], **FAST)
    alarm("ALARM")
    first = upload(world, "dev-sup0001")
    wait_for(world, first, "waiting_for_alarm")
    second = upload(world, "dev-sup0002")
    ended = world.wait("dev", first)
    assert ended.outcome is Outcome.SUPERSEDED and second in ended.reason
    wait_for(world, second, "waiting_for_alarm")  # it took the lock and is held too
    alarm("OK")
    assert world.wait("dev", second).outcome is Outcome.SUCCEEDED


def test_the_maximum_wait_ends_it_with_the_alarm_and_its_reason(world: World, registry: Any, alarm: Any) -> None:
    registry("dev", "api", blocking_alarms=[ALARM], gate_poll_seconds=1, max_gate_wait_seconds=3)
    alarm("ALARM", "Threshold Crossed: 5xx above 10")
    record = world.wait("dev", upload(world, "dev-max0001"))
    assert record.outcome is Outcome.EXPIRED
    assert record.reason.startswith("held for ")
    assert f"by its release controls: alarm {ALARM} is in ALARM: Threshold Crossed: 5xx above 10" in record.reason
    assert record.reason.endswith("; nothing was deployed")
    assert record.new_task_definition is None


def test_an_alarm_during_the_bake_rolls_back(world: World, registry: Any, alarm: Any) -> None:
    registry("dev", "api", blocking_alarms=[ALARM], bake_seconds=30, **FAST)
    before = world.running("dev", "api")["task_definition"]
    deployment = upload(world, "dev-bake001")
    record = wait_for(world, deployment, "baking")
    assert record.new_task_definition == world.running("dev", "api")["task_definition"]
    alarm("ALARM", "Threshold Crossed: 5xx after the deploy")
    ended = world.wait("dev", deployment)
    assert ended.outcome is Outcome.FAILED
    assert ended.reason.startswith(
        f"alarm {ALARM} went to ALARM during the 30 s bake: Threshold Crossed: 5xx after the deploy"
    )
    assert "rolled the service back to" in ended.reason
    assert world.running("dev", "api")["task_definition"] == before
    assert ended.execution_arn is not None
    looks = gaps_between(history(world.aws, ended.execution_arn), "CheckBake")
    assert set(looks) <= {limits.EVENTS_PER_GATE_WAIT}


def test_a_quiet_bake_succeeds_and_says_so(world: World, registry: Any, alarm: Any) -> None:
    registry("dev", "api", blocking_alarms=[ALARM], bake_seconds=2, **FAST)
    record = world.wait("dev", upload(world, "dev-bake002"))
    assert record.outcome is Outcome.SUCCEEDED
    assert record.reason.startswith("the ECS rollout of this deployment COMPLETED; no alarm during the ")


def test_deploy_now_starts_a_held_deployment_and_is_recorded(
    world: World, registry: Any, alarm: Any, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    registry("dev", "api", blocking_alarms=[ALARM], override_principals=["arn:aws:sts::123456789012:user/*"], **FAST)
    alarm("ALARM")
    deployment = upload(world, "dev-now0001")
    wait_for(world, deployment, "waiting_for_alarm")
    capsys.readouterr()
    assert (
        main(["deploy-now", deployment, "--env", "dev", "--reason", "INC-9: the alarm is the old build", "--json"]) == 0
    )
    said = json.loads(capsys.readouterr().out)
    assert (said["granted"], said["principal"]) == (True, "arn:aws:sts::123456789012:user/moto")
    record = world.wait("dev", deployment)
    assert record.outcome is Outcome.SUCCEEDED
    assert record.override is not None and record.override["principal"] == "arn:aws:sts::123456789012:user/moto"
    assert record.override["reason"] == "INC-9: the alarm is the old build"
    assert "started by deploy-now by arn:aws:sts::123456789012:user/moto: INC-9" in record.reason
    assert any("deploy-now by arn:aws:sts::123456789012:user/moto" in note for note in record.notes)


def test_deploy_now_is_refused_to_a_principal_not_listed(
    world: World, registry: Any, alarm: Any, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    registry(
        "dev", "api", blocking_alarms=[ALARM], override_principals=["arn:aws:iam::123456789012:role/oncall"], **FAST
    )
    alarm("ALARM")
    deployment = upload(world, "dev-now0002")
    wait_for(world, deployment, "waiting_for_alarm")
    capsys.readouterr()
    assert main(["deploy-now", deployment, "--env", "dev", "--reason", "please"]) == 2
    assert "is not in the registry entry's override_principals" in capsys.readouterr().err
    alarm("OK")
    record = world.wait("dev", deployment)
    assert record.outcome is Outcome.SUCCEEDED and record.override is None


def test_status_shows_what_holds_a_deployment(
    world: World, registry: Any, clock: Clock, capsys: CaptureFixture[str], monkeypatch: MonkeyPatch
) -> None:
    from ecs_handoff_cli.main import main

    window = {"days": "SAT-SUN", "hours": "00:00-24:00", "time_zone": "Europe/Berlin"}
    registry("dev", "api", deploy_windows=[window], **FAST)
    clock.at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday
    deployment = upload(world, "dev-sta0001")
    wait_for(world, deployment, "waiting_for_window")
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    assert main(["status", "--env", "dev", "--service", "api"]) == 0
    out = capsys.readouterr().out
    assert "waiting_for_window: outside the deployment windows (SAT-SUN 00:00-24:00 Europe/Berlin); " in out
    assert "the next opens at 2026-12-04T23:00:00.000Z" in out  # Saturday 00:00 in Berlin (CET)
    clock.at = clock.at + timedelta(days=5)
    assert world.wait("dev", deployment).outcome is Outcome.SUCCEEDED
