"""Timelines: one JSON event a line (RULES.md §6), parsed into :class:`Event` with clear errors.

The same dictionary shape is what the journal stores for each input event.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.rules.calendar import from_us
from edge_agent.rules.model import (
    EVENT_TYPES,
    FAULT_SOURCES,
    FIVE_LEVELS,
    HALL,
    LEVEL_POINTS,
    SOURCES,
    VERDICTS,
    Event,
    EventType,
    Level,
    Source,
)

# Fields each event type must carry, beyond t, type and counter.
REQUIRED: dict[str, tuple[str, ...]] = {
    "staff_login": ("staff",),
    "ticket_called": ("ticket",),
    "rating": ("level",),
    "device_down": ("device",),
    "device_up": ("device",),
    "fault_report": ("device",),
    "fault_cleared": ("device",),
    "fault_verified": ("device", "verdict"),
    "system_outage": ("until",),
}
TEXT_FIELDS = ("counter", "staff", "id_hash", "ticket", "applicant", "level", "source", "device",
               "reason", "ref", "verdict")
TEXT_FIELD_SET = frozenset(TEXT_FIELDS)
# The boundary: each word from outside to its member of the vocabulary.
_TYPES: dict[Any, EventType] = {t.value: t for t in EVENT_TYPES}
_LEVELS = {level.value: level for level in Level}
_SOURCES = {source.value: source for source in Source}
_VERDICTS = {verdict.value: verdict for verdict in VERDICTS}
_scan_once = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


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

    def parse_line(self, text: str | bytes, line: int) -> Event:
        if isinstance(text, bytes):
            try:
                text = text.decode()
            except UnicodeDecodeError as exc:
                raise TimelineError(line, f"not UTF-8 text ({exc.reason})") from None
        try:
            obj, end = _scan_once(text, 0)  # the fast path of json.loads, for a line "{...}"
        except StopIteration:
            obj, end = _slow_loads(text, line), len(text)
        if end != len(text) and not text.isspace() and text[end:].strip():
            _slow_loads(text, line)  # trailing garbage: let json name it
        return self.parse(obj, line)

    def parse(self, obj: Any, line: int) -> Event:
        if obj.__class__ is not dict:
            raise TimelineError(line, "an event must be a JSON object")
        word = obj.get("type")
        etype = _TYPES.get(word)
        if etype is None:
            if word is None:
                raise TimelineError(line, 'missing "type"')
            raise TimelineError(line, f"unknown event type {word!r}")
        for key, value in obj.items():
            if ((value.__class__ is not str and not isinstance(value, str)) or not value) \
                    and key in TEXT_FIELD_SET \
                    and value is not None:
                raise TimelineError(line, f'"{key}" must be a non-empty string, got {value!r}')
        counter = obj.get("counter")
        if counter is None:
            raise TimelineError(line, 'missing "counter"')
        get = obj.get
        for key in REQUIRED.get(etype, ()):
            if get(key) is None:
                raise TimelineError(line, f'a {etype} event needs "{key}"')
        source: Any = get("source") or ("staff" if etype == "fault_report" else "pad")
        ev = Event(parse_time(get("t"), line), etype, counter, line, get("staff"),
                   get("id_hash"), get("ticket"), get("applicant"), get("level"),
                   source, get("device"), get("reason"), get("ref"), get("verdict"))
        if etype == "rating":
            self._check_rating(ev)
            pressed = get("pressed")
            if pressed is not None:
                ev.pressed = _pressed(parse_time(pressed, line), ev.t, line)
        elif etype == "system_outage":
            ev.until = _until(parse_time(get("until"), line), ev, line)
        elif etype == "fault_report":
            if source not in FAULT_SOURCES:
                raise TimelineError(line, f'a fault_report\'s "source" must be one of '
                                          f'{", ".join(FAULT_SOURCES)}, got {source!r}')
            ev.source = _SOURCES[source]
        elif etype == "fault_verified":
            if ev.verdict not in VERDICTS:
                raise TimelineError(line, f'"verdict" must be one of {", ".join(VERDICTS)}, '
                                          f"got {ev.verdict!r}")
            ev.verdict = _VERDICTS[ev.verdict]
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
        ev.level = _LEVELS[ev.level]
        ev.source = _SOURCES[ev.source]


def _pressed(pressed: int, t: int, line: int) -> int:
    if pressed > t:
        raise TimelineError(line, '"pressed" must not be later than "t" (it is when a late '
                                  "press was made)")
    return pressed


def _until(until: int, ev: Event, line: int) -> int:
    if until < ev.t:
        raise TimelineError(line, '"until" must not be earlier than "t" (a system outage '
                                  "runs from t to until)")
    if ev.counter != HALL:
        raise TimelineError(line, f'a system_outage is the whole hall\'s: its "counter" is '
                                  f'"{HALL}", got {ev.counter!r}')
    return until


def parse_time(value: Any, line: int) -> int:
    """Exact microseconds since the epoch of an ISO 8601 time with a UTC offset."""
    if value.__class__ is not str:
        raise TimelineError(line, 'missing "t"' if value is None else
                            f'"t" must be an ISO 8601 string, got {value!r}')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise TimelineError(line, f'"t" is not an ISO 8601 time: {value!r}') from None
    offset = _OFFSETS.get(moment.tzinfo)
    if offset is None:
        offset = _offset_us(moment, value, line)
    # Field arithmetic instead of timestamp(): exact, and a fraction of the cost.
    seconds = ((moment.toordinal() - _EPOCH_ORDINAL) * 86_400 + moment.hour * 3600
               + moment.minute * 60 + moment.second)
    return seconds * 1_000_000 + moment.microsecond - offset


def _offset_us(moment: datetime, value: str, line: int) -> int:
    delta = moment.utcoffset()
    if delta is None:
        raise TimelineError(line, f'"t" has no UTC offset: {value!r}')
    offset = delta // timedelta(microseconds=1)
    if len(_OFFSETS) < 4096:  # ISO offsets are fixed: one value per tzinfo
        _OFFSETS[moment.tzinfo] = offset
    return offset


_OFFSETS: dict[Any, int] = {}
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _slow_loads(text: str, line: int) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TimelineError(line, f"not valid JSON ({exc})") from None


def format_time(us: int, tz: ZoneInfo) -> str:
    return from_us(us, tz).isoformat()

