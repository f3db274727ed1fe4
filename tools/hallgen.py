"""Generate a hall's timeline (RULES.md §6 format): honest and cheating counters, seeded.

    python -m tools.hallgen --counters 12 --start 2026-03-02 --days 1 --seed 7 > day.jsonl
    python -m tools.hallgen --counters 100 --month 2026-03 > month.jsonl

Each counter gets a behaviour profile; the profiles and the incidents they should raise are
printed to stderr with --manifest, so a test or a demo can check the rules caught them.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import json
import random
import sys
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from edge_agent.config import CalendarConfig
from edge_agent.rules.calendar import WorkCalendar, from_us

TZ = ZoneInfo("Asia/Shanghai")
MS = 1000  # microseconds

# Behaviour profile → the incident kinds it must raise (what the demo and tests check).
PROFILES: dict[str, tuple[str, ...]] = {
    "honest": (),
    "self_rater": ("self_rating",),
    "pumper": ("consecutive_rating",),
    "hurrier": ("refused_evaluation",),
    "skipper": ("not_prompted",),
    "long_pauser": ("long_pause",),
    "unplugger": ("device_offline",),
    "faulty_pad": (),  # an honest counter whose pad breaks and is reported: exempt outage
}


# Timed event bodies; a sub-sequence returns the time it ends at.
Steps = Generator[tuple[int, dict[str, Any]], None, int]


@dataclass
class Counter:
    id: str
    profile: str
    staff: str
    staff_hash: str
    rng: random.Random
    tickets: int = 0
    injected: dict[str, int] = field(default_factory=dict)

    def note(self, behaviour: str) -> None:
        self.injected[behaviour] = self.injected.get(behaviour, 0) + 1


def salted(value: str, salt: str = "demo-salt") -> str:
    """How the agent stores an ID number: never in clear (a salted hash)."""
    return "h:" + hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()[:16]


def assign_profiles(n: int, rng: random.Random, cheats: bool) -> list[str]:
    cheaters = [p for p in PROFILES if p != "honest"] if cheats else []
    profiles = cheaters[:n] + ["honest"] * max(0, n - len(cheaters))
    rng.shuffle(profiles)
    return profiles


def counter_day(c: Counter, day: date, cal: WorkCalendar) -> Iterator[tuple[int, dict[str, Any]]]:
    """One counter's working day, in time order: (microseconds, event body)."""
    periods = cal.periods_on(day)
    if not periods:
        return
    rng = c.rng
    (m_open, m_close), (a_open, a_close) = periods
    t = m_open - rng.randint(2, 8) * 60_000 * MS
    yield t, {"type": "staff_login", "staff": c.staff, "id_hash": c.staff_hash}
    pad = f"{c.id}-pad"
    special = {"long_pauser": m_open + rng.randint(60, 120) * 60_000 * MS,
               "unplugger": m_open + rng.randint(30, 150) * 60_000 * MS,
               "faulty_pad": a_open + rng.randint(30, 120) * 60_000 * MS}.get(c.profile)
    for start, end in ((m_open, m_close), (a_open, a_close)):
        t = max(t, start)
        while t < end - 5 * 60_000 * MS:
            if special is not None and t >= special:
                t = yield from _special(c, t, pad)
                special = None
                continue
            t = yield from _ticket(c, t)
            t += rng.randint(10, 90) * 1_000 * MS
        if start == m_open:
            yield max(t, end - 2 * 60_000 * MS), {"type": "pause", "reason": "lunch"}
            t = a_open + rng.randint(0, 3) * 60_000 * MS
            yield t, {"type": "resume"}
    yield max(t, a_close) + rng.randint(1, 10) * 60_000 * MS, {"type": "staff_logout"}


def _special(c: Counter, t: int, pad: str) -> Steps:
    rng = c.rng
    if c.profile == "long_pauser":
        c.note("long_pause")
        yield t, {"type": "pause", "reason": "away"}
        t += rng.randint(70, 100) * 60_000 * MS
        yield t, {"type": "resume"}
    elif c.profile == "unplugger":
        c.note("device_offline")
        yield t, {"type": "device_down", "device": pad}
        t += rng.randint(15, 40) * 60_000 * MS
        yield t, {"type": "device_up", "device": pad}
    else:  # faulty_pad: reported within the grace; the IT department repairs the pad and
        # rules it a device fault (查实), so the outage is exempt
        c.note("device_offline_exempt")
        yield t, {"type": "device_down", "device": pad}
        reported = t + rng.randint(2, 20) * 60_000 * MS
        ref = f"{pad}-{from_us(reported, TZ):%Y%m%d%H%M%S}"
        yield reported, {"type": "fault_report", "device": pad, "ref": ref}
        t += rng.randint(40, 70) * 60_000 * MS
        yield t, {"type": "device_up", "device": pad}
        yield t + 60_000 * MS, {"type": "fault_cleared", "device": pad}
        yield t + 120_000 * MS, {"type": "fault_verified", "device": pad, "ref": ref,
                                 "verdict": "device_fault"}
        t += 120_000 * MS
    return t


def _ticket(c: Counter, t: int) -> Steps:
    """Call, serve, invite, rate; a cheating profile bends it now and then."""
    rng = c.rng
    c.tickets += 1
    cheat = c.profile != "honest" and rng.random() < 0.15
    yield t, {"type": "ticket_called", "ticket": f"{c.id}-{c.tickets:04d}",
              "applicant": salted(f"citizen-{rng.getrandbits(40)}")}
    t += rng.randint(3 * 60_000, 14 * 60_000) * MS
    if cheat and c.profile == "skipper":
        c.note("not_prompted")
        return t  # the next call ends this ticket with no invitation and no rating
    yield t, {"type": "service_done"}
    if cheat and c.profile == "hurrier":
        c.note("refused_evaluation")
        t += rng.randint(1_000, 8_000) * MS
        yield t, {"type": "invite_cancel"}
        return t
    if cheat and c.profile == "self_rater":
        c.note("self_rating")
        t += rng.randint(1_000, 4_000) * MS
        yield t, {"type": "rating", "level": "satisfied", "source": "staff"}
    if rng.random() < 0.88:
        t += rng.randint(3_500, 25_000) * MS
        level = "satisfied" if rng.random() < 0.93 else "unsatisfied"
        yield t, {"type": "rating", "level": level, "source": "pad"}
        if rng.random() < 0.05:  # a nervous double press
            yield t + rng.randint(200, 1_500) * MS, {"type": "rating", "level": level,
                                                     "source": "pad"}
        if cheat and c.profile == "pumper":
            c.note("consecutive_rating")
            t += rng.randint(4_000, 9_000) * MS
            yield t, {"type": "rating", "level": "satisfied", "source": "pad"}
    return t + rng.randint(15_000, 40_000) * MS


def generate(counters: int, days: list[date], seed: int, cheats: bool = True
             ) -> tuple[Iterator[dict[str, Any]], list[Counter]]:
    """The timeline's events in time order (lazily, a day at a time), and the counters."""
    rng = random.Random(seed)
    profiles = assign_profiles(counters, rng, cheats)
    hall = [Counter(f"{chr(65 + i // 50)}{i % 50 + 1:02d}", profiles[i], f"S{i + 1:03d}",
                    salted(f"staff-id-{i + 1}"), random.Random(rng.getrandbits(64)))
            for i in range(counters)]
    cal = WorkCalendar(CalendarConfig(), TZ)

    def events() -> Iterator[dict[str, Any]]:
        for day in days:
            streams = [_tagged(i, counter_day(c, day, cal)) for i, c in enumerate(hall)]
            for t, i, body in heapq.merge(*streams):
                yield {"t": _iso(t), "counter": hall[i].id, **body}

    return events(), hall


def _tagged(index: int, events: Iterator[tuple[int, dict[str, Any]]]
            ) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """(time, counter index, body): equal times order by counter, never by body."""
    for t, body in events:
        yield t, index, body


def _iso(us: int) -> str:
    return from_us(us, TZ).isoformat(timespec="milliseconds")


def month_days(month: str) -> list[date]:
    year, mon = (int(x) for x in month.split("-"))
    first = date(year, mon, 1)
    nxt = date(year + mon // 12, mon % 12 + 1, 1)
    return [first + timedelta(days=i) for i in range((nxt - first).days)]


def write(events: Iterator[dict[str, Any]], out: TextIO) -> int:
    n = 0
    dumps = json.dumps
    for ev in events:
        out.write(dumps(ev, ensure_ascii=False))
        out.write("\n")
        n += 1
    return n


def manifest(hall: list[Counter]) -> dict[str, Any]:
    return {c.id: {"profile": c.profile, "staff": c.staff, "injected": c.injected,
                   "expect": list(PROFILES[c.profile])} for c in hall}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.hallgen", description=__doc__.split("\n")[0])
    p.add_argument("--counters", type=int, default=12)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2))
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--month", help="a whole month YYYY-MM (instead of --start/--days)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--honest", action="store_true", help="no cheating profiles")
    p.add_argument("--manifest", action="store_true", help="print profiles as JSON on stderr")
    args = p.parse_args(argv)
    days = (month_days(args.month) if args.month
            else [args.start + timedelta(days=i) for i in range(args.days)])
    events, hall = generate(args.counters, days, args.seed, cheats=not args.honest)
    write(events, sys.stdout)
    if args.manifest:
        json.dump(manifest(hall), sys.stderr, ensure_ascii=False, indent=1)
        sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

