"""What the release commands (upload, rerun, rollback, diff, --print-ci) decide, without AWS: artifacts as CI
builds them, diffs, rollback targets, the CI policy."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from ecs_handoff.artifact import MEMBER_NAME, parse_image_definitions, read_artifact
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import DeploymentRecord, ImageDefinition, Outcome


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
    proposed: str | None  # what the new revision would run; None if the base has no such container
    listed: bool

    @property
    def change(self) -> str:
        if self.proposed is None:
            return "refused: not in the base task definition" if self.listed else "removed by Terraform's base"
        if self.running is None:
            return "added by Terraform's base"
        if self.running == self.proposed:
            return "unchanged"
        return "changes" if self.listed else "changes to the base image (not listed)"


def diff(
    running_task_definition: dict[str, Any], base: dict[str, Any], images: list[ImageDefinition]
) -> list[ImageDiff]:
    """The new revision is Terraform's base with the listed images: compare that with what runs now."""
    running = {c["name"]: c.get("image") for c in running_task_definition.get("containerDefinitions", [])}
    base_images = {c["name"]: c.get("image") for c in base.get("containerDefinitions", [])}
    listed = {i.name: i.image_uri for i in images}
    new = {name: listed.get(name, image) for name, image in base_images.items()}
    names = list(dict.fromkeys([*base_images, *running, *listed]))
    return [ImageDiff(n, running.get(n), new.get(n), n in listed) for n in names]


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
        if [c.image_after for c in record.images] != [c.image_after for c in current.images]:
            return RollbackTarget(current, record=record)
    if current.previous_task_definition and current.previous_task_definition != running_task_definition:
        return RollbackTarget(current, revision=current.previous_task_definition)
    raise ArtifactRejected(
        f"no earlier SUCCEEDED deployment with different images than the running one ({current.id}), "
        "and no earlier revision recorded; nothing to roll back to"
    )


def images_of(task_definition: dict[str, Any], containers: list[str]) -> bytes:
    """imagedefinitions.json naming these containers of a task definition with the images it runs."""
    entries = [
        {"name": c["name"], "imageUri": c["image"]}
        for c in task_definition.get("containerDefinitions", [])
        if c["name"] in containers
    ]
    return json.dumps(entries, indent=2).encode() + b"\n"


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
