"""One simulated hall run, start to end: people and their plan, the devices, the hall file,
the broker and the agent, the loop, and what came of every press.

Files in the work folder (wiped at the start of a run; it must be empty or a previous run's):

    hall.toml         the agent's hall file (device ports and keys, staff, MQTT, hook)
    plan.jsonl        what the people do, as a timeline (RULES.md §6): ID numbers hashed
    manifest.json     per counter: profile, staff, behaviours injected, incidents promised
    summary.json      per pad: presses made, acknowledged, lost; queue answers; the clock
    journal.sqlite    the agent's journal; agent.log, broker/ (mosquitto's files and log)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.rules.calendar import to_us
from edge_agent.timeline import format_time
from tools.hallgen import TZ
from tools.simhall import check, people, services
from tools.simhall.acts import Performer
from tools.simhall.agent_config import Services, write_config
from tools.simhall.clock import SimClock
from tools.simhall.hall import Layout, SimHall
from tools.simhall.people import Act, Citizens, Desk, Habits
from tools.simhall.progress import ClockBar
from tools.simhall.queue_system import QueueSystem
from tools.simhall.runner import Runner

MARKER = ".simhall"
HOST = "127.0.0.1"
MIN_US = 60_000_000
DRAIN_S = 30.0
# Agent and pad timeouts are in simulated time; none shorter than this in real time, so a
# real-time hiccup (a busy CPU) is never taken for a device gone.
REAL_GRACE_S = 3.0
BUS_CYCLE_S = 0.1  # edge_agent.service.serial_link CYCLE_MIN_S: a bus pad waits that for a poll
MIN_BUS_CYCLE_MS = 5
DOUBLE_PRESS_MARGIN_S = 1.0  # what a late press may lose of the 3 s grace (people's gap <= 1.5)


@dataclass
class Options:
    counters: int = 12
    days: list[date] = field(default_factory=lambda: [date(2026, 3, 2)])
    seed: int = 1
    speed: float = 60.0
    layout: Layout = field(default_factory=Layout)
    citizens: Citizens = field(default_factory=Citizens)
    habits: Habits = field(default_factory=Habits)
    cheats: bool = True
    work: Path = Path("var/sim")
    start_agent: bool = True
    start_broker: bool = True
    hook_port: int = 0  # 0: a free port
    status_port: int = 0
    center_url: str = ""
    center_token: str = ""
    lead_s: float = 3.0  # real seconds between starting the clock and simulated start
    until_us: int | None = None  # stop at this simulated time (acts after it are not done)
    progress: bool | None = None  # None: when stderr is a terminal


def secret(seed: int, what: str) -> str:
    return hashlib.sha256(f"simhall:{seed}:{what}".encode()).hexdigest()[:32]


def fresh_folder(work: Path) -> Path:
    """The work folder, emptied; refuses to empty a folder the simulator did not make."""
    work = work.absolute()
    if work.exists() and any(work.iterdir()) and not (work / MARKER).exists():
        raise ValueError(f"--work {work}: not empty and not a simulator's folder; "
                         "choose another or empty it")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / MARKER).write_text("made by tools/sim; emptied at every run\n")
    return work


def write_plan(work: Path, acts: list[Act], desks: list[Desk]) -> None:
    with (work / "plan.jsonl").open("w", encoding="utf-8") as f:
        for act in acts:
            line = {"t": format_time(act.t, TZ), "counter": act.counter, **act.body}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    manifest = {d.counter.id: {"profile": d.counter.profile, "staff": d.counter.staff,
                               "injected": d.counter.injected,
                               "expect": list(people.expected(d.counter.profile)),
                               "tickets": d.counter.tickets, "unserved": d.unserved}
                for d in desks}
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))


def summary(hall: SimHall, queue: QueueSystem | None, clock: SimClock,
            performer: Performer) -> dict[str, Any]:
    pads = {p.device: {"presses": p.presses(), "acked": p.presses_acked(),
                       "lost": sorted(p.ledger.lost), "boots": p.boots,
                       "pending": sorted(p.ledger.pending())} for p in hall.pads()}
    return {"clock": clock.spec(), "pads": pads, "acts": dict(performer.done),
            "queue": dict(queue.answers) if queue else {},
            "queue_refusals": queue.refusals if queue else []}


def hall_services(opts: Options, seed_salt: str) -> tuple[Layout, Services, int]:
    """The layout with the broker's port and the pads' keepalive, the agent's services."""
    mqtt_port = services.free_port() if "mqtt" in opts.layout.links else 1883
    # The pads' MQTT keepalive is counted in simulated time: keep it at least REAL_GRACE_S
    # of real time, or a hiccup of the loop reads as a dead broker (mqtt_port.py).
    keepalive = min(65535, max(30, math.ceil(REAL_GRACE_S * opts.speed)))
    layout = replace(opts.layout, mqtt_port=mqtt_port, mqtt_keepalive_s=keepalive)
    hook_port = opts.hook_port or services.free_port()
    svc = Services(agent_password=secret(opts.seed, "agent"),
                   hook_token=secret(opts.seed, "hook"), salt=seed_salt,
                   hook_listen=f"{HOST}:{hook_port}",
                   status_listen=f"{HOST}:{opts.status_port or services.free_port()}",
                   center_url=opts.center_url, center_token=opts.center_token,
                   device_timeout_s=max(30.0, REAL_GRACE_S * opts.speed),
                   bus_cycle_ms=bus_cycle_ms(opts.speed))
    return layout, svc, hook_port


class Simulation:
    """One run: prepare() (people, plan, devices, hall file), then play() and close()."""

    def __init__(self, opts: Options, out: Any = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.children: list[services.Child] = []
        self.queue: QueueSystem | None = None

    def prepare(self) -> None:
        opts = self.opts
        self.work = fresh_folder(opts.work)
        salt = secret(opts.seed, "salt")
        self.desks = people.make_desks(opts.counters, opts.seed, salt, opts.cheats)
        self.acts = list(people.plan(self.desks, opts.days, opts.citizens, opts.habits))
        if not self.acts:
            raise ValueError("the days given have no working hours: nothing to simulate")
        write_plan(self.work, self.acts, self.desks)
        self.rules = HallConfig(opts.layout.hall_id)
        self.expected = check.judge(self.desks, check.incidents(self.acts, self.rules))
        layout, self.svc, self.hook_port = hall_services(opts, salt)
        self.hall = SimHall(layout, self.desks, self.work, opts.seed)
        self.config = write_config(self.work / "hall.toml", self.hall, self.svc)
        day = opts.days[0]
        self.sim_start = max(self.acts[0].t - 10 * MIN_US,
                             to_us(datetime(day.year, day.month, day.day, tzinfo=TZ)))
        self.end_us = self.acts[-1].t + 10 * MIN_US
        if opts.until_us is not None:
            self.end_us = min(self.end_us, opts.until_us)
        self.clock = SimClock.starting(self.sim_start, opts.speed, opts.lead_s)

    def start_services(self) -> None:
        """Devices on, the broker (for MQTT pads), the agent; back once the agent answers."""
        self.hall.plug_in(self.clock.now_us() // 1000)
        layout = self.hall.layout
        if "mqtt" in layout.links and self.opts.start_broker:
            broker = services.mosquitto(self.config, self.work / "broker")
            self.children.append(broker)
            broker.start()
            broker.wait_until(lambda: services.listening(HOST, layout.mqtt_port), 10,
                              "listener")
        agent = None
        if self.opts.start_agent:
            agent = services.agent(self.work / "hall.toml", self.clock.spec(),
                                   self.work / "agent.log")
            self.children.append(agent)
            agent.start()
        else:
            print(f"start the agent now:\n  python -m edge_agent run --config "
                  f"{self.work / 'hall.toml'} --clock {self.clock.spec()}",
                  file=self.out, flush=True)
        _wait_hook(self.hook_port, agent)
        self.queue = QueueSystem(HOST, self.hook_port, self.svc.hook_token)

    def play(self) -> bool:
        """The plan acted out up to the end time; True if every event got its ack."""
        assert self.queue is not None
        bar = ClockBar(self.sim_start, self.end_us, TZ, self.opts.speed,
                       force=bool(self.opts.progress))
        bar.shown = bar.shown and self.opts.progress is not False
        self.performer = Performer(self.hall, self.queue, random.Random(self.opts.seed))
        acts = [a for a in self.acts if a.t <= self.end_us]
        runner = Runner(self.hall, self.clock, acts, self.performer, bar)
        runner.run(self.end_us)
        drained = runner.drain(DRAIN_S)
        self.queue.close()
        bar.close(self.clock.now_us(), runner.note())
        return drained

    def close(self) -> None:
        """Agent first: devices unplugged under a running agent would be journaled as
        outages (device_offline at the next opening hour). Then devices, then the broker."""
        if self.queue is not None:
            self.queue.close()
        for child in self.children:
            if child.name == services.AGENT:
                child.stop()
        if hasattr(self, "hall"):
            self.hall.unplug_all()
        for child in self.children:
            child.stop()  # the broker (stop is idempotent)

    def agent_results(self) -> list[check.CounterResult] | None:
        """The verdicts on the agent's own month reports, from its journal."""
        journal = self.work / "journal.sqlite"
        if not journal.exists():
            return None
        months = sorted({d.strftime("%Y-%m") for d in self.opts.days})
        reports = [agent_report(self.work / "hall.toml", journal, m) for m in months]
        return check.judge_report(self.desks, reports, self.rules)


def agent_report(config: Path, journal: Path, month: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "edge_agent", "report", "--journal", str(journal),
            "--config", str(config), "--month", month, "--format", "json"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise services.ServiceError(f"edge_agent report failed: {proc.stderr.strip()}")
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def bus_cycle_ms(speed: float) -> int:
    """The agent's bus poll cycle: a real bus's 100 ms of simulated time, at least 5 ms real
    (below that the loops' own turns dominate)."""
    return max(MIN_BUS_CYCLE_MS, min(100, round(BUS_CYCLE_S * 1000 / speed)))


def bus_note(opts: Options) -> str | None:
    """What the speed does to RS-485 counters, if it matters (docs in the report)."""
    late_s = bus_cycle_ms(opts.speed) / 1000 * opts.speed
    if "rs485" not in opts.layout.links or late_s <= DOUBLE_PRESS_MARGIN_S:
        return None
    return (f"note: the agent polls an RS-485 bus every {BUS_CYCLE_S * 1000:.0f} ms of real "
            f"time, {late_s:g} s of simulated time at x{opts.speed:g}, and stamps an event "
            "on arrival when it is older than what the agent last decided: a press on a bus "
            f"counter can be placed up to {late_s:g} s late, enough to split a citizen's "
            "double press (3 s grace) into a consecutive_rating. For a faithful bus use "
            f"--speed {DOUBLE_PRESS_MARGIN_S / BUS_CYCLE_S:g} or less, or --links usb,mqtt.")


def run(opts: Options, out: Any = sys.stdout) -> int:
    note = bus_note(opts)
    if note is not None:
        print(note, file=out, flush=True)
    sim = Simulation(opts, out)
    try:
        sim.prepare()
        sim.start_services()
        drained = sim.play()
    finally:
        sim.close()
    report = summary(sim.hall, sim.queue, sim.clock, sim.performer)
    (sim.work / "summary.json").write_text(json.dumps(report, indent=1))
    whole = opts.until_us is None
    live = sim.agent_results() if whole else None
    _print_summary(out, report, drained, sim.work)
    if whole:
        print("\nwhat the plan injected and the rules must raise (plan -> rules engine):",
              file=out)
        print(check.table(sim.expected), file=out)
    if live is not None:
        print("\nwhat the agent raised (its journal's month report):", file=out)
        print(check.table(live), file=out)
    elif not whole:
        print("\n(a run cut short with --until: incidents are not checked)", file=out)
    ok = drained and not report["queue_refusals"]
    ok = ok and all(r.ok for r in sim.expected) and all(r.ok for r in live or [])
    return 0 if ok else 1


def _wait_hook(port: int, agent: services.Child | None) -> None:
    """Until the agent's queue hook answers (the agent is up)."""
    if agent is not None:
        agent.wait_until(lambda: services.hook_healthy(HOST, port), 30, "queue hook")
        return
    end = time.monotonic() + 300
    while not services.hook_healthy(HOST, port):
        if time.monotonic() > end:
            raise services.ServiceError(f"no agent answered on {HOST}:{port} in 300 s")
        time.sleep(0.2)


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
