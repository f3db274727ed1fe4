"""Today's figures per counter for the live status page, from each journal record's outcome
(edge_agent/records.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.records import CHANGED, DECISION, INCIDENTS, TICKETS
from edge_agent.rules.calendar import from_us, to_us
from edge_agent.rules.model import SATISFIED_LEVELS

# What the status page shows of each of today's incidents.
INCIDENT_KEYS = ("line", "t", "kind", "staff", "penalty", "exempt", "pending", "device",
                 "faults", "system_outage")


@dataclass(slots=True)
class CounterDay:
    tickets: int = 0
    ratings: int = 0
    accepted: int = 0
    satisfied: int = 0
    incidents: list[dict[str, Any]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        rate = round(self.satisfied / self.accepted, 3) if self.accepted else None
        return {"tickets": self.tickets, "ratings": self.ratings, "accepted": self.accepted,
                "satisfied": self.satisfied, "rate": rate}


class Today:
    """Counts since local midnight; a record of a later day starts a new day."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self.day_end = 0
        self.counters: dict[str, CounterDay] = {}

    def add(self, t_us: int, event: dict[str, Any], outcome: dict[str, Any]) -> None:
        if t_us >= self.day_end:
            self._new_day(t_us)
        decision = outcome.get(DECISION)
        if decision is not None:
            c = self._counter(decision["counter"])
            c.ratings += 1
            if decision["accepted"]:
                c.accepted += 1
                c.satisfied += event.get("level") in SATISFIED_LEVELS
        for _ in outcome.get(TICKETS, ()):
            self._counter(event["counter"]).tickets += 1
        for incident in outcome.get(INCIDENTS, ()):
            self._counter(incident["counter"]).incidents.append(
                {k: incident.get(k) for k in INCIDENT_KEYS})
        for change in outcome.get(CHANGED, ()):  # a ruling, a report within the grace
            self._change(change)

    def _change(self, change: dict[str, Any]) -> None:
        for incident in self.counter(change["counter"]).incidents:
            if (incident["line"], incident["kind"], incident["device"]) == \
                    (change["line"], change["kind"], change.get("device")):
                incident.update({k: change.get(k) for k in INCIDENT_KEYS})

    def counter(self, counter_id: str) -> CounterDay:
        return self.counters.get(counter_id) or CounterDay()

    def _counter(self, counter_id: str) -> CounterDay:
        c = self.counters.get(counter_id)
        if c is None:
            c = self.counters[counter_id] = CounterDay()
        return c

    def _new_day(self, t_us: int) -> None:
        local = from_us(t_us, self._tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=self._tz)
        self.day_end = to_us(midnight + timedelta(days=1))
        self.counters = {}
