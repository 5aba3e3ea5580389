"""Markers by level, so a run can choose: `-m "not e2e"`, `-m "not slow"`. The folder says the level: a test in
tests/e2e runs the whole stack on the embedded AWS (`e2e`), one in tests/integration runs handlers against moto
(`integration`)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        for level in ("e2e", "integration"):
            if level in parts:
                item.add_marker(getattr(pytest.mark, level))
