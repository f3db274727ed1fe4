"""Fault records filed at the center and the IT department's rulings on them: their shape.

A fault record is a repair request (报修) for one device, filed at the center (a call logged
by phone, say: ``source: "staff"``; or by the IT department itself: ``source: "it"``). A
ruling (查实) is the IT department's verdict on a repair record, named by ``(device, ref)``:
``device_fault`` verifies it (the outage it covers is exempt), ``not_device_fault`` rejects
it (RULES.md §3, 004 §17(二)1). The hall's agent pulls both (GET .../faults?after=N) and
journals them as fault_report / fault_cleared / fault_verified events.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from edge_agent.rules.calendar import to_us
from edge_agent.rules.vocabulary import FaultVerdict, UnknownWord, parse
from edge_agent.toml_fields import ID_PATTERN
from server_stub.errors import Rejection, schema_error

MAX_REASON = 500
FIELDS = frozenset(("device", "active", "t", "reason"))
RULING_FIELDS = frozenset(("device", "ref", "verdict"))
VERDICTS = tuple(FaultVerdict)
# A repair record's ref: the center's "center-N", or one the agent assigned
# ("P-A01-20260302091500"); journal refs are free text up to this length.
MAX_REF = 100


def parse_fault(body: bytes, filed_by: str, source: str) -> dict[str, Any]:
    """The record to keep: the request's fields, the time in microseconds, who filed it and
    the report's source (``it`` for the IT department's credential, else ``staff``)."""
    doc = _object(body, FIELDS, FIELDS)
    device, active, t, reason = doc["device"], doc["active"], doc["t"], doc["reason"]
    _device(device)
    if not isinstance(active, bool):
        raise schema_error("active", "must be true (fault reported) or false (cleared)")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise schema_error("reason", f"must be a string of at most {MAX_REASON} characters")
    return {"kind": "report" if active else "cleared", "device": device, "active": active,
            "t": t, "t_us": _time(t), "reason": reason, "source": source,
            "filed_by": filed_by}


def parse_ruling(body: bytes) -> tuple[str, str, FaultVerdict, str]:
    """(device, ref, verdict, note) of a ruling's body, or a 400 / 422 naming the field."""
    doc = _object(body, RULING_FIELDS | {"note"}, RULING_FIELDS)
    device, ref, word, note = doc["device"], doc["ref"], doc["verdict"], doc.get("note", "")
    _device(device)
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF:
        raise schema_error("ref", f"must be the repair record's ref, a string of 1 to {MAX_REF} "
                                  "characters (\"center-3\", \"P-A01-20260302091500\")")
    try:
        verdict = parse(FaultVerdict, word)
    except UnknownWord:
        raise schema_error("verdict", f"must be one of {', '.join(VERDICTS)}, "
                                      f"got {word!r}") from None
    if not isinstance(note, str) or len(note) > MAX_REASON:
        raise schema_error("note", f"must be a string of at most {MAX_REASON} characters")
    return device, ref, verdict, note


def _object(body: bytes, allowed: frozenset[str], required: frozenset[str]) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Rejection(400, "malformed", f"the body is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise Rejection(422, "schema", "the body must be a JSON object", field="body")
    for name in sorted(required - doc.keys()) + sorted(doc.keys() - allowed):
        raise schema_error(name, "missing" if name in required else "unknown field")
    return doc


def _device(device: Any) -> None:
    if not isinstance(device, str) or not ID_PATTERN.match(device):
        raise schema_error("device", "must be a device id: 1-32 letters, digits, '-' or '_'")


def _time(value: Any) -> int:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise schema_error("t", f"must be an ISO 8601 time, got {value!r}") from None
    if moment.utcoffset() is None:
        raise schema_error("t", f"needs a UTC offset (like +08:00), got {value!r}")
    return to_us(moment)
