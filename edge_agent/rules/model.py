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
SOURCES = ("pad", "staff")
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


@dataclass(slots=True)
class Incident:
    line: int
    t: int
    counter: str
    kind: str
    penalty: float
    staff: str | None
    exempt: bool = False
    device: str | None = None
    # A device_offline incident waits out the fault-report grace before it is final.
    pending: bool = False
    # Exempt because a system outage (from, to) may have caused it (rules.md).
    system_outage: tuple[int, int] | None = None


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


Output = Decision | Incident | TicketOpened | Display
