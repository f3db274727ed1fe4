"""The serial link against real pty pairs: the link opens the slave's path by name through
pyserial; the test is the pad (or the bus) at the master fd. Two tests put the real pad
firmware (MicroPython unix port, tests/firmware/upy) at the other end."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import serial  # type: ignore[import-untyped]
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.config import ConfigError, DeviceConfig, HallConfig
from edge_agent.service.clock import WALL
from edge_agent.service.inputs import Inbox, LinkState, SerialBytes
from edge_agent.service.send_queue import AckFirstQueue
from edge_agent.service.serial_link import (
    REPLY_MARGIN_S,
    WRITE_TIMEOUT_S,
    Port,
    SerialLink,
    open_port,
    serial_links,
)
from edge_agent.wire import (
    Ack,
    Decoder,
    DeviceKey,
    Encoder,
    Kind,
    Message,
    Poll,
    Press,
    ScreenCode,
    ScreenCommand,
    SeqGuard,
    seal,
    wire,
)
from tests.firmware import upy_env
from tests.firmware.pty_pad import pad_config, prepare_flash
from tools.harness.pty_pair import PtyPair as Pty

WAIT_S = 10.0  # how long to wait for something that must happen (never a timing assertion)
KEYS = {a: bytes([a]) * 32 for a in range(1, 5)}  # as tests/firmware/upy/bus_board.py keys pads


# --- the test's end of the line ----------------------------------------------------------


class Line:
    """Decodes what the link writes (agent-to-pad frames) at a pty's master."""

    def __init__(self, pty: Pty, keys: dict[int, bytes]) -> None:
        self.pty = pty
        self.raw = bytearray()
        lookup = {a: DeviceKey(f"pad{a}", k) for a, k in keys.items()}
        self.decoder = Decoder(lookup.get, None, upstream=False)
        self.pending: list[Message] = []

    def next(self) -> Message:
        end = time.monotonic() + WAIT_S
        while not self.pending and time.monotonic() < end:
            data = self.pty.read()
            self.raw += data
            self.pending += [r for r in self.decoder.feed(data) if isinstance(r, Message)]
        assert self.pending, f"no frame from the link; rejections {self.decoder.rejections}"
        return self.pending.pop(0)


def pad_event(address: int, kind: Kind, seq: int, body: bytes, boot: int = 1) -> bytes:
    """A raw pad event frame: flags 0, age 120 ms, then the body."""
    return seal(KEYS[address], address, kind, boot, seq, struct.pack(">BI", 0, 120) + body)


def press(address: int, seq: int) -> bytes:
    return pad_event(address, Kind.PRESS, seq, bytes([0, 1]))  # key 0, satisfied


def heartbeat(address: int, seq: int) -> bytes:
    body = struct.pack(">IBBB", 5, 0, ScreenCode.WELCOME, 0)
    return seal(KEYS[address], address, Kind.HEARTBEAT, 1, seq, body)


def usb_pad(port: str, name: str = "pad1", address: int = 1) -> DeviceConfig:
    return DeviceConfig(id=name, counter="A01", link="usb", port=port, address=address,
                        key=KEYS[address])


def bus_pads(port: str, addresses: list[int]) -> list[DeviceConfig]:
    return [DeviceConfig(id=f"pad{a}", counter=f"A0{a}", link="rs485", port=port, address=a,
                         key=KEYS[a]) for a in addresses]


class Core:
    """The core's side of the inbox: decodes SerialBytes as the core does, keeps LinkStates."""

    def __init__(self, inbox: Inbox, keys: dict[int, bytes]) -> None:
        self.inbox = inbox
        lookup = {a: DeviceKey(f"pad{a}", k) for a, k in keys.items()}
        self.decoder = Decoder(lookup.get, SeqGuard())
        self.chunks: list[SerialBytes] = []
        self.states: list[LinkState] = []
        self._messages: list[Message] = []
        self._states_seen = 0

    def _pump(self, ready: Callable[[], bool]) -> None:
        end = time.monotonic() + WAIT_S
        while not ready() and (left := end - time.monotonic()) > 0:
            try:
                item = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            if isinstance(item, SerialBytes):
                self.chunks.append(item)
                self._messages += [r for r in self.decoder.feed(item.data)
                                   if isinstance(r, Message)]
            elif isinstance(item, LinkState):
                self.states.append(item)
        assert ready(), "the link put nothing of the kind on the inbox"

    def message(self) -> Message:
        self._pump(lambda: bool(self._messages))
        return self._messages.pop(0)

    def messages(self, n: int) -> list[Message]:
        return [self.message() for _ in range(n)]

    def state(self) -> LinkState:
        self._pump(lambda: len(self.states) > self._states_seen)
        self._states_seen += 1
        return self.states[self._states_seen - 1]

    def chunk(self) -> SerialBytes:
        seen = len(self.chunks)
        self._pump(lambda: len(self.chunks) > seen)
        return self.chunks[seen]


@pytest.fixture
def pty() -> Iterator[Pty]:
    p = Pty.open()
    yield p
    p.close()


@pytest.fixture
def started() -> Iterator[Callable[[SerialLink], Core]]:
    """Starts links, each on a fresh inbox; stops them all at the end, also on failure."""
    links: list[SerialLink] = []

    def start(link: SerialLink) -> Core:
        inbox: Inbox = queue.Queue()
        link.start(inbox)
        links.append(link)
        return Core(inbox, KEYS)

    yield start
    for link in links:
        link.stop()


Start = Callable[[SerialLink], Core]


def wait_open(link: SerialLink) -> None:
    """Until the link has opened its port (pyserial's open empties the input buffer, so a
    test writes to the pad's end only after it)."""
    end = time.monotonic() + WAIT_S
    while not link.health()["open"] and time.monotonic() < end:
        time.sleep(0.005)
    assert link.health()["open"]


def make_link(port: str, devices: list[DeviceConfig], reply_margin_s: float = REPLY_MARGIN_S
              ) -> SerialLink:
    return SerialLink(port, devices, WALL.now_us, 7, reply_margin_s=reply_margin_s)


# --- USB ---------------------------------------------------------------------------------


def test_usb_pad_bytes_reach_the_inbox_in_any_chunking(pty: Pty, started: Start) -> None:
    stamps = iter(range(1_000_000, 2_000_000))
    link = SerialLink(pty.path, [usb_pad(pty.path)], lambda: next(stamps), 7)
    core = started(link)
    wait_open(link)
    frames = wire(press(1, 1)) + wire(press(1, 2))
    os.write(pty.master, frames[:7])
    first = core.chunk()  # part of a frame is passed on as it comes
    os.write(pty.master, frames[7:])
    got = core.messages(2)
    assert [(m.kind, m.seq, m.device) for m in got] == [(Kind.PRESS, 1, "pad1"),
                                                        (Kind.PRESS, 2, "pad1")]
    assert isinstance(got[0].body, Press) and got[0].body.level == "satisfied"
    assert b"".join(c.data for c in core.chunks) == frames
    assert {c.port for c in core.chunks} == {pty.path}
    assert first.t_us >= 1_000_000  # stamped with the link's clock
    assert [c.t_us for c in core.chunks] == sorted(c.t_us for c in core.chunks)
    health = link.health()
    assert (health["bytes_in"], health["frames_in"]) == (len(frames), 2)
    assert health["open"] and health["link"] == "usb" and link.name == f"serial:{pty.path}"
    assert core.states == []  # a port that opened at once reports no state


def test_send_writes_the_cobs_frame(pty: Pty, started: Start) -> None:
    link = make_link(pty.path, [usb_pad(pty.path)])
    started(link)
    raw = Encoder(7).ack(DeviceKey("pad1", KEYS[1]), 1, boot=1, seq=42)
    assert link.send("pad1", raw, ack=True)
    line = Line(pty, KEYS)
    msg = line.next()
    assert bytes(line.raw) == wire(raw)
    assert msg.kind is Kind.ACK and msg.body == Ack(1, 42)
    link.stop()  # the counters are final
    assert (link.health()["frames_out"], link.health()["bytes_out"]) == (1, len(wire(raw)))


def test_send_refuses_what_is_not_a_frame_for_its_devices_and_counts_it(
        pty: Pty, started: Start) -> None:
    link = make_link(pty.path, [usb_pad(pty.path)])
    started(link)
    encoder = Encoder(7)
    ack = encoder.ack(DeviceKey("pad1", KEYS[1]), 1, boot=1, seq=1)
    assert not link.send("pad9", ack, ack=True)
    assert not link.send("pad1", ack[:5], ack=True)
    assert not link.send("pad1", ack + bytes(80), ack=True)
    assert not link.send("pad1", press(1, 1), ack=False)  # a pad's frame, not the agent's
    display = encoder.display(DeviceKey("pad1", KEYS[1]), 1, ScreenCode.THANKS)
    assert link.send("pad1", display, ack=False)
    line = Line(pty, KEYS)
    msg = line.next()
    assert bytes(line.raw) == wire(display)  # nothing else reached the line
    assert msg.body == ScreenCommand(ScreenCode.THANKS, "")
    assert link.health()["rejected"] == {"unknown_device": 1, "bad_length": 2,
                                         "wrong_direction": 1}


def queue_while_absent(tmp_path: Path, started: Start, limit: int
                       ) -> tuple[SerialLink, Core, str]:
    """A link whose port is not there yet: it reports it and retries, queueing meanwhile."""
    path = str(tmp_path / "usb-pad1")
    link = SerialLink(path, [usb_pad(path)], WALL.now_us, 7, queue_max=limit)
    core = started(link)
    offline = core.state()
    assert (offline.online, offline.devices) == (False, ("pad1",))
    assert offline.why.startswith(f"port not found: [Errno 2] could not open port {path}")
    return link, core, path


def plug_in(path: str, core: Core, n: int) -> list[object]:
    """Makes the port appear; the bodies of the first n frames the link writes."""
    pty = Pty.open()
    try:
        os.symlink(pty.path, path)
        online = core.state()
        assert (online.online, online.why) == (True, "port back")
        line = Line(pty, KEYS)
        return [line.next().body for _ in range(n)]
    finally:
        pty.close()


def test_full_queue_drops_the_oldest_displays_never_an_ack(tmp_path: Path, started: Start
                                                          ) -> None:
    link, core, path = queue_while_absent(tmp_path, started, limit=4)
    encoder, dest = Encoder(7), DeviceKey("pad1", KEYS[1])
    for name in ["d1", "a1", "d2", "a2", "d3", "d4", "a3"]:
        if name[0] == "a":
            assert link.send("pad1", encoder.ack(dest, 1, boot=1, seq=int(name[1])), ack=True)
        else:
            assert link.send("pad1", encoder.display(dest, 1, ScreenCode.INVITE, name), ack=False)
    health = link.health()
    assert (health["queued"], health["open"], health["dropped_displays"]) == (4, False, 3)
    assert plug_in(path, core, 4) == [Ack(1, 1), Ack(1, 2), Ack(1, 3),
                                      ScreenCommand(ScreenCode.INVITE, "d4")]
    assert link.health()["dropped_acks"] == 0


def test_a_queue_of_nothing_but_acks_drops_its_oldest_ack_to_stay_bounded(
        tmp_path: Path, started: Start) -> None:
    link, core, path = queue_while_absent(tmp_path, started, limit=3)
    encoder, dest = Encoder(7), DeviceKey("pad1", KEYS[1])
    for seq in range(1, 5):
        assert link.send("pad1", encoder.ack(dest, 1, boot=1, seq=seq), ack=True)
    assert link.send("pad1", encoder.display(dest, 1, ScreenCode.INVITE, "late"), ack=False)
    assert plug_in(path, core, 3) == [Ack(1, 2), Ack(1, 3), Ack(1, 4)]
    health = link.health()
    assert (health["dropped_acks"], health["dropped_displays"]) == (1, 1)


@given(st.lists(st.booleans(), max_size=40), st.integers(1, 8))
def test_out_queue_bounds_and_drop_order(acks: list[bool], limit: int) -> None:
    q: AckFirstQueue[bytes] = AckFirstQueue(limit, drop_acks=True)
    for i, ack in enumerate(acks):
        q.put(b"%d" % i, ack)
        assert len(q) <= limit
    drained = []
    while (frame := q.take()) is not None:
        drained.append(int(frame))
    put_acks = [i for i, ack in enumerate(acks) if ack]
    put_displays = [i for i, ack in enumerate(acks) if not ack]
    kept_acks = min(len(put_acks), limit)  # an ack goes only when the queue holds only acks
    assert len(drained) == min(len(acks), limit)
    assert drained[:kept_acks] == put_acks[len(put_acks) - kept_acks:]
    kept_displays = drained[kept_acks:]
    assert kept_displays == put_displays[len(put_displays) - len(kept_displays):]
    assert q.dropped_acks == len(put_acks) - kept_acks
    assert q.dropped_displays == len(put_displays) - len(kept_displays)


def test_port_vanishes_and_comes_back_under_the_same_name(tmp_path: Path, started: Start
                                                         ) -> None:
    by_id = tmp_path / "usb-Raspberry_Pi_Pico_E66-if00"  # like /dev/serial/by-id/...
    first = Pty.open()
    os.symlink(first.path, by_id)
    link = make_link(str(by_id), [usb_pad(str(by_id))])
    core = started(link)
    wait_open(link)
    os.write(first.master, wire(press(1, 1)))
    assert core.message().seq == 1
    by_id.unlink()  # the pad resets: its node goes away
    first.close()
    offline = core.state()
    assert (offline.online, offline.devices) == (False, ("pad1",))
    assert offline.why.startswith("port vanished: ")
    second = Pty.open()
    try:
        os.symlink(second.path, by_id)  # and it re-enumerates under the same name
        online = core.state()
        assert (online.online, online.why, online.devices) == (True, "port back", ("pad1",))
        wait_open(link)
        assert offline.t_us <= online.t_us
        os.write(second.master, wire(press(1, 2)))
        assert core.message().seq == 2  # reading resumed
        raw = Encoder(7).ack(DeviceKey("pad1", KEYS[1]), 1, boot=1, seq=2)
        assert link.send("pad1", raw, ack=True)
        assert Line(second, KEYS).next().body == Ack(1, 2)
        health = link.health()
        assert health["reconnects"] == 1 and health["open"] and health["port_errors"] >= 1
    finally:
        second.close()
    assert len(core.states) == 2  # offline once, however many retries failed


def test_port_is_exclusive_while_open_and_released_by_stop(pty: Pty) -> None:
    link = make_link(pty.path, [usb_pad(pty.path)])
    inbox: Inbox = queue.Queue()
    link.start(inbox)
    try:
        wait_open(link)
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            serial.Serial(pty.path, 115200, exclusive=True)
    finally:
        link.stop()
    assert link.health()["open"] is False
    serial.Serial(pty.path, 115200, exclusive=True).close()


def test_open_port_always_sets_both_timeouts_and_exclusive(pty: Pty) -> None:
    port = open_port(pty.path, 0.05)
    try:
        assert vars(port)["_timeout"] == 0.05
        assert vars(port)["_write_timeout"] == WRITE_TIMEOUT_S
        assert vars(port)["_exclusive"] is True
        assert vars(port)["_baudrate"] == 115200
    finally:
        port.close()


def test_a_stalled_reader_costs_one_frame_per_write_timeout(pty: Pty, started: Start) -> None:
    def opener(path: str, read_timeout: float) -> Port:
        port: Port = serial.Serial(path, 115200, timeout=read_timeout, write_timeout=0.05,
                                   exclusive=True)
        return port

    link = SerialLink(pty.path, [usb_pad(pty.path)], WALL.now_us, 7, opener=opener,
                      queue_max=1000)
    core = started(link)
    encoder, dest = Encoder(7), DeviceKey("pad1", KEYS[1])
    sent = 600  # about 50 KB: more than a pty holds unread
    for i in range(sent):
        frame = encoder.display(dest, 1, ScreenCode.INVITE, f"{i:048d}")
        assert link.send("pad1", frame, ack=False)
    end = time.monotonic() + WAIT_S
    while link.health()["write_timeouts"] == 0 and time.monotonic() < end:
        time.sleep(0.01)
    line = Line(pty, KEYS)
    got: list[Message] = []
    while len(got) + link.health()["write_timeouts"] < sent:
        got.append(line.next())
    link.stop()
    health = link.health()
    assert health["write_timeouts"] >= 1
    assert len(got) == health["frames_out"] == sent - health["write_timeouts"]
    seqs = [m.seq for m in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert sum(line.decoder.rejections.values()) <= health["write_timeouts"]
    assert core.inbox.empty()  # a stalled reader is not a vanished port


# --- RS-485 ------------------------------------------------------------------------------


def answer_polls(pty: Pty, line: Line, replies: dict[int, Callable[[int], bytes]], n: int
                 ) -> list[int]:
    """Reads n polls; answers those for an address in `replies`. The polled addresses."""
    polled = []
    for _ in range(n):
        msg = line.next()
        assert msg.kind is Kind.POLL and msg.body == Poll()
        polled.append(msg.address)
        if msg.address in replies:
            os.write(pty.master, wire(replies[msg.address](len(polled))))
    return polled


def test_bus_polls_each_address_in_turn_and_passes_a_silent_pad(pty: Pty, started: Start
                                                               ) -> None:
    link = make_link(pty.path, bus_pads(pty.path, [3, 1, 2]), reply_margin_s=0.5)
    core = started(link)
    line = Line(pty, KEYS)
    polled = answer_polls(pty, line, {1: lambda n: heartbeat(1, n),
                                      3: lambda n: heartbeat(3, n)}, 6)
    assert polled == [1, 2, 3, 1, 2, 3]
    got = core.messages(4)
    assert [(m.device, m.kind) for m in got] == [("pad1", Kind.HEARTBEAT),
                                                 ("pad3", Kind.HEARTBEAT)] * 2
    link.stop()
    health = link.health()
    assert health["link"] == "rs485" and health["polls"] >= 6
    assert health["silent"] == {"pad2": health["poll_timeouts"]}
    assert health["poll_timeouts"] >= 2 and health["poll_replies"] >= 4


def test_bus_sends_queued_acks_then_displays_before_the_next_poll(pty: Pty, started: Start
                                                                 ) -> None:
    link = make_link(pty.path, bus_pads(pty.path, [1, 2]), reply_margin_s=5.0)
    core = started(link)
    line = Line(pty, KEYS)
    assert answer_polls(pty, line, {1: lambda n: press(1, 9)}, 1) == [1]
    event = core.message()
    assert line.next().address == 2  # the link now waits for pad 2's answer
    encoder, dest = Encoder(7), DeviceKey("pad1", KEYS[1])
    assert link.send("pad1", encoder.display(dest, 1, ScreenCode.THANKS), ack=False)
    assert link.send("pad1", encoder.ack(dest, 1, event.boot, event.seq), ack=True)
    os.write(pty.master, wire(heartbeat(2, 1)))
    after = [line.next() for _ in range(3)]
    assert [(m.kind, m.address) for m in after] == [(Kind.ACK, 1), (Kind.DISPLAY, 1),
                                                    (Kind.POLL, 1)]
    assert after[0].body == Ack(1, 9)


def test_bus_polls_are_sealed_for_each_pad_with_its_own_seq(pty: Pty, started: Start) -> None:
    link = make_link(pty.path, bus_pads(pty.path, [1, 2]), reply_margin_s=0.2)
    started(link)
    line = Line(pty, KEYS)
    polls = [line.next() for _ in range(4)]  # nobody answers: each poll times out
    assert [(m.address, m.device, m.boot, m.seq) for m in polls] == [
        (1, "pad1", 7, 1), (2, "pad2", 7, 1), (1, "pad1", 7, 2), (2, "pad2", 7, 2)]
    assert line.decoder.rejections == {}


# --- the real pad firmware at the other end ----------------------------------------------


class Cable:
    """Two ptys joined master to master by a thread: the link opens one slave by its path, the
    firmware (which also opens a slave by path) the other."""

    def __init__(self) -> None:
        self.agent_end = Pty.open()
        self.pad_end = Pty.open()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ends = {self.agent_end.master: self.pad_end.master,
                self.pad_end.master: self.agent_end.master}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(ends), [], [], 0.05)
            for fd in ready:
                # A side not open (EIO) loses the bytes, as a loose wire would.
                with contextlib.suppress(OSError):
                    os.write(ends[fd], os.read(fd, 4096))

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.agent_end.close()
        self.pad_end.close()


@pytest.fixture
def cable() -> Iterator[Cable]:
    c = Cable()
    yield c
    c.close()


def micropython(module: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """A firmware program on the MicroPython unix port, run from source."""
    path = os.pathsep.join([str(upy_env.FIRMWARE), str(upy_env.CHECKS)])
    with log.open("wb") as out:
        return subprocess.Popen(
            [upy_env.MICROPYTHON, "-X", "heapsize=2m", "-m", module, *args],
            env=upy_env.env(log.parent, MICROPYPATH=path), stdout=out, stderr=subprocess.STDOUT,
        )


@pytest.fixture
def programs(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()
    for log in tmp_path.glob("*.log"):
        assert b"Traceback" not in log.read_bytes(), log.read_text()


def test_firmware_usb_pad_event_acked_through_the_link(
        cable: Cable, tmp_path: Path, started: Start,
        programs: list[subprocess.Popen[bytes]]) -> None:
    cfg = pad_config(address=3)
    prepare_flash(tmp_path, cfg)
    control = tmp_path / "keys"
    control.write_text("0")
    key = bytes.fromhex(str(cfg["key"]))
    port = cable.agent_end.path
    link = make_link(port, [DeviceConfig(id="pad3", counter="A01", link="usb", port=port,
                                         address=3, key=key)])
    core = started(link)
    core.decoder = Decoder({3: DeviceKey("pad3", key)}.get, SeqGuard())
    wait_open(link)
    programs.append(micropython("unix_board", cable.pad_end.path, str(tmp_path / "flash"),
                                str(control), log=tmp_path / "pad.log"))

    def next_of(kind: Kind) -> Message:
        while (msg := core.message()).kind is not kind:
            pass
        return msg

    selftest = next_of(Kind.SELFTEST)
    assert link.send("pad3", Encoder(7).ack(DeviceKey("pad3", key), 3, selftest.boot,
                                            selftest.seq), ack=True)
    control.write_text("1")  # hold key 0 (满意)
    pressed = next_of(Kind.PRESS)  # the pad sends it only once the self-test is acked
    control.write_text("0")
    assert isinstance(pressed.body, Press) and pressed.body.level == "satisfied"
    assert (pressed.boot, pressed.seq) == (selftest.boot, selftest.seq + 1)


def test_firmware_rs485_bus_answers_polls_and_a_missing_pad_is_passed(
        cable: Cable, tmp_path: Path, started: Start,
        programs: list[subprocess.Popen[bytes]]) -> None:
    log = tmp_path / "bus.log"
    programs.append(micropython("bus_board", cable.pad_end.path, str(tmp_path), "2", log=log))
    end = time.monotonic() + WAIT_S
    while b"ready" not in log.read_bytes() and time.monotonic() < end:
        time.sleep(0.01)
    port = cable.agent_end.path
    link = make_link(port, bus_pads(port, [1, 2, 3]), reply_margin_s=0.2)
    core = started(link)
    heard: list[str] = []
    while heard.count("pad1") < 2:  # a second cycle: pad 3 was polled in between
        msg = core.message()
        assert msg.kind is Kind.HEARTBEAT  # a polled pad with nothing to send
        heard.append(msg.device)
    link.stop()
    assert heard[:3] == ["pad1", "pad2", "pad1"]
    assert link.health()["silent"] == {"pad3": link.health()["poll_timeouts"]}
    assert core.decoder.rejections == {}


# --- configuration -----------------------------------------------------------------------


def test_serial_links_makes_one_link_per_port() -> None:
    devices = [usb_pad("/dev/serial/by-id/usb-pico-A", "padA"),
               *bus_pads("/dev/ttyUSB0", [2, 1]),
               DeviceConfig(id="padM", counter="A09", link="mqtt")]
    config = HallConfig(hall_id="qingpu", devices={d.id: d for d in devices})
    links = serial_links(config, WALL.now_us, 7)
    assert [(k.name, k.devices, k.bus) for k in links] == [
        ("serial:/dev/serial/by-id/usb-pico-A", ("padA",), False),
        ("serial:/dev/ttyUSB0", ("pad1", "pad2"), True),
    ]
    assert all(k.health()["open"] is False for k in links)  # nothing opened before start()


@pytest.mark.parametrize(("devices", "message"), [
    ([DeviceConfig(id="p1", counter="A01", link="usb")],
     r"\[devices.p1\] port: missing; a usb device needs its serial port"),
    ([usb_pad("/dev/x", "p1"), usb_pad("/dev/x", "p2", 2)],
     r"\[devices.p2\] port: /dev/x is a usb port and carries one device, got p1, p2"),
    ([usb_pad("/dev/x", "p1"), *bus_pads("/dev/x", [2])],
     r"\[devices.pad2\] port: /dev/x has devices p1, pad2, which must all be usb or all "
     "rs485"),
    ([DeviceConfig(id="p1", counter="A01", link="rs485", port="/dev/x", address=1)],
     r"\[devices.p1\] key: missing; a pad on link rs485 seals its frames with its key"),
    ([*bus_pads("/dev/x", [1]),
      DeviceConfig(id="pad1b", counter="A02", link="rs485", port="/dev/x", address=1,
                   key=KEYS[1])],
     r"\[devices.pad1b\] address: 1 is already pad1's on /dev/x"),
])
def test_devices_that_cannot_share_a_port_are_a_config_error(
        devices: list[DeviceConfig], message: str) -> None:
    config = HallConfig(hall_id="qingpu", devices={d.id: d for d in devices})
    with pytest.raises(ConfigError, match=message):
        serial_links(config, WALL.now_us, 7)
