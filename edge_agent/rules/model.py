"""What goes into the rules engine and what comes out of it.

Times are integer microseconds since the epoch (exact, so "exactly 60 s old" is exact).
``line`` is where the event came from: a timeline line number or a journal sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.rules.vocabulary import (
    FAULT_SOURCES,
    RATING_SOURCES,
    DecisionReason,
    DeviceKind,
    DeviceLink,
    EventType,
    FaultStatus,
    FaultVerdict,
    IncidentKind,
    Level,
    Scale,
    Screen,
    Source,
)

__all__ = [  # the vocabulary, re-exported where the model's names were always imported
    "EVENT_TYPES",
    "FAULT_SOURCES",
    "FIVE_LEVELS",
    "HALL",
    "LEVEL_POINTS",
    "REJECTED",
    "RULES_VERSION",
    "SATISFIED_LEVELS",
    "SOURCES",
    "UNVERIFIED",
    "VERDICTS",
    "VERIFIED",
    "Decision",
    "DecisionReason",
    "DeviceKind",
    "DeviceLink",
    "Event",
    "EventType",
    "FaultReport",
    "FaultStatus",
    "FaultVerdict",
    "Incident",
    "IncidentChanged",
    "IncidentKind",
    "Level",
    "Output",
    "Scale",
    "Screen",
    "ScreenChange",
    "Source",
    "TicketOpened",
]

EVENT_TYPES = tuple(EventType)
HALL = "*"  # the counter of an event about the whole hall (a system outage)
FIVE_LEVELS = tuple(Level)
# Points of each level in the month's base score (RULES.md §5).
LEVEL_POINTS: dict[str, dict[Level, int]] = {
    Scale.BINARY: {Level.SATISFIED: 5, Level.UNSATISFIED: 0},
    Scale.FIVE: {Level.VERY_SATISFIED: 5, Level.SATISFIED: 4, Level.BASIC: 3,
                 Level.UNSATISFIED: 1, Level.VERY_UNSATISFIED: 0},
}
SATISFIED_LEVELS = frozenset({Level.VERY_SATISFIED, Level.SATISFIED, Level.BASIC})
SOURCES = RATING_SOURCES  # of a rating press
VERDICTS = tuple(FaultVerdict)  # the IT department's ruling (查实)
# A fault report's status (RULES.md §3 "Device faults: reported, then verified").
UNVERIFIED, VERIFIED, REJECTED = FaultStatus
# The rules version this code implements; journals record the version they were written under.
RULES_VERSION = 2


@dataclass(slots=True)
class Event:
    t: int
    type: EventType
    counter: str
    line: int = 0
    staff: str | None = None
    id_hash: str | None = None
    ticket: str | None = None
    applicant: str | None = None
    level: Level | None = None
    source: Source = Source.PAD
    device: str | None = None
    reason: str | None = None
    ref: str | None = None  # fault_report / fault_verified: the repair record's number
    verdict: FaultVerdict | None = None  # fault_verified
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
    reason: DecisionReason
    ticket: str | None
    staff: str | None  # accepted: the staff logged in when the ticket was called
    level: Level


@dataclass(slots=True, eq=False)
class FaultReport:
    """One repair record (报修) of a device, and where the IT department's ruling left it."""

    device: str
    counter: str
    source: Source  # one of FAULT_SOURCES
    ref: str | None
    line: int
    t: int
    status: FaultStatus
    open: bool = True  # until fault_cleared for its device


@dataclass(slots=True)
class Incident:
    line: int
    t: int
    counter: str
    kind: IncidentKind
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
class ScreenChange:
    """What a counter's pad and sign should show now (a change of its screen)."""

    t: int
    counter: str
    screen: Screen
    staff: str | None


Output = Decision | Incident | IncidentChanged | TicketOpened | ScreenChange
