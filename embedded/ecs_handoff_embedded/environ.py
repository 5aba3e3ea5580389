"""A per-thread view of os.environ, so in-process Lambda functions each see only their own variables."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any

_local = threading.local()


class ThreadLocalEnviron(MutableMapping[str, str]):
    """os.environ for the process, replaced for one thread while a function runs there.

    Inside `function_environment(env)` the thread sees exactly `env` (the process variables the
    Lambda runtime would also provide are passed in by the caller); other threads see the
    process environment unchanged. Writes inside a function stay in that function's view."""

    def __init__(self, base: MutableMapping[str, str]) -> None:
        self._base = base

    def _view(self) -> MutableMapping[str, str]:
        view: MutableMapping[str, str] | None = getattr(_local, "view", None)
        return self._base if view is None else view

    def __getitem__(self, key: str) -> str:
        return self._view()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._view()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._view()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._view()))

    def __len__(self) -> int:
        return len(self._view())

    def copy(self) -> dict[str, str]:
        return dict(self._view())

    # os.environ API used by the standard library (subprocess, os.getenvb)
    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


def install() -> ThreadLocalEnviron:
    """Replace os.environ once per process; idempotent."""
    if not isinstance(os.environ, ThreadLocalEnviron):
        # Replacing (not clearing) os.environ is the point: every reader goes through the per-thread view.
        os.environ = ThreadLocalEnviron(os.environ)  # type: ignore[assignment]  # noqa: B003
    return os.environ  # type: ignore[return-value]


@contextmanager
def function_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run the body with this thread's os.environ equal to `env` (nesting restores the outer view)."""
    install()
    previous = getattr(_local, "view", None)
    _local.view = dict(env)
    try:
        yield
    finally:
        _local.view = previous
