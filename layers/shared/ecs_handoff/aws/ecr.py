"""ECR access: what digest a tag points at now, so what was approved is exactly what runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws.clients import aws_call, client, error_code
from ecs_handoff.errors import ArtifactRejected

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

    from ecs_handoff.aws.clients import ECRClient

MISSING_CODES = frozenset({"ImageNotFoundException", "RepositoryNotFoundException"})


def image_digest(
    registry_id: str, repository: str, tag: str | None, digest: str | None, ecr: ECRClient | None = None
) -> str:
    """The digest of repository:tag (or confirms repository@digest exists); ArtifactRejected if it is not in ECR."""
    from botocore.exceptions import ClientError

    ecr = ecr or client("ecr")
    image_id: ImageIdentifierTypeDef = {"imageDigest": digest} if digest else {"imageTag": tag or "latest"}
    shown = f"{repository}@{digest}" if digest else f"{repository}:{tag or 'latest'}"
    with aws_call(f"looking up {shown} in ECR"):
        try:
            response = ecr.describe_images(registryId=registry_id, repositoryName=repository, imageIds=[image_id])
        except ClientError as exc:
            if error_code(exc) in MISSING_CODES:
                raise ArtifactRejected(f"{shown} is not in repository {repository}; push it before uploading") from exc
            raise
    details = response.get("imageDetails", [])
    if not details:
        raise ArtifactRejected(f"{shown} is not in repository {repository}; push it before uploading")
    return str(details[0]["imageDigest"])
