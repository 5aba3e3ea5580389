"""#11 Systems Manager: GetCalendarState (moto has no change calendars) answers from EmbeddedAws.calendars
({name: (OPEN or CLOSED, next transition or None)}); an unknown calendar is InvalidDocument, as AWS
answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, add


def install_change_calendars(calendars: dict[str, tuple[str, str | None]]) -> Undo:
    from moto.core.responses import ActionResult
    from moto.ssm.exceptions import InvalidDocument
    from moto.ssm.responses import SimpleSystemManagerResponse

    def get_calendar_state(self: Any) -> Any:
        names = [str(n).rsplit("/", 1)[-1] for n in self._get_param("CalendarNames", [])]
        unknown = [n for n in names if n not in calendars]
        if unknown:
            raise InvalidDocument(f"Document {unknown[0]} does not exist or is not a change calendar")
        states = [calendars[n] for n in names]
        closed = [s for s in states if s[0] != "OPEN"]
        next_change = (closed or states)[0][1]
        result: dict[str, Any] = {
            "State": "CLOSED" if closed else "OPEN",
            "AtTime": dt.datetime.now(dt.UTC).isoformat(),
        }
        if next_change:
            result["NextTransitionTime"] = next_change
        return ActionResult(result)

    return add(SimpleSystemManagerResponse, "get_calendar_state", get_calendar_state)
