"""The one way the embedded AWS changes moto: replace (or add) one attribute, and get back the undo.

A replacement refuses an attribute moto does not have, and an addition one moto already has: either means
moto changed under the patch (a new version renamed the internal, or learned the call), which should fail
loudly at start-up instead of quietly leaving moto's own behaviour in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Undo = Callable[[], None]
_MISSING = object()


def replace(owner: Any, name: str, new: Any) -> Undo:
    """Sets owner.name to `new`; the undo puts moto's own back."""
    original = owner.__dict__.get(name, _MISSING)
    if original is _MISSING:
        raise RuntimeError(f"moto has no {owner.__name__}.{name} to patch: the embedded AWS needs updating")
    setattr(owner, name, new)

    def undo() -> None:
        setattr(owner, name, original)

    return undo


def add(owner: Any, name: str, new: Any) -> Undo:
    """Gives owner a `name` moto lacks (a call moto does not implement); the undo takes it away."""
    if name in owner.__dict__:
        raise RuntimeError(f"moto now has {owner.__name__}.{name}: the embedded AWS's own can go")
    setattr(owner, name, new)

    def undo() -> None:
        delattr(owner, name)

    return undo


def all_of(*undos: Undo) -> Undo:
    """One undo for several patches, undone in reverse order."""

    def undo() -> None:
        for step in reversed(undos):
            step()

    return undo
