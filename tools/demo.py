"""The demo (README's main command, `tools/demo`): a live simulated hall's working day.

A 12-counter hall (pads on USB, RS-485 and MQTT; some staff cheating) is simulated on the
real pad firmware logic against the real services: mosquitto, the edge agent, redis-server
and the center. The day 08:30-18:00 runs in a few minutes (x200). At the start it prints the
agent's live status page, how to fetch the center's report page, and the center's console
with a manager's and an IT account of the hall (new passwords each run); at the end the day's
report from the center, the press tally (every press a pad saw acknowledged counted once at
the center), and behaviour injected -> incidents raised by the agent and by the center.
Exit status 0 only if every check holds (docs/simulator.md).

    python -m tools.demo [--speed 200] [--seed 1]    the live simulated hall (var/demo)
    python -m tools.demo --replay                    the shipped sample day replayed through
                                                     the rules, journal and report
"""

from __future__ import annotations

import argparse
import json
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from edge_agent.config import ConfigError
from tools.simhall import center, check, ruled, services, tally
from tools.simhall.center import CenterError
from tools.simhall.outcome import Outcome, execute
from tools.simhall.simulation import Options, Simulation

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "edge_agent" / "samples"
WORK = ROOT / "var" / "demo"
REPLAY_WORK = ROOT / "var" / "demo-replay"
MONTH = "2026-03"
DAY = date(2026, 3, 2)  # a Monday
STATUS_PORT = 8480
SPEED = 200.0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tools/demo", description=__doc__.split("\n")[0])
    p.add_argument("--replay", action="store_true",
                   help="replay the shipped sample day instead (no services)")
    p.add_argument("--speed", type=float, default=SPEED,
                   help="simulated seconds per real second (default %(default)g: ~3 min)")
    p.add_argument("--seed", type=int, default=1, help="the people's seed (default 1)")
    p.add_argument("--counters", type=int, default=12, help="(default 12)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.replay:
        return replay()
    if args.speed <= 0 or args.counters <= 0:
        print("demo: --speed and --counters must be greater than 0", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminated)  # so every child is stopped on the way out
    began = time.monotonic()
    try:
        outcome = execute(_options(args), started=_announce)
    except (ValueError, ConfigError, services.ServiceError, CenterError, OSError) as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    return _conclude(outcome, time.monotonic() - began)


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def _options(args: argparse.Namespace) -> Options:
    port = STATUS_PORT if _free(STATUS_PORT) else services.free_port()
    return Options(counters=args.counters, days=[DAY], seed=args.seed, speed=args.speed,
                   cheats=True, work=WORK, status_port=port, lead_s=2.0)


def _free(port: int) -> bool:
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
            return True
    except OSError:
        return False


def _announce(sim: Simulation) -> None:
    """Where to look while the day runs."""
    o = sim.opts
    links = ", ".join(o.layout.links)
    print(f"Demo: a working day ({DAY:%a %Y-%m-%d}) of a {o.counters}-counter hall "
          f"(pads on {links}; some staff cheat), x{o.speed:g}: about "
          f"{(sim.end_us - sim.sim_start) / 1e6 / o.speed / 60:.0f} min.", flush=True)
    print(f"  live status page (the agent):  http://{sim.svc.status_listen}/")
    if sim.center is not None:
        c = sim.center
        print(f"  the center's report page, while the demo runs:\n"
              f"    curl -s -H 'Authorization: Bearer {c.token}' "
              f"{c.url}{c.report_path(MONTH, 'report.html')} > report.html")
        accounts = console_accounts(sim)
        print(f"  the center's console, while the demo runs: {c.url}/login")
        for name, role, password in accounts:
            print(f"    {role:<8} user {name!r}  password {password!r}")
    print(f"  work folder: {_shown(sim.work)} (agent.log, journal.sqlite, center/, ...)\n",
          flush=True)


def console_accounts(sim: Simulation) -> list[tuple[str, str, str]]:
    """The demo hall's console accounts, (name, role, password) each: a manager made here
    with the user command (a new password each run), and the IT department's account the
    run made for its simulated IT department, which rules through the console."""
    assert sim.center is not None
    password = secrets.token_urlsafe(12)
    center.add_console_user(sim.work / "center" / "center.toml",
                            f"redis://127.0.0.1:{sim.redis_port}/0", "manager", "manager",
                            sim.center.hall, password)
    made = [("manager", "manager", password)]
    if sim.it is not None and sim.it.console is not None:
        made.append((sim.it.console[0], "it", sim.it.console[1]))
    return made


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _conclude(o: Outcome, seconds: float) -> int:
    if o.center_reports:
        print("\nThe day's report (the center's report.json):")
        print(day_report(o.center_reports[0], o.work))
    if o.presses is not None:
        print("\nPresses, keyed by (device, boot, seq), from the pads to the center:")
        print(tally.render(o.presses))
    print("\nCheating behaviours injected -> incidents raised (rules on the plan, the agent's "
          "journal, the center):")
    print(check.side_by_side(o.expected, o.live, o.center_live))
    if o.ruled:
        print("\nReported outages and the IT department's rulings (the agent's journal):")
        print(ruled.table(o.ruled))
    print("\nChecks:")
    for ok, what in _checks(o):
        print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    page = o.work / "center" / f"report-{MONTH}.html"
    if page.exists():
        print(f"\nThe center's report page is kept at {_shown(page)}.")
    print(f"Done in {seconds / 60:.1f} min of real time.")
    return 0 if o.ok else 1


def _checks(o: Outcome) -> list[tuple[bool, str]]:
    p = o.presses
    return [
        (o.drained, "every press on a pad was acknowledged by the agent"),
        (not o.summary["queue_refusals"], "the agent took every queue-system call"),
        (o.forwarded is True, "the center caught up with the agent's journal"),
        (p is not None and p.ok, "every acknowledged press counted exactly once at the center "
                                 "(lost 0, duplicated 0)"),
        (all(r.ok for r in o.expected), "the rules catch every injected behaviour in the plan"),
        (o.live is not None and all(r.ok for r in o.live),
         "the agent's journal raised every injected behaviour, and nothing else"),
        (o.center_live is not None and all(r.ok for r in o.center_live),
         "the center's report raised every injected behaviour, and nothing else"),
        (bool(o.center_reports) and not o.report_diffs,
         "the center's month report equals the agent's replay of its journal"),
        (o.rulings_journaled is True, "the IT department's rulings at the center reached the "
                                      "agent and were journaled"),
        (bool(o.ruled) and all(r.ok for r in o.ruled),
         "reported outages were pending (待核实) until the IT department ruled: faulty_pad "
         "exempt, self_excuser deducted"),
    ]


def day_report(report: dict[str, Any], work: Path) -> str:
    """Per counter: staff, profile, tickets, ratings, satisfied, satisfaction, score,
    deductions."""
    manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    rows = [f"{'counter':<8}{'staff':<7}{'profile':<13}{'tickets':>8}{'ratings':>8}"
            f"{'satisfied':>10}{'satisf.':>8}{'score':>7}  deductions"]
    for counter, row in sorted(report["counters"].items()):
        info = manifest.get(counter, {})
        share = f"{100 * row['satisfied'] / row['ratings']:.0f}%" if row["ratings"] else "-"
        cuts = ", ".join(_deduction(d) for d in row["deductions"]) or "none"
        rows.append(f"{counter:<8}{info.get('staff', '?'):<7}{info.get('profile', '?'):<13}"
                    f"{row['volume']:>8}{row['ratings']:>8}{row['satisfied']:>10}{share:>8}"
                    f"{row['score']:>7}  {cuts}")
    return "\n".join(rows)


def _deduction(d: dict[str, Any]) -> str:
    text = f"{d['kind']} x{len(d['lines'])} -{d['points']}"
    text += f" ({d['pending']} pending a ruling)" if d.get("pending") else ""
    return text + (f" (+{d['exempt']} exempt)" if d.get("exempt") else "")


# --- tools/demo --replay: the shipped sample day ------------------------------------------

# What each injected behaviour must raise; an exempt outage is listed but not deducted.
EXPECTED = check.RAISES
PENALISED_FOR_HONEST = ("self_rating", "consecutive_rating", "refused_evaluation",
                        "not_prompted", "device_offline")


def edge_agent(*args: str, capture: bool = False) -> str:
    argv = [sys.executable, "-m", "edge_agent", *args]
    shown = " ".join(shlex.quote(a if not a.startswith(str(ROOT)) else
                                 str(Path(a).relative_to(ROOT))) for a in args)
    print(f"\n$ python -m edge_agent {shown}", flush=True)
    proc = subprocess.run(argv, cwd=ROOT, text=True, check=False,
                          stdout=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        raise SystemExit(f"demo: the command above failed with status {proc.returncode}")
    return proc.stdout or ""


def check_table(report: dict[str, Any], manifest: dict[str, Any]) -> bool:
    print("\nCheating behaviours injected → incidents raised")
    print(f"  {'counter':<8}{'behaviour':<24}{'injected':>9}{'raised':>8}  verdict")
    ok = True
    for counter, info in sorted(manifest.items()):
        deductions = {d["kind"]: d for d in report["counters"][counter]["deductions"]}
        for behaviour, injected in sorted(info["injected"].items()):
            d = deductions.get(EXPECTED[behaviour], {})
            raised = d.get("exempt", 0) if behaviour.endswith("_exempt") else \
                len(d.get("lines", []))
            good = raised == injected
            ok &= good
            print(f"  {counter:<8}{behaviour:<24}{injected:>9}{raised:>8}  "
                  f"{'caught' if good else 'MISMATCH'}")
        if info["profile"] in ("honest", "faulty_pad"):
            false = sum(len(d["lines"]) for k, d in deductions.items()
                        if k in PENALISED_FOR_HONEST)
            ok &= false == 0
            print(f"  {counter:<8}{'(' + info['profile'] + ')':<24}{0:>9}{false:>8}  "
                  f"{'no penalty' if false == 0 else 'FALSE POSITIVE'}")
    return ok


def replay() -> int:
    """The shipped sample day recorded, verified and reported (`tools/demo --replay`)."""
    shutil.rmtree(REPLAY_WORK, ignore_errors=True)
    REPLAY_WORK.mkdir(parents=True)
    config, day = str(SAMPLES / "hall.toml"), str(SAMPLES / "day.jsonl")
    journal = str(REPLAY_WORK / "journal.sqlite")
    print("Demo: one working day (2026-03-02) of a 12-counter hall; some staff cheat.")
    edge_agent("record", day, "--journal", journal, "--config", config)
    edge_agent("verify", journal)
    edge_agent("report", "--journal", journal, "--config", config, "--month", MONTH)
    report = json.loads(edge_agent("report", "--journal", journal, "--config", config,
                                   "--month", MONTH, "--format", "json", capture=True))
    print("(the JSON report; also --format csv)")
    manifest = json.loads((SAMPLES / "day-manifest.json").read_text(encoding="utf-8"))
    if not check_table(report, manifest):
        print("\ndemo: the rules missed an injected behaviour or penalised an honest counter")
        return 1
    print(f"\nEvery injected behaviour was caught; no honest counter was penalised.\n"
          f"Journal kept at {Path(journal).relative_to(ROOT)}; try `python -m edge_agent "
          f"replay --journal {Path(journal).relative_to(ROOT)} --config "
          f"edge_agent/samples/hall.toml --month {MONTH}`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
