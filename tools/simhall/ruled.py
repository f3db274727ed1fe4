"""Were the reported outages pending until the IT department ruled, and ruled as the plan
says? Read from the agent's journal: each device_offline incident as first recorded, and
every later change of it (a ruling journaled as fault_verified), RULES.md §3 "Device faults:
reported, then verified".

- faulty_pad (a real fault, reported in time): pending (待核实), then exempt (已查实);
- self_excuser (the pad switched off, reported faulty): pending, then deducted (非设备故障).

An outage counted before the staff's report arrives is first recorded deducted (no report
covers it yet), then pending once the report comes within the grace: a history ends in
pending, then the ruled standing.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from tools.simhall.people import Desk

# profile -> the standing its reported outages must end in, once ruled
RULED = {"faulty_pad": "exempt", "self_excuser": "deducted"}


@dataclass
class OutageHistory:
    counter: str
    line: int
    standings: list[str] = field(default_factory=list)  # "pending", "exempt", "deducted"

    def shown(self) -> str:
        return " -> ".join(self.standings)

    def ruled_as(self, final: str) -> bool:
        return self.standings[-2:] == ["pending", final]


def standing(incident: dict[str, object]) -> str:
    return "exempt" if incident.get("exempt") else "pending" if incident.get("pending") \
        else "deducted"


def outage_histories(journal: Path) -> dict[str, list[OutageHistory]]:
    """Per counter, each outage's standings in the order the journal recorded them."""
    out: dict[tuple[str, int], OutageHistory] = {}
    if not journal.exists():
        return {}
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT outcome FROM records WHERE outcome LIKE "
                          "'%\"kind\":\"device_offline\"%' ORDER BY seq").fetchall()
    finally:
        db.close()
    for (text,) in rows:
        outcome = json.loads(text)
        for key in ("incidents", "changed"):
            for i in outcome.get(key, ()):
                if i["kind"] != "device_offline":
                    continue
                history = out.setdefault((i["counter"], i["line"]),
                                         OutageHistory(i["counter"], i["line"]))
                now = standing(i)
                if not history.standings or history.standings[-1] != now:
                    history.standings.append(now)
    by_counter: dict[str, list[OutageHistory]] = {}
    for history in out.values():
        by_counter.setdefault(history.counter, []).append(history)
    return by_counter


@dataclass
class RuledResult:
    counter: str
    profile: str
    outages: list[OutageHistory]

    @property
    def ok(self) -> bool:
        return bool(self.outages) and all(h.ruled_as(RULED[self.profile])
                                          for h in self.outages)


def judge(desks: list[Desk], journal: Path) -> list[RuledResult]:
    """One result per counter whose profile files a fault report the IT department rules."""
    histories = outage_histories(journal)
    return [RuledResult(d.counter.id, d.counter.profile, histories.get(d.counter.id, []))
            for d in desks if d.counter.profile in RULED and d.counter.injected]


def table(results: list[RuledResult]) -> str:
    rows = [f"{'counter':<8}{'profile':<13}{'outage':>7}  {'standing as journaled':<36}verdict"]
    for r in results:
        want = f"pending -> {RULED[r.profile]}"
        for h in r.outages or [OutageHistory(r.counter, 0, ["(none)"])]:
            good = h.ruled_as(RULED[r.profile])
            rows.append(f"{r.counter:<8}{r.profile:<13}{h.line:>7}  {h.shown():<36}"
                        f"{'as ruled' if good else 'MISMATCH, want ' + want}")
    return "\n".join(rows)
