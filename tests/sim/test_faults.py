"""Fault injection (tools/simhall/faults.py): the seeded schedule, bit errors on a real pty
against the agent's decoder, a pad rebooted mid-retransmit, a keypad unplugged under the
agent's own evdev link and core, the injector driving a stand-in Control, the queue
system's retries, and one short live run with kill -9, a broker restart and bit errors."""

from __future__ import annotations

import http.server
import os
import queue
import random
import select
import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest

from edge_agent.config import HallConfig
from edge_agent.journal import Journal
from edge_agent.service.core import Core
from edge_agent.service.evdev_link import EvdevLink
from edge_agent.service.inputs import Inbox, LinkState
from edge_agent.service.socket_input import SocketSource
from edge_agent.wire import DeviceKey, FrameRejection, Kind, Message, Press
from tests.sim.rig import Hand, SerialAgent
from tools.simhall import fault_run, people
from tools.simhall.agent_config import Services, write_config
from tools.simhall.faults import ALL, MIN_US, Fault, Injector, Rates, day_spans, schedule
from tools.simhall.hall import Layout, SimHall
from tools.simhall.it_department import ItDepartment
from tools.simhall.queue_system import QueueSystem
from tools.simhall.serial_port import Noise
from tools.simhall.services import free_port
from tools.simhall.simulation import secret

SALT = secret(1, "salt")
SERVICES = Services(agent_password="agent-password-1", hook_token="t" * 32, salt=SALT)
DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def plan(counters: int = 4, days: list[date] = DAYS) -> list[people.Act]:
    desks = people.make_desks(counters, seed=2, salt=SALT)
    return list(people.plan(desks, days))


def usb_hall(folder: Path, counters: int = 1) -> SimHall:
    desks = people.make_desks(counters, seed=1, salt=SALT)
    return SimHall(Layout(links=("usb",)), desks, folder, seed=1)


class StandIn:
    """A Control that records what it was told, when (the injector's clock)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail = ""

    def _do(self, what: str) -> None:
        if what == self.fail:
            raise RuntimeError(f"{what} refused")
        self.calls.append(what)

    def kill_agent(self) -> None:
        self._do("kill_agent")

    def restart_broker(self) -> None:
        self._do("restart_broker")

    def stop_center(self) -> None:
        self._do("stop_center")

    def start_center(self) -> None:
        self._do("start_center")

    def agent_log(self) -> Path:
        return Path("agent.log")


# --- the schedule ----------------------------------------------------------------------------

def test_the_schedule_is_seeded_and_every_fault_falls_within_a_day_of_acts() -> None:
    acts = plan()
    counters = sorted({a.counter for a in acts})
    one = schedule(ALL, acts, counters, random.Random(5))
    assert one == schedule(ALL, acts, counters, random.Random(5))
    assert one != schedule(ALL, acts, counters, random.Random(6))
    spans = day_spans(acts)
    assert len(spans) == 3
    for f in one:
        assert any(lo <= f.t_us <= hi for _, lo, hi in spans), f
    kinds = Counter(f.kind for f in one)
    assert kinds["agent_kill"] == 2 * 3 and kinds["broker_restart"] == 3
    assert kinds["pad_reboot"] == 3 * 3 and kinds["keypad_unplug"] == 3
    # day 3 has the center down all day, so its few-hour outage is not scheduled
    outages = [f for f in one if f.kind == "center_outage"]
    assert len(outages) == 3
    whole = [f for f in outages if f.t_us == spans[2][1]]
    assert len(whole) == 1 and whole[0].t_us + whole[0].duration_us > spans[2][2]
    assert not [f for f in schedule(ALL, acts, counters, random.Random(5), mqtt=False)
                if f.kind == "broker_restart"]


def test_a_keypad_is_unplugged_when_no_act_needs_it() -> None:
    acts = plan(counters=3, days=DAYS[:1])
    counters = sorted({a.counter for a in acts})
    rates = Rates(keypad_unplugs=20, unplug_min=5)
    uses: dict[str, list[int]] = {}
    for a in acts:
        kind = {"service_done": "keypad", "invite_cancel": "keypad", "staff_login": "badge",
                "staff_logout": "badge"}.get(a.body["type"])
        if kind:
            uses.setdefault(f"{a.counter}-{kind}", []).append(a.t)
    for f in schedule(rates, acts, counters, random.Random(1)):
        assert not [t for t in uses.get(f.target, []) if f.t_us <= t <= f.t_us + f.duration_us]


def test_bad_rates_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="ber"):
        Rates(ber=0.5)
    with pytest.raises(ValueError, match="agent_kills"):
        Rates(agent_kills=-1)


# --- bit errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("ber", [1e-3, 1e-4])
def test_bits_are_flipped_at_about_the_rate_asked(ber: float) -> None:
    noise = Noise(ber, random.Random(3))
    rng = random.Random(4)
    differing = 0
    sent = 0
    while sent < 2_000_000:
        data = rng.randbytes(rng.randint(1, 5000))
        got = noise.corrupt(data)
        differing += sum(bin(a ^ b).count("1") for a, b in zip(data, got, strict=True))
        sent += len(data)
    assert noise.bits == sent * 8 and differing == noise.bits_flipped
    expected = noise.bits * ber
    assert abs(noise.bits_flipped - expected) < 5 * expected ** 0.5  # 5 sigma, Poisson


def test_no_noise_at_a_zero_rate() -> None:
    noise = Noise(0.0, random.Random(1))
    assert noise.corrupt(b"\x01\x02" * 1000) == b"\x01\x02" * 1000 and noise.bits_flipped == 0


def pump(agent: SerialAgent, hand: Hand, fd: int) -> list[Message | FrameRejection]:
    """One turn: the pad runs 250 ms, the agent decodes what came and acks every event."""
    hand.run(250)
    out: list[Message | FrameRejection] = []
    while select.select([agent.port.fileno()], [], [], 0.01)[0]:
        data = agent.port.read(agent.port.in_waiting or 1)
        if not data:
            break
        out += agent.decoder.feed(data)
    acks = [agent.ack(got) for got in out if isinstance(got, Message) and got.kind.is_event]
    if acks:
        select.select([fd], [], [], 0.05)  # the acks reach the simulator's end
    return out


def test_every_corrupted_frame_is_rejected_and_retransmission_delivers_each_press(
        tmp_path: Path) -> None:
    hall = usb_hall(tmp_path)
    pad = hall.stations["A01"].pad
    port = hall.usb[0]
    key = DeviceKey(pad.device, bytes.fromhex(pad.cfg["key"]))
    hand = Hand(pad)
    injector = Injector([], StandIn(), hall, random.Random(7), ber=2e-3)  # ~1 frame in 2
    pad.power_on(hand.t_ms)
    agent = SerialAgent(port.path, {})
    agent.keys = {1: key}
    agent.decoder = type(agent.decoder)(agent.keys.get, agent.decoder._guard)
    try:
        for i in range(12):
            pad.rate("unsatisfied", hand.t_ms + 50 + i * 200, hold_ms=80)
        seen: list[Message | FrameRejection] = []
        for _ in range(400):
            seen += pump(agent, hand, port.fileno())
            if len(pad.presses()) == 12 and not pad.ledger.pending():
                break
        presses = [m for m in seen if isinstance(m, Message) and m.kind is Kind.PRESS]
        new = [(m.boot, m.seq) for m in presses if not m.duplicate]
        assert sorted(new) == pad.presses() and len(new) == 12  # each once, none invented
        assert all(isinstance(m.body, Press) and m.body.level == "unsatisfied"
                   for m in presses)  # no corrupted press accepted
        assert pad.presses_acked() == pad.presses()
        assert sum(agent.decoder.rejections.values()) > 0
        assert injector.serial_stats()["bits_flipped"] > 0
        assert pad.pad.rejected > 0 or any(m.duplicate for m in presses)  # acks hit too
    finally:
        agent.close()
        hall.unplug_all()


# --- a pad rebooted mid-retransmit ---------------------------------------------------------------

def test_a_pad_rebooted_mid_retransmit_sends_the_event_again_and_it_is_taken_once(
        tmp_path: Path) -> None:
    hall = usb_hall(tmp_path)
    pad = hall.stations["A01"].pad
    port = hall.usb[0]
    hand = Hand(pad)
    pad.power_on(hand.t_ms)
    agent = SerialAgent(port.path, {})
    agent.keys = {1: DeviceKey(pad.device, bytes.fromhex(pad.cfg["key"]))}
    agent.decoder = type(agent.decoder)(agent.keys.get, agent.decoder._guard)
    control = StandIn()
    injector = Injector([Fault(hand.t_ms * 1000, "pad_reboot")], control, hall,
                        random.Random(1))
    try:
        pump(agent, hand, port.fileno())  # the self-test, acked
        pad.rate("satisfied", hand.t_ms, hold_ms=80)
        hand.run(300)  # pressed, sent, in flash; the agent does not answer
        first, _ = agent.until(lambda m: m.kind is Kind.PRESS)
        assert not first.duplicate
        injector.step(hand.t_ms * 1000)
        assert not pad.powered and injector.reboots[0].event == (first.boot, first.seq)
        hand.run(2_000)
        injector.step(hand.t_ms * 1000)
        assert pad.boots == 2
        agent.close()
        agent.port = type(agent.port)(str(port.path), timeout=0)  # the port came back
        hand.run(50)
        again, _ = agent.until(lambda m: m.kind is Kind.PRESS)
        assert (again.boot, again.seq) == (first.boot, first.seq) and again.duplicate
        assert isinstance(again.body, Press) and again.body.flags & 1  # age a lower bound
        agent.ack(again)
        for _ in range(5):
            pump(agent, hand, port.fileno())
        injector.settle()
        assert injector.reboots[0].entry.outcome.endswith("acked")
        assert pad.presses_acked() == [(first.boot, first.seq)] and not pad.ledger.lost
        assert control.calls == []  # a pad reboot is the hall's own, not the Control's
    finally:
        agent.close()
        hall.unplug_all()


def test_a_reboot_with_nothing_in_flight_waits_then_gives_up(tmp_path: Path) -> None:
    hall = usb_hall(tmp_path)
    injector = Injector([Fault(0, "pad_reboot")], StandIn(), hall, random.Random(1))
    injector.step(0)
    assert injector.pending == 1 and not injector.log
    injector.step(31 * MIN_US)
    assert injector.pending == 0 and injector.log[0].outcome.startswith("skipped")


# --- a keypad unplugged -----------------------------------------------------------------------

def test_an_unplugged_keypad_is_journaled_down_then_up_by_the_agents_core(
        tmp_path: Path) -> None:
    hall = usb_hall(tmp_path)
    config: HallConfig = write_config(tmp_path / "hall.toml", hall, SERVICES)
    station = hall.stations["A01"]
    station.keypad.dev.plug()
    inbox: Inbox = queue.Queue()
    keypad = config.devices["A01-keypad"]
    link = EvdevLink([keypad], lambda: 0, opener=SocketSource, retry_s=0.01)
    link.start(inbox)
    journal = Journal(tmp_path / "journal.sqlite")
    core = Core(config, journal, boot=1)
    injector = Injector([Fault(10 * MIN_US, "keypad_unplug", "A01-keypad", 5 * MIN_US)],
                        StandIn(), hall, random.Random(1))
    try:
        core.step([inbox.get(timeout=10)])  # opened
        injector.step(10 * MIN_US)
        assert not station.keypad.dev.plugged
        assert station.keypad.press("invite", 0) == "unplugged"  # a press into the void
        core.step([inbox.get(timeout=10)])
        injector.step(15 * MIN_US)
        state = inbox.get(timeout=10)
        assert isinstance(state, LinkState) and state.online
        core.step([state])
        kinds = [(r.event_dict()["type"], r.event_dict().get("device"))
                 for r in journal.records() if r.kind == "event"]
        assert kinds == [("device_down", "A01-keypad"), ("device_up", "A01-keypad")]
        assert [e.fault for e in injector.log] == ["keypad_unplug", "keypad_plug"]
    finally:
        link.stop()
        journal.close()
        hall.unplug_all()


# --- the injector and its Control -------------------------------------------------------------

def test_the_injector_drives_the_control_in_time_order_and_logs_each_fault(
        tmp_path: Path) -> None:
    hall = SimHall(Layout(), [], tmp_path, seed=1)
    control = StandIn()
    faults = [Fault(30 * MIN_US, "agent_kill", "agent"),
              Fault(10 * MIN_US, "broker_restart", "broker"),
              Fault(20 * MIN_US, "center_outage", "center", 60 * MIN_US)]
    injector = Injector(faults, control, hall, random.Random(1))
    seen: list[tuple[int, str]] = []
    for minute in range(0, 100, 5):
        injector.step(minute * MIN_US)
        seen += [(minute, c) for c in control.calls[len(seen):]]
    assert seen == [(10, "restart_broker"), (20, "stop_center"), (30, "kill_agent"),
                    (80, "start_center")]
    assert [(e.t_us // MIN_US, e.fault, e.outcome) for e in injector.log] == [
        (10, "broker_restart", "done"), (20, "center_outage", "done"),
        (30, "agent_kill", "done"), (80, "center_back", "done")]


def test_a_fault_the_control_cannot_do_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    hall = SimHall(Layout(), [], tmp_path, seed=1)
    control = StandIn()
    control.fail = "restart_broker"
    injector = Injector([Fault(1, "broker_restart"), Fault(2, "agent_kill")], control, hall,
                        random.Random(1), end_us=3, log_path=tmp_path / "faults.jsonl")
    injector.step(3)
    assert control.calls == ["kill_agent"]
    assert injector.log[0].outcome == "failed: RuntimeError: restart_broker refused"
    assert len((tmp_path / "faults.jsonl").read_text().splitlines()) == 2


# --- the queue system retries while the agent is away ------------------------------------------

class _Hook(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        _Hook.got.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_queue_system_retries_a_report_until_the_agent_is_back() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    port = server.server_address[1]
    server.server_close()  # nobody listens there yet: the agent is down
    qs = QueueSystem("127.0.0.1", port, "token", give_up_s=30)
    qs.call("A01", "A01-0001", None)
    time.sleep(0.5)
    server = http.server.HTTPServer(("127.0.0.1", port), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        qs.close()
        assert qs.answers == {"ok": 1} and qs.retries >= 1 and qs.retried == {"unreachable": 1}
        assert len(_Hook.got) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_the_queue_system_gives_up_after_its_bound_and_says_why() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    port = server.server_address[1]
    server.server_close()
    qs = QueueSystem("127.0.0.1", port, "token", give_up_s=0.5)
    qs.call("A01", "A01-0001", None)
    qs.close()
    assert qs.answers == {"unreachable": 1} and qs.retries >= 1
    assert qs.refusals[0][1].startswith("no answer")


# --- one short live run -----------------------------------------------------------------------

def test_a_short_run_with_kill_9_a_broker_restart_and_bit_errors_loses_nothing(
        tmp_path: Path) -> None:
    args = fault_run.parser().parse_args([
        "--days", "1", "--counters", "3", "--speed", "300", "--until", "09:00",
        "--faults", "none", "--agent-kills", "1", "--broker-restarts", "1", "--ber", "1e-4",
        "--work", str(tmp_path / "work"), "--no-progress"])
    with open(os.devnull, "w") as quiet:
        run, outcome = fault_run.play(args, quiet)
    fault_run.check_faults(run)
    assert run.injector is not None and outcome.presses is not None
    fired = Counter(e.fault for e in run.injector.log if e.outcome == "done")
    assert fired == {"agent_kill": 1, "broker_restart": 1}
    assert run.injector.serial_stats()["bits_flipped"] > 0
    t = outcome.presses
    assert t.acked and not t.lost and not t.duplicated and not t.unseen
    assert outcome.drained and outcome.forwarded is not False and not run.problems


def test_the_it_department_without_a_bound_tries_until_the_run_finishes() -> None:
    # The simulator's IT department waits out a center outage of any length (patience_s
    # None): it stops at the run's end, and says why the ruling was not made.
    port = free_port()  # nothing listens there: the center is down
    it = ItDepartment("127.0.0.1", port, "sim", token="t", patience_s=None)
    it.rule("A01-pad", "device_fault", since_us=0)
    time.sleep(0.5)
    assert it.failed == []  # still trying
    assert it.finish(0.3) is False
    assert [device for device, _ in it.failed] == ["A01-pad"]
    assert "did not answer" in it.failed[0][1]
