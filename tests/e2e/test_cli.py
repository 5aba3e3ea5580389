"""`handoff history` against the embedded AWS, found through the stack's outputs like in AWS."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import push_image

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


def test_cli_history_json_lists_newest_first_with_contract_fields(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_cli_history_table_for_whole_environment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-d2d2d2d")})))
    assert main(["history", "--env", "dev", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "worker" in out


def test_cli_unknown_env_is_exit_3_with_one_line(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--env", "qa"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("handoff: error: environment 'qa' has no stack handoff-qa") and err.count("\n") == 1


def test_cli_unknown_service_is_exit_3(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--env", "dev", "--service", "billing"]) == 3
    assert "service 'billing' is not registered in dev; registered: api, web, worker" in capsys.readouterr().err


def test_cli_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["history"])
    assert info.value.code == 2


def write_images(tmp_path: Path, tag: str, container: str = "app") -> str:
    """An imagedefinitions.json for the worker, its image pushed to ECR as CI would."""
    import boto3

    path = tmp_path / f"imagedefinitions-{tag}.json"
    path.write_text(json.dumps([{"name": container, "imageUri": image("worker", tag)}]))
    push_image(boto3.client("ecr"), image("worker", tag))  # AWS_ENDPOINT_URL points at the embedded AWS
    return str(path)


def test_cli_upload_watch_status_history(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # upload as CI would, and return at once
    path = write_images(tmp_path, "dev-cli0001")
    assert main(["upload", path, "--env", "dev", "--service", "worker", "--json", "--no-wait"]) == 0
    uploaded = json.loads(capsys.readouterr().out)
    # watch follows it to the end; exit 0 because it SUCCEEDED; the last state line has the final task counts
    assert main(["watch", uploaded["deployment_id"], "--env", "dev", "--interval", "0.1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "SUCCEEDED" in out[-2] and "finished tasks 1/1 running" in out[-2]
    assert out[-1] in {
        "SUCCEEDED: the ECS rollout of this deployment COMPLETED [ECS's event decided]",
        "SUCCEEDED: the ECS rollout of this deployment COMPLETED [handoff's look decided]",  # the event came first
    }
    # status shows the running images and the last outcome
    assert main(["status", "--env", "dev", "--service", "worker", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)["dev"]
    assert status["running_images"]["app"] == world.pinned(image("worker", "dev-cli0001"))
    assert status["last"]["id"] == uploaded["deployment_id"] and status["in_flight"] is None
    # history has it first
    assert main(["history", "--env", "dev", "--service", "worker", "--json", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == uploaded["deployment_id"]


def test_cli_watch_exits_1_on_failure(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # upload follows the deployment by default, like watch: exit 1, the final record as JSON
    path = write_images(tmp_path, "fail-cli0002")
    assert main(["upload", path, "--env", "dev", "--service", "worker", "--json", "--interval", "0.1"]) == 1
    said = json.loads(capsys.readouterr().out)
    assert said["outcome"] == "FAILED" and said["upload"]["deployment_id"] == said["id"]
    assert main(["watch", said["id"], "--interval", "0.1"]) == 1
    assert "FAILED: ECS reports the rollout FAILED" in capsys.readouterr().out


def test_cli_rollback_returns_the_previous_images(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for tag in ("dev-roll0001", "dev-roll0002"):
        assert main(["upload", write_images(tmp_path, tag), "--env", "dev", "--service", "worker", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["outcome"] == "SUCCEEDED"
    assert main(["rollback", "--env", "dev", "--service", "worker", "--json"]) == 0
    record = world.wait("dev", json.loads(capsys.readouterr().out)["id"])
    assert record.outcome is Outcome.SUCCEEDED
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-roll0001"))


def test_cli_rerun_makes_exactly_one_more_deployment(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    before = world.records("dev").history("dev", "worker", 200)
    assert main(["rerun", "--env", "dev", "--service", "worker", "--json", "--no-wait"]) == 0
    deployment_id = json.loads(capsys.readouterr().out)["deployment_id"]
    assert world.wait("dev", deployment_id).outcome is Outcome.SUCCEEDED
    assert world.aws.wait_idle()
    after = world.records("dev").history("dev", "worker", 200)
    assert len(after) == len(before) + 1 and after[0].id == deployment_id


def test_cli_rollback_with_nothing_to_roll_back_to_is_refused(
    world: World, new_service: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a service Terraform just added, which handoff has never deployed (whatever other tests did before)
    original = image("untouched", "terraform-1")
    world.push(artifact({"app": original}))
    new_service("dev", "untouched", original)
    # THEN there is no deployment of handoff's to roll back: refused, nothing uploaded
    assert main(["rollback", "--env", "dev", "--service", "untouched", "--no-wait"]) == 1
    assert "refuse" in capsys.readouterr().err
    assert world.records("dev").history("dev", "untouched", 1) == []


def test_cli_diff_and_bad_input(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", write_images(tmp_path, "dev-diff0001"), "--env", "dev", "--service", "worker", "--json"]) == 0
    containers = {c["container"]: c for c in json.loads(capsys.readouterr().out)["containers"]}
    assert containers["app"]["change"] == "changes" and containers["log-router"]["change"] == "unchanged"
    assert main(["diff", write_images(tmp_path, "x", container="nginx"), "--env", "dev", "--service", "worker"]) == 1
    assert "the intake would refuse it: container 'nginx' is not" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "app", "imageUri": "api:${SHA}"}]')
    assert main(["upload", str(bad), "--env", "dev", "--service", "worker"]) == 2
    assert "unresolved placeholder" in capsys.readouterr().err
    assert main(["upload", str(bad), "--env", "dev", "--service", "billing"]) == 3
    assert main(["status", "--env", "qa"]) == 3


def test_cli_print_ci_shows_the_minimal_policy(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["upload", "--env", "dev", "--service", "api", "--print-ci"]) == 0
    out = capsys.readouterr().out
    assert "aws s3 cp imagedefinitions.json.zip s3://dev-ecsdef-123456789012/api/imagedefinitions.json.zip" in out
    assert '"Resource": "arn:aws:s3:::dev-ecsdef-123456789012/api/imagedefinitions.json.zip"' in out


# --- the operator at 80 columns and at 3 a.m. (each numbered item of the CLI review) ---


def test_history_is_one_line_per_deployment_at_80_columns(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN deployments with long image references and a refusal with a long reason
    long_tag = "dev-" + "0123456789abcdef" * 4
    world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", long_tag)})))
    world.wait("dev", world.upload("dev", "api", artifact({"nginx": image("nginx", "1")})))
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    # WHEN history is printed at 80 columns
    assert main(["history", "--env", "dev", "--limit", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN a header and one line per deployment, none wider than 80, each starting with the short id (a refused
    # one has the intake's reason on an indented line under it)
    rows = [line for line in lines if not line.startswith(" ")]
    shown = len(world.records("dev").history("dev", None, 5))  # 5, or fewer when this test runs alone
    assert len(rows) == 1 + shown and all(len(line) <= 80 for line in lines), lines
    assert any(line.startswith("    refused: ") for line in lines), lines
    assert lines[0].split()[:4] == ["ID", "STARTED", "SERVICE", "OUTCOME"]
    newest = world.records("dev").history("dev", None, 1)[0]
    assert lines[1].startswith(f"api-{newest.id.removeprefix('api-')[:8]} ")
    assert "INVALID" in lines[1] and "…" in "".join(lines)
    # AND --wide has everything: the full id and the whole reason
    assert main(["history", "--env", "dev", "--limit", "1", "--wide"]) == 0
    wide = capsys.readouterr().out.splitlines()
    assert newest.id in wide[1] and newest.reason in wide[1]
    # AND the short id is enough for watch
    assert main(["watch", lines[1].split()[0], "--env", "dev", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["id"] == newest.id


def test_status_and_watch_show_whom_a_prod_deployment_waits_for(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment_id = world.upload("prod", "api", artifact({"app-container": image("api", "prod-wait0001")}))
    record = world.wait_phase("prod", deployment_id, "awaiting_approval")
    monkeypatch.setenv("COLUMNS", "80")
    capsys.readouterr()
    assert main(["status", "--env", "prod"]) == 0
    out = capsys.readouterr().out
    short = f"api-{deployment_id.removeprefix('api-')[:8]}"
    assert f"{short}: waits for 1 approval of alice@example.com, bob@example.com" in out
    assert f"    approval {record.approval_id}, expires " in out
    assert f"    decide: handoff approve|reject {short} --env prod" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert main(["status", "--env", "prod", "--service", "api", "--json"]) == 0
    [api] = json.loads(capsys.readouterr().out)["prod"]
    assert api["approval"]["approval_id"] == record.approval_id and "task_token" not in api["approval"]
    # watch says the same, with the approval id, and stops at its timeout (exit 1, nothing decided)
    assert main(["watch", short, "--env", "prod", "--timeout", "0.5", "--interval", "0.2"]) == 1
    out = capsys.readouterr().out
    assert (
        f"          approval {record.approval_id}, expires" in out
        and "waits for 1 approval of alice@example.com" in out
    )
    # the short id decides it too
    assert main(["reject", short, "--env", "prod", "--comment", "test over"]) == 0
    assert capsys.readouterr().out.startswith(f"rejected api in prod (deployment {deployment_id})")
    assert world.wait("prod", deployment_id).outcome is Outcome.REJECTED


def test_upload_refuses_what_the_intake_would_and_uploads_nothing(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = world.aws.client("s3")
    bucket, key = "dev-ecsdef-123456789012", "worker/imagedefinitions.json.zip"

    def versions() -> int:
        return len(s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []))

    before = versions()
    # a container the task definition lacks: refused before upload, exit 2, the current metadata unchanged
    assert main(["upload", write_images(tmp_path, "x1", container="nginx"), "--env", "dev", "--service", "worker"]) == 2
    err = capsys.readouterr().err
    assert "the intake would refuse it, so nothing was uploaded" in err and "'nginx'" in err
    # an image that is not in ECR
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps([{"name": "app", "imageUri": image("worker", "never-pushed")}]))
    assert main(["upload", str(missing), "--env", "dev", "--service", "worker"]) == 2
    assert "never-pushed" in capsys.readouterr().err
    # an image from a registry the service may not use
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps([{"name": "app", "imageUri": "docker.io/library/nginx:1.27"}]))
    assert main(["upload", str(foreign), "--env", "dev", "--service", "worker"]) == 2
    assert "which worker may not use" in capsys.readouterr().err
    # --dry-run: the checks pass, the plan is printed, nothing is uploaded
    assert (
        main(["upload", write_images(tmp_path, "dev-dry0001"), "--env", "dev", "--service", "worker", "--dry-run"]) == 0
    )
    out = capsys.readouterr().out
    assert "~ app:" in out and "dev-dry0001" in out and "nothing uploaded" in out
    assert versions() == before


def test_watch_of_an_unknown_id_fails_at_once(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    # an id no upload carries is refused without waiting for an intake (the wait would be 30 s)
    assert main(["watch", "api-typo1234", "--env", "dev", "--wait-for-intake", "600"]) == 3
    assert "deployment 'api-typo1234' not found in dev: no record and no upload of that id" in capsys.readouterr().err
    assert main(["watch", "typo-id"]) == 3
    assert "not found in any environment" in capsys.readouterr().err


def test_unrelated_handoff_stacks_do_not_break_status(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    cloudformation = world.aws.client("cloudformation")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"Name": {"Value": "x"}}}
    cloudformation.create_stack(StackName="handoff-website", TemplateBody=json.dumps(template))
    try:
        assert main(["status", "--json"]) == 0
        assert set(json.loads(capsys.readouterr().out)) == set(world.aws.envs)
        assert main(["status", "--env", "website"]) == 3
        assert "stack handoff-website is not a handoff environment" in capsys.readouterr().err
    finally:
        cloudformation.delete_stack(StackName="handoff-website")


def test_first_deployment_rolls_back_to_the_revision_before_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecs_handoff_embedded.seed import add_simple_service

    # GIVEN a service Terraform just added, running its own revision, and handoff's first deployment of it
    original = image("first", "terraform-1")
    world.push(artifact({"app": original}))
    add_simple_service(world.aws.session(), "dev", "first", original)
    try:
        before = world.running("dev", "first")["task_definition"]
        world.push(artifact({"app": image("first", "dev-new0001")}))
        first = world.wait("dev", world.upload("dev", "first", artifact({"app": image("first", "dev-new0001")})))
        assert first.outcome is Outcome.SUCCEEDED and first.previous_task_definition == before
        capsys.readouterr()
        # WHEN it is rolled back
        assert main(["rollback", "--env", "dev", "--service", "first", "--interval", "0.1"]) == 0
        out = capsys.readouterr().out
        # THEN the images of the revision that ran before go onto Terraform's base, through the normal path
        assert "back to dev-first:1, the revision that ran before handoff's first deployment" in out
        assert world.running("dev", "first")["images"]["app"] == world.pinned(original)
        latest = world.records("dev").history("dev", "first", 1)[0]
        assert latest.outcome is Outcome.SUCCEEDED and latest.source is not None
        assert latest.source.ci is not None and latest.source.ci.summary == "rollback to dev-first:1"
    finally:
        world.aws.client("ssm").delete_parameter(Name="/handoff/dev/services/first")


@pytest.fixture
def aws_environment() -> Iterator[None]:
    """--profile and --region change this process's AWS variables: put them all back after the test."""
    import os

    from ecs_handoff.aws.clients import reset_clients

    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    yield
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(saved)
    reset_clients()


def test_command_line_habits(world: World, capsys: pytest.CaptureFixture[str], aws_environment: None) -> None:
    from ecs_handoff_cli.parser import build_parser

    # --limit 0 is a usage error, not "no deployments"
    with pytest.raises(SystemExit) as info:
        main(["history", "--env", "dev", "--limit", "0"])
    assert info.value.code == 2 and "must be at least 1" in capsys.readouterr().err
    # --version
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("handoff ")
    # every flag of every command has help text
    parser = build_parser()
    undocumented = []
    for name, sub in _subcommands(parser):
        for action in sub._actions:
            if action.option_strings and not action.help:
                undocumented.append(f"{name} {action.option_strings[0]}")
    assert undocumented == []
    # shell completion comes from the same parser
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "history" in script and "--wide" in script and "--no-wait" in script
    # --region: the stacks are in ap-northeast-1, so another region has none
    assert main(["history", "--env", "dev", "--region", "us-west-2"]) == 3
    assert "environment 'dev' has no stack handoff-dev in this account and region" in capsys.readouterr().err
    # a profile that does not exist is an AWS access error, said in one line
    assert main(["status", "--env", "dev", "--profile", "no-such-profile"]) == 4
    assert "no-such-profile" in capsys.readouterr().err


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str = "handoff"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subcommands(sub, f"{prefix} {name}")
