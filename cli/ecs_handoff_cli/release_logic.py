"""What the release commands (upload, rerun, rollback, diff, --print-ci) decide, without AWS: artifacts as CI
builds them, diffs, rollback targets, the CI policy."""

from __future__ import annotations

import io
import json
import re
import string
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_handoff.artifact import MEMBER_NAME, parse_image_definitions, read_artifact
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import DeploymentRecord, ImageDefinition, Outcome, parse_reference


def build_artifact(raw: bytes) -> tuple[bytes, list[ImageDefinition]]:
    """imagedefinitions.json.zip as CI uploads it, after the same checks the intake makes on the JSON."""
    images = parse_image_definitions(raw)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(MEMBER_NAME, date_time=(2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, raw)
    return buffer.getvalue(), images


ZIP_SIGNATURE = b"PK"  # every zip starts with a PK record (a local file header, or the end record of an empty one)


def read_artifact_json(zipped: bytes) -> bytes:
    """The imagedefinitions.json inside imagedefinitions.json.zip, read with the intake's own checks (a safe
    unzip, the file at the root, the size limits); ArtifactRejected with the intake's reason."""
    read_artifact(zipped)
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return archive.read(MEMBER_NAME)  # bounded: read_artifact has read it within the limit


def image_definitions_json(data: bytes) -> bytes:
    """What an operator gives `upload` or `diff`: imagedefinitions.json itself, or the zip CI uploads (whose
    imagedefinitions.json is taken out of it)."""
    return read_artifact_json(data) if data.startswith(ZIP_SIGNATURE) else data


@dataclass
class ImageDiff:
    container: str
    running: str | None
    proposed: str | None  # what the new revision would run (by digest, as the intake pins it); None if the
    # base has no such container
    listed: bool
    requested: str | None = None  # the tag listed, when the intake pins it to proposed's digest

    @property
    def change(self) -> str:
        if self.proposed is None:
            return "refused: not in the base task definition" if self.listed else "removed by Terraform's base"
        if self.running is None:
            return "added by Terraform's base"
        if self.running == self.proposed:
            return "unchanged"
        return "changes" if self.listed else "changes to the base image (not listed)"

    def text(self, host: str) -> str:
        """One line of `diff`: the running image, and what would run instead (the tag listed with the digest
        it is pinned to), images of this account's ECR without the registry host."""
        mark = "=" if self.change == "unchanged" else ("!" if self.change.startswith("refused") else "~")
        running = short_image(self.running, host) if self.running else "(not running)"
        proposed = short_image(self.proposed, host) if self.proposed else ""
        if self.requested:
            proposed = f"{proposed} (= {short_image(self.requested, host)})" if proposed else proposed
        if self.change == "unchanged":
            shown = f"{proposed}, as running" if self.requested else running
        else:
            shown = f"{running} -> {proposed}" if proposed else running
        return f"  {mark} {self.container}: {shown}  [{self.change}]"


def diff(
    running_task_definition: dict[str, Any],
    base: dict[str, Any],
    images: list[ImageDefinition],
    pinned_from: Mapping[str, str] | None = None,
) -> list[ImageDiff]:
    """The new revision is Terraform's base with the listed images: compare that with what runs now. images
    are as the intake deploys them (pinned to digests, pinned_from naming the tags listed), so an image whose
    tag points at the running digest is unchanged, as the intake's record will say."""
    pinned_from = pinned_from or {}
    running = {c["name"]: c.get("image") for c in running_task_definition.get("containerDefinitions", [])}
    base_images = {c["name"]: c.get("image") for c in base.get("containerDefinitions", [])}
    listed = {i.name: i.image_uri for i in images}
    new = {name: listed.get(name, image) for name, image in base_images.items()}
    names = list(dict.fromkeys([*base_images, *running, *listed]))
    return [ImageDiff(n, running.get(n), new.get(n), n in listed, pinned_from.get(n)) for n in names]


DIGEST_SHOWN = 12  # hex characters of a digest people read (the whole digest is in --json)


def short_image(image: str, host: str) -> str:
    """An image as a line shows it: without this account's registry host, its digest cut to 12 characters."""
    shown = image.removeprefix(f"{host}/") if host else image
    name, _, digest = shown.partition("@")
    if digest:
        algorithm, _, value = digest.partition(":")
        return f"{name}@{algorithm}:{value[:DIGEST_SHOWN]}…" if len(value) > DIGEST_SHOWN else shown
    return shown


def by_digest(pinned: list[ImageDefinition], uploaded: list[ImageDefinition]) -> tuple[bytes, list[str]]:
    """imagedefinitions.json naming exactly the images an earlier deployment ran (pinned: its validated
    images, by digest where the intake pinned them), and a line for each saying which tag it was uploaded as
    (uploaded: that deployment's metadata, when it can still be read)."""
    tags = {i.name: parse_reference(i.image_uri)[1] for i in uploaded}
    entries = [{"name": i.name, "imageUri": i.image_uri} for i in pinned]
    lines = []
    for i in pinned:
        _, _, digest = parse_reference(i.image_uri)
        name = i.image_uri.rsplit("/", 1)[-1]
        shown = short_image(name, "")
        tag = tags.get(i.name)
        lines.append(f"  {i.name}: {shown} (was tag {tag})" if digest and tag else f"  {i.name}: {shown}")
    return json.dumps(entries, indent=2).encode() + b"\n", lines


@dataclass(frozen=True)
class RollbackTarget:
    """What a rollback returns to: an earlier deployment's uploaded metadata, or (for the first deployment
    handoff made) the revision that ran before it, whose images are uploaded as new metadata."""

    current: DeploymentRecord
    record: DeploymentRecord | None = None
    revision: str | None = None


def rollback_target(history: list[DeploymentRecord], running_task_definition: str) -> RollbackTarget:
    """The last SUCCEEDED deployment before the one now running with other images (history is newest
    first); failing that, the revision the running deployment replaced."""
    succeeded = [r for r in history if r.outcome is Outcome.SUCCEEDED and r.source]
    current_index = next((i for i, r in enumerate(succeeded) if r.new_task_definition == running_task_definition), None)
    if current_index is None:
        if not succeeded:
            raise ArtifactRejected("there is no SUCCEEDED deployment in the history, so nothing to roll back to")
        raise ArtifactRejected(
            "the running revision was not deployed by handoff (someone changed the service by hand?); "
            "name the deployment to roll back to with --to"
        )
    current = succeeded[current_index]
    for record in succeeded[current_index + 1 :]:
        if ran(record) != ran(current):
            return RollbackTarget(current, record=record)
    if current.previous_task_definition and current.previous_task_definition != running_task_definition:
        return RollbackTarget(current, revision=current.previous_task_definition)
    raise ArtifactRejected(
        f"no earlier SUCCEEDED deployment with different images than the running one ({current.id}), "
        "and no earlier revision recorded; nothing to roll back to"
    )


def ran(record: DeploymentRecord) -> dict[str, str]:
    """The images a deployment deployed, by container: its validated images (pinned to digests), or for a
    record from before handoff kept them, the images that changed (a rerun's are none, so it would compare
    as different from every deployment)."""
    if record.validated_images is not None:
        return {i.name: i.image_uri for i in record.validated_images}
    return {c.container: c.image_after for c in record.images}


def images_of(task_definition: dict[str, Any], containers: list[str]) -> bytes:
    """imagedefinitions.json naming these containers of a task definition with the images it runs."""
    entries = [
        {"name": c["name"], "imageUri": c["image"]}
        for c in task_definition.get("containerDefinitions", [])
        if c["name"] in containers
    ]
    return json.dumps(entries, indent=2).encode() + b"\n"


@dataclass(frozen=True)
class CiSystem:
    """Where a CI says which commit it builds: its documented environment variables."""

    name: str
    marker: str  # set by this CI only
    commit: str
    url: str = ""  # a template of the run's URL: {VARIABLE}s of the environment
    summary: str = ""  # a variable holding the commit's message, where the CI has one


CI_SYSTEMS = (
    CiSystem(
        "GitHub Actions",
        "GITHUB_ACTIONS",
        "GITHUB_SHA",
        "{GITHUB_SERVER_URL}/{GITHUB_REPOSITORY}/actions/runs/{GITHUB_RUN_ID}",
    ),
    CiSystem("GitLab CI/CD", "GITLAB_CI", "CI_COMMIT_SHA", "{CI_PIPELINE_URL}", "CI_COMMIT_TITLE"),
    CiSystem("AWS CodeBuild", "CODEBUILD_BUILD_ID", "CODEBUILD_RESOLVED_SOURCE_VERSION", "{CODEBUILD_BUILD_URL}"),
    CiSystem("Buildkite", "BUILDKITE", "BUILDKITE_COMMIT", "{BUILDKITE_BUILD_URL}", "BUILDKITE_MESSAGE"),
    CiSystem("CircleCI", "CIRCLECI", "CIRCLE_SHA1", "{CIRCLE_BUILD_URL}"),
    CiSystem("Jenkins", "JENKINS_URL", "GIT_COMMIT", "{BUILD_URL}"),
)


def _filled(template: str, environ: Mapping[str, str]) -> str:
    """template with the environment's variables, or "" when one of them is not set."""
    names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    if not names or not all(environ.get(n) for n in names):
        return ""
    return template.format_map({n: environ[n] for n in names})


def change_metadata(
    environ: Mapping[str, str], commit: str | None = None, summary: str | None = None, from_ci: bool = True
) -> dict[str, str]:
    """What an upload says about the change (shown to approvers as CI's, unverified): the commit, its
    subject and the CI run's URL, from the environment of the CI it runs in (from_ci), or commit and summary
    as given; never from the folder it runs in, whose git history need not be what is deployed."""
    metadata: dict[str, str] = {}
    system = next((s for s in CI_SYSTEMS if environ.get(s.marker) and environ.get(s.commit)), None)
    if system is not None and from_ci:
        metadata["commit"] = environ[system.commit]
        metadata["url"] = _filled(system.url, environ)
        if system.summary and environ.get(system.summary):
            metadata["codepipeline-artifact-revision-summary"] = environ[system.summary].strip().splitlines()[0]
    if commit is not None:
        metadata["commit"] = commit
    if summary is not None:
        metadata["codepipeline-artifact-revision-summary"] = summary
    return {k: v for k, v in metadata.items() if v}


def ci_policy(bucket: str, service_id: str, repository_arn: str | list[str]) -> dict[str, Any]:
    """The only IAM rights CI needs for one service: upload its metadata, push its images. The Terraform
    module's aws_iam_policy_document.ci is the same policy (tests/unit/test_terraform.py holds them equal)."""
    key = f"{service_id}/imagedefinitions.json.zip"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UploadImageDefinitions",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/{key}",
            },
            {
                "Sid": "PushImages",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:InitiateLayerUpload",
                    "ecr:UploadLayerPart",
                    "ecr:CompleteLayerUpload",
                    "ecr:PutImage",
                    "ecr:BatchGetImage",
                ],
                "Resource": repository_arn,
            },
            {"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        ],
    }


ECR_REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com")
ECR_IMAGE = re.compile(ECR_REGISTRY.pattern + r"/(?P<repository>[^:@]+)")


@dataclass(frozen=True)
class CiTarget:
    """What `--print-ci` knows of a service: where CI uploads, and the containers CI may set with the image
    each has in Terraform's base (whose repository CI pushes to)."""

    env: str
    bucket: str
    service_id: str
    region: str
    account: str
    images: dict[str, str]  # container -> its image in Terraform's base

    def repository_arns(self) -> list[str]:
        """The ECR repositories of this account the containers' images live in (once each, in order)."""
        arns: dict[str, None] = {}
        for image in self.images.values():
            found = ECR_IMAGE.match(image)
            if found and found["account"] == self.account:
                arns[f"arn:aws:ecr:{found['region']}:{found['account']}:repository/{found['repository']}"] = None
        return list(arns) or [f"arn:aws:ecr:{self.region}:{self.account}:repository/<repository>"]


def _variable(container: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", container.upper()).strip("_") + "_IMAGE"


def print_ci(target: CiTarget) -> str:
    """The CI step equivalent to `handoff upload` for this service, and the only IAM rights it needs: its
    containers, its bucket and region, and its repositories filled in."""
    key = f"{target.service_id}/imagedefinitions.json.zip"
    containers = list(target.images) or ["<container>"]
    variables = ["IMAGE_URI"] if len(containers) == 1 else [_variable(c) for c in containers]
    entries = ",".join(f'{{"name":"{c}","imageUri":"%s"}}' for c in containers)
    arguments = " ".join(f'"${v}"' for v in variables)
    arns = target.repository_arns()
    policy = ci_policy(target.bucket, target.service_id, arns[0] if len(arns) == 1 else arns)
    return (
        f"# in CI, after pushing the image{'s' if len(containers) > 1 else ''} (tagged {target.env}-<commit>),\n"
        f"# with {', '.join(f'${v}' for v in variables)} set to {'their' if len(variables) > 1 else 'its'} URI:\n"
        f"printf '[{entries}]' \\\n  {arguments} > imagedefinitions.json\n"
        "zip -X imagedefinitions.json.zip imagedefinitions.json\n"
        f"aws s3 cp imagedefinitions.json.zip s3://{target.bucket}/{key} --region {target.region}\n"
        "\n# the only IAM policy CI needs (ecr:GetAuthorizationToken has no resource-level permissions):\n"
        + json.dumps(policy, indent=2)
        + "\n"
    )
