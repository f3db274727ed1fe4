"""What a finished simulated run found, and the run start to end: `execute` prepares the
simulation, starts its services, plays the day, lets the outbox bring the center up to the
journal, stops the hall, and then asks the pads, the journal and the center what came of
every press (tally.py) and of every injected behaviour (check.py); `print_outcome` shows it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tools.simhall import center, check, ruled, tally
from tools.simhall.hall import SimHall
from tools.simhall.simulation import FORWARD_S, Options, Simulation, summary


@dataclass
class Outcome:
    """What a finished run found; `ok` when every check held."""

    work: Path
    whole: bool  # run to the end of the plan (not cut short with until_us)
    summary: dict[str, Any]
    drained: bool
    expected: list[check.CounterResult]  # the plan through the rules engine
    live: list[check.CounterResult] | None = None  # the agent's journal's month reports
    forwarded: bool | None = None  # None: no center
    presses: tally.Tally | None = None
    center_live: list[check.CounterResult] | None = None  # the center's month reports
    agent_reports: list[dict[str, Any]] = field(default_factory=list)
    center_reports: list[dict[str, Any]] = field(default_factory=list)
    report_diffs: list[str] = field(default_factory=list)
    # The IT department's rulings: posted at the center and journaled by the agent (None: no
    # center in the run), and each reported outage's standings as the agent journaled them.
    rulings_journaled: bool | None = None
    ruled: list[ruled.RuledResult] = field(default_factory=list)
    # Faults were injected: what they cost (a keypad press lost while the agent was down, an
    # outage of a rebooted pad) changes counters' incidents, so the verdicts on the agent's
    # and the center's reports are shown, not judged; presses must still all arrive once.
    faulted: bool = False

    @property
    def ok(self) -> bool:
        ok = self.drained and not self.summary["queue_refusals"]
        ok = ok and all(r.ok for r in self.expected) and not self.report_diffs
        if not self.faulted:
            ok = ok and all(r.ok for r in self.live or [])
            ok = ok and all(r.ok for r in self.center_live or [])
            ok = ok and self.rulings_journaled is not False and all(r.ok for r in self.ruled)
        ok = ok and self.forwarded is not False
        return ok and (self.presses is None or self.presses.ok)


def execute(opts: Options, out: Any = sys.stdout,
            make_faults: Callable[[Simulation], Any] | None = None,
            started: Callable[[Simulation], None] | None = None) -> Outcome:
    """One whole run: prepare, services, play, forward to the center, stop the hall, ask the
    journal and the center what came of it, stop everything (also on an error or Ctrl-C).
    `make_faults(sim)`, called after prepare(), gives the fault injector (or None);
    `started(sim)` is called once every service is up, before the day is played."""
    sim = Simulation(opts, out)
    try:
        sim.prepare()
        if make_faults is not None:
            sim.opts = replace(sim.opts, faults=make_faults(sim))
        sim.start_services()
        if started is not None:
            started(sim)
        drained = sim.play()
        faults = sim.opts.faults
        if faults is not None and hasattr(faults, "settle"):
            faults.settle()  # each reboot's outcome, now that every event is acked
            faults.write_log(sim.work / "faults.jsonl")
        sim.forward()
        sim.stop_hall()
        outcome = Outcome(sim.work, opts.until_us is None,
                          summary(sim.hall, sim.queue, sim.clock, sim.performer), drained,
                          sim.expected, forwarded=sim.forwarded, faulted=faults is not None,
                          rulings_journaled=sim.rulings_journaled)
        (sim.work / "summary.json").write_text(json.dumps(outcome.summary, indent=1))
        _findings(sim, outcome)
        return outcome
    finally:
        sim.close()


def _findings(sim: Simulation, outcome: Outcome) -> None:
    """The tally, and (for a whole run) the agent's and the center's month reports."""
    records = (list(center.stored_records(sim.redis_port, sim.hall.layout.hall_id))
               if sim.center is not None else None)
    outcome.presses = tally.tally(pad_presses(sim.hall), sim.work / "journal.sqlite", records)
    (sim.work / "tally.txt").write_text(tally.render(outcome.presses) + "\n")
    if not outcome.whole:
        return
    if sim.it is not None:
        outcome.ruled = ruled.judge(sim.desks, sim.work / "journal.sqlite")
    outcome.agent_reports = sim.agent_reports() or []
    outcome.live = check.judge_report(sim.desks, outcome.agent_reports, sim.rules)
    if sim.center is not None:
        outcome.center_reports = [sim.center.report(m) for m in sim.months()]
        for m in sim.months():  # the page for people, kept after the center is gone
            status, page = sim.center.get(sim.center.report_path(m, "report.html"))
            if status == 200:
                (sim.work / "center" / f"report-{m}.html").write_bytes(page)
        outcome.center_live = check.judge_report(sim.desks, outcome.center_reports, sim.rules)
        outcome.report_diffs = center.report_differences(outcome.agent_reports,
                                                         outcome.center_reports)


def pad_presses(hall: SimHall) -> list[tally.PadPresses]:
    return [tally.PadPresses(s.pad.device, s.link, s.pad.presses(), s.pad.presses_acked())
            for s in hall.stations.values()]


def run(opts: Options, out: Any = sys.stdout,
        make_faults: Callable[[Simulation], Any] | None = None) -> int:
    outcome = execute(opts, out, make_faults)
    print_outcome(outcome, out)
    return 0 if outcome.ok else 1


def print_outcome(o: Outcome, out: Any) -> None:
    _print_summary(out, o.summary, o.drained, o.work)
    if o.presses is not None:
        print("\npresses (device, boot, seq) from the pads to the center:", file=out)
        print(tally.render(o.presses), file=out)
    if o.forwarded is False:
        print(f"\nTHE CENTER DID NOT CATCH UP with the journal within {FORWARD_S:g} s",
              file=out)
    if not o.whole:
        print("\n(a run cut short with --until: incidents are not checked)", file=out)
        return
    print("\nwhat the plan injected and the rules must raise (plan -> rules engine):",
          file=out)
    print(check.table(o.expected), file=out)
    if o.faulted:
        print("\n(faults were injected: the verdicts below are shown, not judged; "
              "faults.jsonl lists what each fault cost)", file=out)
    if o.live is not None:
        print("\nwhat the agent raised (its journal's month report):", file=out)
        print(check.table(o.live), file=out)
    if o.ruled:
        print("\nreported outages, as the agent journaled them until the IT department "
              "ruled:", file=out)
        print(ruled.table(o.ruled), file=out)
    if o.center_live is not None:
        print("\nwhat the center raised (its month report, report.json):", file=out)
        print(check.table(o.center_live), file=out)
        print("\nthe center's month report equals the agent's replay: "
              + ("yes" if not o.report_diffs else "NO\n  " + "\n  ".join(o.report_diffs[:20])),
              file=out)


def _print_summary(out: Any, report: dict[str, Any], drained: bool, work: Path) -> None:
    pads = report["pads"]
    made = sum(len(p["presses"]) for p in pads.values())
    acked = sum(len(p["acked"]) for p in pads.values())
    lost = sum(len(p["lost"]) for p in pads.values())
    print(f"\npresses made {made}, acknowledged {acked}, lost in power cuts {lost}"
          f"{'' if drained else ' (some events still unacknowledged at the end)'}", file=out)
    print(f"acts: {json.dumps(report['acts'])}", file=out)
    print(f"queue system answers: {json.dumps(report['queue'])}", file=out)
    for shown, why in report["queue_refusals"][:5]:
        print(f"  refused {json.dumps(shown)}: {why}", file=out)
    print(f"\nfiles in {work}: hall.toml plan.jsonl manifest.json summary.json "
          "journal.sqlite agent.log", file=out)
