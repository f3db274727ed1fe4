"""What goes into the rules engine and what comes out of it.

Times are integer microseconds since the epoch (exact, so "exactly 60 s old" is exact).
``line`` is where the event came from: a timeline line number or a journal sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass

EVENT_TYPES = (
    "staff_login",
    "staff_logout",
    "ticket_called",
    "service_done",
    "invite_cancel",
    "pause",
    "resume",
    "rating",
    "device_down",
    "device_up",
    "fault_report",
    "fault_cleared",
    "fault_verified",
    "system_outage",
)
HALL = "*"  # the counter of an event about the whole hall (a system outage)
FIVE_LEVELS = ("very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied")
# Points of each level in the month's base score (RULES.md §5).
LEVEL_POINTS = {
    "binary": {"satisfied": 5, "unsatisfied": 0},
    "five": {"very_satisfied": 5, "satisfied": 4, "basic": 3, "unsatisfied": 1,
             "very_unsatisfied": 0},
}
SATISFIED_LEVELS = frozenset({"very_satisfied", "satisfied", "basic"})
SOURCES = ("pad", "staff")  # of a rating press
FAULT_SOURCES = ("staff", "pad", "it")  # of a fault report (报修): who filed it
VERDICTS = ("device_fault", "not_device_fault")  # the IT department's ruling (查实)
# A fault report's status (RULES.md §3 "Device faults: reported, then verified").
UNVERIFIED, VERIFIED, REJECTED = "unverified", "verified", "rejected"
# The rules version this code implements; journals record the version they were written under.
RULES_VERSION = 2


@dataclass(slots=True)
class Event:
    t: int
    type: str
    counter: str
    line: int = 0
    staff: str | None = None
    id_hash: str | None = None
    ticket: str | None = None
    applicant: str | None = None
    level: str | None = None
    source: str = "pad"
    device: str | None = None
    reason: str | None = None
    ref: str | None = None  # fault_report / fault_verified: the repair record's number
    verdict: str | None = None  # fault_verified: one of VERDICTS
    # A rating that reached the engine late (a pad's stored press, a slow bus): when the
    # citizen pressed, earlier than `t`. The press checks measure from it (rules.md).
    pressed: int | None = None
    # A system outage: the agent was not listening from `t` to `until` (rules.md).
    until: int | None = None


@dataclass(slots=True)
class Decision:
    """The one decision a rating press gets."""

    line: int
    t: int
    counter: str
    accepted: bool
    reason: str
    ticket: str | None
    staff: str | None  # accepted: the staff logged in when the ticket was called
    level: str


@dataclass(slots=True, eq=False)
class FaultReport:
    """One repair record (报修) of a device, and where the IT department's ruling left it."""

    device: str
    counter: str
    source: str  # one of FAULT_SOURCES
    ref: str | None
    line: int
    t: int
    status: str  # UNVERIFIED, VERIFIED or REJECTED
    open: bool = True  # until fault_cleared for its device


@dataclass(slots=True)
class Incident:
    line: int
    t: int
    counter: str
    kind: str
    penalty: float
    staff: str | None
    # Not deducted: a covering fault report is verified (device_offline only).
    exempt: bool = False
    device: str | None = None
    # Deducted until the IT department rules: a covering report is still unverified.
    pending: bool = False
    # device_offline: the repair records covering the outage, in the order they came.
    faults: list[FaultReport] | None = None
    # Exempt because a system outage (from, to) may have caused it (rules.md).
    system_outage: tuple[int, int] | None = None


@dataclass(slots=True)
class IncidentChanged:
    """An incident already output changed status (a ruling, a report within the grace).

    ``line`` and ``t`` are the event's that changed it; ``incident`` is the incident as it is
    now (the same object the engine output before, so a tally holding it sees the change).
    """

    line: int
    t: int
    incident: Incident


@dataclass(slots=True)
class TicketOpened:
    """A ticket called at a counter: one unit of the month's volume."""

    line: int
    t: int
    counter: str
    ticket: str
    staff: str | None


@dataclass(slots=True)
class Display:
    """What a counter's pad and sign should show now."""

    t: int
    counter: str
    screen: str
    staff: str | None


Output = Decision | Incident | IncidentChanged | TicketOpened | Display
