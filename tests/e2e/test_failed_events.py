"""An upload the intake fails on is kept, not lost (Lambda's on-failure destination), and `handoff failed
--redrive` hands it to the intake again once the cause is fixed: the deployment then runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

INTAKE = "handoff-dev-intake"


@contextmanager
def broken_intake(embedded: EmbeddedAws) -> Iterator[None]:
    """The intake pointed at a state table that does not exist: every attempt fails (a new cold start)."""
    awslambda = embedded.client("lambda")
    variables = awslambda.get_function_configuration(FunctionName=INTAKE)["Environment"]["Variables"]
    broken = {**variables, "HANDOFF_STATE_TABLE": "no-such-table"}
    awslambda.update_function_configuration(FunctionName=INTAKE, Environment={"Variables": broken})
    try:
        yield
    finally:
        awslambda.update_function_configuration(FunctionName=INTAKE, Environment={"Variables": variables})


def kept_events(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["failed", "--env", "dev", "--json"]) == 0
    events: list[dict[str, object]] = json.loads(capsys.readouterr().out)["events"]
    return events


def test_an_upload_the_intake_failed_on_is_kept_and_deploys_when_redriven(
    world: World, embedded: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an upload the intake fails on, on every one of Lambda's three attempts
    with broken_intake(embedded):
        deployment_id = world.upload("dev", "api", artifact({"app-container": image("api", "dev-kept001")}))
        assert embedded.wait_idle(30)
    assert world.records("dev").get(deployment_id) is None
    # THEN it is kept, and `handoff failed` says what it was and why (exit 1: something needs doing)
    [kept] = kept_events(capsys)
    assert (kept["function"], kept["attempts"]) == (INTAKE, 3)
    assert str(kept["about"]).startswith("upload api/imagedefinitions.json.zip (version ")
    assert str(kept["why"]).startswith("RetriesExhausted (")
    assert main(["failed", "--env", "dev"]) == 1
    assert "1 event(s) kept" in capsys.readouterr().out
    # WHEN, the cause fixed, it is handed to the intake again
    assert main(["failed", "--env", "dev", "--redrive"]) == 0
    # THEN the deployment runs to its end, and nothing is kept any more
    record = world.wait("dev", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    deadline = time.monotonic() + 5
    while kept_events(capsys) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kept_events(capsys) == []
