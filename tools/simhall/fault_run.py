"""The long fault run (issue 6): a simulated week of a 12-counter hall on all three links,
cheaters on, every fault on (faults.py), ending with the table of presses seen, acknowledged,
journaled, forwarded and counted (tally.py), per link and in total, and the faults' log.

    tools/faults                       5 working days at x300 (see docs/faults.md)
    tools/faults --days 1 --speed 120  one day
    python -m tools.simhall.fault_run --help

Exit status: 0 when no press was lost or duplicated, every acknowledged press was counted at
the center, each rebooted pad's event came through once and each unplugged keypad was
journaled down and up, and every counter's penalised incidents are what the plan injected
(honest counters: none), any difference being exempt and explained as a system outage's
(docs/rules.md); 1 otherwise; 2 bad input. Acts the devices could not carry are listed with
the fault that caused them.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any, TextIO

from edge_agent.config import ConfigError
from edge_agent.rules.calendar import to_us
from tools.simhall import check, faults, tally
from tools.simhall.faults import Injector, LogEntry
from tools.simhall.hall import Layout
from tools.simhall.outcome import Outcome, execute
from tools.simhall.people import TZ
from tools.simhall.services import ServiceError
from tools.simhall.simulation import Options, Simulation

BAD_INPUT = 2


@dataclass
class Run:
    """What the run leaves to be reported on: the simulation and its injector."""

    sim: Simulation | None = None
    injector: Injector | None = None
    real_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.simhall.fault_run",
                                description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=5, help="working days (default %(default)s)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2),
                   help="first day (default 2026-03-02, a Monday)")
    p.add_argument("--speed", type=float, default=300.0,
                   help="simulated seconds per real second (default %(default)s)")
    p.add_argument("--counters", type=int, default=12)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path("var/faults"),
                   help="work folder, emptied first (default %(default)s)")
    p.add_argument("--until", type=dt_time.fromisoformat, metavar="HH:MM",
                   help="stop at this time of the first day (a short run)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    faults.add_arguments(p)
    p.set_defaults(faults="all")
    return p


def options(args: argparse.Namespace) -> Options:
    if args.days < 1 or args.counters < 1 or not args.speed > 0:
        raise ValueError("--days, --counters and --speed must be greater than 0")
    days = [args.start + timedelta(days=i) for i in range(args.days)]
    until = None if args.until is None else to_us(datetime.combine(args.start, args.until, TZ))
    return Options(counters=args.counters, days=days, seed=args.seed, speed=args.speed,
                   layout=Layout(), cheats=True, work=args.work, progress=args.progress,
                   until_us=until)


def play(args: argparse.Namespace, out: TextIO) -> tuple[Run, Outcome]:
    run = Run()

    def make(sim: Simulation) -> Injector | None:
        run.sim = sim
        run.injector = faults.from_args(args, sim) or Injector(
            [], sim, sim.hall, random.Random(0), end_us=sim.end_us)
        return run.injector

    started = time.monotonic()
    outcome = execute(options(args), out, make)
    run.real_s = time.monotonic() - started
    return run, outcome


# --- what came of the faults -------------------------------------------------------------------

def journal_events(path: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT event FROM records WHERE kind = 'event' ORDER BY seq")
        return [json.loads(text) for (text,) in rows]
    finally:
        db.close()


def check_faults(run: Run) -> None:
    """Each rebooted pad's event journaled once; each unplugged device down, then up."""
    assert run.sim is not None and run.injector is not None
    inj = run.injector
    inj.settle()
    events = journal_events(run.sim.work / "journal.sqlite")
    wired = Counter((e["wire"]["device"], e["wire"]["boot"], e["wire"]["seq"])
                    for e in events if isinstance(e.get("wire"), dict))
    for reboot in inj.reboots:
        if reboot.pad is None or reboot.event is None:
            continue
        n = wired[(reboot.pad.device, *reboot.event)]
        reboot.entry.outcome += f", journaled {n}x"
        if n != 1 or not reboot.entry.data.get("acked"):
            run.problems.append(f"pad reboot {reboot.pad.device} {reboot.event}: "
                                f"{reboot.entry.outcome}")
    for entry in inj.log:
        if entry.fault == "keypad_unplug" and entry.outcome == "done":
            _unplug_journaled(run, entry, events)


def _unplug_journaled(run: Run, entry: LogEntry, events: list[dict[str, Any]]) -> None:
    kinds = [e["type"] for e in events if e.get("device") == entry.target
             and e["type"] in ("device_down", "device_up")]
    ok = "device_down" in kinds and "device_up" in kinds[kinds.index("device_down"):]
    entry.outcome = f"done; agent journaled {', '.join(kinds) or 'nothing'}"
    if not ok:
        run.problems.append(f"keypad unplug {entry.target}: {entry.outcome}")


# --- the report ------------------------------------------------------------------------------

def report(run: Run, outcome: Outcome, out: TextIO) -> bool:
    assert run.sim is not None and run.injector is not None
    sim, inj = run.sim, run.injector
    inj.write_log(sim.work / "faults.jsonl")
    print(f"\nreal duration {run.real_s:.0f} s for {len(sim.opts.days)} day(s) at "
          f"x{sim.opts.speed:g}; work folder {sim.work}", file=out)
    print("\npresses (device, boot, seq) from the pads to the center:", file=out)
    assert outcome.presses is not None
    print(_links_only(tally.render(outcome.presses)), file=out)
    print("\nfaults:", file=out)
    for line in fault_lines(run):
        print(f"  {line}", file=out)
    print("\ncosts of the faults (acts the devices could not carry):", file=out)
    for line in cost_lines(run):
        print(f"  {line}", file=out)
    print(f"\nincident verdicts: {_verdicts(outcome)}", file=out)
    if outcome.live:
        print(check.table(outcome.live), file=out)
        for line in _excused(outcome.live):
            print(f"  {line}", file=out)
    verdicts = outcome.live is not None and all(r.ok for r in outcome.live)
    ok = outcome.presses.ok and outcome.drained and outcome.forwarded is not False
    if not verdicts:
        print("PROBLEM: a counter's penalised incidents differ from the plan", file=out)
    ok = ok and verdicts
    if outcome.rulings_journaled is False:
        failed = run.sim.it.failed if run.sim.it is not None else []
        run.problems.append("the IT department's rulings were not all journaled by the agent"
                            + "".join(f"; {device}: {why}" for device, why in failed))
    for problem in run.problems:
        print(f"PROBLEM: {problem}", file=out)
    if not outcome.drained:
        print("PROBLEM: some pad events still unacknowledged at the end", file=out)
    if outcome.forwarded is False:
        print("PROBLEM: the center did not catch up with the journal", file=out)
    ok = ok and not run.problems
    print(f"\nverdict: {'OK' if ok else 'FAILED'}: lost {len(outcome.presses.lost)}, "
          f"duplicated {len(outcome.presses.duplicated)}", file=out)
    return ok


def _links_only(table: str) -> str:
    """The tally's per-link and total rows (the per-pad rows are in tally.txt)."""
    lines = table.split("\n")
    return "\n".join(line for i, line in enumerate(lines)
                     if i == 0 or not line.split()[0].startswith(("A", "B")))


def fault_lines(run: Run) -> list[str]:
    assert run.sim is not None and run.injector is not None
    inj = run.injector
    fired = Counter(e.fault for e in inj.log)
    failed = Counter(e.fault for e in inj.log if e.outcome.startswith(("failed", "skipped",
                                                                        "not fired")))
    lines = [", ".join(f"{k} {n}" + (f" ({failed[k]} not done)" if failed[k] else "")
                       for k, n in sorted(fired.items())) or "none fired"]
    lines += [f"{e.line()['t']} {e.fault} {e.target}: {e.detail}: {e.outcome}"
              for e in inj.log if e.fault == "pad_reboot" or e.fault == "keypad_unplug"]
    serial = inj.serial_stats()
    if serial["bits"]:
        rate = serial["bits_flipped"] / serial["bits"]
        lines.append(f"serial bit errors: {serial['bits_flipped']} bits flipped in "
                     f"{serial['bytes_flipped']} bytes of {serial['bits'] // 8} "
                     f"(BER {rate:.2e}, asked {inj.ber:g})")
    lines.append("agent rejections (summed over its lives): "
                 + (json.dumps(dict(sorted(inj.agent_rejections.items()))) or "{}"))
    pads = list(run.sim.hall.pads())
    resent = sum(n - 1 for p in pads for n in p.sent.values() if n > 1)
    rejected = sum(p.rejected for p in pads)
    lines.append(f"pad retransmissions {resent}; frames the pads rejected {rejected}")
    return lines


def cost_lines(run: Run) -> list[str]:
    assert run.sim is not None and run.injector is not None
    sim, inj = run.sim, run.injector
    lost = getattr(getattr(sim, "performer", None), "lost", [])
    causes: Counter[str] = Counter()
    for act in lost:
        cause = inj.cause(act.t_us, act.device) or "no fault window (a bug?)"
        causes[f"{act.kind} on {act.device.rsplit('-', 1)[1]} lost ({act.why}): {cause}"] += 1
    lines = [f"{n}x {what}" for what, n in sorted(causes.items())] or ["no act lost"]
    queue = sim.queue
    if queue is not None:
        lines.append(f"queue system: {queue.retries} retries for "
                     f"{sum(queue.retried.values())} reports "
                     f"({json.dumps(dict(queue.retried))}); answers {json.dumps(queue.answers)}")
        lines += [f"queue report given up: {json.dumps(shown)}: {why}"
                  for shown, why in queue.refusals[:10]]
    return lines


def _excused(results: list[check.CounterResult]) -> list[str]:
    """Incidents exempt because the agent was down (their journal records give the times)."""
    return [f"{r.counter}: {n} {kind} exempt: a system outage (agent down) or its catch-up "
            f"spanned it" for r in results for kind, n in sorted(r.excused.items()) if n]


def _verdicts(outcome: Outcome) -> str:
    live = outcome.live or []
    bad = [r.counter for r in live if not r.ok]
    return (f"{len(live) - len(bad)} of {len(live)} counters as injected by the plan"
            + (f"; differing: {', '.join(bad)} (see the run's files)" if bad else ""))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run, outcome = play(args, sys.stdout)
        check_faults(run)
        return 0 if report(run, outcome, sys.stdout) else 1
    except (ValueError, ConfigError, ServiceError, OSError) as exc:
        print(f"tools.simhall.fault_run: error: {exc}", file=sys.stderr)
        return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
