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
    # The order the work is handed out in (with -n): unit, integration, then the end-to-end files that hold a slow
    # test, then the rest, each file's tests in their own order. The longest files start first, so the run does
    # not end waiting on one of them while the other worker is idle.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}

    def rank(item: pytest.Item) -> int:
        if "e2e" not in item.path.parts:
            return 0 if "unit" in item.path.parts else 1
        return 2 if item.path in slow_files else 3

    items.sort(key=rank)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: known only where pytest-xdist is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """With `-n`: each end-to-end file is a unit of work, the unit and integration tests one unit each. A worker
    then runs its unit or integration tests before any end-to-end file (xdist hands out the largest units first)
    and never goes back: the end-to-end tests' embedded AWS and the integration tests' moto mock share the
    process's moto, so they must not interleave (each is started once per worker, not once per switch)."""
    from xdist.scheduler import LoadScopeScheduling

    class ByLevel(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.startswith("tests/e2e/") else path.rsplit("/", 1)[0]

    config.option.loadscopereorder = False  # hand out in collection order (above), not by number of tests
    return ByLevel(config, log)
