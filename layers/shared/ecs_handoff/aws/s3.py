"""Reads exactly one object version from S3, with a size bound enforced while reading."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.errors import ArtifactRejected

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import S3Client


def read_version(
    bucket: str, key: str, version_id: str, limit: int, s3: S3Client | None = None
) -> tuple[bytes, dict[str, str]]:
    """The bytes of bucket/key at version_id, and its user metadata (x-amz-meta-*, what CI says about the
    change); refuses objects over `limit` bytes without reading them all."""
    s3 = s3 or client("s3")
    with aws_call(f"reading s3://{bucket}/{key} version {version_id}"):
        response = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    length = int(response.get("ContentLength", 0))
    body = response["Body"]
    try:
        if length > limit:
            raise ArtifactRejected(f"the zip is {length} bytes; the limit is {limit} bytes (1 MiB)")
        data: bytes = body.read(limit + 1)
    finally:
        body.close()
    if len(data) > limit:
        raise ArtifactRejected(f"the zip is larger than {limit} bytes (1 MiB)")
    return data, {str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()}


def put_bytes(
    bucket: str, key: str, data: bytes, s3: S3Client | None = None, metadata: dict[str, str] | None = None
) -> str:
    """Uploads an artifact as CI would, with what it says about the change; returns the new version id."""
    s3 = s3 or client("s3")
    with aws_call(f"uploading s3://{bucket}/{key}"):
        response = s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="application/zip", Metadata=metadata or {}
        )
    return str(response.get("VersionId", ""))
