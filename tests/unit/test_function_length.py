"""No function of the product grows past 60 lines unnoticed: a long function is split where its parts have names
of their own, or listed here with the reason it stays whole. (Lines counted from `def` to the last line, nested
functions included.)"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 60
FOLDERS = ["layers/shared/ecs_handoff", "functions", "cli/ecs_handoff_cli", "embedded/ecs_handoff_embedded", "tools"]
# path:function -> why it stays whole.
WHOLE = {
    # Each installs one moto patch: the replacement handlers are closures over the state they share (the
    # deployments, the clock, the event sink), and each nested handler is a named function already.
    "embedded/ecs_handoff_embedded/gaps/ecs_deployments.py:install_ecs_deployments": "handlers sharing one registry",
    "embedded/ecs_handoff_embedded/gaps/ecs_deployments.py:start_deployment": "one ECS deployment's lifecycle, "
    "stage by stage as AWS's lifecycle-stage table lists them",
    "embedded/ecs_handoff_embedded/gaps/ecs.py:install_ecs_task_definitions": "handlers sharing one account",
    "embedded/ecs_handoff_embedded/gaps/ecs.py:_start_rollout": "one rolling deployment's timeline",
    "embedded/ecs_handoff_embedded/gaps/dynamodb.py:install_index_lag": "handlers sharing the lagging copies",
    "embedded/ecs_handoff_embedded/http_api.py:_invoke": "API Gateway's payload format 2.0, field by field",
}


def _long_functions() -> dict[str, int]:
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length >= LIMIT:
                        found[f"{path.relative_to(ROOT)}:{node.name}"] = length
    return found


def test_no_function_reaches_60_lines_unless_it_says_why_it_stays_whole() -> None:
    long = _long_functions()
    assert {name: n for name, n in long.items() if name not in WHOLE} == {}


def test_every_function_listed_as_whole_is_still_long() -> None:
    """An entry for a function that was split, renamed or removed goes with it."""
    long = _long_functions()
    assert sorted(name for name in WHOLE if name not in long) == []
