"""Generate a hall's timeline (RULES.md §6 format): honest and cheating counters, seeded.

    python -m tools.hallgen --counters 12 --start 2026-03-02 --days 1 --seed 7 > day.jsonl
    python -m tools.hallgen --counters 100 --month 2026-03 > month.jsonl

Each counter gets a behaviour profile; the profiles and the incidents they should raise are
printed to stderr with --manifest, so a test or a demo can check the rules caught them.

The timeline is the hall simulator's plan (tools/simhall/people.py: its staff, citizens and
cheats, with their default parameters) written out as a file; this is its command line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, TextIO

from edge_agent.rules.calendar import from_us
from tools.simhall.people import PROFILES, TZ, Counter, make_desks, plan

__all__ = ["PROFILES", "TZ", "Counter", "generate", "main", "manifest", "month_days", "write"]

SALT = "demo-salt"  # the ID numbers' salt (the agent's [hook] salt in a live hall)


def generate(counters: int, days: list[date], seed: int, cheats: bool = True
             ) -> tuple[Iterator[dict[str, Any]], list[Counter]]:
    """The timeline's events in time order (lazily, a day at a time), and the counters."""
    desks = make_desks(counters, seed, SALT, cheats)
    events = ({"t": _iso(act.t), "counter": act.counter, **act.body}
              for act in plan(desks, days))
    return events, [desk.counter for desk in desks]


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

