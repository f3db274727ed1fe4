"""How long each pad outage of a month counted: working time from the moment the outage
began to count (its incident's time) to the pad's device_up, by the counter's calendar.

The repair queue shows it beside each outage a repair record covers. An outage the journal
has not seen end yet counts to the hall's newest record, and is marked ongoing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.journal import Record
from edge_agent.rules.calendar import WorkCalendar, to_us


def with_counted_time(outages: Sequence[Mapping[str, Any]], records: Iterable[Record],
                      config: HallConfig) -> list[dict[str, Any]]:
    """The outages (evidence of device_offline incidents) with ``end`` (local ISO time or
    None), ``ongoing`` and ``counted_s`` (working seconds)."""
    ups: dict[str, list[tuple[int, int]]] = {}  # device -> [(seq, t_us)] of device_up
    last_us = 0
    for r in records:
        last_us = r.t_us
        # kind "event" as the live agent journals, or the event's type as `record` does
        if r.kind in ("event", "device_up") and '"device_up"' in r.event:
            event = json.loads(r.event)
            if event.get("type") == "device_up" and isinstance(event.get("device"), str):
                ups.setdefault(event["device"], []).append((r.seq, r.t_us))
    out = []
    for o in outages:
        start = to_us(datetime.fromisoformat(str(o["t"])))
        end = next((t for seq, t in ups.get(str(o.get("device")), ()) if seq > int(o["seq"])),
                   None)
        calendar = WorkCalendar(config.calendar_for(str(o["counter"])), config.tz)
        out.append({**o, "end": end, "ongoing": end is None,
                    "counted_s": working_seconds(calendar, start,
                                                 end if end is not None else last_us)})
    return out


def working_seconds(calendar: WorkCalendar, start: int, end: int) -> int:
    total = 0
    for a, b in calendar.periods_from(start):
        if a >= end:
            break
        total += min(b, end) - a
    return total // 1_000_000
