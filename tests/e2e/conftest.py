"""The embedded AWS for end-to-end tests: the real template, ASL and handlers on a moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World


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
        name = f"/handoff/{env}/services/{service}"
        current = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        saved.setdefault(name, current)
        ssm.put_parameter(
            Name=name, Type="String", Overwrite=True, Value=json.dumps({**json.loads(current), **changes})
        )

    yield edit
    for name, value in saved.items():
        ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=value)
