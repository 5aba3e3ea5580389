"""`handoff history` against the embedded AWS, found through the stack's outputs like in AWS."""

from __future__ import annotations

import json

import pytest
from ecs_handoff.cli import main
from ecs_handoff.models import Outcome
from ecs_handoff_embedded.scenario import World, artifact, image

FIELDS = {
    "id",
    "env",
    "service",
    "outcome",
    "reason",
    "object_version",
    "task_definition",
    "previous_task_definition",
    "started_at",
    "finished_at",
}


def test_cli_history_json_lists_newest_first_with_contract_fields(world: World, capsys: pytest.CaptureFixture[str]):
    first = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "dev-c1c1c1c")})))
    second = world.wait("dev", world.upload("dev", "api", artifact({"nginx": image("nginx", "1")})))
    capsys.readouterr()
    assert main(["history", "--env", "dev", "--service", "api", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["id"] for i in items[:2]] == [second.id, first.id]
    assert set(items[0]) >= FIELDS
    assert items[0]["outcome"] == Outcome.INVALID.value and "nginx" in items[0]["reason"]
    assert items[1]["task_definition"] == first.new_task_definition
    assert items[1]["object_version"] == first.object_version


def test_cli_history_table_for_whole_environment(world: World, capsys: pytest.CaptureFixture[str]):
    world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-d2d2d2d")})))
    assert main(["history", "--env", "dev", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "worker" in out


def test_cli_unknown_env_is_exit_3_with_one_line(world: World, capsys: pytest.CaptureFixture[str]):
    assert main(["history", "--env", "qa"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("handoff: error: environment 'qa' has no stack handoff-qa") and err.count("\n") == 1


def test_cli_unknown_service_is_exit_3(world: World, capsys: pytest.CaptureFixture[str]):
    assert main(["history", "--env", "dev", "--service", "billing"]) == 3
    assert "service 'billing' is not registered in dev; registered: api, worker" in capsys.readouterr().err


def test_cli_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as info:
        main(["history"])
    assert info.value.code == 2
