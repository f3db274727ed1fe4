"""Monthly scores of counters and staff (RULES.md §5), with the records behind each deduction.

Arithmetic is exact (fractions); figures are rounded half-up to 2 decimals only when shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from edge_agent.config import HallConfig
from edge_agent.rules.calendar import to_us
from edge_agent.rules.model import (
    LEVEL_POINTS,
    SATISFIED_LEVELS,
    Decision,
    Incident,
    Output,
    TicketOpened,
)


def month_bounds(month: str, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a "YYYY-MM" month in local time, in microseconds."""
    year, mon = (int(part) for part in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=tz)
    return to_us(start), to_us(end)


def standard(volume: int) -> int:
    """当月标准数: the ratings a month's volume calls for."""
    if volume <= 50:
        return math.ceil(Fraction(7, 10) * volume)
    if volume <= 100:
        return math.ceil(Fraction(6, 10) * volume)
    if volume <= 200:
        return math.ceil(Fraction(5, 10) * volume)
    return 100


def shortfall_deduction(shortfall: int) -> int:
    """1 point per started block of 10 missing ratings, at most 5."""
    return 0 if shortfall <= 0 else min(5, math.ceil(shortfall / 10))


def round2(value: Fraction) -> float:
    """Half-up to 2 decimals (all figures here are 0 or more)."""
    return math.floor(value * 100 + Fraction(1, 2)) / 100


STAFF_FIGURES = ("volume", "ratings", "satisfied", "base", "penalties")


@dataclass
class Row:
    """One counter's or one staff member's month."""

    volume: int = 0
    ratings: int = 0
    satisfied: int = 0
    points: int = 0
    incidents: list[Incident] = field(default_factory=list)

    def base(self) -> Fraction:
        return Fraction(self.points, self.ratings) if self.ratings else Fraction(0)

    def penalties(self) -> Fraction:
        return sum((Fraction(str(i.penalty)) for i in self.incidents if not i.exempt),
                   Fraction(0))

    def score(self) -> Fraction:
        deduction = shortfall_deduction(self.shortfall())
        return max(Fraction(0), self.base() - deduction - self.penalties())

    def standard(self) -> int:
        return standard(self.volume)

    def shortfall(self) -> int:
        return max(0, self.standard() - self.ratings)

    def counter_figures(self) -> dict[str, Any]:
        return {
            "volume": self.volume,
            "ratings": self.ratings,
            "satisfied": self.satisfied,
            "base": round2(self.base()),
            "standard": self.standard(),
            "shortfall": self.shortfall(),
            "shortfall_deduction": shortfall_deduction(self.shortfall()),
            "penalties": round2(self.penalties()),
            "score": round2(self.score()),
        }

    def staff_figures(self) -> dict[str, Any]:
        """The staff row of the replay contract: a subset of the counter's figures."""
        figures = self.counter_figures()
        return {key: figures[key] for key in STAFF_FIGURES}

    def deductions(self) -> list[dict[str, Any]]:
        """Each incident kind with the records (lines) behind it.

        ``lines`` are the deducted ones, ``pending_lines`` those of them still awaiting the IT
        department's ruling (待核实), ``exempt_lines`` the verified faults (已查实) and those a
        system outage excused (also in ``system_outage_lines``, rules.md); a
        device_offline entry also lists each outage with its repair records (``outages``).
        """
        by_kind: dict[str, dict[str, Any]] = {}
        for i in self.incidents:
            entry = by_kind.setdefault(i.kind, {"kind": i.kind, "count": 0, "exempt": 0,
                                                "pending": 0, "points": Fraction(0),
                                                "lines": [], "exempt_lines": [],
                                                "pending_lines": []})
            entry["count"] += 1
            if i.exempt:
                entry["exempt"] += 1
                entry["exempt_lines"].append(i.line)
                if i.system_outage is not None:  # why: the system was down (rules.md)
                    entry.setdefault("system_outage_lines", []).append(i.line)
            else:
                entry["points"] += Fraction(str(i.penalty))
                entry["lines"].append(i.line)
                if i.pending:
                    entry["pending"] += 1
                    entry["pending_lines"].append(i.line)
            if i.faults is not None:
                entry.setdefault("outages", []).append(outage_status(i))
        return [{**e, "points": round2(e["points"])} for e in by_kind.values()]


def outage_status(i: Incident) -> dict[str, Any]:
    """A device_offline incident's outage: its status and the repair records behind it."""
    status = "exempt" if i.exempt else "pending" if i.pending else "deducted"
    return {"line": i.line, "device": i.device, "status": status,
            "faults": [{"ref": f.ref, "source": f.source, "status": f.status, "line": f.line}
                       for f in i.faults or ()]}


class MonthTally:
    """Adds up the engine's outputs that fall in one month."""

    def __init__(self, config: HallConfig, month: str) -> None:
        self.month = month
        self.start, self.end = month_bounds(month, config.tz)
        self._points = LEVEL_POINTS[config.scale]
        self.counters: dict[str, Row] = {c: Row() for c in config.counters}
        self.staff: dict[str, Row] = {}

    def see_counter(self, counter: str) -> None:
        if counter not in self.counters:
            self.counters[counter] = Row()

    def see_staff(self, staff: str) -> None:
        if staff not in self.staff:
            self.staff[staff] = Row()

    def _rows(self, counter: str, staff: str | None) -> tuple[Row, ...]:
        row = self.counters.get(counter) or self.counters.setdefault(counter, Row())
        if staff is None:
            return (row,)
        return row, self.staff.get(staff) or self.staff.setdefault(staff, Row())

    def add_all(self, outputs: list[Output]) -> None:
        start, end = self.start, self.end
        for out in outputs:
            if start <= out.t < end:
                adder = self._adders.get(out.__class__)
                if adder is not None:
                    adder(self, out)

    def _decision(self, d: Decision) -> None:
        if not d.accepted:
            return
        points = self._points[d.level]
        satisfied = d.level in SATISFIED_LEVELS
        for row in self._rows(d.counter, d.staff):
            row.ratings += 1
            row.points += points
            row.satisfied += satisfied

    def _ticket(self, ticket: TicketOpened) -> None:
        for row in self._rows(ticket.counter, ticket.staff):
            row.volume += 1

    def _incident(self, incident: Incident) -> None:
        for row in self._rows(incident.counter, incident.staff):
            row.incidents.append(incident)

    _adders: ClassVar[dict[type, Callable[[MonthTally, Any], None]]] = {
        Decision: _decision, TicketOpened: _ticket, Incident: _incident}

    def report(self) -> dict[str, Any]:
        """The report of the replay contract (RULES.md §6)."""
        return {
            "month": self.month,
            "counters": {c: r.counter_figures() for c, r in sorted(self.counters.items())},
            "staff": {s: r.staff_figures() for s, r in sorted(self.staff.items())},
        }

    def explained(self) -> dict[str, Any]:
        """The published monthly report: every figure and the records behind each deduction."""
        def row(r: Row) -> dict[str, Any]:
            return {**r.counter_figures(), "deductions": r.deductions()}

        return {
            "month": self.month,
            "counters": {c: row(r) for c, r in sorted(self.counters.items())},
            "staff": {s: row(r) for s, r in sorted(self.staff.items())},
        }
