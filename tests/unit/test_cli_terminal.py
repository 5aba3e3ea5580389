"""The CLI at a terminal, without AWS: the region it honours, a closed pipe, Ctrl-C, lines that fit 80
columns, the hint for a held deployment, and the files `upload` takes."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff.aws.clients import client, reset_clients
from ecs_handoff.models import Approval, DeploymentRecord, Outcome, Phase
from ecs_handoff_cli import follow, release, show
from ecs_handoff_cli.exits import UsageError
from ecs_handoff_cli.main import main
from ecs_handoff_cli.release_logic import CiTarget, build_artifact, print_ci
from pytest import CaptureFixture, MonkeyPatch

from tests.helpers import ROOT, zip_members

LIVE_PREFIX = re.compile(r"^\r\x1b\[K")


def record(outcome: Outcome, phase: Phase, **more: Any) -> DeploymentRecord:
    return DeploymentRecord(
        id="api-3feb84d5-72dc-4da9-99e3-8ab1aeed0818", env="prod", service="api", outcome=outcome, phase=phase,
        started_at="2026-12-05T05:05:00.000Z", **more,
    )  # fmt: skip


APPROVAL = Approval(
    approval_id="58952c7cdf7d5f75f7ecce7241d8e10f", deployment_id="api-3feb84d5-72dc-4da9-99e3-8ab1aeed0818",
    execution_arn="x", task_token="t", env="prod", service_id="api", changes=[],
    base_task_definition="td/prod-api:1", running_task_definition="td/prod-api:1",
    requested_at="2026-12-05T05:05:00.000Z", expires_at=1_796_533_500,
    approvers=["alice@example.com", "bob@example.com"],
)  # fmt: skip
HELD = record(
    Outcome.IN_PROGRESS,
    Phase.WAITING_FOR_WINDOW,
    gate={"reason": "the change calendar prod-freeze is CLOSED until 2027-01-04"},
)


class Story:
    """A deployments table that answers each look with the next record of a story (the last one repeats), and
    raises what it is told to at a given look (Ctrl-C arrives while the CLI sleeps between looks)."""

    name = "prod"

    def __init__(self, *records: DeploymentRecord, interrupt_at: int | None = None) -> None:
        self.story, self.looks, self.interrupt_at = list(records), 0, interrupt_at

    def records(self) -> Any:
        story = self

        class Records:
            def get(self, deployment_id: str) -> DeploymentRecord:
                story.looks += 1
                if story.looks == story.interrupt_at:
                    raise KeyboardInterrupt
                return story.story[min(story.looks, len(story.story) - 1)]

        return Records()

    def approvals(self) -> Any:
        class Approvals:
            def get(self, approval_id: str) -> Approval:
                return APPROVAL

        return Approvals()


@pytest.fixture
def terminal(monkeypatch: MonkeyPatch) -> None:
    """An 80-column terminal without colour."""
    monkeypatch.setattr(show, "is_terminal", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")


def shown_lines(out: str) -> list[str]:
    """What a person sees: each printed line, the live line's redraws split apart."""
    return [LIVE_PREFIX.sub("", part) for line in out.split("\n") for part in line.split("\r\x1b[K") if part]


# --- the region: AWS_REGION is honoured, and wins over AWS_DEFAULT_REGION --------------------------------


@pytest.fixture
def no_region(monkeypatch: MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No region anywhere: not in the environment, not in a profile (a config file that does not exist). The
    CLI writes os.environ itself; setting each variable through monkeypatch first makes it put them back."""
    for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(key, "unset")
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    reset_clients()
    yield
    reset_clients()  # the clients cached here carry this test's region


def region_seen(monkeypatch: MonkeyPatch, *argv: str) -> str:
    """The region of the clients a command creates, run through main as the shell runs it."""
    seen: dict[str, str] = {}

    def status(args: argparse.Namespace) -> int:
        seen["region"] = str(client("cloudformation").meta.region_name)
        return 0

    monkeypatch.setattr(follow, "cmd_status", status)
    assert main(["status", *argv]) == 0
    return seen["region"]


@pytest.mark.usefixtures("no_region")
def test_cli_region_aws_region_alone_is_honoured(monkeypatch: MonkeyPatch) -> None:
    # GIVEN only AWS_REGION, as the AWS CLI v2, the SDKs and Lambda set it (botocore reads only AWS_DEFAULT_REGION)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    # WHEN a command creates its clients
    # THEN they are in that region (before: "You must specify a region")
    assert region_seen(monkeypatch) == "eu-west-3"


@pytest.mark.usefixtures("no_region")
def test_cli_region_aws_region_wins_over_aws_default_region(monkeypatch: MonkeyPatch) -> None:
    # GIVEN both variables, naming different regions
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    # WHEN a command creates its clients
    # THEN AWS_REGION wins, as in the AWS CLI v2 and the SDKs
    assert region_seen(monkeypatch) == "eu-west-3"


@pytest.mark.usefixtures("no_region")
def test_cli_region_option_wins_over_both_variables(monkeypatch: MonkeyPatch) -> None:
    # GIVEN both variables
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    # WHEN --region names a third region
    # THEN the option wins
    assert region_seen(monkeypatch, "--region", "ap-south-1") == "ap-south-1"


@pytest.mark.usefixtures("no_region")
def test_cli_region_aws_default_region_alone_still_works(monkeypatch: MonkeyPatch) -> None:
    # GIVEN only AWS_DEFAULT_REGION
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    # WHEN a command creates its clients
    # THEN they are in that region
    assert region_seen(monkeypatch) == "us-west-2"


# --- a closed pipe: `handoff … | head` ends quietly --------------------------------------------------------


@pytest.mark.parametrize(
    "shell",
    ["bash", "tcsh"],
    ids=["larger than the buffer: fails while printing", "within the buffer: fails when flushed at the end"],
)
def test_cli_pipe_closed_by_its_reader_ends_quietly(shell: str) -> None:
    # GIVEN a pipe whose reader has gone (as `head` exits after its lines): every write to it fails with EPIPE
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        # WHEN handoff prints into it
        done = subprocess.run(
            [sys.executable, "-m", "ecs_handoff_cli", "completion", shell],
            stdout=write_end, stderr=subprocess.PIPE, text=True, check=False, timeout=60, cwd=ROOT,
        )  # fmt: skip
    finally:
        os.close(write_end)
    # THEN it says nothing (no "[Errno 32] Broken pipe", no traceback) and exits as a shell reports SIGPIPE
    assert done.stderr == ""
    assert done.returncode == 141


# --- Ctrl-C while following: the deployment carries on -----------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_cli_ctrl_c_in_watch_says_the_deployment_carries_on(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    # GIVEN `handoff watch` following a deployment that rolls out
    rolling = record(Outcome.IN_PROGRESS, Phase.ROLLING_OUT, rollout={"running_count": 1, "desired_count": 2})
    story = Story(rolling, interrupt_at=2)
    monkeypatch.setattr(follow, "find_deployment", lambda *args, **kwargs: (story, rolling))
    # WHEN the operator presses Ctrl-C between two looks
    code = main(["watch", "api-3feb84d5", "--env", "prod", "--interval", "0.001"])
    # THEN it exits 130 and says, in one line, that only the watching stopped and how to follow it again
    captured = capsys.readouterr()
    assert code == 130
    assert captured.out.endswith("\n"), "the live line is ended, not left for the prompt to overwrite"
    assert captured.err == "deployment carries on; follow it again: handoff watch api-3feb84d5 --env prod\n"


# --- lines fit 80 columns ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_cli_watch_lines_awaiting_approval_fit_80_columns(capsys: CaptureFixture[str]) -> None:
    # GIVEN a deployment awaiting one of two approvers, then rolling out and succeeding
    story = Story(
        record(Outcome.AWAITING_APPROVAL, Phase.AWAITING_APPROVAL, approval_id=APPROVAL.approval_id),
        record(Outcome.AWAITING_APPROVAL, Phase.AWAITING_APPROVAL, approval_id=APPROVAL.approval_id),
        record(Outcome.SUCCEEDED, Phase.FINISHED, rollout={"running_count": 2, "desired_count": 2}),
    )
    # WHEN watch follows it on an 80-column terminal
    follow.follow(story, story.story[0], interval=0.001, timeout=10, quiet=False)  # type: ignore[arg-type]
    lines = shown_lines(capsys.readouterr().out)
    # THEN every line fits, the approval's included, and nothing of the approval line is cut
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    assert f"          approval {APPROVAL.approval_id}, expires 12-06 05:05 UTC" in lines


# --- a held deployment: the deploy-now hint ----------------------------------------------------------------


@pytest.mark.usefixtures("terminal")
def test_cli_watch_held_deployment_shows_the_deploy_now_command(capsys: CaptureFixture[str]) -> None:
    # GIVEN a deployment the change calendar holds, which later succeeds
    story = Story(HELD, HELD, record(Outcome.SUCCEEDED, Phase.FINISHED))
    # WHEN watch follows it
    follow.follow(story, HELD, interval=0.001, timeout=10, quiet=False)  # type: ignore[arg-type]
    lines = shown_lines(capsys.readouterr().out)
    # THEN under what holds it, once: the command that starts it now, within 80 columns
    hint = "          start now: handoff deploy-now api-3feb84d5 --env prod --reason '<why>'"
    assert lines.count(hint) == 1 and len(hint) <= 80
    assert any("IN_PROGRESS       waiting_for_window: the change calendar" in line for line in lines)


def test_cli_status_held_deployment_shows_the_deploy_now_command() -> None:
    # GIVEN a service whose deployment in flight a window holds
    status = follow.ServiceStatus("api", in_flight=HELD)
    # WHEN status describes it
    lines = follow._details(status, "prod")
    # THEN the command that starts it now follows what holds it
    assert lines == [
        "    api-3feb84d5: waiting_for_window: the change calendar prod-freeze is CLOSED until 2027-01-04",
        "    start now: handoff deploy-now api-3feb84d5 --env prod --reason '<why>'",
    ]


@pytest.mark.parametrize(
    "deployment",
    [
        record(Outcome.IN_PROGRESS, Phase.ROLLING_OUT),
        HELD.model_copy(update={"override": {"principal": "arn:aws:iam::1:user/erin", "reason": "INC-7"}}),
        HELD.model_copy(update={"outcome": Outcome.EXPIRED}),
    ],
    ids=["rolling out", "deploy-now recorded", "ended"],
)
def test_cli_status_no_deploy_now_hint_unless_held(deployment: DeploymentRecord) -> None:
    # GIVEN a deployment no release control holds now
    # WHEN status describes it
    lines = follow._details(follow.ServiceStatus("api", in_flight=deployment), "prod")
    # THEN it offers no deploy-now
    assert not any("deploy-now" in line for line in lines)


# --- the files upload takes ----------------------------------------------------------------------------------

IMAGES = [{"name": "app-container", "imageUri": "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api:dev-4f2a9c1"}]


def test_cli_upload_reads_the_zip_ci_uploads(tmp_path: Path) -> None:
    # GIVEN imagedefinitions.json.zip as CI builds it
    raw = json.dumps(IMAGES).encode()
    path = tmp_path / "good.zip"
    path.write_bytes(build_artifact(raw)[0])
    # WHEN upload reads the file it is given
    # THEN it deploys the imagedefinitions.json inside (before: "not valid UTF-8 (byte 12)")
    assert release._read_file(str(path)) == raw


def test_cli_upload_a_zip_the_intake_would_refuse_says_why(tmp_path: Path) -> None:
    # GIVEN a zip that holds the file in a folder (zipped the folder, not the file)
    path = tmp_path / "folder.zip"
    path.write_bytes(zip_members({"build/imagedefinitions.json": json.dumps(IMAGES)}))
    # WHEN upload reads it
    with pytest.raises(UsageError) as refused:
        release._read_file(str(path))
    # THEN the intake's own reason is given
    assert "must be at the root of the zip" in str(refused.value)


def test_cli_upload_a_file_that_is_not_json_says_what_upload_takes() -> None:
    # GIVEN a file that is neither JSON nor a zip (an image, a binary)
    # WHEN upload checks it
    with pytest.raises(UsageError) as refused:
        release.plan(None, "api", None, b"\x89PNG\r\n\x1a\n", "logo.png")  # type: ignore[arg-type]
    # THEN it says what it takes
    assert "logo.png: imagedefinitions.json is not valid UTF-8 (byte 0)" in str(refused.value)
    assert str(refused.value).endswith(release.TAKES)


# --- --print-ci says what handoff knows ------------------------------------------------------------------------

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"


def test_cli_print_ci_fills_in_the_containers_region_and_repositories() -> None:
    # GIVEN a service whose two containers CI sets, their base images in this account's ECR
    target = CiTarget(
        "dev", "dev-ecsdef-123456789012", "api", "ap-northeast-1", "123456789012",
        {"app-container": f"{ECR}/api:dev-0a1b2c3", "nginx-container": f"{ECR}/api-nginx@sha256:{'a' * 64}"},
    )  # fmt: skip
    # WHEN --print-ci prints the CI step
    printed = print_ci(target)
    # THEN the step names each container, one variable each, and the upload's region
    assert printed.splitlines()[:6] == [
        "# in CI, after pushing the images (tagged dev-<commit>),",
        "# with $APP_CONTAINER_IMAGE, $NGINX_CONTAINER_IMAGE set to their URI:",
        'printf \'[{"name":"app-container","imageUri":"%s"},{"name":"nginx-container","imageUri":"%s"}]\' \\',
        '  "$APP_CONTAINER_IMAGE" "$NGINX_CONTAINER_IMAGE" > imagedefinitions.json',
        "zip -X imagedefinitions.json.zip imagedefinitions.json",
        "aws s3 cp imagedefinitions.json.zip s3://dev-ecsdef-123456789012/api/imagedefinitions.json.zip "
        "--region ap-northeast-1",
    ]
    # AND the policy names the two repositories, no placeholder left
    policy = json.loads(printed.split("permissions):\n", 1)[1])
    assert policy["Statement"][1]["Resource"] == [
        "arn:aws:ecr:ap-northeast-1:123456789012:repository/api",
        "arn:aws:ecr:ap-northeast-1:123456789012:repository/api-nginx",
    ]
    assert "<" not in printed.replace("<commit>", "")


def test_cli_print_ci_one_container_outside_ecr_keeps_one_variable_and_a_placeholder_repository() -> None:
    # GIVEN one container whose base image is on Docker Hub (CI pushes somewhere handoff cannot name)
    target = CiTarget("prod", "prod-ecsdef-1", "web", "eu-west-1", "210987654321", {"web": "nginx:1.27"})
    # WHEN --print-ci prints the CI step
    printed = print_ci(target)
    # THEN one $IMAGE_URI, and the repository left for the reader to fill in, in this account and region
    assert '  "$IMAGE_URI" > imagedefinitions.json' in printed
    assert '"Resource": "arn:aws:ecr:eu-west-1:210987654321:repository/<repository>"' in printed
