"""imagedefinitions.json.zip reading and validation: every refusal names what to fix."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from ecs_handoff.artifact import (
    MAX_JSON_BYTES,
    MAX_ZIP_BYTES,
    image_reference_problem,
    parse_image_definitions,
    read_artifact,
    read_upload,
)
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.promotion import EVIDENCE_MEMBER, MAX_ENVELOPE_BYTES
from ecs_handoff_embedded.scenario import artifact, image

from tests.helpers import zip_members

GOOD = {"app-container": image("api", "dev-4f2a9c1"), "nginx-container": image("api-nginx", "dev-4f2a9c1")}


def refused(data: bytes) -> str:
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(data)
    return str(info.value)


def test_read_artifact_valid_two_containers() -> None:
    # GIVEN a zip as CI builds it  WHEN read  THEN both entries come back in order
    entries = read_artifact(artifact(GOOD))
    assert [(e.name, e.image_uri) for e in entries] == list(GOOD.items())
    assert entries[0].tag == "dev-4f2a9c1"


def test_read_artifact_empty_object() -> None:
    assert "empty (0 bytes)" in refused(b"")


def test_read_artifact_not_a_zip() -> None:
    assert "not a readable zip" in refused(b'[{"name": "app"}]')


def test_read_artifact_truncated_zip() -> None:
    data = artifact(GOOD)
    assert refused(data[: len(data) // 2]) == "the object is not a readable zip archive (File is not a zip file)"


def test_read_artifact_corrupt_member_crc() -> None:
    # GIVEN a stored (uncompressed) member whose bytes were altered after the CRC was written
    data = bytearray(
        zip_members(
            {"imagedefinitions.json": json.dumps([{"name": "a", "imageUri": "nginx"}])}, compression=zipfile.ZIP_STORED
        )
    )
    offset = data.index(b'"nginx"')
    data[offset + 1] = ord("N")
    assert "corrupt" in refused(bytes(data))


def test_read_artifact_zip_over_1_mib() -> None:
    assert "limit is 1048576 bytes" in refused(b"PK" + b"\0" * MAX_ZIP_BYTES)


def test_read_artifact_zip_bomb_refused_while_reading() -> None:
    # GIVEN 50 MB of zeros that deflate to a few KB (the header says 50 MB, but it is never trusted)
    data = zip_members({"imagedefinitions.json": b"[" + b" " * 50_000_000 + b"]"})
    assert len(data) < 100_000
    # THEN reading stops after the limit, with the limit in the message
    assert f"larger than {MAX_JSON_BYTES} bytes" in refused(data)


def test_read_artifact_member_escaping_root() -> None:
    assert "escapes the archive root" in refused(zip_members({"../imagedefinitions.json": "[]"}))


def test_read_artifact_absolute_member() -> None:
    assert "is absolute" in refused(zip_members({"/etc/imagedefinitions.json": "[]"}))


def test_read_artifact_nested_member_says_where_it_is() -> None:
    message = refused(zip_members({"build/imagedefinitions.json": "[]"}))
    assert "must be at the root" in message and "build/imagedefinitions.json" in message


def test_read_artifact_missing_member_lists_contents() -> None:
    assert "'taskdef.json'" in refused(zip_members({"taskdef.json": "{}"}))


def test_read_artifact_duplicate_member() -> None:
    # GIVEN two members with the same name (zipfile warns, but writes both)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning):
        archive.writestr("imagedefinitions.json", "[]")
        archive.writestr("imagedefinitions.json", "[]")
    assert "2 times" in refused(buffer.getvalue())


def test_read_artifact_encrypted_member() -> None:
    data = bytearray(artifact(GOOD))
    # set the "encrypted" general-purpose flag bit in both the local and central headers
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + flag_offset] |= 0x1
    assert "encrypted" in refused(bytes(data))


# -- the promotion evidence `handoff promote` adds beside imagedefinitions.json ---------------------------
# (its bytes are verified by the intake; the reader only finds and bounds them)

DEFINITIONS = json.dumps([{"name": name, "imageUri": ref} for name, ref in GOOD.items()]).encode()


def test_read_upload_returns_the_images_and_the_evidence_member_as_uploaded() -> None:
    evidence = b'{"payloadType": "application/vnd.in-toto+json", "payload": "", "signatures": []}'
    images, proof = read_upload(zip_members({"imagedefinitions.json": DEFINITIONS, EVIDENCE_MEMBER: evidence}))
    assert [i.name for i in images] == ["app-container", "nginx-container"]
    assert proof == evidence


def test_read_upload_without_evidence_returns_none_and_the_same_images() -> None:
    images, proof = read_upload(zip_members({"imagedefinitions.json": DEFINITIONS}))
    assert proof is None
    assert images == read_artifact(zip_members({"imagedefinitions.json": DEFINITIONS}))


def test_read_upload_ignores_evidence_outside_the_root() -> None:
    nested = f"build/{EVIDENCE_MEMBER}"
    assert read_upload(zip_members({"imagedefinitions.json": DEFINITIONS, nested: b"{}"}))[1] is None


@pytest.mark.parametrize(("size", "refused_too"), [(MAX_ENVELOPE_BYTES, False), (MAX_ENVELOPE_BYTES + 1, True)])
def test_read_upload_caps_the_evidence_member_at_its_own_limit(size: int, refused_too: bool) -> None:
    data = zip_members({"imagedefinitions.json": DEFINITIONS, EVIDENCE_MEMBER: b" " * size})
    if not refused_too:
        assert read_upload(data)[1] == b" " * size
        return
    with pytest.raises(ArtifactRejected) as info:
        read_upload(data)
    assert str(info.value) == f"{EVIDENCE_MEMBER} is larger than {MAX_ENVELOPE_BYTES} bytes uncompressed"


def test_read_upload_refuses_the_evidence_twice() -> None:
    buffer = io.BytesIO()
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("imagedefinitions.json", DEFINITIONS)
        archive.writestr(EVIDENCE_MEMBER, b"{}")
        archive.writestr(EVIDENCE_MEMBER, b"{}")
    with pytest.raises(ArtifactRejected, match=rf"the zip holds {EVIDENCE_MEMBER} 2 times; it must hold it once"):
        read_upload(buffer.getvalue())


def test_read_upload_refuses_an_encrypted_evidence_member() -> None:
    data = bytearray(zip_members({"imagedefinitions.json": DEFINITIONS, EVIDENCE_MEMBER: b"{}"}))
    # the evidence is the second member: set the "encrypted" flag in its local and central headers
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature, data.index(signature) + 1)
        data[at + flag_offset] |= 0x1
    with pytest.raises(ArtifactRejected, match=rf"{EVIDENCE_MEMBER} is encrypted in the zip; upload it unencrypted"):
        read_upload(bytes(data))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xff\xfe[]", "not valid UTF-8"),
        (b'[{"name": "app", "imageUri": "nginx"', "not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"name": "app", "imageUri": "nginx"}', "not a JSON object"),
        (b"[]", "empty array"),
        (b'"nginx"', "not a JSON string"),
        (b"[1]", "entry 1 must be an object"),
        (b'[{"name": "app"}]', "entry 1 is missing 'imageUri'"),
        (b'[{"imageUri": "nginx"}]', "entry 1 is missing 'name'"),
        (b'[{"name": null, "imageUri": "nginx"}]', "'name' must be a string, not null"),
        (b'[{"name": "app", "imageUri": 7}]', "'imageUri' must be a string, not number"),
        (b'[{"name": "app", "imageUri": "nginx", "name": "x"}]', "the key 'name' twice"),
        (b'[{"name": "app", "imageURI": "nginx"}]', "unknown key 'imageURI'"),
        (b'[{"name": "a", "imageUri": "nginx"}, {"name": "a", "imageUri": "nginx"}]', "listed more than once"),
        (b'[{"name": "bad name", "imageUri": "nginx"}]', "container name 'bad name' is not valid"),
    ],
)
def test_parse_image_definitions_refusals(raw: bytes, expected: str) -> None:
    with pytest.raises(ArtifactRejected) as info:
        parse_image_definitions(raw)
    assert expected in str(info.value)


def test_parse_image_definitions_too_many_entries() -> None:
    raw = json.dumps([{"name": f"c{i}", "imageUri": "nginx"} for i in range(11)]).encode()
    with pytest.raises(ArtifactRejected, match="at most 10"):
        parse_image_definitions(raw)


def test_parse_image_definitions_accepts_bom() -> None:
    assert parse_image_definitions(b'\xef\xbb\xbf[{"name": "app", "imageUri": "nginx:1.27"}]')[0].name == "app"


@pytest.mark.parametrize(
    "ref",
    [
        "nginx",
        "nginx:1.27-alpine",
        "public.ecr.aws/nginx/nginx:stable",
        "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api:dev-4f2a9c1",
        "localhost:5000/team/app:v1",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "registry.example.com/app:1.0@sha256:" + "b" * 64,
    ],
)
def test_image_reference_accepted(ref: str) -> None:
    assert image_reference_problem(ref) is None


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("", "is empty"),
        ("nginx :latest", "whitespace"),
        ("nginx\t", "whitespace"),
        ("nginx\x07", "control character (U+0007)"),
        ("api:${GIT_SHA}", "unresolved placeholder"),
        ("api:$(git rev-parse HEAD)", "unresolved placeholder"),
        ("a" * 256, "is 256 characters long"),
        ("Nginx", "not a valid image reference"),
        ("nginx:", "not a valid image reference"),
        ("nginx@sha256:short", "not a valid image reference"),
        ("ngínx", "non-ASCII"),
    ],
)
def test_image_reference_refused(ref: str, expected: str) -> None:
    problem = image_reference_problem(ref)
    assert problem is not None and expected in problem
