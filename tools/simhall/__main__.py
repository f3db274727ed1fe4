"""python -m tools.simhall run | plan | check (`tools/sim` bootstraps first, then runs this).

    run     a simulated hall against the edge agent: devices, broker, agent, center (redis),
            a day in minutes; ends with the press tally and the incident checks
    plan    the people's plan only, as a timeline on stdout (RULES.md §6), manifest on stderr
    check   the plan through the rules engine: behaviour injected -> incidents raised

Exit status: 0 done and every check held, 1 a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

from edge_agent.config import ConfigError, HallConfig
from edge_agent.rules.calendar import to_us
from tools.simhall import check, people
from tools.simhall.hall import LINKS, Layout
from tools.simhall.outcome import run
from tools.simhall.people import TZ
from tools.simhall.services import ServiceError
from tools.simhall.simulation import Options, Simulation, secret, write_plan

BAD_INPUT = 2


def _links(value: str) -> tuple[str, ...]:
    links = tuple(x.strip() for x in value.split(",") if x.strip())
    bad = [x for x in links if x not in LINKS]
    if bad or not links:
        raise argparse.ArgumentTypeError(f"links are {', '.join(LINKS)}; got {value!r}")
    return links


def _positive_int(value: str) -> int:
    return int(_positive(value, int))


def _positive_float(value: str) -> float:
    return _positive(value, float)


def _positive(value: str, kind: Callable[[str], float]) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return number


def _clock(value: str) -> dt_time:
    try:
        return dt_time.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a time HH:MM") from None


def _hours(value: str) -> tuple[tuple[dt_time, dt_time], tuple[dt_time, dt_time]]:
    try:
        (m0, m1), (a0, a1) = (tuple(_clock(t) for t in half.split("-"))
                              for half in value.split(","))
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(
            f"{value!r}: give the morning and the afternoon, like 09:00-10:00,10:30-11:30"
        ) from None
    return (m0, m1), (a0, a1)


def _people_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counters", type=_positive_int, default=12)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 2),
                   help="first day, YYYY-MM-DD (default 2026-03-02, a Monday)")
    p.add_argument("--days", type=_positive_int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--honest", action="store_true", help="no cheating staff")
    p.add_argument("--arrivals", type=_positive_float, default=people.Citizens.arrivals_per_hour,
                   help="citizens an hour at each counter (default %(default)s)")
    p.add_argument("--cheat-rate", type=float, default=people.Habits.cheat_probability,
                   help="how often a cheater cheats on a service (default %(default)s)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tools.simhall", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("run", help="simulate a hall against the edge agent")
    _people_args(r)
    r.add_argument("--speed", type=_positive_float, default=60.0,
                   help="simulated seconds per real second (default %(default)s)")
    r.add_argument("--links", type=_links, default=LINKS,
                   help="pad links, dealt round the counters (default usb,rs485,mqtt)")
    r.add_argument("--bus-size", type=_positive_int, default=4, help="pads per RS-485 bus")
    r.add_argument("--keys", type=int, choices=(2, 5), default=2)
    r.add_argument("--signs", action="store_true", help="a pause sign at every counter too")
    r.add_argument("--work", type=Path, default=Path("var/sim"),
                   help="work folder, emptied first (default %(default)s)")
    r.add_argument("--hours", type=_hours, metavar="HH:MM-HH:MM,HH:MM-HH:MM",
                   help="the hall's morning and afternoon (default 08:30-12:00,13:00-17:00)")
    r.add_argument("--until", type=_clock, metavar="HH:MM",
                   help="stop at this time of the first day (a short run)")
    r.add_argument("--no-agent", action="store_true",
                   help="do not start the agent: print its command and wait for it")
    r.add_argument("--hook-port", type=int, default=0)
    r.add_argument("--status-port", type=int, default=0)
    r.add_argument("--no-center", action="store_true",
                   help="no redis-server and center: the agent keeps its journal to itself")
    r.add_argument("--center-url", default="",
                   help="use this running center instead of starting one")
    r.add_argument("--center-token", default="")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show the simulated clock (default: when stderr is a terminal)")
    for name, helptext in (("plan", "the plan as a timeline on stdout"),
                           ("check", "the plan through the rules: injected -> raised")):
        _people_args(sub.add_parser(name, help=helptext))
    faults = _faults_module()
    if faults is not None:
        faults.add_arguments(r)
    return p


def _faults_module() -> ModuleType | None:
    """tools/simhall/faults.py (fault injection), once it exists."""
    try:
        return importlib.import_module("tools.simhall.faults")
    except ModuleNotFoundError as exc:
        if exc.name != "tools.simhall.faults":
            raise
        return None


def _make_faults(args: argparse.Namespace) -> Callable[[Simulation], Any] | None:
    faults = _faults_module()
    if faults is None:
        return None
    return lambda sim: faults.from_args(args, sim)


def _until(args: argparse.Namespace) -> int | None:
    if args.until is None:
        return None
    return to_us(datetime.combine(args.start, args.until, TZ))


def _days(args: argparse.Namespace) -> list[date]:
    return [args.start + timedelta(days=i) for i in range(args.days)]


def _desks(args: argparse.Namespace) -> list[people.Desk]:
    return people.make_desks(args.counters, args.seed, secret(args.seed, "salt"),
                             not args.honest)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        citizens = people.Citizens(arrivals_per_hour=args.arrivals)
        habits = people.Habits(cheat_probability=args.cheat_rate)
        if args.command == "run":
            # SIGTERM ends the run as Ctrl-C does: through the finally that stops every child.
            signal.signal(signal.SIGTERM, _terminated)
            layout = Layout(links=args.links, bus_size=args.bus_size, keys=args.keys,
                            signs=args.signs)
            opts = Options(counters=args.counters, days=_days(args), seed=args.seed,
                           speed=args.speed, layout=layout, citizens=citizens, habits=habits,
                           cheats=not args.honest, work=args.work,
                           start_agent=not args.no_agent, hook_port=args.hook_port,
                           status_port=args.status_port, center=not args.no_center,
                           center_url=args.center_url, center_token=args.center_token,
                           progress=args.progress, until_us=_until(args),
                           hours=args.hours)
            return run(opts, make_faults=_make_faults(args))
        desks = _desks(args)
        acts = list(people.plan(desks, _days(args), citizens, habits))
        if args.command == "plan":
            return _plan(acts, desks)
        results = check.judge(desks, check.incidents(acts, HallConfig("sim")))
        print(check.table(results))
        return 0 if all(r.ok for r in results) else 1
    except (ValueError, ConfigError, ServiceError, OSError) as exc:
        print(f"tools.simhall: error: {exc}", file=sys.stderr)
        return BAD_INPUT


def _terminated(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def _plan(acts: list[people.Act], desks: list[people.Desk]) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_plan(Path(tmp), acts, desks)
        sys.stdout.write((Path(tmp) / "plan.jsonl").read_text(encoding="utf-8"))
        manifest = json.loads((Path(tmp) / "manifest.json").read_text(encoding="utf-8"))
    json.dump(manifest, sys.stderr, ensure_ascii=False, indent=1)
    sys.stderr.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
