"""The embedded AWS for end-to-end tests: the real template, ASL and handlers on a moto server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff.models import DeploymentRecord, Phase
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, edit_registry_entry, image

from tests.e2e.release_gates import ALARM
from tests.e2e.sweeping import CALENDAR, Hold


@pytest.fixture(scope="package")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedAws]:
    aws = EmbeddedAws(state_dir=Path(tmp_path_factory.mktemp("handoff")), rollout_seconds=0.5)
    aws.start()
    try:
        yield aws
    finally:
        aws.stop()


@pytest.fixture
def world(embedded: EmbeddedAws) -> Iterator[World]:
    embedded.rollout_seconds = 0.5
    yield World(embedded)
    embedded.rollout_seconds = 0.5
    embedded.release_rollouts(timeout=0)  # a rollout a test held and left: ECS finishes it, nothing stays locked
    assert embedded.wait_idle(30), "an event delivery was still running after the test"


@pytest.fixture
def registry(embedded: EmbeddedAws) -> Iterator[Any]:
    """Edit a registry entry for one test; the original is put back afterwards."""
    ssm = embedded.client("ssm")
    saved: dict[str, str] = {}

    def edit(env: str, service: str, **changes: Any) -> None:
        saved.setdefault(f"/handoff/{env}/services/{service}", edit_registry_entry(ssm, env, service, **changes))

    yield edit
    for name, value in saved.items():
        ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=value)


@pytest.fixture
def new_service(embedded: EmbeddedAws) -> Iterator[Callable[[str, str, str], None]]:
    """Adds a one-container service as Terraform would (env, service id, image); its registry entry is removed
    after the test, so later tests (and doctor) see the world as it was."""
    from ecs_handoff_embedded.seed import add_simple_service

    added: list[str] = []

    def add(env: str, service_id: str, image_uri: str) -> None:
        add_simple_service(embedded.session(), env, service_id, image_uri)
        added.append(f"/handoff/{env}/services/{service_id}")

    yield add
    ssm = embedded.client("ssm")
    for name in added:
        ssm.delete_parameter(Name=name)


@pytest.fixture
def alarm(world: World, embedded: EmbeddedAws) -> Iterator[Any]:
    """A CloudWatch alarm the test sets to ALARM or OK; deleted afterwards."""

    def set_state(state: str, reason: str = "set by the test") -> None:
        world.alarm(ALARM, state, reason)

    set_state("OK")
    yield set_state
    embedded.client("cloudwatch").delete_alarms(AlarmNames=[ALARM])


@pytest.fixture
def api_id(embedded: EmbeddedAws) -> str:
    """prod's operator API."""
    return embedded.operator_apis["prod"].api_id


@pytest.fixture
def held(world: World, embedded: EmbeddedAws, registry: Any) -> Iterator[Hold]:
    """Uploads a dev deployment of worker that a closed change calendar holds: its execution runs, and it holds
    worker's lock, until the test ends it."""
    embedded.calendars[CALENDAR] = ("CLOSED", "2027-01-01T00:00:00Z")
    registry("dev", "worker", change_calendar=CALENDAR, gate_poll_seconds=1, max_gate_wait_seconds=120)

    def hold(tag: str) -> DeploymentRecord:
        deployment = world.upload("dev", "worker", artifact({"app": image("worker", tag)}))
        record = world.wait_phase("dev", deployment, "waiting_for_window")
        assert record.phase is Phase.WAITING_FOR_WINDOW, (record.phase, record.reason)
        assert record.execution_arn is not None
        return record

    try:
        yield hold
    finally:
        embedded.drop_execution_status_events = False
        embedded.calendars.pop(CALENDAR, None)
