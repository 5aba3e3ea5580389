"""docs/architecture.md's map and README's tree name every room of the tree: a module, a function or a tool added
without its line in the map fails here, so the map a newcomer reads stays the tree they walk."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAP = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
LAYER = ROOT / "layers" / "shared" / "ecs_handoff"
# Package plumbing, named by the package itself.
PLUMBING = {"__init__", "__main__"}


def _modules(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.py") if p.stem not in PLUMBING)


def _named(name: str, text: str) -> bool:
    """Whether the text names the module as a word: `name`, name.py, logic/name, …"""
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


@pytest.mark.parametrize(
    "folder",
    [
        "layers/shared/ecs_handoff",
        "layers/shared/ecs_handoff/logic",
        "layers/shared/ecs_handoff/aws",
        "layers/shared/ecs_handoff/models",
        "layers/shared/ecs_handoff/approvals",
        "cli/ecs_handoff_cli",
        "embedded/ecs_handoff_embedded",
        "embedded/ecs_handoff_embedded/gaps",
        "tools",
        "bench",
    ],
)
def test_the_architecture_map_names_every_module(folder: str) -> None:
    missing = [name for name in _modules(ROOT / folder) if not _named(name, MAP)]
    assert missing == [], f"docs/architecture.md does not name these modules of {folder}/: {missing}"


def test_the_architecture_map_and_readme_name_every_function() -> None:
    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    assert functions, "no functions found"
    row = next(line for line in MAP.splitlines() if line.startswith("| `functions/"))
    assert [f for f in functions if not _named(f, row)] == []
    assert [f for f in functions if f"functions/{f}/" not in README] == []


def test_the_map_names_no_module_that_is_gone() -> None:
    """Each `logic/x`, `aws/x`, `models/x`, `gaps/x.py` or `functions/x` the map names is in the tree."""
    gone = []
    for folder, path in (("logic", LAYER / "logic"), ("aws", LAYER / "aws"), ("models", LAYER / "models")):
        gone += [f"{folder}/{n}" for n in re.findall(rf"`{folder}/(\w+)\.py`", MAP) if not (path / f"{n}.py").exists()]
    gaps = ROOT / "embedded" / "ecs_handoff_embedded" / "gaps"
    gone += [f"gaps/{n}" for n in re.findall(r"gaps/(\w+)\.py", MAP) if not (gaps / f"{n}.py").exists()]
    gone += [f"functions/{n}" for n in re.findall(r"functions/(\w+)", MAP) if not (ROOT / "functions" / n).is_dir()]
    assert gone == []
