"""One simulated hall run, start to end: people and their plan, the devices, the hall file,
the broker and the agent, the loop, and what came of every press.

Files in the work folder (wiped at the start of a run; it must be empty or a previous run's):

    hall.toml         the agent's hall file (device ports and keys, staff, MQTT, hook)
    plan.jsonl        what the people do, as a timeline (RULES.md §6): ID numbers hashed
    manifest.json     per counter: profile, staff, behaviours injected, incidents promised
    summary.json      per pad: presses made, acknowledged, lost; queue answers; the clock
    journal.sqlite    the agent's journal; agent.log, broker/ (mosquitto's files and log)
    center/           center.toml, center.log, redis/ (redis-server's folder and log)
    tally.txt         presses seen, acknowledged, journaled, forwarded, counted (tally.py)
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from edge_agent.config import CalendarConfig, HallConfig
from edge_agent.rules.calendar import to_us
from edge_agent.timeline import format_time
from tools.simhall import center, check, margins, people, services
from tools.simhall.acts import Performer
from tools.simhall.agent_config import Services, write_config
from tools.simhall.clock import SimClock
from tools.simhall.hall import Layout, SimHall
from tools.simhall.it_department import ItDepartment
from tools.simhall.people import TZ, Act, Citizens, Desk, Habits
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
FORWARD_S = 60.0  # real seconds the agent's outbox gets to bring the center up to the journal
CENTER_RETRY_MAX_S = 5.0  # the outbox's longest back-off (real time): a center back is used soon
FAULT_POLL_S = 0.5  # the outbox asks for rulings this often (real time): they arrive in the run


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
    # The hall's opening hours (morning, afternoon) for the plan, the rules and the agent's
    # hall file; None: the default calendar (08:30-12:00, 13:00-17:00). A short day makes a
    # whole day, every check included, fit in a short run.
    hours: tuple[tuple[dt_time, dt_time], tuple[dt_time, dt_time]] | None = None
    center: bool = True  # start a redis-server and the center (unless center_url is given)
    center_url: str = ""
    center_token: str = ""
    faults: Any = None  # an object with step(now_us: int) -> None (tools/simhall/faults.py)
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
                   center_retry_max_s=CENTER_RETRY_MAX_S, center_fault_poll_s=FAULT_POLL_S,
                   hours=opts.hours,
                   device_timeout_s=max(30.0, REAL_GRACE_S * opts.speed),
                   bus_cycle_ms=bus_cycle_ms(opts.speed))
    return layout, svc, hook_port


def hall_calendar(opts: Options) -> CalendarConfig:
    if opts.hours is None:
        return CalendarConfig()
    morning, afternoon = opts.hours
    if not morning[0] < morning[1] <= afternoon[0] < afternoon[1]:
        raise ValueError(f"hours: morning then afternoon, each start before end, got "
                         f"{morning[0]:%H:%M}-{morning[1]:%H:%M}, "
                         f"{afternoon[0]:%H:%M}-{afternoon[1]:%H:%M}")
    return replace(CalendarConfig(), morning=morning, afternoon=afternoon,
                   summer_afternoon=afternoon)


class Simulation:
    """One run: prepare() (people, plan, devices, hall file), start_services(), play(),
    forward() and close(). While it plays it is the fault injector's Control: the agent, the
    broker and the center can be killed, restarted or stopped under it."""

    def __init__(self, opts: Options, out: Any = sys.stdout) -> None:
        self.opts = opts
        self.out = out
        self.children: list[services.Child] = []
        self.queue: QueueSystem | None = None
        self.center: center.CenterClient | None = None
        self.redis_port = 0
        self.it: ItDepartment | None = None  # with a center this run starts
        self.forwarded: bool | None = None  # None: no center
        self.rulings_journaled: bool | None = None  # None: no IT department in the run

    def prepare(self) -> None:
        opts = self.opts
        self.work = fresh_folder(opts.work)
        salt = secret(opts.seed, "salt")
        self.desks = people.make_desks(opts.counters, opts.seed, salt, opts.cheats)
        calendar = hall_calendar(opts)
        # The rules' time thresholds and the plan's gaps, kept apart by a margin that grows
        # with the speed (margins.py); the agent gets the same rules in its hall file.
        rules = margins.rules(opts.speed, opts.citizens, opts.habits)
        habits = margins.habits(opts.speed, opts.citizens, opts.habits)
        self.acts = list(people.plan(self.desks, opts.days, opts.citizens, habits, calendar))
        if not self.acts:
            raise ValueError("the days given have no working hours: nothing to simulate")
        write_plan(self.work, self.acts, self.desks)
        self.rules = HallConfig(opts.layout.hall_id, calendar=calendar, rules=rules)
        self.expected = check.judge(self.desks, check.incidents(self.acts, self.rules))
        if opts.center and not opts.center_url:
            self.center = center.CenterClient(HOST, services.free_port(), opts.layout.hall_id,
                                              secret(opts.seed, "center"))
            self.it = ItDepartment(HOST, self.center.port, opts.layout.hall_id,
                                   secret(opts.seed, "it"), patience_s=None)
            self.redis_port = services.free_port()
            opts = replace(opts, center_url=self.center.url, center_token=self.center.token)
        layout, self.svc, self.hook_port = hall_services(opts, salt)
        self.svc = replace(self.svc, rules=rules)
        self.hall = SimHall(layout, self.desks, self.work, opts.seed)
        self.config = write_config(self.work / "hall.toml", self.hall, self.svc)
        if self.center is not None:
            center.write_config(self.work / "center" / "center.toml", layout.hall_id,
                                self.center.token, self.work / "hall.toml",
                                self.it.token if self.it else "")
        day = opts.days[0]
        self.sim_start = max(self.acts[0].t - 10 * MIN_US,
                             to_us(datetime(day.year, day.month, day.day, tzinfo=TZ)))
        self.end_us = self.acts[-1].t + 10 * MIN_US
        if opts.until_us is not None:
            self.end_us = min(self.end_us, opts.until_us)
        self.clock = SimClock.starting(self.sim_start, opts.speed, opts.lead_s)

    def start_services(self) -> None:
        """The center, devices on, the broker (for MQTT pads), the agent; back once the agent
        answers."""
        if self.center is not None:
            self._start_center_and_redis()
        self.hall.plug_in(self.clock.now_us() // 1000)
        layout = self.hall.layout
        if "mqtt" in layout.links and self.opts.start_broker:
            broker = self._add(services.mosquitto(self.config, self.work / "broker"))
            broker.wait_until(lambda: services.listening(HOST, layout.mqtt_port), 10,
                              "listener")
        agent = None
        if self.opts.start_agent:
            agent = self._add(services.agent(self.work / "hall.toml", self.clock.spec(),
                                             self.agent_log()))
        else:
            print(f"start the agent now:\n  python -m edge_agent run --config "
                  f"{self.work / 'hall.toml'} --clock {self.clock.spec()}",
                  file=self.out, flush=True)
        _wait_hook(self.hook_port, agent)
        self.queue = QueueSystem(HOST, self.hook_port, self.svc.hook_token)

    def _start_center_and_redis(self) -> None:
        assert self.center is not None
        folder = self.work / "center"
        db = self._add(services.redis_server(folder / "redis", self.redis_port))
        db.wait_until(lambda: services.listening(HOST, self.redis_port), 10, "listener")
        c = self.center
        served = self._add(services.center(folder / "center.toml", f"{HOST}:{c.port}",
                                           f"redis://{HOST}:{self.redis_port}/0",
                                           folder / "center.log"))
        served.wait_until(lambda: services.http_ok(HOST, c.port, "/healthz"), 30, "/healthz")
        if self.it is not None:  # the IT department rules at the console, as a person does
            password = secret(self.opts.seed, "console-it")
            center.add_console_user(folder / "center.toml", f"redis://{HOST}:{self.redis_port}/0",
                                    center.IT_USER, "it", c.hall, password)
            self.it.console = (center.IT_USER, password)

    def _add(self, child: services.Child) -> services.Child:
        self.children.append(child)
        child.start()
        return child

    def child(self, name: str) -> services.Child:
        found = next((c for c in self.children if c.name == name), None)
        if found is None:
            raise services.ServiceError(f"this run has no {name}")
        return found

    # --- the Control the fault injector drives (tools/simhall/faults.py) ---------------------

    def kill_agent(self) -> None:
        """SIGKILL the agent and start it again at once with the same command (no wait)."""
        agent = self.child(services.AGENT)
        agent.kill()
        agent.start()

    def restart_broker(self) -> None:
        """Stop mosquitto (SIGTERM) and start it again on the same port and files."""
        broker = self.child(services.BROKER)
        broker.stop()
        broker.start()

    def stop_center(self) -> None:
        """Stop the center process (SIGTERM); its redis-server stays up."""
        self.child(services.CENTER).stop()

    def start_center(self) -> None:
        """Start the center process again (no wait); idempotent."""
        served = self.child(services.CENTER)
        if not served.running:
            served.start()

    def agent_log(self) -> Path:
        """The agent's log (appended to across restarts)."""
        return self.work / "agent.log"

    # --- the run ------------------------------------------------------------------------------

    def play(self) -> bool:
        """The plan acted out up to the end time; True if every event got its ack."""
        assert self.queue is not None
        bar = ClockBar(self.sim_start, self.end_us, TZ, self.opts.speed,
                       force=bool(self.opts.progress))
        bar.shown = bar.shown and self.opts.progress is not False
        self.performer = Performer(self.hall, self.queue, random.Random(self.opts.seed),
                                   self.it)
        acts = (a for a in self.acts if a.t <= self.end_us)
        runner = Runner(self.hall, self.clock, acts, self.performer, bar, self.opts.faults)
        runner.run(self.end_us)
        drained = runner.drain(DRAIN_S)
        self.queue.close()
        bar.close(self.clock.now_us(), runner.note())
        return drained

    def forward(self, timeout_s: float = FORWARD_S) -> bool:
        """Until the IT department's rulings are journaled by the agent and the center holds
        the journal's head (the outbox has sent everything), in real time, bounded; False if
        it did not get there. True at once without a center."""
        if self.center is None:
            return True
        self.start_center()  # a fault may have left it down
        end = time.monotonic() + timeout_s
        if self.it is not None:
            it, journal = self.it, self.work / "journal.sqlite"
            posted = it.finish(timeout_s)
            self.rulings_journaled = posted and _until(
                lambda: journaled_rulings(journal) >= len(it.done), end)
        while True:
            want = journal_head(self.work / "journal.sqlite")
            self.forwarded = self.center.wait_head(want, max(0.0, end - time.monotonic()))
            if not self.forwarded or journal_head(self.work / "journal.sqlite") == want:
                return self.forwarded

    def stop_hall(self) -> None:
        """Agent first: devices unplugged under a running agent would be journaled as
        outages (device_offline at the next opening hour). Then the devices. The center and
        its redis-server stay up, to be asked about the run."""
        if self.queue is not None:
            self.queue.close()
        for child in self.children:
            if child.name == services.AGENT:
                child.stop()
        if hasattr(self, "hall"):
            self.hall.unplug_all()

    def close(self) -> None:
        """The hall (stop_hall), then the center, its redis-server and the broker."""
        self.stop_hall()
        for name in (services.CENTER, services.REDIS, services.BROKER):
            for child in self.children:
                if child.name == name:
                    child.stop()
        for child in self.children:
            child.stop()  # anything else (stop is idempotent)

    def months(self) -> list[str]:
        return sorted({d.strftime("%Y-%m") for d in self.opts.days})

    def agent_reports(self) -> list[dict[str, Any]] | None:
        """The agent's own month reports, from its journal (`python -m edge_agent report`)."""
        journal = self.work / "journal.sqlite"
        if not journal.exists():
            return None
        return [agent_report(self.work / "hall.toml", journal, m) for m in self.months()]

    def agent_results(self) -> list[check.CounterResult] | None:
        """The verdicts on the agent's own month reports, from its journal."""
        reports = self.agent_reports()
        return None if reports is None else check.judge_report(self.desks, reports, self.rules)


def journal_head(path: Path) -> int:
    """The journal's last seq, read-only (the agent may be writing it)."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT max(seq) FROM records").fetchone()
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()
    return int(row[0] or 0)


def journaled_rulings(path: Path) -> int:
    """How many fault_verified events (the IT department's rulings) the journal holds."""
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT count(*) FROM records WHERE "
                         "event LIKE '%\"type\":\"fault_verified\"%'").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
    return int(row[0])


def _until(check: Any, end: float) -> bool:
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


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
