"""An operator's day at an 80-column terminal, without AWS (hand-made records): watch's phase times are when
each phase began, history shows who overrode a deployment and why the intake refused one, status shows every
deployment in flight and what ECS's counts say runs, and diff's lines fit."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
from ecs_handoff.models import Approval, DeploymentRecord, Outcome, Phase
from ecs_handoff_cli import follow, release, show
from ecs_handoff_cli.release_logic import ImageDiff
from pytest import CaptureFixture, MonkeyPatch

UPLOADED = "2026-12-05T07:00:00.000Z"
ERIN = "arn:aws:iam::123456789012:user/erin"


def record(ident: str, outcome: Outcome, phase: Phase, **more: Any) -> DeploymentRecord:
    return DeploymentRecord(
        id=f"api-{ident}-72dc-4da9-99e3-8ab1aeed0818", env="prod", service="api", outcome=outcome, phase=phase,
        started_at=UPLOADED, **more,
    )  # fmt: skip


@pytest.fixture(autouse=True)
def terminal_80(monkeypatch: MonkeyPatch) -> None:
    """Output to a log (no live line), 80 columns, no colour."""
    monkeypatch.setattr(show, "is_terminal", lambda: False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")


class Records:
    def __init__(self, story: list[DeploymentRecord]) -> None:
        self.story, self.looks = story, 0

    def get(self, deployment_id: str) -> DeploymentRecord:
        self.looks += 1
        return self.story[min(self.looks, len(self.story) - 1)]

    def history(self, env: str, service: str | None, limit: int) -> list[DeploymentRecord]:
        return self.story[:limit]


class Env:
    """A deployments table (and approvals) made of hand-made records."""

    name = "prod"

    def __init__(self, story: list[DeploymentRecord], approval: Approval | None = None) -> None:
        self.table, self.approval = Records(story), approval

    def records(self) -> Records:
        return self.table

    def approvals(self) -> Any:
        env = self

        class Approvals:
            def get(self, approval_id: str) -> Approval | None:
                return env.approval

        return Approvals()

    def service_ids(self) -> list[str]:
        return ["api"]

    def service(self, service_id: str) -> Any:
        return argparse.Namespace(cluster="prod", service="prod-api")


# --- watch: when each phase began --------------------------------------------------------------------------


def test_watch_phase_times_are_when_each_phase_began(capsys: CaptureFixture[str]) -> None:
    # GIVEN a deployment whose timeline says it began rolling out 3 s after its upload and finished at 10 s,
    # and whose task counts change while it rolls out
    timeline = {"received": UPLOADED, "queued": "2026-12-05T07:00:01.000Z", "rolling_out": "2026-12-05T07:00:03.000Z"}
    rolling = record("3feb84d5", Outcome.IN_PROGRESS, Phase.ROLLING_OUT, timeline=timeline)
    story = [
        rolling.model_copy(update={"rollout": {"running_count": 0, "desired_count": 2}}),
        rolling.model_copy(update={"rollout": {"running_count": 1, "desired_count": 2}}),
        record(
            "3feb84d5", Outcome.SUCCEEDED, Phase.FINISHED, rollout={"running_count": 2, "desired_count": 2},
            timeline={**timeline, "finished": "2026-12-05T07:00:10.500Z"},
        ),
    ]  # fmt: skip
    # WHEN watch follows it (whenever it happens to look)
    follow.follow(Env(story), story[0], interval=0.001, timeout=10, quiet=False)  # type: ignore[arg-type]
    # THEN each line's time is when its phase began, counted from the upload (before: when watch last saw it)
    assert capsys.readouterr().out.splitlines() == [
        "    3.0s  IN_PROGRESS       rolling_out tasks 0/2 running",
        "    3.0s  IN_PROGRESS       rolling_out tasks 1/2 running",
        "   10.5s  SUCCEEDED         finished tasks 2/2 running",
    ]


# --- history: overrides and refusals -----------------------------------------------------------------------

REFUSED = record(
    "5bb7a550", Outcome.INVALID, Phase.FINISHED,
    reason="container 'nginx' is not in task definition prod-api:1; it has: app-container, nginx-container",
)  # fmt: skip
OVERRIDDEN = record(
    "aa4a1d53", Outcome.SUCCEEDED, Phase.FINISHED, reason="the ECS rollout of this deployment COMPLETED",
    override={"principal": ERIN, "reason": "INC-7 hotfix", "at": "2026-12-05T07:01:00.000Z"},
)  # fmt: skip


def history(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str], **options: Any) -> str:
    monkeypatch.setattr(follow, "Env", lambda name: Env([REFUSED, OVERRIDDEN]))
    args = argparse.Namespace(**{"env": "prod", "service": "api", "limit": 10, "json": False, "wide": False, **options})
    assert follow.cmd_history(args) == 0
    return capsys.readouterr().out


def test_history_says_why_the_intake_refused_a_deployment(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    # GIVEN a deployment the intake refused (INVALID, no images)
    # WHEN history lists it at 80 columns
    lines = history(monkeypatch, capsys).splitlines()
    # THEN its row says it was refused (before: "(same images)"), and the reason follows, cut to the width
    row = next(line for line in lines if line.startswith("api-5bb7a550"))
    assert "INVALID" in row and "(refused)" in row and "(same images)" not in row
    why = lines[lines.index(row) + 1]
    assert why.startswith("    refused: container 'nginx' is not in task definition prod-api:1")
    assert why.endswith(show.ELLIPSIS) and len(why) == 80
    assert all(len(line) <= 80 for line in lines)


def test_history_marks_a_deploy_now_and_says_who_and_why(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    # GIVEN a deployment `handoff deploy-now` started past its release controls
    # WHEN history lists it: the short line, --wide and --json
    short = history(monkeypatch, capsys).splitlines()
    wide = history(monkeypatch, capsys, **{"wide": True}).splitlines()
    # THEN the short line marks it, and a note says what the mark means
    row = next(line for line in short if line.startswith("api-aa4a1d53"))
    assert "SUCCEEDED*" in row
    assert short[-1].startswith("* started past its release controls by deploy-now")
    # AND --wide says who overrode and why
    assert "DEPLOY-NOW" in wide[0]
    assert f"{ERIN}: INC-7 hotfix" in next(line for line in wide if line.startswith(OVERRIDDEN.id))
    assert not any(line.startswith("*") for line in wide)


def test_history_json_has_the_override(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    rows = json.loads(history(monkeypatch, capsys, **{"json": True}))
    assert [r["override"] for r in rows] == [None, OVERRIDDEN.override]


# --- status: every deployment in flight, and what ECS's counts say runs ---------------------------------------

APPROVAL = Approval(
    approval_id="c" * 32, deployment_id="api-64456e0f-72dc-4da9-99e3-8ab1aeed0818", execution_arn="x",
    task_token="t", env="prod", service_id="api", changes=[], base_task_definition="td/prod-api:1",
    running_task_definition="td/prod-api:1", requested_at=UPLOADED, expires_at=1_796_533_500,
    approvers=["alice@example.com", "bob@example.com"],
)  # fmt: skip
TD = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api"


def ecs_service(deployments: list[dict[str, Any]]) -> dict[str, Any]:
    return {"taskDefinition": deployments[0]["taskDefinition"], "deployments": deployments}


def status(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str], service: dict[str, Any], as_json: bool = False
) -> str:
    from ecs_handoff.aws import ecs as ecs_access

    story = [
        record("aa4a1d53", Outcome.IN_PROGRESS, Phase.ROLLING_OUT, rollout={"running_count": 0, "desired_count": 2}),
        record("64456e0f", Outcome.AWAITING_APPROVAL, Phase.AWAITING_APPROVAL, approval_id="c" * 32),
        OVERRIDDEN,
    ]
    monkeypatch.setattr(follow, "Env", lambda name: Env(story, APPROVAL))
    monkeypatch.setattr(follow, "environment_names", lambda env: ["prod"])
    monkeypatch.setattr(ecs_access, "describe_service", lambda cluster, name: service)
    monkeypatch.setattr(ecs_access, "describe_task_definition", lambda td: ({"containerDefinitions": []}, {}))
    args = argparse.Namespace(env="prod", service=None, json=as_json, wide=False)
    assert follow.cmd_status(args) == 0
    return capsys.readouterr().out


STARTING = ecs_service(
    [
        {"status": "PRIMARY", "taskDefinition": f"{TD}:2", "rolloutState": "IN_PROGRESS", "desiredCount": 2,
         "runningCount": 0},
        {"status": "ACTIVE", "taskDefinition": f"{TD}:1", "rolloutState": "COMPLETED", "desiredCount": 2,
         "runningCount": 2},
    ]
)  # fmt: skip


def test_status_shows_every_deployment_in_flight(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    # GIVEN two deployments of a service in flight: one rolling out, one awaiting approval
    # WHEN status describes the service
    out = status(monkeypatch, capsys, STARTING)
    lines = out.splitlines()
    # THEN both are listed, each with what it does (before: only the newest)
    assert "    api-aa4a1d53: rolling_out tasks 0/2 running" in lines
    assert "    api-64456e0f: waits for 1 approval of alice@example.com, bob@example.com" in lines
    assert "    decide: handoff approve|reject api-64456e0f --env prod" in lines
    assert "api-aa4a1d53 IN_PROGRESS +1" in out
    assert all(len(line) <= 80 for line in lines)


def test_status_says_what_runs_from_ecs_counts(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    # GIVEN ECS starting prod-api:2 (0 of 2 tasks running) while prod-api:1's 2 tasks still run
    # WHEN status describes the service
    lines = status(monkeypatch, capsys, STARTING).splitlines()
    # THEN it does not claim prod-api:2 runs: its row and ECS's line say it is starting, from ECS's counts
    row = next(line for line in lines if line.startswith("api "))
    assert "prod-api:2 starting" in row
    assert "    ECS: prod-api:2 starting (0/2 tasks running); prod-api:1 draining (2 tasks)" in lines


def test_status_steady_service_is_its_revision_alone(monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]) -> None:
    steady = ecs_service(
        [{"status": "PRIMARY", "taskDefinition": f"{TD}:2", "rolloutState": "COMPLETED", "desiredCount": 2,
          "runningCount": 2}]
    )  # fmt: skip
    lines = status(monkeypatch, capsys, steady).splitlines()
    assert next(line for line in lines if line.startswith("api ")).split()[1] == "prod-api:2"
    assert not any(line.startswith("    ECS:") for line in lines)


def test_status_json_has_every_deployment_in_flight_and_ecs_counts(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    [service] = json.loads(status(monkeypatch, capsys, STARTING, as_json=True))["prod"]
    assert service["in_flight"]["id"].startswith("api-aa4a1d53")  # unchanged: the newest
    assert [d["id"][:12] for d in service["in_flight_all"]] == ["api-aa4a1d53", "api-64456e0f"]
    assert service["running"] == "prod-api:2 starting (0/2 tasks running)"
    assert [(d["status"], d["running_count"], d["desired_count"]) for d in service["ecs_deployments"]] == [
        ("PRIMARY", 0, 2),
        ("ACTIVE", 2, 2),
    ]


# --- diff: lines that fit 80 columns -------------------------------------------------------------------------

HOST = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"


def test_diff_lines_fit_80_columns_and_keep_the_change(capsys: CaptureFixture[str]) -> None:
    # GIVEN a plan whose container lines are about 95 columns (a digest and the tag it was pinned from)
    rows = [
        ImageDiff(
            "nginx-container", f"{HOST}/api-nginx:dev-0a1b2c3", f"{HOST}/api-nginx@sha256:{'f1' * 32}", True,
            f"{HOST}/api-nginx:dev-4f2a9c1",
        ),
        ImageDiff("app-container", f"{HOST}/api:dev-0a1b2c3", f"{HOST}/api:dev-0a1b2c3", False),
    ]  # fmt: skip
    plan = release.Plan("images.json", [], f"{TD}:1", f"{TD}:1", rows, registry=HOST)
    assert len(rows[0].text(HOST)) > 80
    # WHEN diff prints it at 80 columns
    plan.print(Env([]), "api")  # type: ignore[arg-type]
    lines = capsys.readouterr().out.splitlines()
    # THEN every line fits, cut with … before the change, which always shows
    assert all(len(line) <= 80 for line in lines), [len(line) for line in lines]
    assert lines[2].endswith(f"{show.ELLIPSIS}  [changes]") and lines[2].startswith("  ~ nginx-container: ")
    assert lines[3] == "  = app-container: api:dev-0a1b2c3  [unchanged]"
    assert lines[:2] == [
        "api in prod: running prod-api:1",
        "new revision: Terraform's base prod-api:1 with the images in images.json",
    ]


def test_watch_phase_time_stays_8_characters_past_a_day() -> None:
    # a phase that began more than a day after the upload (an approval that waited) is shown in hours, so the
    # line keeps its width
    assert [follow._seconds(s) for s in (3.04, 99_999.9, 200_000)] == ["    3.0s", "99999.9s", "   55.6h"]
