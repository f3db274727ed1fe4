"""The journal record: one input event and the rules' outcome, as the JSON the journal keeps.

The live core, ``record`` (hall_state.record_timeline), snapshots and replay all write and read
records through this module, so the record's shape has one home:

- ``event``: the event in its timeline form (:func:`event_to_dict`; timeline.EventParser reads
  it back), plus what the agent knew of where it came from: ``wire`` (a pad frame's device,
  boot and seq, the replay guard's marks) and ``center_entry`` (the number of the entry of the
  center's repair list it applies, so the outbox hands each entry over once).
- ``outcome``: what the engine decided (:func:`outcome_dict`).

The sequence number is the journal's: ``Journal.next_seq`` gives the one a record in hand
will get, ``Journal.append_many`` returns the ones it assigned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.config import HallConfig
from edge_agent.rules.model import (
    Decision,
    Event,
    Incident,
    IncidentChanged,
    Output,
    ScreenChange,
    TicketOpened,
)
from edge_agent.rules.vocabulary import FaultVerdict, Source
from edge_agent.timeline import TEXT_FIELDS, format_time

# Event types whose "source" is kept (a rating's press side, a fault report's filer).
_SOURCED = frozenset(("rating", "fault_report"))
CENTER_ENTRY = "center_entry"  # the event's field: the center's repair-list entry it applies
# Before the field, the entry's number led the event's reason ("center:12: ..."): journals
# written then are read by it.
_REASON_ENTRY = re.compile(r"^center:(\d+): ")
FAULT_TYPES = ("fault_report", "fault_cleared", "fault_verified")
WIRE = "wire"  # the event's field: the pad frame's {"device", "boot", "seq"}
# The outcome's parts (outcome_dict writes them; today.py and replay read them back).
DECISION, INCIDENTS, CHANGED, TICKETS, DISPLAYS = (
    "decision", "incidents", "changed", "tickets", "displays")


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """An entry of the center's repair list, pulled down by the outbox: a fault record filed
    at the center (a call logged by phone, or the IT department's own record), its clearing,
    or the IT department's ruling on a repair record. The core journals it as fault_report /
    fault_cleared / fault_verified."""

    device: str
    active: bool
    t_us: int  # when it was filed
    reason: str  # a ruling: its note
    ref: str  # the entry's number in the center's list, so it is applied once
    kind: str = ""  # "report" | "cleared" | "ruling"; "" (older callers): from `active`
    source: Source = Source.STAFF  # a report's: staff (a call logged at the center) or it
    fault_ref: str | None = None  # a ruling: the repair record it rules on
    verdict: FaultVerdict | None = None  # a ruling

    @property
    def entry_kind(self) -> str:
        return self.kind or ("report" if self.active else "cleared")

    @property
    def entry(self) -> int:
        return int(self.ref)


def fault_reason(item: FaultRecord) -> str:
    """The reason an applied entry is journaled with, for people: the entry's number and the
    center's text (the outbox reads the number from the record's ``center_entry``)."""
    return f"center:{item.ref}: {item.reason}"[:200]


def center_entry(event: dict[str, Any]) -> int | None:
    """The center's repair-list entry a journaled fault event applies, or None: the record's
    ``center_entry``, or (a journal written before the field) the number its reason starts
    with."""
    if event.get("type") not in FAULT_TYPES:
        return None
    entry = event.get(CENTER_ENTRY)
    if isinstance(entry, int) and not isinstance(entry, bool):
        return entry
    match = _REASON_ENTRY.match(event.get("reason") or "")
    return int(match[1]) if match else None


def wire_mark(event: dict[str, Any]) -> tuple[str, int, int] | None:
    """The (device, boot, seq) of the pad frame a journaled event came in, or None."""
    wire = event.get(WIRE)
    if wire is None:
        return None
    return wire["device"], wire["boot"], wire["seq"]


def event_record(ev: Event, tz: ZoneInfo, *, wire: dict[str, Any] | None = None,
                 center: FaultRecord | None = None) -> dict[str, Any]:
    """The journal's ``event`` of an input event: its timeline form and where it came from."""
    data = event_to_dict(ev, tz)
    if wire is not None:
        data[WIRE] = wire
    if center is not None:
        data[CENTER_ENTRY] = center.entry
    return data


def event_to_dict(ev: Event, tz: ZoneInfo) -> dict[str, Any]:
    """The timeline form of an event (what a timeline line and a journal record hold)."""
    out: dict[str, Any] = {"t": format_time(ev.t, tz), "type": ev.type, "counter": ev.counter}
    for key in TEXT_FIELDS[1:]:
        value = getattr(ev, key)
        if value is not None and not (key == "source" and ev.type not in _SOURCED):
            out[key] = value
    if ev.pressed is not None:
        out["pressed"] = format_time(ev.pressed, tz)
    if ev.until is not None:
        out["until"] = format_time(ev.until, tz)
    return out


def decision_dict(d: Decision) -> dict[str, Any]:
    return {"line": d.line, "counter": d.counter, "accepted": d.accepted, "reason": d.reason,
            "ticket": d.ticket}


def incident_dict(i: Incident, config: HallConfig) -> dict[str, Any]:
    out = {"line": i.line, "counter": i.counter, "kind": i.kind,
           "t": format_time(i.t, config.tz), "penalty": i.penalty, "exempt": i.exempt,
           "pending": i.pending}
    if i.faults is not None:  # device_offline: its outage's repair records as they stand
        out["device"] = i.device
        out["faults"] = [{"ref": f.ref, "source": f.source, "status": f.status,
                          "line": f.line} for f in i.faults]
    if i.system_outage is not None:  # why it is exempt (rules.md, "System outages")
        out["system_outage"] = [format_time(x, config.tz) for x in i.system_outage]
    return out


def outcome_dict(outputs: list[Output], config: HallConfig) -> dict[str, Any]:
    """What the journal keeps as an event's outcome."""
    out: dict[str, Any] = {}
    for o in outputs:
        if isinstance(o, Decision):
            out[DECISION] = {**decision_dict(o), "staff": o.staff}
        elif isinstance(o, Incident):
            out.setdefault(INCIDENTS, []).append(
                {**incident_dict(o, config), "staff": o.staff, "device": o.device})
        elif isinstance(o, IncidentChanged):
            i = o.incident
            out.setdefault(CHANGED, []).append(
                {**incident_dict(i, config), "staff": i.staff, "device": i.device})
        elif isinstance(o, TicketOpened):
            out.setdefault(TICKETS, []).append({"ticket": o.ticket, "staff": o.staff})
        elif isinstance(o, ScreenChange):
            out.setdefault(DISPLAYS, []).append({"counter": o.counter, "screen": o.screen})
    return out
