"""What every test level shares: the repository's root, zip archives of any members, the sample S3 event, and
a logger stand-in. Artifacts and image URIs come from the embedded AWS's scenario (`artifact`, `image`), built as
CI builds them."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"


def zip_members(members: dict[str, bytes | str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def s3_event(bucket: str, key: str, version_id: str | None, sequencer: str, **detail: Any) -> dict[str, Any]:
    """The sample EventBridge S3 event from events/, pointed at a real object version."""
    event: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / "s3-object-created.json").read_text()))
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    obj = event["detail"]["object"]
    obj["key"], obj["sequencer"] = key, sequencer
    if version_id is None:
        obj.pop("version-id")
    else:
        obj["version-id"] = version_id
    event["detail"].update(detail)
    return event


class LogRecorder:
    """Stands in for a module's Powertools logger: records (level, message, fields) of every call."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda message, **fields: self.lines.append((level, message, fields))
