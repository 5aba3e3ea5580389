"""The release commands by digest, against the embedded AWS: `diff` and `upload --dry-run` compare what the
intake would deploy (each tag pinned to its digest) with what runs; `rollback` and `rerun` deploy exactly the
digests an earlier deployment ran, whatever its tags point at now; the commit an upload attaches comes from
CI's environment or the flags, never from the folder it runs in; the seeded base images are in ECR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ecs_handoff.models import Outcome
from ecs_handoff_cli.main import main
from ecs_handoff_embedded.scenario import World, image
from ecs_handoff_embedded.seed import ECR, bucket_name, push_image, seed_services

# what says "this runs in CI, building this commit" in the CIs docs/cli.md lists
CI_VARIABLES = (
    *("GITHUB_ACTIONS", "GITHUB_SHA", "GITLAB_CI", "CI_COMMIT_SHA", "CODEBUILD_BUILD_ID"),
    *("CODEBUILD_RESOLVED_SOURCE_VERSION", "BUILDKITE", "BUILDKITE_COMMIT", "CIRCLECI", "CIRCLE_SHA1"),
    *("JENKINS_URL", "GIT_COMMIT"),
)
WATCH = ["--env", "dev", "--service", "worker", "--interval", "0.1"]


def images_file(tmp_path: Path, tag: str) -> str:
    """imagedefinitions.json for the worker's app, its image pushed to ECR as CI would."""
    path = tmp_path / f"{tag}.json"
    path.write_text(json.dumps([{"name": "app", "imageUri": image("worker", tag)}]))
    return str(path)


def deploy(world: World, path: str, capsys: pytest.CaptureFixture[str]) -> None:
    push_image(world.ecr_client, json.loads(Path(path).read_text())[0]["imageUri"])
    assert main(["upload", path, *WATCH, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "SUCCEEDED"


def digest(world: World, tag: str) -> str:
    return world.pinned(image("worker", tag)).split("@", 1)[1]


def push_again(world: World, tag: str) -> str:
    """Another build pushed as worker:tag, as CI does when it rebuilds a commit: the tag moves to the new
    image. In ECR the old image stays, untagged; moto deletes an image whose only tag moves, so it keeps
    a second tag here (as CI's build-number tag would)."""
    ecr = world.ecr_client
    [old] = ecr.batch_get_image(repositoryName="worker", imageIds=[{"imageTag": tag}])["images"]
    ecr.put_image(repositoryName="worker", imageManifest=old["imageManifest"], imageTag=f"{tag}-first-build")
    rebuilt = push_image(ecr, image("worker", tag), build="rebuilt")
    assert rebuilt is not None and rebuilt != old["imageId"]["imageDigest"]
    return rebuilt


def test_diff_of_a_tag_of_the_running_digest_says_unchanged(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the whole line (at 80 columns it is cut before its [change])
    # GIVEN the worker running dev-same0001, by its digest
    path = images_file(tmp_path, "dev-same0001")
    deploy(world, path, capsys)
    pinned = world.pinned(image("worker", "dev-same0001"))
    assert world.running("dev", "worker")["images"]["app"] == pinned
    # WHEN the same tag is diffed: THEN unchanged, the tag named with the digest it resolves to
    assert main(["diff", path, "--env", "dev", "--service", "worker", "--json"]) == 0
    [app] = [c for c in json.loads(capsys.readouterr().out)["containers"] if c["container"] == "app"]
    assert app == {
        "container": "app",
        "running": pinned,
        "proposed": pinned,
        "requested": image("worker", "dev-same0001"),
        "change": "unchanged",
    }
    assert main(["upload", path, "--env", "dev", "--service", "worker", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "  = app: worker@sha256:" in out and "(= worker:dev-same0001), as running  [unchanged]" in out
    assert "[changes" not in out
    # AND history agrees: a rerun of it changes no image
    assert main(["rerun", *WATCH, "--json"]) == 0
    rerun = json.loads(capsys.readouterr().out)
    assert rerun["outcome"] == "SUCCEEDED" and rerun["images"] == []
    assert main(["history", "--env", "dev", "--service", "worker", "--limit", "1"]) == 0
    assert "(same images)" in capsys.readouterr().out


def test_rollback_and_rerun_deploy_the_digests_that_ran_not_what_tags_point_at_now(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN dev-dig0001 then dev-dig0002 deployed, and then dev-dig0001 pushed again (another build)
    deploy(world, images_file(tmp_path, "dev-dig0001"), capsys)
    ran = digest(world, "dev-dig0001")
    deploy(world, images_file(tmp_path, "dev-dig0002"), capsys)
    push_again(world, "dev-dig0001")
    # WHEN rolled back
    assert main(["rollback", *WATCH]) == 0
    out = capsys.readouterr().out
    # THEN it runs the digest dev-dig0001's deployment ran, shown as such, not the tag's new content
    assert f"  app: worker@{ran[:19]}… (was tag dev-dig0001)" in out
    assert world.running("dev", "worker")["images"]["app"] == f"{ECR}/worker@{ran}"
    # GIVEN dev-dig0003 deployed, and then pushed again
    deploy(world, images_file(tmp_path, "dev-dig0003"), capsys)
    ran3 = digest(world, "dev-dig0003")
    push_again(world, "dev-dig0003")
    # WHEN rerun: THEN the same digest runs again (no image changes), shown as such
    assert main(["rerun", *WATCH]) == 0
    out = capsys.readouterr().out
    assert f"  app: worker@{ran3[:19]}… (was tag dev-dig0003)" in out
    assert world.running("dev", "worker")["images"]["app"] == f"{ECR}/worker@{ran3}"
    rerun = world.records("dev").history("dev", "worker", 1)[0]
    assert rerun.outcome is Outcome.SUCCEEDED and rerun.images == []
    # WHEN rolled back after the rerun: THEN back to the rollback's digest (not the rerun's twin), said once
    assert main(["rollback", *WATCH]) == 0
    out = capsys.readouterr().out
    assert "((" not in out and "(same images)" not in out
    assert world.running("dev", "worker")["images"]["app"] == f"{ECR}/worker@{ran}"


@pytest.fixture
def outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CI's variables (the tests may run in one), in a folder with a git history of its own."""
    import subprocess

    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "checkout"
    folder.mkdir()
    (folder / "README").write_text("not what is deployed\n")
    identity = ["-c", "user.name=someone", "-c", "user.email=someone@example.com"]
    for command in (["init", "-q"], ["add", "README"], [*identity, "commit", "-q", "-m", "Unrelated work"]):
        subprocess.run(["git", *command], cwd=folder, check=True, capture_output=True)
    monkeypatch.chdir(folder)


def test_upload_says_only_what_ci_or_the_flags_say_about_the_commit(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str], outside_ci: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = world.aws.client("s3")

    def metadata(args: list[str]) -> dict[str, str]:
        assert main(["upload", images_file(tmp_path, "dev-meta0001"), *args, *WATCH, "--json", "--no-wait"]) == 0
        uploaded = json.loads(capsys.readouterr().out)
        head = s3.head_object(Bucket=bucket_name("dev"), Key=uploaded["key"], VersionId=uploaded["object_version"])
        world.wait("dev", uploaded["deployment_id"])
        return dict(head["Metadata"])

    push_image(world.ecr_client, image("worker", "dev-meta0001"))
    # outside CI, in a git repository: no commit, no summary (the folder's history is not what is deployed)
    assert set(metadata([])) == {"uploader"}
    # in GitHub Actions: its commit and run
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_SHA", "4f2a9c1" + "e" * 33)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/worker")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    said = metadata(["--summary", "Fix the checkout"])
    assert said["commit"] == "4f2a9c1" + "e" * 33
    assert said["url"] == "https://github.com/acme/worker/actions/runs/42"
    assert said["codepipeline-artifact-revision-summary"] == "Fix the checkout"
    # the flag names another commit: it wins
    assert metadata(["--commit", "0ddba11"])["commit"] == "0ddba11"


def test_the_seeded_base_images_are_in_ecr(world: World) -> None:
    """What Terraform's base runs was pushed by CI once: a rollback to the revision before handoff's first
    deployment finds its images."""
    ecr = world.ecr_client
    for env in world.aws.envs:
        for service in seed_services(env):
            for uri in service.containers.values():
                if not uri.startswith(f"{ECR}/"):
                    continue
                repository, _, tag = uri.removeprefix(f"{ECR}/").partition(":")
                found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
                assert found["imageDetails"], f"{uri} is not in the embedded ECR"
