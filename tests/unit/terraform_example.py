"""examples/terraform as Terraform reads it: where the example and its modules are, and their HCL parsed into
blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2

from tests.helpers import ROOT

TF = ROOT / "examples" / "terraform"
SERVICE = TF / "modules" / "handoff-service"
ENVIRONMENT = TF / "modules" / "handoff-environment"
REGISTRY = TF / "modules" / "handoff-registry-entry"


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


def load_module(directory: Path) -> dict[str, list[Any]]:
    """Every .tf file of a module directory, as Terraform reads them: one configuration."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, entries in load(path).items():
            merged.setdefault(kind, []).extend(entries)
    return merged


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def blocks(doc: dict[str, Any], kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """{(type, name): body} for resource/data blocks, {(name,): body} for module/variable/output blocks."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in doc.get(kind, []):
        for first, body in entry.items():
            first = unquote(first)
            if kind in ("resource", "data"):
                for second, inner in body.items():
                    found[(first, unquote(second))] = inner
            else:
                found[(first,)] = body
    return found
