"""Fault injection for a simulated hall run: a seeded schedule over the run's working hours
and an `Injector` that fires each fault when simulated time reaches it (docs/faults.md).

    agent_kill      SIGKILL the agent, restarted at once (Control.kill_agent)
    broker_restart  restart mosquitto (Control.restart_broker); MQTT pads reconnect
    center_outage   the center down for a while (Control.stop_center, start_center)
    pad_reboot      power-cycle a pad while an event it sent is unacknowledged and in flash
    keypad_unplug   unplug a staff keypad or badge reader, plug it back after a while
    serial bit errors  every serial line (USB ptys, RS-485 buses) flips each bit with
                    probability BER both ways, for the whole run (serial_port.Noise)

Every fault fired is logged as (t, fault, target, detail, outcome). The Runner calls
`step(now_us)` every turn before the hall steps; `from_args` builds the injector from the
run's options (None when no fault is asked for).
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge_agent.rules.calendar import from_us
from tools.simhall.devices import PRESS, SimPad
from tools.simhall.hall import SimHall
from tools.simhall.input_device import SocketInput
from tools.simhall.people import TZ, Act
from tools.simhall.serial_port import Noise, PtyPort

if TYPE_CHECKING:
    from tools.simhall.simulation import Simulation

MIN_US = 60_000_000
REBOOT_WAIT_US = 30 * MIN_US  # how long a pad reboot waits for an event in flight
PRESS_ONLY_US = 20 * MIN_US  # the first part of that wait takes only a press
REBOOT_OFF_US = 2_000_000  # a board's power cut and boot: what reaches it meanwhile is lost
UNPLUG_TRIES = 200
KEYPAD_ACTS = {"keypad": ("service_done", "invite_cancel", "fault_report", "fault_cleared"),
               "badge": ("staff_login", "staff_logout")}


class Control(Protocol):
    """What the simulation gives the injector to act on its processes (simulation.py)."""

    def kill_agent(self) -> None: ...

    def restart_broker(self) -> None: ...

    def stop_center(self) -> None: ...

    def start_center(self) -> None: ...

    def agent_log(self) -> Path: ...


@dataclass(frozen=True)
class Rates:
    """How many of each fault a working day, and how long or how strong."""

    agent_kills: int = 0
    broker_restarts: int = 0
    center_outages: int = 0
    center_outage_min: float = 180.0
    center_down_day: int = 0  # the n-th day (1-based) the center is down all day; 0: none
    pad_reboots: int = 0
    keypad_unplugs: int = 0
    unplug_min: float = 10.0
    ber: float = 0.0

    def __post_init__(self) -> None:
        for name in ("agent_kills", "broker_restarts", "center_outages", "pad_reboots",
                     "keypad_unplugs", "center_down_day"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must be 0 or more, got {getattr(self, name)}")
        for name in ("center_outage_min", "unplug_min"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be greater than 0, got {getattr(self, name)}")
        if not 0.0 <= self.ber < 0.01:
            raise ValueError(f"ber: a bit-error rate 0 <= BER < 0.01, got {self.ber}")

    @property
    def any(self) -> bool:
        return any((self.agent_kills, self.broker_restarts, self.center_outages,
                    self.center_down_day, self.pad_reboots, self.keypad_unplugs, self.ber))


# The long run's mix (issue 6): per day two agent kills, a broker restart, a center outage
# of hours, a few pad reboots mid-retransmit, a keypad unplug; BER 1e-5 on every serial
# line; and on the third day (of three or more) the center is down all day.
ALL = Rates(agent_kills=2, broker_restarts=1, center_outages=1, center_outage_min=180.0,
            center_down_day=3, pad_reboots=3, keypad_unplugs=1, unplug_min=10.0, ber=1e-5)


@dataclass(frozen=True, order=True)
class Fault:
    t_us: int
    kind: str
    target: str = ""
    duration_us: int = 0


@dataclass
class LogEntry:
    t_us: int
    fault: str
    target: str
    detail: str
    outcome: str
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> dict[str, Any]:
        when = from_us(self.t_us, TZ).strftime("%Y-%m-%d %H:%M:%S")
        return {"t": when, "fault": self.fault, "target": self.target, "detail": self.detail,
                "outcome": self.outcome, **self.data}


# --- the schedule ----------------------------------------------------------------------------

def day_spans(acts: list[Act]) -> list[tuple[date, int, int]]:
    """(day, first act, last act) of each day the plan has acts on."""
    spans: dict[date, tuple[int, int]] = {}
    for act in acts:
        day = from_us(act.t, TZ).date()
        lo, hi = spans.get(day, (act.t, act.t))
        spans[day] = (min(lo, act.t), max(hi, act.t))
    return [(d, lo, hi) for d, (lo, hi) in sorted(spans.items())]


def device_acts(acts: list[Act]) -> dict[str, list[int]]:
    """Times at which each keypad and badge reader is used ("A01-keypad" -> [t, ...])."""
    out: dict[str, list[int]] = {}
    for act in acts:
        for kind, types in KEYPAD_ACTS.items():
            if act.body["type"] in types:
                out.setdefault(f"{act.counter}-{kind}", []).append(act.t)
    return out


def schedule(rates: Rates, acts: list[Act], counters: list[str], rng: random.Random,
             mqtt: bool = True) -> list[Fault]:
    """The faults of a run, in time order, each within a day's span of acts."""
    used = device_acts(acts)
    out: list[Fault] = []
    for n, (_, lo, hi) in enumerate(day_spans(acts), 1):
        whole_day = n == rates.center_down_day
        if whole_day:
            out.append(Fault(lo, "center_outage", "center", hi - lo + MIN_US))
        out += [Fault(rng.randint(lo, hi), "agent_kill", "agent")
                for _ in range(rates.agent_kills)]
        if mqtt:
            out += [Fault(rng.randint(lo, hi), "broker_restart", "broker")
                    for _ in range(rates.broker_restarts)]
        if not whole_day:
            out += _outages(rates, lo, hi, rng)
        out += [Fault(rng.randint(lo, hi), "pad_reboot", "") for _ in range(rates.pad_reboots)]
        out += [_unplug(rates, lo, hi, counters, used, rng)
                for _ in range(rates.keypad_unplugs) if counters]
    return sorted(out)


def _outages(rates: Rates, lo: int, hi: int, rng: random.Random) -> list[Fault]:
    length = round(rates.center_outage_min * MIN_US)
    return [Fault(rng.randint(lo, max(lo, hi - length)), "center_outage", "center", length)
            for _ in range(rates.center_outages)]


def _unplug(rates: Rates, lo: int, hi: int, counters: list[str], used: dict[str, list[int]],
            rng: random.Random) -> Fault:
    """An unplug window with no act on the device, if one is found; else any (its acts
    are lost and counted as the unplug's cost)."""
    length = round(rates.unplug_min * MIN_US)
    pick = Fault(rng.randint(lo, max(lo, hi - length)), "keypad_unplug",
                 f"{rng.choice(counters)}-keypad", length)
    for _ in range(UNPLUG_TRIES):
        device = f"{rng.choice(counters)}-{rng.choice(('keypad', 'badge'))}"
        t = rng.randint(lo, max(lo, hi - length))
        if not any(t - MIN_US <= a <= t + length + MIN_US for a in used.get(device, ())):
            return Fault(t, "keypad_unplug", device, length)
    return pick


# --- the injector ----------------------------------------------------------------------------

@dataclass
class Reboot:
    """A pad reboot waiting for an event in flight, then what came of that event."""

    entry: LogEntry
    due_us: int
    pad: SimPad | None = None
    event: tuple[int, int] | None = None


class Injector:
    def __init__(self, faults: list[Fault], control: Control, hall: SimHall,
                 rng: random.Random, ber: float = 0.0, status_listen: str = "",
                 end_us: int | None = None, log_path: Path | None = None) -> None:
        self._todo = list(faults)
        heapq.heapify(self._todo)
        self.control = control
        self.hall = hall
        self.rng = rng
        self.ber = ber
        self.status_listen = status_listen
        self.log: list[LogEntry] = []
        self.reboots: list[Reboot] = []
        self._armed: list[Reboot] = []
        self.windows: list[tuple[int, int, LogEntry]] = []  # (from, to, fault) of outages
        self.agent_rejections: Counter[str] = Counter()  # summed over the agent's lives
        self.ports: list[PtyPort] = []
        self.end_us = end_us
        self.log_path = log_path
        self.ended = False
        if ber > 0:
            self._noise(ber)

    def _noise(self, ber: float) -> None:
        self.ports = [*self.hall.usb, *(b.port for b in self.hall.buses)]
        for port in self.ports:
            port.noise_out = Noise(ber, random.Random(self.rng.getrandbits(64)))
            port.noise_in = Noise(ber, random.Random(self.rng.getrandbits(64)))

    @property
    def pending(self) -> int:
        return len(self._todo) + len(self._armed)

    def step(self, now_us: int) -> None:
        while self._todo and self._todo[0].t_us <= now_us:
            self._fire(heapq.heappop(self._todo), now_us)
        if self._armed:
            self._try_reboots(now_us)
        if self.end_us is not None and now_us >= self.end_us and not self.ended:
            self.end()

    def end(self) -> None:
        """The run's last turn, the agent still up: its rejection counters, the log."""
        self.ended = True
        self._count_rejections()
        for reboot in self._armed:
            reboot.entry.outcome = "not fired: the run ended first"
            self.log.append(reboot.entry)
        self._armed = []
        if self.log_path is not None:
            self.write_log(self.log_path)

    def _fire(self, fault: Fault, now_us: int) -> None:
        handler = getattr(self, f"_{fault.kind}")
        handler(fault, now_us)

    def _act(self, entry: LogEntry, action: Any) -> None:
        """Run a Control action; its outcome (or why it failed) goes in the log."""
        try:
            action()
            entry.outcome = entry.outcome or "done"
        except Exception as exc:  # a failed fault is logged, the run goes on
            entry.outcome = f"failed: {type(exc).__name__}: {exc}"
        self.log.append(entry)

    # --- each fault ---------------------------------------------------------------------

    def _agent_kill(self, fault: Fault, now_us: int) -> None:
        self._count_rejections()
        entry = LogEntry(now_us, "agent_kill", "agent", "SIGKILL, restarted at once", "")
        self._act(entry, self.control.kill_agent)
        self.windows.append((now_us, now_us + 10 * MIN_US, entry))

    def _broker_restart(self, fault: Fault, now_us: int) -> None:
        entry = LogEntry(now_us, "broker_restart", "broker", "mosquitto stopped and started",
                         "")
        self._act(entry, self.control.restart_broker)

    def _center_outage(self, fault: Fault, now_us: int) -> None:
        minutes = fault.duration_us / MIN_US
        entry = LogEntry(now_us, "center_outage", "center", f"down {minutes:g} min", "")
        self._act(entry, self.control.stop_center)
        heapq.heappush(self._todo, Fault(now_us + fault.duration_us, "center_back", "center"))

    def _center_back(self, fault: Fault, now_us: int) -> None:
        self._act(LogEntry(now_us, "center_back", "center", "started again", ""),
                  self.control.start_center)

    def _keypad_unplug(self, fault: Fault, now_us: int) -> None:
        dev = self._input(fault.target)
        minutes = fault.duration_us / MIN_US
        entry = LogEntry(now_us, "keypad_unplug", fault.target, f"for {minutes:g} min", "")
        if dev is None:
            entry.outcome = "skipped: no such device"
            self.log.append(entry)
            return
        self._act(entry, dev.unplug)
        self.windows.append((now_us, now_us + fault.duration_us, entry))
        heapq.heappush(self._todo, Fault(now_us + fault.duration_us, "keypad_plug",
                                         fault.target))

    def _keypad_plug(self, fault: Fault, now_us: int) -> None:
        dev = self._input(fault.target)
        if dev is not None:
            self._act(LogEntry(now_us, "keypad_plug", fault.target, "plugged back", ""),
                      dev.plug)

    def _input(self, device: str) -> SocketInput | None:
        counter, _, kind = device.rpartition("-")
        station = self.hall.stations.get(counter)
        if station is None:
            return None
        return station.keypad.dev if kind == "keypad" else station.badge.dev

    def _pad_reboot(self, fault: Fault, now_us: int) -> None:
        entry = LogEntry(now_us, "pad_reboot", "", "waiting for an event in flight", "")
        self._armed.append(Reboot(entry, now_us + REBOOT_WAIT_US))

    def _try_reboots(self, now_us: int) -> None:
        for reboot in list(self._armed):
            press_only = now_us < reboot.entry.t_us + PRESS_ONLY_US
            found = self._in_flight(press_only)
            if found is not None:
                self._armed.remove(reboot)
                self._reboot(reboot, found, now_us)
            elif now_us >= reboot.due_us:
                self._armed.remove(reboot)
                reboot.entry.outcome = "skipped: no event in flight within 30 min"
                self.log.append(reboot.entry)

    def _in_flight(self, press_only: bool) -> tuple[SimPad, tuple[int, int], int] | None:
        pads = [p for p in self.hall.pads() if p.powered and p.pad is not None]
        self.rng.shuffle(pads)
        for pad in pads:
            for event, kind in pad.in_flight():
                if kind == PRESS or not press_only:
                    return pad, event, kind
        return None

    def _reboot(self, reboot: Reboot, found: tuple[SimPad, tuple[int, int], int],
                now_us: int) -> None:
        pad, event, kind = found
        entry = reboot.entry
        entry.t_us, entry.target = now_us, pad.device
        entry.detail = (f"{'press' if kind == PRESS else f'event type {kind}'} "
                        f"boot {event[0]} seq {event[1]} sent {pad.sent[event]}x, unacked")
        entry.data = {"event": list(event), "kind": kind, "sent": pad.sent[event]}
        reboot.pad, reboot.event = pad, event
        self.reboots.append(reboot)
        self._act(entry, pad.power_off)
        heapq.heappush(self._todo, Fault(now_us + REBOOT_OFF_US, "pad_boot", pad.device))

    def _pad_boot(self, fault: Fault, now_us: int) -> None:
        pad = next((p for p in self.hall.pads() if p.device == fault.target), None)
        if pad is not None:
            pad.power_on(now_us // 1000)

    # --- what came of it ----------------------------------------------------------------

    def _count_rejections(self) -> None:
        """Add the running agent's rejection counters (they die with it)."""
        got = agent_rejections(self.status_listen) if self.status_listen else None
        if got:
            self.agent_rejections.update(got)

    def settle(self) -> None:
        """After the run (the pads drained): what came of each rebooted pad's event."""
        for reboot in self.reboots:
            pad, event, entry = reboot.pad, reboot.event, reboot.entry
            assert pad is not None and event is not None
            if entry.outcome.startswith("failed"):
                continue
            acked = event in pad.ledger.acked
            again = pad.sent[event] - int(entry.data.get("sent", 0))
            state = "acked" if acked else "LOST" if event in pad.ledger.lost else "NOT acked"
            entry.outcome = f"rebooted; sent again {again}x after boot, {state}"
            entry.data["acked"] = acked

    def serial_stats(self) -> dict[str, int]:
        noises = [n for p in self.ports for n in (p.noise_out, p.noise_in) if n is not None]
        return {"bits": sum(n.bits for n in noises),
                "bits_flipped": sum(n.bits_flipped for n in noises),
                "bytes_flipped": sum(n.bytes_flipped for n in noises)}

    def cause(self, t_us: int, device: str) -> str:
        """The fault whose window covers a lost act at `t_us` on `device`, if any."""
        for lo, hi, entry in reversed(self.windows):
            if lo <= t_us <= hi and entry.target in (device, "agent"):
                return f"{entry.fault} {entry.target} at {entry.line()['t']}"
        return ""

    def write_log(self, path: Path) -> None:
        with path.open("w", encoding="utf-8") as f:
            for entry in sorted(self.log, key=lambda e: e.t_us):
                f.write(json.dumps(entry.line(), ensure_ascii=False) + "\n")


def agent_rejections(listen: str) -> dict[str, int] | None:
    """The running agent's counted rejections, from its status page; None if it is down."""
    host, _, port = listen.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=1.0)
    try:
        conn.request("GET", "/status.json")
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        got = json.loads(resp.read()).get("rejections")
        return {str(k): int(v) for k, v in got.items()} if isinstance(got, dict) else None
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


# --- the command line --------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("faults (docs/faults.md); counts are per working day")
    g.add_argument("--faults", choices=("all", "none"), default="none",
                   help="all: the long run's mix (2 agent kills, 1 broker restart, a 3 h "
                        "center outage, 3 pad reboots, 1 keypad unplug a day, BER 1e-5, the "
                        "center down all of day 3); the options below change it")
    g.add_argument("--agent-kills", type=_count, metavar="N")
    g.add_argument("--broker-restarts", type=_count, metavar="N")
    g.add_argument("--center-outages", type=_count, metavar="N")
    g.add_argument("--center-outage-min", type=_minutes, metavar="MIN")
    g.add_argument("--center-down-day", type=_count, metavar="N",
                   help="the N-th day (1-based) the center is down all day; 0: none")
    g.add_argument("--pad-reboots", type=_count, metavar="N",
                   help="pads power-cycled with an event sent and unacknowledged")
    g.add_argument("--keypad-unplugs", type=_count, metavar="N")
    g.add_argument("--unplug-min", type=_minutes, metavar="MIN")
    g.add_argument("--ber", type=_ber, metavar="RATE",
                   help="bit-error rate on every serial line, both ways (e.g. 1e-5)")
    g.add_argument("--fault-seed", type=int, metavar="N", help="default: the run's --seed")


def rates_from(args: argparse.Namespace) -> Rates:
    base = ALL if getattr(args, "faults", "none") == "all" else Rates()
    given = {name: getattr(args, name) for name in Rates.__dataclass_fields__
             if getattr(args, name, None) is not None}
    return replace(base, **given)


def from_args(args: argparse.Namespace, sim: Simulation) -> Injector | None:
    """The run's injector (after sim.prepare()), or None when no fault is asked for."""
    rates = rates_from(args)
    if not rates.any:
        return None
    seed = args.fault_seed if getattr(args, "fault_seed", None) is not None else sim.opts.seed
    rng = random.Random(f"faults:{seed}")
    acts = [a for a in sim.acts if a.t <= sim.end_us]
    faults = schedule(rates, acts, list(sim.hall.stations), rng,
                      mqtt="mqtt" in sim.hall.layout.links)
    control: Control = getattr(sim, "control", sim)
    return Injector(faults, control, sim.hall, rng, rates.ber, sim.svc.status_listen,
                    sim.end_us, sim.work / "faults.jsonl")


def _number(value: str, kind: Callable[[str], float], holds: Callable[[float], bool],
            rule: str) -> float:
    try:
        n = kind(value)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
    if not holds(n):
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return n


def _count(value: str) -> int:
    return int(_number(value, int, lambda n: n >= 0, "must be 0 or more"))


def _minutes(value: str) -> float:
    return _number(value, float, lambda n: n > 0, "must be greater than 0")


def _ber(value: str) -> float:
    return _number(value, float, lambda n: 0.0 <= n < 0.01, "a bit-error rate 0 <= BER < 0.01")
