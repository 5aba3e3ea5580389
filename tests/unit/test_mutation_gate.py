"""The release controls' decisions without AWS: when a held deployment is let go (OPEN), kept waiting (WAIT,
and for how long), given up on (EXPIRED) or replaced (SUPERSEDED); what a deploy-now override does, signed
or not; and the bake after the rollout (DONE, ALARM, WAIT). Fakes stand in for the state table, the records,
CloudWatch, Systems Manager and ECS; the clock is fixed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_handoff.approvals import overrides as signing
from ecs_handoff.approvals.overrides import OverrideClaims
from ecs_handoff.aws.release_controls import StoredOverride
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.logic import gate
from ecs_handoff.logic.lock import lease_seconds
from ecs_handoff.models import DeploymentRequest, GateInput, GateResult, GateStatus, Phase, iso

from tests.helpers import LogRecorder
from tests.samples import REQUEST

KEY = b"k" * 64
ONCALL = "arn:aws:sts::123456789012:assumed-role/oncall/erin"
SATURDAY_NOON = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # when MON-FRI 10:00-17:00 UTC opens next
OFFICE = {"days": "MON-FRI", "hours": "10:00-17:00", "time_zone": "UTC"}
OUTSIDE = "outside the deployment windows (MON-FRI 10:00-17:00 UTC); the next opens at 2026-12-07T10:00:00.000Z"


class State:
    """The state table's newest upload and lock, as the gate reads and renews them."""

    def __init__(self, latest: str | None = "api-v1", lock_is_mine: bool = True) -> None:
        self.latest, self.lock_is_mine = latest, lock_is_mine
        self.renewed: list[tuple[str, str, int]] = []

    def latest_deployment(self, service_id: str) -> str | None:
        return self.latest if service_id == "api" else None

    def renew_lock(self, service_id: str, holder: str, lease: int) -> bool:
        self.renewed.append((service_id, holder, lease))
        return self.lock_is_mine


class Records:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.noted_on: set[str] = set()

    def update(self, deployment_id: str, **fields: Any) -> None:
        self.updates.append({"deployment_id": deployment_id, **fields})

    def append_note(self, deployment_id: str, note: str) -> None:
        self.noted_on.add(deployment_id)
        self.notes.append(note)


class Overrides:
    def __init__(self, stored: StoredOverride | None = None) -> None:
        self.stored = stored

    def get(self, deployment_id: str) -> StoredOverride | None:
        return self.stored if self.stored and self.stored.claims.deployment_id == deployment_id else None


class CloudWatch:
    """describe_alarms through its paginator: only the alarms asked for, each in the state given."""

    def __init__(self, **states: str) -> None:
        self.states = {name.replace("_", "-"): value for name, value in states.items()}
        self.asked: list[list[str]] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "describe_alarms"
        return self

    def paginate(self, AlarmNames: list[str], **_: Any) -> list[dict[str, Any]]:
        self.asked.append(list(AlarmNames))
        found = [
            {"AlarmName": n, "StateValue": self.states[n], "StateReason": f"{n} crossed its threshold"}
            for n in AlarmNames
            if n in self.states
        ]
        return [{"MetricAlarms": found, "CompositeAlarms": []}]


class Calendar:
    def __init__(self, state: str, next_change: str | None = None) -> None:
        self.answer = {"State": state, **({"NextTransitionTime": next_change} if next_change is not None else {})}

    def get_calendar_state(self, CalendarNames: list[str]) -> dict[str, Any]:
        if CalendarNames != ["freeze"]:
            raise ClientError({"Error": {"Code": "InvalidDocument", "Message": "no such calendar"}}, "GetCalendarState")
        return self.answer


class Ecs:
    """DescribeServices with the service's deployment alarms (the ones ECS itself watches)."""

    def __init__(self, watched: list[str], enabled: bool = True) -> None:
        self.alarms = {"alarmNames": watched, "enable": enabled, "rollback": True}

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        if (cluster, services) != ("dev", ["api"]):
            return {"services": [], "failures": [{"reason": "MISSING"}]}
        return {"services": [{"status": "ACTIVE", "deploymentConfiguration": {"alarms": self.alarms}}]}


def request(**service: Any) -> DeploymentRequest:
    return DeploymentRequest.model_validate({**REQUEST, "service": {**REQUEST["service"], **service}})


def look(
    req: DeploymentRequest,
    now: datetime,
    since: datetime | None = None,
    reason: str = "",
    state: State | None = None,
    records: Records | None = None,
    overrides: Overrides | None = None,
    cloudwatch: CloudWatch | None = None,
    ssm: Calendar | None = None,
) -> GateResult:
    previous = GateResult(status=GateStatus.WAIT if since else GateStatus.NEW, since=iso(since) if since else None,
                          reason=reason)  # fmt: skip
    return gate.check_release(
        GateInput(request=req, previous=previous),
        records or Records(),  # type: ignore[arg-type]  # fakes
        state or State(),  # type: ignore[arg-type]
        overrides or Overrides(),  # type: ignore[arg-type]
        lambda: KEY,
        lambda: now,
        cloudwatch,  # type: ignore[arg-type]
        ssm,  # type: ignore[arg-type]
    )


def override(principal: str = ONCALL, signed: bool = True) -> Overrides:
    claims = OverrideClaims("api-v1", principal, "INC-7 hotfix", "2026-12-05T11:59:00.000Z")
    return Overrides(StoredOverride(claims, signing.sign(KEY if signed else b"x" * 64, claims)))


# -- before the deploy: who decides --------------------------------------------------------------------


def test_a_newer_upload_supersedes_a_held_deployment_before_anything_else() -> None:
    state = State(latest="api-v2")
    result = look(request(deploy_windows=[OFFICE]), SATURDAY_NOON, state=state)
    assert result.status is GateStatus.SUPERSEDED
    assert result.reason == (
        "a newer upload (api-v2) for api arrived while this one waited for its release controls; it deploys instead"
    )
    assert state.renewed == []  # it never took the lock's lease further


@pytest.mark.parametrize("latest", ["api-v1", None])
def test_the_held_deployment_renews_its_lock_for_every_wait_it_may_still_do(latest: str | None) -> None:
    req, state = request(deploy_windows=[OFFICE]), State(latest=latest)
    assert look(req, SATURDAY_NOON, state=state).status is GateStatus.WAIT
    assert state.renewed == [("api", "api-v1", lease_seconds(req))]


def test_a_lock_lost_while_held_ends_the_deployment_as_superseded() -> None:
    records = Records()
    result = look(request(deploy_windows=[OFFICE]), MONDAY_10, state=State(lock_is_mine=False), records=records)
    assert result.status is GateStatus.SUPERSEDED
    assert result.reason == (
        "api's lock is no longer this deployment's (its lease ran out while it was held); nothing was deployed, "
        "upload again to retry"
    )
    assert records.updates == []


def test_no_release_control_holding_it_opens_without_a_record_on_the_first_look() -> None:
    records = Records()
    result = look(request(deploy_windows=[OFFICE]), MONDAY_10, records=records)
    assert result == GateResult(status=GateStatus.OPEN, reason="the release controls allow it", since=None)
    assert records.updates == [] and records.notes == []


def test_a_deployment_held_before_opens_and_says_so_on_the_record() -> None:
    records, since = Records(), MONDAY_10 - timedelta(hours=1)
    result = look(request(deploy_windows=[OFFICE]), MONDAY_10, since, records=records)
    assert result.status is GateStatus.OPEN and result.since == iso(since)
    assert records.updates == [{"deployment_id": "api-v1", "phase": Phase.GATES_OPEN, "at": iso(MONDAY_10), "gate": {}}]


# -- held: how long until the next look ----------------------------------------------------------------


def test_outside_the_window_it_waits_a_poll_and_records_the_next_opening() -> None:
    records = Records()
    result = look(request(deploy_windows=[OFFICE]), SATURDAY_NOON, records=records)
    assert result == GateResult(status=GateStatus.WAIT, reason=OUTSIDE, wait_seconds=60, since=iso(SATURDAY_NOON),
                                opens_at="2026-12-07T10:00:00.000Z")  # fmt: skip
    assert records.updates == [
        {"deployment_id": "api-v1", "phase": Phase.WAITING_FOR_WINDOW, "at": iso(SATURDAY_NOON),
         "gate": {"reason": OUTSIDE, "opens_at": "2026-12-07T10:00:00.000Z"}}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("before", "wait"),
    [(30.0, 30), (29.5, 30), (0.25, 1), (0.001, 1), (59.0, 59), (61.0, 60), (3600.0, 60)],
)
def test_the_look_before_the_window_opens_comes_when_it_opens_rounded_up(before: float, wait: int) -> None:
    now = MONDAY_10 - timedelta(seconds=before)
    result = look(request(deploy_windows=[OFFICE]), now, since=MONDAY_10 - timedelta(hours=2))
    assert result.status is GateStatus.WAIT and result.wait_seconds == wait


def test_the_last_look_comes_when_the_longest_wait_ends() -> None:
    # GIVEN a deployment held 3570 s of the 3600 s it may wait, polling every 60 s
    req = request(deploy_windows=[OFFICE], max_gate_wait_seconds=3600)
    result = look(req, SATURDAY_NOON, since=SATURDAY_NOON - timedelta(seconds=3570))
    # THEN it looks again in 30 s, when the wait runs out, not after a whole poll
    assert result.status is GateStatus.WAIT and result.wait_seconds == 30
    assert result.since == iso(SATURDAY_NOON - timedelta(seconds=3570))


@pytest.mark.parametrize(("held", "status"), [(3599.999, GateStatus.WAIT), (3600, GateStatus.EXPIRED)])
def test_a_deployment_held_max_gate_wait_seconds_expires_at_that_instant(held: float, status: GateStatus) -> None:
    req, records = request(deploy_windows=[OFFICE], max_gate_wait_seconds=3600), Records()
    since = SATURDAY_NOON - timedelta(seconds=held)
    result = look(req, SATURDAY_NOON, since=since, records=records)
    assert result.status is status and result.since == iso(since)
    if status is GateStatus.WAIT:
        assert result.wait_seconds == 1
    else:
        assert result.reason == (
            f"held for 1 h 0 min (max_gate_wait_seconds) by its release controls: {OUTSIDE}; nothing was deployed"
        )
        assert records.updates == []  # the finalizer records the outcome


def test_a_closed_change_calendar_holds_until_it_changes() -> None:
    records, calendar = Records(), Calendar("CLOSED", "2026-12-05T12:00:20Z")
    result = look(request(change_calendar="freeze"), SATURDAY_NOON, records=records, ssm=calendar)
    assert result.status is GateStatus.WAIT and result.wait_seconds == 20
    assert result.reason == "change calendar freeze is CLOSED until 2026-12-05T12:00:20.000Z"
    assert result.opens_at == "2026-12-05T12:00:20.000Z"
    assert records.updates[0]["phase"] is Phase.WAITING_FOR_WINDOW
    assert records.updates[0]["gate"] == {"reason": result.reason, "opens_at": "2026-12-05T12:00:20.000Z"}


def test_a_closed_change_calendar_with_no_next_change_waits_a_poll() -> None:
    records = Records()
    result = look(request(change_calendar="freeze"), SATURDAY_NOON, records=records, ssm=Calendar("CLOSED", ""))
    assert result.status is GateStatus.WAIT and result.wait_seconds == 60 and result.opens_at is None
    assert result.reason == "change calendar freeze is CLOSED"
    assert records.updates[0]["gate"] == {"reason": "change calendar freeze is CLOSED"}


def test_an_open_change_calendar_holds_nothing() -> None:
    result = look(request(change_calendar="freeze"), SATURDAY_NOON, ssm=Calendar("OPEN", "2026-12-06T00:00:00Z"))
    assert result.status is GateStatus.OPEN


def test_an_alarm_in_alarm_holds_and_others_do_not() -> None:
    records = Records()
    alarms = CloudWatch(api_5xx="ALARM", api_latency="OK", api_cpu="INSUFFICIENT_DATA")
    req = request(blocking_alarms=["api-latency", "api-5xx", "api-cpu"])
    result = look(req, SATURDAY_NOON, records=records, cloudwatch=alarms)
    assert result.status is GateStatus.WAIT and result.wait_seconds == 60 and result.opens_at is None
    assert result.reason == "alarm api-5xx is in ALARM: api-5xx crossed its threshold"
    assert records.updates[0]["phase"] is Phase.WAITING_FOR_ALARM
    assert records.updates[0]["gate"] == {"reason": result.reason}
    assert look(req, SATURDAY_NOON, cloudwatch=CloudWatch(api_5xx="OK", api_latency="OK", api_cpu="OK")).status is (
        GateStatus.OPEN
    )


def test_a_blocking_alarm_cloudwatch_does_not_have_is_a_registry_error() -> None:
    with pytest.raises(ArtifactRejected) as refused:
        look(request(blocking_alarms=["api-5xx", "api-typo"]), SATURDAY_NOON, cloudwatch=CloudWatch(api_5xx="OK"))
    assert str(refused.value) == (
        "blocking alarm 'api-typo' does not exist in CloudWatch; fix blocking_alarms in the registry entry "
        "(a misspelt alarm would never hold a deployment)"
    )


def test_a_window_and_an_alarm_together_wait_a_poll_even_just_before_the_window_opens() -> None:
    # GIVEN the window opens in 10 s, but an alarm (which says nothing of when it ends) holds it too
    records, now = Records(), MONDAY_10 - timedelta(seconds=10)
    req = request(deploy_windows=[OFFICE], blocking_alarms=["api-5xx"])
    result = look(req, now, records=records, cloudwatch=CloudWatch(api_5xx="ALARM"))
    # THEN it looks again after a poll, and both reasons are given, the window's first
    assert result.status is GateStatus.WAIT and result.wait_seconds == 60
    both = f"{OUTSIDE}; alarm api-5xx is in ALARM: api-5xx crossed its threshold"
    assert result.reason == both and result.opens_at == "2026-12-07T10:00:00.000Z"
    assert records.updates == [
        {"deployment_id": "api-v1", "phase": Phase.WAITING_FOR_WINDOW, "at": iso(now),
         "gate": {"reason": both, "opens_at": "2026-12-07T10:00:00.000Z"}}
    ]  # fmt: skip


# -- deploy-now ---------------------------------------------------------------------------------------


def test_a_signed_deploy_now_by_an_allowed_principal_opens_a_held_deployment() -> None:
    records, since = Records(), SATURDAY_NOON - timedelta(minutes=5)
    req = request(deploy_windows=[OFFICE], override_principals=["arn:aws:sts::123456789012:assumed-role/oncall/*"])
    result = look(req, SATURDAY_NOON, since, records=records, overrides=override())
    shown = {"principal": ONCALL, "reason": "INC-7 hotfix", "at": "2026-12-05T11:59:00.000Z"}
    assert result == GateResult(status=GateStatus.OPEN, reason=f"deploy-now by {ONCALL}: INC-7 hotfix",
                                since=iso(since), override=shown)  # fmt: skip
    assert records.updates == [
        {"deployment_id": "api-v1", "phase": Phase.DEPLOY_NOW, "at": iso(SATURDAY_NOON), "override": shown, "gate": {}}
    ]
    assert records.notes == []


@pytest.mark.parametrize(
    ("stored", "patterns", "why"),
    [
        (override(signed=False), [ONCALL],
         "its signature is not the operator API's (written to the state table by something else)"),
        (override(), ["arn:aws:iam::123456789012:role/admin"],
         "that principal is not in the registry entry's override_principals"),
        (override(), [], "that principal is not in the registry entry's override_principals"),
    ],
)  # fmt: skip
def test_a_deploy_now_that_does_not_verify_is_ignored_and_said_once(
    stored: Overrides, patterns: list[str], why: str
) -> None:
    req, records = request(deploy_windows=[OFFICE], override_principals=patterns), Records()
    ignored = f"a deploy-now naming {ONCALL} was ignored: {why}"
    # WHEN the gate looks while the deployment is held
    first = look(req, SATURDAY_NOON, records=records, overrides=stored)
    # THEN it stays held, the held result says why the deploy-now did nothing, and the record gets one note
    assert first.status is GateStatus.WAIT and first.reason == f"{OUTSIDE}; {ignored}"
    assert records.notes == [f"{iso(SATURDAY_NOON)} {ignored}; overrides come only from `handoff deploy-now`"]
    assert records.noted_on == {"api-v1"}
    # AND the next look, handed that result back, does not note it again
    later = SATURDAY_NOON + timedelta(minutes=1)
    again = look(req, later, since=SATURDAY_NOON, reason=first.reason, records=records, overrides=stored)
    assert again.status is GateStatus.WAIT and again.reason == first.reason and len(records.notes) == 1


def test_an_ignored_deploy_now_naming_nobody_says_nobody_and_an_open_gate_still_notes_it() -> None:
    records = Records()
    result = look(request(deploy_windows=[OFFICE]), MONDAY_10, records=records, overrides=override(principal=""))
    assert result.status is GateStatus.OPEN
    assert records.notes == [
        f"{iso(MONDAY_10)} a deploy-now naming nobody was ignored: that principal is not in the registry entry's "
        "override_principals; overrides come only from `handoff deploy-now`"
    ]


def test_override_allowed_only_for_principals_a_pattern_names() -> None:
    assert gate.override_allowed(ONCALL, ["arn:aws:sts::123456789012:assumed-role/oncall/*"])
    assert not gate.override_allowed(ONCALL, ["arn:aws:sts::123456789012:assumed-role/ci/*"])
    assert not gate.override_allowed(ONCALL, [])


# -- the bake after the rollout ------------------------------------------------------------------------


def bake(
    now: datetime,
    since: datetime | None = None,
    records: Records | None = None,
    state: State | None = None,
    alarms: CloudWatch | None = None,
    watched: Ecs | None = None,
    **service: Any,
) -> GateResult:
    req = request(**{"blocking_alarms": ["api-5xx", "api-latency"], "bake_seconds": 600, **service})
    previous = GateResult(status=GateStatus.WAIT if since else GateStatus.NEW, since=iso(since) if since else None)
    return gate.check_bake(
        GateInput(request=req, previous=previous, check="bake"),
        records or Records(),  # type: ignore[arg-type]  # fakes
        state or State(),  # type: ignore[arg-type]
        lambda: now,
        alarms or CloudWatch(api_5xx="OK", api_latency="OK"),  # type: ignore[arg-type]
        watched or Ecs([]),  # type: ignore[arg-type]
    )


def test_the_first_bake_look_records_the_bake_and_waits_a_poll() -> None:
    records, state = Records(), State()
    result = bake(SATURDAY_NOON, records=records, state=state)
    assert result == GateResult(status=GateStatus.WAIT, since=iso(SATURDAY_NOON), wait_seconds=60,
                                reason="baking: watching api-5xx, api-latency for 10 min")  # fmt: skip
    assert records.updates == [
        {"deployment_id": "api-v1", "phase": Phase.BAKING, "at": iso(SATURDAY_NOON),
         "gate": {"reason": "watching api-5xx, api-latency"}}
    ]  # fmt: skip
    assert state.renewed == [("api", "api-v1", lease_seconds(request(blocking_alarms=["a"], bake_seconds=600)))]


@pytest.mark.parametrize(("baked", "wait"), [(60, 60), (539, 60), (540, 60), (541, 59), (599.5, 1), (599.999, 1)])
def test_later_bake_looks_wait_at_most_until_the_bake_ends_and_record_nothing(baked: float, wait: int) -> None:
    records = Records()
    result = bake(SATURDAY_NOON, since=SATURDAY_NOON - timedelta(seconds=baked), records=records)
    assert result.status is GateStatus.WAIT and result.wait_seconds == wait
    assert records.updates == []


@pytest.mark.parametrize("baked", [600, 601, 7200])
def test_the_bake_is_done_once_it_lasted_bake_seconds_without_an_alarm(baked: int) -> None:
    since = SATURDAY_NOON - timedelta(seconds=baked)
    result = bake(SATURDAY_NOON, since=since)
    assert result.status is GateStatus.DONE and result.since == iso(since)
    assert result.reason == f"no alarm during the {'10 min' if baked < 660 else '2 h 0 min'} bake"


def test_an_alarm_during_the_bake_rolls_back_naming_it() -> None:
    since = SATURDAY_NOON - timedelta(seconds=120)
    result = bake(SATURDAY_NOON, since=since, alarms=CloudWatch(api_5xx="OK", api_latency="ALARM"))
    assert result == GateResult(status=GateStatus.ALARM, since=iso(since), alarm="api-latency",
                                reason="alarm api-latency went to ALARM during the 10 min bake: "
                                       "api-latency crossed its threshold")  # fmt: skip


def test_the_bake_leaves_the_alarms_ecs_watches_to_ecs() -> None:
    # GIVEN ECS watches api-5xx during its own deployments (and rolls back on it itself)
    alarms = CloudWatch(api_5xx="ALARM", api_latency="OK")
    result = bake(SATURDAY_NOON, alarms=alarms, watched=Ecs(["api-5xx"]))
    # THEN the bake watches only api-latency
    assert result.status is GateStatus.WAIT and result.reason == "baking: watching api-latency for 10 min"
    assert alarms.asked == [["api-latency"]]
    # AND with ECS's deployment alarms switched off, the bake watches both
    assert bake(SATURDAY_NOON, alarms=alarms, watched=Ecs(["api-5xx"], enabled=False)).status is GateStatus.ALARM


def test_no_bake_is_needed_when_ecs_watches_every_blocking_alarm() -> None:
    alarms, records = CloudWatch(api_5xx="ALARM", api_latency="ALARM"), Records()
    result = bake(SATURDAY_NOON, alarms=alarms, watched=Ecs(["api-latency", "api-5xx"]), records=records)
    assert result == GateResult(
        status=GateStatus.DONE,
        since=iso(SATURDAY_NOON),
        reason="ECS watches every blocking alarm during its own deployments (deployment alarms); no bake needed",
    )
    assert alarms.asked == [] and records.updates == []


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> LogRecorder:
    recorder = LogRecorder()
    monkeypatch.setattr(gate, "logger", recorder)
    return recorder


def test_a_deploy_now_is_logged_whether_it_opened_the_gate_or_was_ignored(log: LogRecorder) -> None:
    req = request(deploy_windows=[OFFICE], override_principals=[ONCALL])
    look(req, SATURDAY_NOON, overrides=override())
    look(req, SATURDAY_NOON, overrides=override(signed=False))
    assert log.lines == [
        ("info", "release controls overridden", {"principal": ONCALL, "reason": "INC-7 hotfix"}),
        ("warning", "override ignored", {"deployment_id": "api-v1", "principal": ONCALL,
         "why": "its signature is not the operator API's (written to the state table by something else)"}),
    ]  # fmt: skip


def test_an_ignored_deploy_now_names_at_most_200_characters_of_its_principal() -> None:
    records, principal = Records(), "arn:aws:sts::123456789012:assumed-role/oncall/" + "e" * 300
    look(request(deploy_windows=[OFFICE]), MONDAY_10, records=records, overrides=override(principal=principal))
    assert records.notes[0].split(" a deploy-now naming ", 1)[1].startswith(f"{principal[:200]} was ignored: ")


def test_several_windows_are_all_named_when_none_is_open() -> None:
    weekend_night = {"days": "SAT-SUN", "hours": "22:00-02:00", "time_zone": "Europe/Berlin"}
    result = look(request(deploy_windows=[OFFICE, weekend_night]), SATURDAY_NOON)
    assert result.reason == (
        "outside the deployment windows (MON-FRI 10:00-17:00 UTC; SAT-SUN 22:00-02:00 Europe/Berlin); "
        "the next opens at 2026-12-05T21:00:00.000Z"
    )
