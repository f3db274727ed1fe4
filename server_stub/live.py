"""A hall's day so far, from the center's copy of its journal: the figures the agent's
status page shows per counter (tickets, ratings, accepted, satisfied, rate, incidents),
counted from each record's outcome as the agent counts them.

The day is the local day of the hall's newest record (as on the agent, where a record of a
later day starts a new day), so a hall whose agent has not sent today's records yet still
shows its last day, and says which day that is.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any

from edge_agent.records import DECISION, INCIDENTS, TICKETS
from edge_agent.rules.calendar import from_us, to_us
from edge_agent.rules.model import SATISFIED_LEVELS
from server_stub.config import HallEntry
from server_stub.store import Store


def hall_today(store: Store, entry: HallEntry, month_now: str) -> dict[str, Any]:
    config = entry.config
    head = store.head(entry.id).seq
    counters: dict[str, dict[str, Any]] = {
        cid: _blank(name) for cid, name in sorted(config.counters.items())}
    if head == 0:
        return {"id": entry.id, "seq": 0, "last": None, "day": "—", "month": month_now,
                "counters": counters}
    last_us = store.rows_at(entry.id, [head])[head][0]
    last = from_us(last_us, config.tz)
    midnight = to_us(datetime.combine(last.date(), time(0), tzinfo=config.tz))
    for _seq, _t, _kind, event_text, outcome_text in store.rows_since(entry.id, midnight):
        _add(counters, json.loads(event_text), json.loads(outcome_text))
    for figures in counters.values():
        figures["rate"] = (round(figures["satisfied"] / figures["accepted"], 3)
                           if figures["accepted"] else None)
    return {"id": entry.id, "seq": head, "last": f"{last:%Y-%m-%d %H:%M:%S}",
            "day": f"{last:%Y-%m-%d}", "month": f"{last:%Y-%m}", "counters": counters}


def _blank(name: str = "") -> dict[str, Any]:
    return {"name": name, "tickets": 0, "ratings": 0, "accepted": 0, "satisfied": 0,
            "rate": None, "incidents": 0}


def _add(counters: dict[str, dict[str, Any]], event: dict[str, Any],
         outcome: dict[str, Any]) -> None:
    decision = outcome.get(DECISION)
    if decision is not None:
        c = counters.setdefault(decision.get("counter") or event.get("counter", "?"), _blank())
        c["ratings"] += 1
        if decision.get("accepted"):
            c["accepted"] += 1
            c["satisfied"] += event.get("level") in SATISFIED_LEVELS
    for _ in outcome.get(TICKETS, ()):
        counters.setdefault(event.get("counter", "?"), _blank())["tickets"] += 1
    for incident in outcome.get(INCIDENTS, ()):
        counters.setdefault(incident.get("counter", "?"), _blank())["incidents"] += 1
