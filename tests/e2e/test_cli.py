"""`handoff history` against the embedded AWS, found through the stack's outputs like in AWS."""

from __future__ import annotations

import json

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.world import push_image

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


def write_images(tmp_path, tag: str, container: str = "app") -> str:
    """An imagedefinitions.json for the worker, its image pushed to ECR as CI would."""
    import boto3

    path = tmp_path / f"imagedefinitions-{tag}.json"
    path.write_text(json.dumps([{"name": container, "imageUri": image("worker", tag)}]))
    push_image(boto3.client("ecr"), image("worker", tag))  # AWS_ENDPOINT_URL points at the embedded AWS
    return str(path)


def test_cli_upload_watch_status_history(world: World, tmp_path, capsys: pytest.CaptureFixture[str]):
    # upload as CI would
    assert main(["upload", write_images(tmp_path, "dev-cli0001"), "--env", "dev", "--service", "worker", "--json"]) == 0
    uploaded = json.loads(capsys.readouterr().out)
    # watch follows it to the end; exit 0 because it SUCCEEDED
    assert main(["watch", uploaded["deployment_id"], "--env", "dev", "--interval", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "SUCCEEDED" in out and "s  " in out
    # status shows the running images and the last outcome
    assert main(["status", "--env", "dev", "--service", "worker", "--json"]) == 0
    [status] = json.loads(capsys.readouterr().out)["dev"]
    assert status["running_images"]["app"] == world.pinned(image("worker", "dev-cli0001"))
    assert status["last"]["id"] == uploaded["deployment_id"] and status["in_flight"] is None
    # history has it first
    assert main(["history", "--env", "dev", "--service", "worker", "--json", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == uploaded["deployment_id"]


def test_cli_watch_exits_1_on_failure(world: World, tmp_path, capsys: pytest.CaptureFixture[str]):
    assert (
        main(["upload", write_images(tmp_path, "fail-cli0002"), "--env", "dev", "--service", "worker", "--json"]) == 0
    )
    deployment_id = json.loads(capsys.readouterr().out)["deployment_id"]
    assert main(["watch", deployment_id, "--interval", "0.1"]) == 1
    assert "FAILED: ECS reports the rollout FAILED" in capsys.readouterr().out


def test_cli_rollback_returns_the_previous_images(world: World, tmp_path, capsys: pytest.CaptureFixture[str]):
    for tag in ("dev-roll0001", "dev-roll0002"):
        assert main(["upload", write_images(tmp_path, tag), "--env", "dev", "--service", "worker", "--json"]) == 0
        assert world.wait("dev", json.loads(capsys.readouterr().out)["deployment_id"]).outcome is Outcome.SUCCEEDED
    assert main(["rollback", "--env", "dev", "--service", "worker", "--json"]) == 0
    record = world.wait("dev", json.loads(capsys.readouterr().out)["deployment_id"])
    assert record.outcome is Outcome.SUCCEEDED
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-roll0001"))


def test_cli_rerun_makes_exactly_one_more_deployment(world: World, capsys: pytest.CaptureFixture[str]):
    before = world.records("dev").history("dev", "worker", 200)
    assert main(["rerun", "--env", "dev", "--service", "worker", "--json"]) == 0
    deployment_id = json.loads(capsys.readouterr().out)["deployment_id"]
    assert world.wait("dev", deployment_id).outcome is Outcome.SUCCEEDED
    assert world.aws.wait_idle()
    after = world.records("dev").history("dev", "worker", 200)
    assert len(after) == len(before) + 1 and after[0].id == deployment_id


def test_cli_rollback_with_nothing_to_roll_back_to_is_refused(world: World, capsys: pytest.CaptureFixture[str]):
    assert main(["rollback", "--env", "prod", "--service", "worker"]) == 1
    assert "refused" in capsys.readouterr().err


def test_cli_diff_and_bad_input(world: World, tmp_path, capsys: pytest.CaptureFixture[str]):
    assert main(["diff", write_images(tmp_path, "dev-diff0001"), "--env", "dev", "--service", "worker", "--json"]) == 0
    containers = {c["container"]: c for c in json.loads(capsys.readouterr().out)["containers"]}
    assert containers["app"]["change"] == "changes" and containers["log-router"]["change"] == "unchanged"
    assert main(["diff", write_images(tmp_path, "x", container="nginx"), "--env", "dev", "--service", "worker"]) == 1
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "app", "imageUri": "api:${SHA}"}]')
    assert main(["upload", str(bad), "--env", "dev", "--service", "worker"]) == 2
    assert "unresolved placeholder" in capsys.readouterr().err
    assert main(["upload", str(bad), "--env", "dev", "--service", "billing"]) == 3
    assert main(["status", "--env", "qa"]) == 3


def test_cli_print_ci_shows_the_minimal_policy(world: World, capsys: pytest.CaptureFixture[str]):
    assert main(["upload", "--env", "dev", "--service", "api", "--print-ci"]) == 0
    out = capsys.readouterr().out
    assert "aws s3 cp imagedefinitions.json.zip s3://dev-ecsdef-123456789012/api/imagedefinitions.json.zip" in out
    assert '"Resource": "arn:aws:s3:::dev-ecsdef-123456789012/api/imagedefinitions.json.zip"' in out
