"""The queue-system report (HTTP hook and MQTT topic share it): parsing, checking, hashing.

A report is a JSON object::

    {"counter": "A01", "type": "ticket_called", "ticket": "T001", "applicant_id": "310..."}
    {"counter": "A01", "type": "service_done", "ticket": "T001"}
    {"counter": "A01", "type": "staff_login", "staff": "S01"}     (工号登录)
    {"counter": "A01", "type": "staff_logout"}                     ("staff" optional)
    {"counter": "A01", "type": "pause"} / {"counter": "A01", "type": "resume"}   (暂停)

`staff` names a [staff.ID] of the hall file. `id` (optional, any report) is echoed in the
answer on MQTT, so a queue system can match answers to its reports.

A queue system retries a report it got no answer for. A retried `ticket_called` for the
counter's current ticket, or a retried `service_done` naming the current ticket once it is
invited, is answered but not journaled again (core.py); a `service_done` without a ticket
cannot be told from a second 请评价 and is taken as one.
``applicant_id`` (the citizen's ID number) is optional and is turned into a salted hash here,
at the edge of the agent: the number itself never reaches the journal, the log or the wire.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Collection
from typing import Any

from edge_agent.rules.vocabulary import EventType
from edge_agent.service.inputs import QueueReport

TYPES = (EventType.TICKET_CALLED, EventType.SERVICE_DONE, EventType.STAFF_LOGIN,
         EventType.STAFF_LOGOUT, EventType.PAUSE, EventType.RESUME)
_TYPE_WORDS = {kind.value: kind for kind in TYPES}
FIELDS = {"counter", "type", "ticket", "applicant_id", "staff", "id"}
MAX_BODY = 4096
_ID_NUMBER = re.compile(r"^[0-9A-Za-z]{6,32}$")
_TICKET = re.compile(r"^[^\x00-\x1f]{1,32}$")


class QueueReportError(ValueError):
    """A report refused; the message says why (it is what the hook answers)."""


def id_hash(salt: str, id_number: str) -> str:
    """The salted hash the agent keeps of an ID number (applicants and staff alike)."""
    normal = id_number.strip().upper().encode()
    return "h:" + hmac.new(salt.encode(), normal, hashlib.sha256).hexdigest()[:32]


def report_id(body: bytes) -> str | None:
    """The report's "id" if it has a usable one (for the answer to a refused report too)."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    rid = obj.get("id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) and _TICKET.match(rid) else None


def parse_report(body: bytes, salt: str, counters: Collection[str], t_us: int,
                 staff: Collection[str] = ()) -> QueueReport:
    """`counters`: the ids a report may name; `staff`: the hall's staff ids."""
    if len(body) > MAX_BODY:
        raise QueueReportError(f"body of {len(body)} bytes, at most {MAX_BODY}")
    try:
        obj: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise QueueReportError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise QueueReportError("a report must be a JSON object")
    unknown = set(obj) - FIELDS
    if unknown:
        raise QueueReportError(f"unknown field(s): {', '.join(sorted(unknown))}")
    counter, kind = obj.get("counter"), obj.get("type")
    if not isinstance(counter, str) or counter not in counters:
        raise QueueReportError(f"unknown counter {counter!r}")
    if not isinstance(kind, str) or kind not in _TYPE_WORDS:
        raise QueueReportError(f"type must be one of {', '.join(TYPES)}, got {kind!r}")
    kind = _TYPE_WORDS[kind]
    ticket = obj.get("ticket")
    if kind == "ticket_called" and (not isinstance(ticket, str) or not _TICKET.match(ticket)):
        raise QueueReportError("a ticket_called report needs \"ticket\": 1-32 printable characters")
    if ticket is not None and (not isinstance(ticket, str) or not _TICKET.match(ticket)):
        raise QueueReportError("ticket must be 1-32 printable characters")
    if kind not in ("ticket_called", "service_done") and (
            ticket is not None or obj.get("applicant_id") is not None):
        raise QueueReportError(f"ticket and applicant_id belong to ticket_called / service_done, "
                          f"not {kind}")
    member = _staff(obj, kind, staff)
    rid = obj.get("id")
    if rid is not None and (not isinstance(rid, str) or not _TICKET.match(rid)):
        raise QueueReportError("id must be 1-32 printable characters")
    applicant = obj.get("applicant_id")
    if applicant is not None and (not isinstance(applicant, str)
                                  or not _ID_NUMBER.match(applicant.strip())):
        raise QueueReportError("applicant_id must be 6-32 letters and digits (an ID number)")
    return QueueReport(counter=counter, type=kind, t_us=t_us,
                       ticket=ticket,
                       applicant=id_hash(salt, applicant) if applicant else None,
                       staff=member, id=rid)


def _staff(obj: dict[str, Any], kind: str, known: Collection[str]) -> str | None:
    member = obj.get("staff")
    if kind == "staff_login" and member is None:
        raise QueueReportError("a staff_login report needs \"staff\": a staff id of the hall file")
    if member is None:
        return None
    if kind not in ("staff_login", "staff_logout"):
        raise QueueReportError(f"\"staff\" belongs to staff_login / staff_logout, not {kind}")
    if not isinstance(member, str) or member not in known:
        raise QueueReportError(f"unknown staff {member!r} (not a [staff.ID] of the hall file)")
    return member
