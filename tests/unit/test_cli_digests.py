"""The release commands by digest, without AWS: a diff compares what the intake would deploy (the tag pinned to
its digest) with what runs; a rollback returns to what an earlier deployment ran, never to a rerun of the same
images; the metadata rerun and rollback upload names digests; CI's words come from CI's environment only."""

from __future__ import annotations

import json
from typing import Any

from ecs_handoff.models import DeploymentRecord, ImageChange, ImageDefinition, Outcome, Source
from ecs_handoff_cli.release_logic import by_digest, change_metadata, diff, rollback_target

HOST = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"
OLD, NEW = "sha256:" + "68" * 32, "sha256:" + "0b" * 32


def task_definition(**images: str) -> dict[str, Any]:
    return {"containerDefinitions": [{"name": n, "image": i} for n, i in images.items()]}


def test_a_tag_of_the_running_digest_is_unchanged() -> None:
    # GIVEN the running image by digest, and an upload of a tag that (in ECR) points at that digest
    running = task_definition(app=f"{HOST}/api@{OLD}", nginx=f"{HOST}/nginx:1")
    base = task_definition(app=f"{HOST}/api:dev-0a1b2c3", nginx=f"{HOST}/nginx:1")
    pinned = [ImageDefinition(name="app", image_uri=f"{HOST}/api@{OLD}")]
    # WHEN diffed as the intake deploys it (pinned), the tag named
    [app, nginx] = diff(running, base, pinned, {"app": f"{HOST}/api:dev-4f2a9c1"})
    # THEN no change, and the line says which tag it is
    assert app.change == "unchanged" and nginx.change == "unchanged"
    assert app.requested == f"{HOST}/api:dev-4f2a9c1"
    assert app.text(HOST) == f"  = app: api@sha256:{'68' * 6}… (= api:dev-4f2a9c1), as running  [unchanged]"
    # AND a tag of another digest is a change, shown with the digest it would run
    [app, _] = diff(running, base, [ImageDefinition(name="app", image_uri=f"{HOST}/api@{NEW}")], {"app": "x"})
    assert app.change == "changes"
    assert app.text(HOST) == f"  ~ app: api@sha256:{'68' * 6}… -> api@sha256:{'0b' * 6}… (= x)  [changes]"


def record(number: int, validated: dict[str, str] | None, changed: dict[str, str]) -> DeploymentRecord:
    ran = None if validated is None else [ImageDefinition(name=n, image_uri=i) for n, i in validated.items()]
    return DeploymentRecord(
        id=f"api-{number}", env="dev", service="api", outcome=Outcome.SUCCEEDED, started_at="2026-12-05T05:05:00Z",
        source=Source(bucket="b", key="api/imagedefinitions.json.zip", object_version=str(number), sequencer="1"),
        new_task_definition=f"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:{number}",
        validated_images=ran,
        images=[ImageChange(container=n, image_after=i) for n, i in changed.items()],
    )  # fmt: skip


def test_rollback_after_a_rerun_returns_to_other_images() -> None:
    # GIVEN A ran OLD, B ran NEW, a rollback C ran OLD again, a rerun D of C ran OLD (no image changed)
    old, new = {"app": f"{HOST}/api@{OLD}"}, {"app": f"{HOST}/api@{NEW}"}
    history = [record(4, old, {}), record(3, old, old), record(2, new, new), record(1, old, old)]
    # WHEN a later rollback looks for what ran before D
    target = rollback_target(history, history[0].new_task_definition or "")
    # THEN it is B (other images), not C (the same images D runs: a rollback that changes nothing)
    assert target.record is not None and target.record.id == "api-2"


def test_the_metadata_of_a_rollback_names_the_digests_with_the_tags_they_were() -> None:
    pinned = [
        ImageDefinition(name="app", image_uri=f"{HOST}/api@{OLD}"),
        ImageDefinition(name="router", image_uri="public.ecr.aws/fluent-bit:stable"),
    ]
    uploaded = [ImageDefinition(name="app", image_uri=f"{HOST}/api:dev-4f2a9c1")]
    raw, lines = by_digest(pinned, uploaded)
    assert json.loads(raw) == [
        {"name": "app", "imageUri": f"{HOST}/api@{OLD}"},
        {"name": "router", "imageUri": "public.ecr.aws/fluent-bit:stable"},
    ]
    assert lines == [f"  app: api@sha256:{'68' * 6}… (was tag dev-4f2a9c1)", "  router: fluent-bit:stable"]


def test_commit_metadata_comes_from_ci_environment_or_flags_only() -> None:
    # outside CI: nothing about a commit, whatever folder this runs in (this one is a git repository)
    assert change_metadata({"HOME": "/home/me", "PATH": "/usr/bin"}) == {}
    github = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SHA": "4f2a9c1" + "0" * 33,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/api",
        "GITHUB_RUN_ID": "42",
    }
    assert change_metadata(github) == {
        "commit": github["GITHUB_SHA"],
        "url": "https://github.com/acme/api/actions/runs/42",
    }
    gitlab = {
        "GITLAB_CI": "true",
        "CI_COMMIT_SHA": "abc",
        "CI_PIPELINE_URL": "https://gitlab.com/acme/api/-/pipelines/7",
        "CI_COMMIT_TITLE": "Fix the checkout\nmore",
    }
    assert change_metadata(gitlab) == {
        "commit": "abc",
        "url": "https://gitlab.com/acme/api/-/pipelines/7",
        "codepipeline-artifact-revision-summary": "Fix the checkout",
    }
    codebuild = {"CODEBUILD_BUILD_ID": "p:1", "CODEBUILD_RESOLVED_SOURCE_VERSION": "def", "CODEBUILD_BUILD_URL": "u"}
    assert change_metadata(codebuild) == {"commit": "def", "url": "u"}
    buildkite = {"BUILDKITE": "true", "BUILDKITE_COMMIT": "b1", "BUILDKITE_BUILD_URL": "bu", "BUILDKITE_MESSAGE": "m"}
    assert change_metadata(buildkite)["codepipeline-artifact-revision-summary"] == "m"
    # a run URL whose variables are not all set is left out, not half-filled
    assert change_metadata({**github, "GITHUB_RUN_ID": ""}) == {"commit": github["GITHUB_SHA"]}
    # the flags win; rerun and rollback (from_ci=False) say only what they are
    assert change_metadata(github, commit="c0ffee", summary="hotfix")["commit"] == "c0ffee"
    assert change_metadata(github, summary="rollback to deployment x", from_ci=False) == {
        "codepipeline-artifact-revision-summary": "rollback to deployment x"
    }
