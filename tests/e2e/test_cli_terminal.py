"""The CLI's messages where it meets the operator's mistakes, against the embedded AWS: a wrong --env, a broken
registry entry, the zip CI uploads given to `upload`, current metadata that is not a zip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ecs_handoff.models import Outcome, execution_name
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact
from ecs_handoff_embedded.seed import SAMPLE_IMAGES, bucket_name
from pytest import CaptureFixture


def test_cli_wrong_env_lists_the_environments_that_exist(
    world: World, embedded: EmbeddedAws, capsys: CaptureFixture[str]
) -> None:
    # GIVEN an account and region with handoff's environments
    existing = ", ".join(sorted(embedded.stacks))
    # WHEN the operator mistypes one
    code = main(["history", "--env", "dve"])
    # THEN it is not found (exit 3), in one line that names the region and the environments there are
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert err.startswith("handoff: error: environment 'dve' has no stack handoff-dve in this account and region (")
    assert err.endswith(f"; environments here: {existing}\n")


def test_cli_malformed_registry_entry_is_a_configuration_error(
    world: World, registry: Any, capsys: CaptureFixture[str]
) -> None:
    # GIVEN a registry entry Terraform wrote wrong (a bake without the alarms it watches: a whole-entry rule)
    registry("dev", "worker", bake_seconds=60)
    # WHEN the operator asks for the service's status
    code = main(["status", "--env", "dev", "--service", "worker"])
    # THEN it is a configuration error (exit 2, not 3 "not found"), said without pydantic's words
    err = capsys.readouterr().err
    assert code == 2, err
    assert err == (
        "handoff: error: the registry entry /handoff/dev/services/worker is malformed: bake_seconds watches "
        "blocking_alarms: name at least one alarm (Terraform writes it; `handoff doctor --env dev` checks every "
        "entry)\n"
    )


def test_cli_upload_takes_the_zip_ci_uploads(world: World, tmp_path: Path, capsys: CaptureFixture[str]) -> None:
    # GIVEN the imagedefinitions.json.zip CI would upload, its images in ECR
    body = artifact(SAMPLE_IMAGES)
    world.push(body)
    (tmp_path / "good.zip").write_bytes(body)
    # WHEN the operator gives it to upload
    code = main(["upload", str(tmp_path / "good.zip"), "--env", "dev", "--service", "api", "--dry-run"])
    # THEN the intake's checks run on the imagedefinitions.json inside (before: "not valid UTF-8 (byte 12)")
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.endswith(f"dry run: {tmp_path / 'good.zip'} passes the intake's checks; nothing uploaded\n")


def test_cli_print_ci_names_the_services_containers_region_and_repositories(
    world: World, capsys: CaptureFixture[str]
) -> None:
    # GIVEN dev's api, whose base task definition has two containers from this account's ECR
    # WHEN the operator asks for the CI step
    assert main(["upload", "--env", "dev", "--service", "api", "--print-ci"]) == 0
    out = capsys.readouterr().out
    # THEN it names them, the region, and the two repositories (before: <container>, <region>, <repository>)
    assert 'printf \'[{"name":"app-container","imageUri":"%s"},{"name":"nginx-container","imageUri":"%s"}]\'' in out
    assert f"s3://{bucket_name('dev')}/api/imagedefinitions.json.zip --region ap-northeast-1\n" in out
    assert "arn:aws:ecr:ap-northeast-1:123456789012:repository/api-nginx" in out
    assert "<" not in out.replace("<commit>", "")


def test_cli_rerun_of_metadata_that_is_not_a_zip_names_the_object_and_what_to_do(
    world: World, capsys: CaptureFixture[str]
) -> None:
    # GIVEN current metadata that someone uploaded unzipped (the intake records it INVALID)
    key = "worker/imagedefinitions.json.zip"
    version = world.s3.put_object(Bucket=bucket_name("dev"), Key=key, Body=b'[{"name": "app"}]')["VersionId"]
    try:
        # WHEN the operator reruns the current metadata
        code = main(["rerun", "--env", "dev", "--service", "worker"])
        # THEN it is refused (exit 1) with the object, its version, the intake's reason and the next step
        err = capsys.readouterr().err
        assert code == 1, err
        assert f"s3://{bucket_name('dev')}/{key} (version {version}) is not metadata the intake takes" in err
        assert "the object is not a readable zip archive" in err
        assert err.endswith("upload good metadata with `handoff upload FILE --env dev --service worker`\n")
    finally:
        # once the intake has refused it, the version goes, and the metadata before it is current again
        assert world.wait("dev", execution_name("worker", version)).outcome is Outcome.INVALID
        world.s3.delete_object(Bucket=bucket_name("dev"), Key=key, VersionId=version)


@pytest.fixture(autouse=True)
def _columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
