"""Timelines: one JSON event a line (RULES.md §6), parsed into :class:`Event` with clear errors.

The same dictionary shape is what the journal stores for each input event.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.rules.calendar import EPOCH, from_us
from edge_agent.rules.model import EVENT_TYPES, FIVE_LEVELS, LEVEL_POINTS, SOURCES, Event

# Fields each event type must carry, beyond t, type and counter.
REQUIRED: dict[str, tuple[str, ...]] = {
    "staff_login": ("staff",),
    "ticket_called": ("ticket",),
    "rating": ("level",),
    "device_down": ("device",),
    "device_up": ("device",),
    "fault_report": ("device",),
    "fault_cleared": ("device",),
}
TEXT_FIELDS = ("counter", "staff", "id_hash", "ticket", "applicant", "level", "source", "device",
               "reason")


class TimelineError(ValueError):
    """A timeline line that cannot be used; ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


class EventParser:
    """Turns event dictionaries into events for one rating scale, checking every field."""

    def __init__(self, scale: str) -> None:
        self.levels = frozenset(LEVEL_POINTS[scale])
        self.scale = scale

    def parse_line(self, text: str, line: int) -> Event:
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise TimelineError(line, f"not valid JSON ({exc})") from None
        return self.parse(obj, line)

    def parse(self, obj: Any, line: int) -> Event:
        if not isinstance(obj, dict):
            raise TimelineError(line, "an event must be a JSON object")
        etype = obj.get("type")
        if etype not in EVENT_TYPES:
            if etype is None:
                raise TimelineError(line, 'missing "type"')
            raise TimelineError(line, f"unknown event type {etype!r}")
        for key in TEXT_FIELDS:
            value = obj.get(key)
            if value is not None and (not isinstance(value, str) or not value):
                raise TimelineError(line, f'"{key}" must be a non-empty string, got {value!r}')
        if "counter" not in obj:
            raise TimelineError(line, 'missing "counter"')
        for key in REQUIRED.get(etype, ()):
            if obj.get(key) is None:
                raise TimelineError(line, f'a {etype} event needs "{key}"')
        ev = Event(t=parse_time(obj.get("t"), line), type=etype, counter=obj["counter"],
                   line=line, staff=obj.get("staff"), id_hash=obj.get("id_hash"),
                   ticket=obj.get("ticket"), applicant=obj.get("applicant"),
                   level=obj.get("level"), source=obj.get("source") or "pad",
                   device=obj.get("device"), reason=obj.get("reason"))
        if etype == "rating":
            self._check_rating(ev)
        return ev

    def _check_rating(self, ev: Event) -> None:
        if ev.level not in self.levels:
            if ev.level in FIVE_LEVELS:
                raise TimelineError(ev.line, f"level {ev.level!r} is a five-level name but the "
                                             f"hall's [scale] kind is {self.scale!r}")
            raise TimelineError(ev.line, f"unknown rating level {ev.level!r} "
                                         f"(one of {', '.join(sorted(self.levels))})")
        if ev.source not in SOURCES:
            raise TimelineError(ev.line, f'"source" must be pad or staff, got {ev.source!r}')


def parse_time(value: Any, line: int) -> int:
    if not isinstance(value, str):
        raise TimelineError(line, 'missing "t"' if value is None else
                            f'"t" must be an ISO 8601 string, got {value!r}')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TimelineError(line, f'"t" is not an ISO 8601 time: {value!r}') from None
    if moment.tzinfo is None:
        raise TimelineError(line, f'"t" has no UTC offset: {value!r}')
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_time(us: int, tz: ZoneInfo) -> str:
    return from_us(us, tz).isoformat()


def event_to_dict(ev: Event, tz: ZoneInfo) -> dict[str, Any]:
    """The timeline form of an event (what a timeline line and a journal record hold)."""
    out: dict[str, Any] = {"t": format_time(ev.t, tz), "type": ev.type, "counter": ev.counter}
    for key in TEXT_FIELDS[1:]:
        value = getattr(ev, key)
        if value is not None and not (key == "source" and ev.type != "rating"):
            out[key] = value
    return out


def read_timeline(lines: Iterable[str], parser: EventParser) -> Iterator[Event]:
    """Events of a timeline, in order; blank lines count as lines but hold no event."""
    for number, text in enumerate(lines, 1):
        if text.strip():
            yield parser.parse_line(text, number)
