"""Fault records filed at the center (a device fault reported by phone, say): their shape.

The hall's agent pulls them (GET .../faults?after=REF) and journals each as a fault_report
(active) or fault_cleared event, so a verified fault exempts the outage (004 §17(二)1).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from edge_agent.config import ID_PATTERN
from edge_agent.rules.calendar import to_us
from server_stub.errors import Rejection, schema_error

MAX_REASON = 500
FIELDS = frozenset(("device", "active", "t", "reason"))


def parse_fault(body: bytes, filed_by: str) -> dict[str, Any]:
    """The record to keep: the request's fields, the time in microseconds, who filed it."""
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise Rejection(400, "malformed", f"the body is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise Rejection(422, "schema", "the body must be a JSON object", field="body")
    for name in sorted(FIELDS - doc.keys()) + sorted(doc.keys() - FIELDS):
        raise schema_error(name, "missing" if name in FIELDS else "unknown field")
    device, active, t, reason = doc["device"], doc["active"], doc["t"], doc["reason"]
    if not isinstance(device, str) or not ID_PATTERN.match(device):
        raise schema_error("device", "must be a device id: 1-32 letters, digits, '-' or '_'")
    if not isinstance(active, bool):
        raise schema_error("active", "must be true (fault reported) or false (cleared)")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise schema_error("reason", f"must be a string of at most {MAX_REASON} characters")
    return {"device": device, "active": active, "t": t, "t_us": _time(t), "reason": reason,
            "filed_by": filed_by}


def _time(value: Any) -> int:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise schema_error("t", f"must be an ISO 8601 time, got {value!r}") from None
    if moment.utcoffset() is None:
        raise schema_error("t", f"needs a UTC offset (like +08:00), got {value!r}")
    return to_us(moment)
