"""`handoff watch` on a terminal: one live line per phase, the approval's lines kept under it, the
final state with its task counts; in a log: one line per change."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ecs_handoff.models import Approval, DeploymentRecord, Outcome, Phase
from ecs_handoff_cli import follow, show
from pytest import CaptureFixture, MonkeyPatch


def record(outcome: Outcome, phase: Phase, **more: Any) -> DeploymentRecord:
    """A record whose timeline has its phase (reached a second after the upload)."""
    return DeploymentRecord(
        id="api-abcdef1234", env="prod", service="api", outcome=outcome, phase=phase,
        started_at="2026-11-27T00:00:00.000Z", timeline={phase.value: "2026-11-27T00:00:01.000Z"}, **more,
    )  # fmt: skip


STORY = [
    record(Outcome.AWAITING_APPROVAL, Phase.AWAITING_APPROVAL, approval_id="a" * 32),
    record(Outcome.IN_PROGRESS, Phase.ROLLING_OUT, rollout={"running_count": 1, "desired_count": 2}),
    record(Outcome.SUCCEEDED, Phase.FINISHED, rollout={"running_count": 2, "desired_count": 2}),
]
APPROVAL = Approval(
    approval_id="a" * 32, deployment_id="api-abcdef1234", execution_arn="x", task_token="t", env="prod",
    service_id="api", changes=[], base_task_definition="td/prod-api:1", running_task_definition="td/prod-api:1",
    requested_at="2026-11-27T00:00:00.000Z", expires_at=1_900_000_000, approvers=["alice@example.com"],
)  # fmt: skip


class Env:
    name = "prod"

    def __init__(self) -> None:
        self.seen = 0

    def records(self) -> Any:
        env = self

        class Records:
            def get(self, deployment_id: str) -> DeploymentRecord:
                env.seen = min(env.seen + 1, len(STORY) - 1)
                return STORY[env.seen]

        return Records()

    def approvals(self) -> Any:
        class Approvals:
            def get(self, approval_id: str) -> Approval:
                return APPROVAL

        return Approvals()


def watched(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], terminal: bool) -> str:
    monkeypatch.setattr(show, "is_terminal", lambda: terminal)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    ended = follow.follow(Env(), STORY[0], interval=0.001, timeout=10, quiet=False)  # type: ignore[arg-type]
    assert ended.outcome is Outcome.SUCCEEDED
    return re.sub(r"\d+\.\ds", "T", capsys.readouterr().out)


APPROVAL_LINES = (
    "          approval aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, expires 03-17 17:46 UTC\n"
    "          decide: handoff approve|reject api-abcdef12 --env prod\n"
)


def test_on_a_terminal_each_phase_gets_a_line_and_the_approval_lines_stay(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    assert watched(monkeypatch, capsys, terminal=True) == (
        "\r\x1b[K    T  AWAITING_APPROVAL waits for 1 approval of alice@example.com\n"
        + APPROVAL_LINES
        + "\r\x1b[K    T  IN_PROGRESS       rolling_out tasks 1/2 running"
        "\n\r\x1b[K    T  SUCCEEDED         finished tasks 2/2 running\n"
    )


def test_in_a_log_one_line_per_change(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    assert watched(monkeypatch, capsys, terminal=False) == (
        "    T  AWAITING_APPROVAL waits for 1 approval of alice@example.com\n"
        + APPROVAL_LINES
        + "    T  IN_PROGRESS       rolling_out tasks 1/2 running\n"
        "    T  SUCCEEDED         finished tasks 2/2 running\n"
    )


def test_a_blue_green_deployment_shows_ecs_stage_weights_and_hook() -> None:
    # GIVEN the service deployment as the rollout last saw it (ECS runs the strategy)
    words = "BLUE_GREEN IN_PROGRESS · PRODUCTION_TRAFFIC_SHIFT · production blue 0 % / green 100 %"
    rolling = record(Outcome.IN_PROGRESS, Phase.ROLLING_OUT, service_deployment={"words": words})
    held = record(Outcome.AWAITING_APPROVAL, Phase.AWAITING_APPROVAL, service_deployment={"words": "held at hook"})
    # THEN watch and status say where ECS is, and while the approvers decide, that green is held
    assert show.deployment_line(rolling) == f"rolling_out: {words}"
    assert show.deployment_line(held, APPROVAL) == "waits for 1 approval of alice@example.com; ECS: held at hook"
    # AND once it has ended, the last look no longer speaks for it
    done = record(Outcome.SUCCEEDED, Phase.FINISHED, service_deployment={"words": words})
    assert "BLUE_GREEN" not in show.deployment_line(done)
    assert show.record_json(rolling)["service_deployment"] == {"words": words}
