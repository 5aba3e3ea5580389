"""The hostile-input corpus: uploads that must be refused with a reason a person can act on (or events that must
be ignored). Cases the artifact reader alone refuses are checked against it (tests/unit/test_hostile_corpus.py);
the ones that need the bucket, the key, the event or the registry, and one of each kind of bad body, go through
the embedded AWS (tests/e2e/test_hostile_inputs.py)."""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any

from ecs_handoff_embedded.scenario import artifact, image

from tests.helpers import s3_event, zip_members

BUCKET = "dev-ecsdef-123456789012"
GOOD_IMAGE = image("api", "dev-abcdef0")


def entries(*items: object) -> bytes:
    return zip_members({"imagedefinitions.json": json.dumps(list(items))})


def raw_json(text: str | bytes) -> bytes:
    return zip_members({"imagedefinitions.json": text})


def encrypted() -> bytes:
    data = bytearray(artifact({"app-container": GOOD_IMAGE}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.index(signature) + offset] |= 0x1
    return bytes(data)


def corrupt_crc() -> bytes:
    text = json.dumps([{"name": "app-container", "imageUri": GOOD_IMAGE}])
    data = bytearray(zip_members({"imagedefinitions.json": text}, compression=zipfile.ZIP_STORED))
    at = data.index(b"dev-abcdef0")
    data[at] = ord("D")
    return bytes(data)


def stored_random(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("imagedefinitions.json", os.urandom(size))
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes = b""
    expect: str = ""  # substring of the INVALID reason; "" means the event must be ignored
    key: str = "api/imagedefinitions.json.zip"
    event: dict[str, Any] | None = None  # delivered straight to the intake instead of uploading
    stack: bool = False  # refused by what only the stack knows (the base task definition, the registry, the key)

    @property
    def reader_only(self) -> bool:
        """The artifact reader alone refuses it: no key, bucket, event or registry involved."""
        return not self.stack and self.event is None and self.key == "api/imagedefinitions.json.zip"


CASES = [
    Case("empty object", b"", "empty (0 bytes)"),
    Case("not a zip", b"name=app-container image=nginx", "not a readable zip"),
    Case("truncated zip", artifact({"app-container": GOOD_IMAGE})[:60], "zip"),
    Case("corrupt member (CRC)", corrupt_crc(), "corrupt"),
    Case("zip bomb by ratio", raw_json(b"[" + b" " * 60_000_000 + b"]"), "larger than 102400 bytes"),
    Case("zip over 1 MiB", stored_random(1_200_000), "the limit is 1048576 bytes"),
    Case("member escaping the root", zip_members({"../imagedefinitions.json": "[]"}), "escapes the archive root"),
    Case("absolute member path", zip_members({"/imagedefinitions.json": "[]"}), "is absolute"),
    Case("backslash member path", zip_members({"..\\imagedefinitions.json": "[]"}), "backslash"),
    Case("nested member", zip_members({"out/imagedefinitions.json": "[]"}), "must be at the root"),
    Case("missing member", zip_members({"taskdef.json": "{}"}), "no imagedefinitions.json at its root"),
    Case("encrypted member", encrypted(), "encrypted"),
    Case("invalid UTF-8", raw_json(b'[{"name": "app-container", "imageUri": "\xff"}]'), "not valid UTF-8"),
    Case("truncated JSON", raw_json('[{"name": "app-container", "imageUri": '), "not valid JSON"),
    Case("JSON nesting bomb", raw_json("[" * 50_000 + "]" * 50_000), "nested too deeply"),
    Case("top level is an object", raw_json('{"name": "app-container"}'), "not a JSON object"),
    Case("top level is a string", raw_json('"app-container"'), "not a JSON string"),
    Case("empty array", raw_json("[]"), "empty array"),
    Case("too many entries", entries(*[{"name": f"c{i}", "imageUri": GOOD_IMAGE} for i in range(11)]), "at most 10"),
    Case("missing name", entries({"imageUri": GOOD_IMAGE}), "missing 'name'"),
    Case("missing imageUri", entries({"name": "app-container"}), "missing 'imageUri'"),
    Case("null name", entries({"name": None, "imageUri": GOOD_IMAGE}), "must be a string, not null"),
    Case("imageUri is a number", entries({"name": "app-container", "imageUri": 7}), "must be a string, not number"),
    Case("duplicated key", raw_json('[{"name": "app-container", "name": "x", "imageUri": "nginx"}]'), "twice"),
    Case("duplicated container", entries(*[{"name": "app-container", "imageUri": GOOD_IMAGE}] * 2), "more than once"),
    Case(
        "unknown container", entries({"name": "nginx", "imageUri": GOOD_IMAGE}), "is not in task definition", stack=True
    ),
    Case("image with whitespace", entries({"name": "app-container", "imageUri": "api :dev"}), "whitespace"),
    Case("image with control character", entries({"name": "app-container", "imageUri": "api\x1b[31m"}), "control"),
    Case("unresolved placeholder", entries({"name": "app-container", "imageUri": "api:${CIRCLE_SHA1}"}), "placeholder"),
    Case("image over 255 characters", entries({"name": "app-container", "imageUri": "a" * 300}), "300 characters"),
    Case(
        "entries over the size limit",
        entries(*[{"name": "app-container", "imageUri": GOOD_IMAGE, "pad": "x" * 120_000}]),
        "larger than 102400 bytes",
    ),
    Case(
        "unregistered service",
        artifact({"app": GOOD_IMAGE}),
        "is not registered",
        key="billing/imagedefinitions.json.zip",
    ),
    Case("unsafe service id", artifact({"app": GOOD_IMAGE}), "not a safe name", key="API_v2/imagedefinitions.json.zip"),
    Case(
        "non-ASCII service id",
        artifact({"app": GOOD_IMAGE}),
        "not a safe name",
        key="サービス/imagedefinitions.json.zip",
    ),
    Case("nested service path", artifact({"app": GOOD_IMAGE}), "not a safe name", key="a/b/imagedefinitions.json.zip"),
    Case("wrong suffix", event=s3_event(BUCKET, "api/imagedefinitions.json", "v1", "01")),
    Case("other bucket", event=s3_event("someone-elses-bucket", "api/imagedefinitions.json.zip", "v1", "01")),
    Case(
        "delete marker",
        event={**s3_event(BUCKET, "api/imagedefinitions.json.zip", "v1", "01"), "detail-type": "Object Deleted"},
    ),
    Case("not an S3 event", event={"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}),
]


# One bad body of each kind (zip, size, text, JSON, entry) still goes through the whole stack: the intake uses
# the reader, and records its refusal.
THROUGH_THE_STACK_TOO = ("not a zip", "zip bomb by ratio", "invalid UTF-8", "truncated JSON", "missing imageUri")
