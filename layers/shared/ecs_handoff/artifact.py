"""Reads and validates imagedefinitions.json.zip: safe unzip, size limits, image reference rules."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib
from typing import Any

from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ImageDefinition
from ecs_handoff.promotion import EVIDENCE_MEMBER, MAX_ENVELOPE_BYTES

MAX_ZIP_BYTES = 1024 * 1024
MAX_JSON_BYTES = 100 * 1024  # CodePipeline's own limit for imagedefinitions.json
MEMBER_NAME = "imagedefinitions.json"
MAX_ENTRIES = 10  # ECS allows at most 10 containers in a task definition
MAX_IMAGE_REF = 255

_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# The Docker reference grammar (distribution/reference), anchored: [registry[:port]/]path[:tag][@digest]
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)"
_PATH_COMPONENT = r"(?:[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)"
_TAG = r"(?:[\w][\w.-]{0,127})"
_DIGEST = r"(?:[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})"
_IMAGE_REF = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$")


def read_artifact(data: bytes) -> list[ImageDefinition]:
    """The validated image definitions inside an imagedefinitions.json.zip, or ArtifactRejected."""
    return read_upload(data)[0]


def read_upload(data: bytes) -> tuple[list[ImageDefinition], bytes | None]:
    """The image definitions and, when the zip carries one, the promotion evidence (EVIDENCE_MEMBER, a DSSE
    envelope `handoff promote` adds; read with the same bounded reader, its own size cap), or ArtifactRejected."""
    if not data:
        raise ArtifactRejected("the object is empty (0 bytes); upload a zip that holds imagedefinitions.json")
    if len(data) > MAX_ZIP_BYTES:
        raise ArtifactRejected(f"the zip is {len(data)} bytes; the limit is {MAX_ZIP_BYTES} bytes (1 MiB)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ArtifactRejected(f"the object is not a readable zip archive ({exc})") from exc
    with archive:
        member = _find_member(archive)
        raw = _read_bounded(archive, member)
        evidence = _member_if_any(archive, EVIDENCE_MEMBER)
        proof = _read_bounded(archive, evidence, MAX_ENVELOPE_BYTES) if evidence is not None else None
    return parse_image_definitions(raw), proof


def _member_if_any(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo | None:
    """A member that may be absent (the promotion evidence), checked as strictly as the required one."""
    return _find_member(archive, name) if any(i.filename == name for i in archive.infolist()) else None


def _find_member(archive: zipfile.ZipFile, name: str = MEMBER_NAME) -> zipfile.ZipInfo:
    infos = archive.infolist()
    for info in infos:
        problem = _unsafe_path(info.filename)
        if problem:
            raise ArtifactRejected(
                f"the zip holds a member whose path {problem}: {info.filename[:100]!r}; refusing the whole archive"
            )
    matches = [info for info in infos if info.filename == name]
    if not matches:
        nested = [info.filename for info in infos if info.filename.rsplit("/", 1)[-1] == name]
        if nested:
            raise ArtifactRejected(
                f"{name} must be at the root of the zip, but it is at {nested[0]!r}; "
                "zip the file itself, not its folder"
            )
        names = ", ".join(repr(i.filename[:60]) for i in infos[:5]) or "nothing"
        raise ArtifactRejected(f"the zip has no {name} at its root; it holds {names}")
    if len(matches) > 1:
        raise ArtifactRejected(f"the zip holds {name} {len(matches)} times; it must hold it once")
    member = matches[0]
    if member.flag_bits & 0x1:
        raise ArtifactRejected(f"{name} is encrypted in the zip; upload it unencrypted")
    return member


def _unsafe_path(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is absolute"
    if "\\" in name:
        return "contains a backslash"
    if any(part == ".." for part in name.split("/")):
        return "escapes the archive root"
    return None


def _read_bounded(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int = MAX_JSON_BYTES) -> bytes:
    """Decompress at most limit + 1 bytes: the header's sizes are never trusted."""
    try:
        with archive.open(member) as stream:
            raw = stream.read(limit + 1)
            if len(raw) > limit and member.filename == MEMBER_NAME:
                raise ArtifactRejected(
                    f"{MEMBER_NAME} is larger than {MAX_JSON_BYTES} bytes (100 KiB) uncompressed, "
                    "CodePipeline's limit; list only the containers to deploy"
                )
            if len(raw) > limit:
                raise ArtifactRejected(f"{member.filename} is larger than {limit} bytes uncompressed")
            stream.read(1)  # reach the end so zipfile verifies the CRC
    except ArtifactRejected:
        raise
    except NotImplementedError as exc:
        raise ArtifactRejected(f"{member.filename} uses an unsupported compression method ({exc})") from exc
    except RuntimeError as exc:  # zipfile raises RuntimeError for encrypted members
        raise ArtifactRejected(f"{member.filename} cannot be read: {exc}") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ArtifactRejected(f"the zip is corrupt or truncated ({exc})") from exc
    return raw


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ArtifactRejected(f"an entry has the key {key!r} twice; each key may appear once")
        seen[key] = value
    return seen


def parse_image_definitions(raw: bytes) -> list[ImageDefinition]:
    """Validate the JSON text of imagedefinitions.json; every message names the entry and field."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ArtifactRejected(f"{MEMBER_NAME} is not valid UTF-8 (byte {exc.start}); save it as UTF-8 JSON") from exc
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except RecursionError as exc:
        raise ArtifactRejected(f"{MEMBER_NAME} is nested too deeply to be an image list") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactRejected(
            f"{MEMBER_NAME} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    if not isinstance(data, list):
        raise ArtifactRejected(
            f'{MEMBER_NAME} must be a JSON array of {{"name", "imageUri"}} objects, not a JSON {_json_type(data)}'
        )
    if not data:
        raise ArtifactRejected(f"{MEMBER_NAME} is an empty array; list at least one container")
    if len(data) > MAX_ENTRIES:
        raise ArtifactRejected(
            f"{MEMBER_NAME} lists {len(data)} containers; a task definition holds at most {MAX_ENTRIES}"
        )
    entries = [_entry(index, item) for index, item in enumerate(data, start=1)]
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ArtifactRejected(f"container {entry.name!r} is listed more than once")
        seen.add(entry.name)
    return entries


def _entry(index: int, item: Any) -> ImageDefinition:
    where = f"entry {index}"
    if not isinstance(item, dict):
        raise ArtifactRejected(f'{where} must be an object with "name" and "imageUri", not a JSON {_json_type(item)}')
    unknown = sorted(set(item) - {"name", "imageUri"})
    if unknown:
        raise ArtifactRejected(f'{where} has unknown key {unknown[0][:40]!r}; only "name" and "imageUri" are allowed')
    for field in ("name", "imageUri"):
        if field not in item:
            raise ArtifactRejected(f"{where} is missing {field!r}")
        if not isinstance(item[field], str):
            raise ArtifactRejected(f"{where}: {field!r} must be a string, not {_json_type(item[field])}")
    name, image = item["name"], item["imageUri"]
    if not _CONTAINER_NAME.match(name):
        raise ArtifactRejected(
            f"{where}: container name {name[:80]!r} is not valid (letters, digits, '-' and '_', 1-255 characters)"
        )
    problem = image_reference_problem(image)
    if problem:
        raise ArtifactRejected(f"{where} ({name}): image {image[:80]!r} {problem}")
    return ImageDefinition(name=name, image_uri=image)


def image_reference_problem(image: str) -> str | None:
    """Why ECS would refuse this image reference, or None when it is acceptable."""
    if not image:
        return "is empty"
    if len(image) > MAX_IMAGE_REF:
        return f"is {len(image)} characters long; ECS accepts at most {MAX_IMAGE_REF}"
    if "${" in image or "$(" in image:
        return "contains an unresolved placeholder; the CI step did not substitute its variables"
    for char in image:
        if char.isspace():
            return "contains whitespace"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"contains a control character (U+{ord(char):04X})"
        if ord(char) > 0x7E:
            return f"contains a non-ASCII character (U+{ord(char):04X})"
    if not _IMAGE_REF.match(image):
        return "is not a valid image reference (expected registry/repository[:tag][@digest])"
    return None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)
