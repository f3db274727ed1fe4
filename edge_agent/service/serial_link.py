"""The serial link of the edge agent: one thread per serial port, carrying either one USB-CDC
pad (or sign) or an RS-485 bus of polled pads (docs/protocol.md "Links").

The link decides nothing. It passes every byte it reads to the core's inbox as `SerialBytes`
(the core's decoder for the port finds the frames) and writes the raw frames the core gives
it to `send`, COBS-encoded and 0x00-terminated.

USB-CDC, one device per port: the pad talks whenever it has something. The thread blocks in
a read (timeout READ_TIMEOUT_USB_S); `send` wakes it (pyserial's `cancel_read`), so an ack
goes out at once instead of at the end of the read timeout.

RS-485, several devices on one port, half duplex. The thread cycles through the bus's
addresses in ascending order. Before each poll it writes the queued frames, acks first, then
display commands, so the ack of an event always precedes the next poll. After a poll it reads
until one complete frame (a 0x00 after data) or the reply timeout, then moves on; every byte
read goes to the inbox. A pad that does not answer costs one reply timeout and nothing else:
the core's device timeout marks it down. Timing at 115200 baud 8N1 (10 bits, 86.8 us a byte):

- a poll is 21 bytes on the wire (19 raw + COBS code + 0x00): 1.8 ms;
- the longest reply is 85 bytes (83 raw + 2): 7.4 ms; a heartbeat 28 bytes: 2.4 ms;
- reply timeout = wire time of poll + longest reply (106 bytes, 9.2 ms) + REPLY_MARGIN_S
  (30 ms) = 39.2 ms, counted from when the poll's write and tcdrain returned. The poll's own
  time is in the sum because a USB-RS485 adapter may still hold it in its FIFO then. The
  margin covers the pad's turnaround (its main loop turns every 5 ms, firmware/app.py
  LOOP_MS, plus sealing the reply), a USB-serial adapter's receive latency (an FTDI chip
  holds received bytes up to its 16 ms latency timer by default) and the Pi's scheduling;
- a cycle lasts at least CYCLE_MIN_S (100 ms): a bus of one pad is polled 10 times a second,
  not back to back, which leaves the core time to journal an event and queue its ack before
  the pad is polled again (else the pad repeats the event, which the core's SeqGuard takes as
  a duplicate and acks again). 32 idle pads take 32 x 49 bytes = 136 ms of wire time plus
  their turnarounds; each silent pad adds up to one reply timeout.

Between the end of a cycle and CYCLE_MIN_S, queued frames are written as they come.

Port loss: a SerialException or OSError on open, read or write closes the port and puts
`LinkState(online=False, why="port vanished: ...")` once; opening is retried after 0.5 s,
doubling to 5 s, and on success `LinkState(online=True, why="port back")`. A USB pad that
resets re-enumerates under the same /dev/serial/by-id name, which is the path configured.

Outbound queue: bounded (QUEUE_MAX frames). When full, the oldest display command is dropped
(a pad shows what it was sent last, so a newer one supersedes it), never an ack for a display.
Only a queue holding nothing but acks drops its oldest ack: the port has then not been
writable for QUEUE_MAX acks; the pad repeats the event and the core acks the duplicate.
A write that times out (a USB pad that stopped reading) drops that frame and is counted; the
next write starts with a 0x00 so the partial frame costs the pad only itself.

Polls carry the link's own Encoder (the agent's boot, per-device seq). They do not mix with
the core's display sequence: the pad checks freshness only on display commands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol, cast

import serial  # type: ignore[import-untyped]

from edge_agent.config import DeviceConfig, HallConfig
from edge_agent.service.checks import SERIAL_LINKS, check_frame_device, check_port
from edge_agent.service.inputs import Inbox, LinkState, SerialBytes
from edge_agent.service.send_queue import AckFirstQueue
from edge_agent.wire import DeviceKey, Encoder, wire
from edge_agent.wire.protocol import MAX_RAW, MIN_RAW

log = logging.getLogger(__name__)

BAUD = 115200
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
POLL_WIRE_BYTES = MIN_RAW + 2  # a poll has no payload; COBS adds 1 byte, then the 0x00
REPLY_WIRE_BYTES = MAX_RAW + 2
REPLY_MARGIN_S = 0.030
CYCLE_MIN_S = 0.100
READ_TIMEOUT_USB_S = 0.2  # send() wakes the read; this only bounds an unwoken wait
READ_TIMEOUT_BUS_S = 0.005  # the granularity of the reply timeout
WRITE_TIMEOUT_S = 0.5
QUEUE_MAX = 64
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
TYPE_BYTE = 2  # offset of the type in a raw frame


def wire_seconds(n_bytes: int) -> float:
    return n_bytes * BITS_PER_BYTE / BAUD


def reply_timeout_s(margin_s: float = REPLY_MARGIN_S) -> float:
    """How long the link waits for a polled pad's frame, from the end of the poll's write."""
    return wire_seconds(POLL_WIRE_BYTES + REPLY_WIRE_BYTES) + margin_s


class Port(Protocol):
    """What the link uses of a pyserial `Serial` (POSIX)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def flush(self) -> None: ...

    def cancel_read(self) -> None: ...

    def cancel_write(self) -> None: ...

    def close(self) -> None: ...


# (path, read timeout in seconds) -> an open port; raises OSError (SerialException) if it cannot.
Opener = Callable[[str, float], Port]


def open_port(path: str, read_timeout_s: float) -> Port:
    """The port at 115200 baud, locked against other openers (flock), with read and write
    timeouts so no call blocks for ever."""
    port = serial.Serial(path, BAUD, timeout=read_timeout_s, write_timeout=WRITE_TIMEOUT_S,
                         exclusive=True)
    return cast(Port, port)


class FrameEnds:
    """Counts the frames a byte stream completes: a 0x00 with data before it."""

    def __init__(self) -> None:
        self._partial = False

    def feed(self, data: bytes) -> int:
        parts = data.split(b"\x00")
        ended = 0
        for part in parts[:-1]:
            if part or self._partial:
                ended += 1
            self._partial = False
        self._partial = self._partial or bool(parts[-1])
        return ended


@dataclass
class Stats:
    frames_in: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    polls: int = 0
    poll_replies: int = 0
    poll_timeouts: int = 0
    reconnects: int = 0
    port_errors: int = 0
    write_timeouts: int = 0


class SerialLink:
    """One serial port: a USB-CDC device or an RS-485 bus (see the module's docstring)."""

    def __init__(
        self, port: str, devices: Iterable[DeviceConfig], now_us: Callable[[], int], boot: int,
        *, opener: Opener = open_port, queue_max: int = QUEUE_MAX,
        reply_margin_s: float = REPLY_MARGIN_S, cycle_min_s: float = CYCLE_MIN_S,
    ) -> None:
        listed = sorted(devices, key=lambda d: (d.address or 0, d.id))
        self.bus = check_port(port, listed)
        self.port = port
        self.name = f"serial:{port}"
        self.devices = tuple(d.id for d in listed)
        self._targets = [(DeviceKey(d.id, cast(bytes, d.key)), cast(int, d.address))
                         for d in listed] if self.bus else []
        self._encoder = Encoder(boot)
        self._now_us = now_us
        self._opener = opener
        self._read_timeout = READ_TIMEOUT_BUS_S if self.bus else READ_TIMEOUT_USB_S
        self._reply_timeout = reply_timeout_s(reply_margin_s)
        self._cycle_min_s = cycle_min_s
        self._queue: AckFirstQueue[bytes] = AckFirstQueue(queue_max, drop_acks=True)
        self._port: Port | None = None
        self._port_lock = threading.Lock()  # _port's replacement and close vs. the wake-ups
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._inbox: Inbox | None = None
        self._ends = FrameEnds()
        self._delay: float | None = None  # None: open now; else the back-off before retrying
        self._offline = False
        self._opened_once = False
        self._dirty = False  # the last write timed out part way: start the next with 0x00
        self.stats = Stats()
        self.silent: Counter[str] = Counter()  # poll timeouts per device
        self.rejected: Counter[str] = Counter()  # send() refusals per reason
        self.last_error = ""

    # --- the core's side -------------------------------------------------------------------

    def start(self, inbox: Inbox) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._inbox = inbox
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def send(self, device: str, frame: bytes, *, ack: bool) -> bool:
        """Queue one raw frame (no COBS) for a device on this port; False (and counted) if the
        device is not here or the bytes are no agent-to-pad frame."""
        reason = self._refusal(device, frame)
        if reason:
            self.rejected[reason] += 1
            return False
        self._queue.put(wire(frame), ack)
        self._wake()
        return True

    def _refusal(self, device: str, frame: bytes) -> str:
        if device not in self.devices:
            return "unknown_device"
        if not MIN_RAW <= len(frame) <= MAX_RAW:
            return "bad_length"
        if not frame[TYPE_BYTE] & 0x80:
            return "wrong_direction"
        return ""

    def stop(self) -> None:
        self._stopping.set()
        with self._port_lock:
            if self._port is not None:
                self._port.cancel_read()
                self._port.cancel_write()
        if self._thread is not None:
            self._thread.join()
        self._close()

    def health(self) -> dict[str, Any]:
        return {
            "name": self.name, "link": "rs485" if self.bus else "usb",
            "devices": list(self.devices), "open": self._port is not None,
            **asdict(self.stats), "queued": len(self._queue),
            "dropped_displays": self._queue.dropped_displays,
            "dropped_acks": self._queue.dropped_acks,
            "silent": dict(self.silent), "rejected": dict(self.rejected),
            "last_error": self.last_error,
        }

    # --- the link's thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._port is None:
                    self._connect()
                    continue
                try:
                    if self.bus:
                        self._cycle()
                    else:
                        self._exchange()
                except OSError as exc:  # pyserial's SerialException is an OSError
                    self._lost(exc)
        finally:
            self._close()

    def _connect(self) -> None:
        if self._delay is not None and self._stopping.wait(self._delay):
            return
        try:
            port = self._opener(self.port, self._read_timeout)
        except (OSError, ValueError) as exc:
            self._lost(exc)
            return
        with self._port_lock:
            self._port = port
        self._opened_once = True
        self._delay = None
        self._ends = FrameEnds()
        self._dirty = False
        if self._offline:
            self._offline = False
            self.stats.reconnects += 1
            log.info("%s: port back", self.name)
            self._put_state(True, "port back")

    def _lost(self, exc: Exception) -> None:
        self._close()
        self._delay = BACKOFF_FIRST_S if self._delay is None else min(
            self._delay * 2, BACKOFF_MAX_S)
        self.stats.port_errors += 1
        self.last_error = str(exc)
        if not self._offline:
            self._offline = True
            # A port that was never there since the agent started did not vanish: a wrong
            # path in the hall file, or the pad not plugged in yet.
            what = "port vanished" if self._opened_once else "port not found"
            log.warning("%s: %s: %s", self.name, what, exc)
            self._put_state(False, f"{what}: {exc}")

    def _put_state(self, online: bool, why: str) -> None:
        assert self._inbox is not None
        self._inbox.put(LinkState(self.devices, online, self._now_us(), why))

    def _close(self) -> None:
        with self._port_lock:
            port, self._port = self._port, None
            if port is not None:
                try:
                    port.close()
                except OSError as exc:
                    log.warning("%s: close: %s", self.name, exc)

    def _wake(self) -> None:
        with self._port_lock:
            if self._port is not None:
                self._port.cancel_read()

    # USB: write what is queued, read what comes.
    def _exchange(self) -> None:
        self._write_queued()
        self._deliver(self._read_some())

    # RS-485: one poll cycle over the bus.
    def _cycle(self) -> None:
        started = time.monotonic()
        for dest, address in self._targets:
            if self._stopping.is_set():
                return
            self._write_queued()
            self._poll(dest, address)
        self._idle_until(started + self._cycle_min_s)

    def _poll(self, dest: DeviceKey, address: int) -> None:
        self._write(wire(self._encoder.poll(dest, address)))
        self._open_port().flush()  # tcdrain: the poll has left the kernel
        self.stats.polls += 1
        deadline = time.monotonic() + self._reply_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._deliver(self._read_some()):
                self.stats.poll_replies += 1
                return
        if self._stopping.is_set():
            return  # cut short, not timed out
        self.stats.poll_timeouts += 1
        self.silent[dest.device] += 1

    def _idle_until(self, end: float) -> None:
        while not self._stopping.is_set():
            self._write_queued()
            if time.monotonic() >= end:
                return
            self._deliver(self._read_some())

    def _open_port(self) -> Port:
        port = self._port
        if port is None:
            raise OSError("port closed")
        return port

    def _read_some(self) -> bytes:
        """What arrives within the read timeout: the first byte, then all that is waiting."""
        port = self._open_port()
        first = port.read(1)
        if not first:
            return b""
        waiting = port.in_waiting
        return first + port.read(waiting) if waiting else first

    def _deliver(self, data: bytes) -> int:
        """Hand bytes read to the core; the number of frames they complete."""
        if not data:
            return 0
        assert self._inbox is not None
        t_us = self._now_us()
        ended = self._ends.feed(data)
        self.stats.bytes_in += len(data)
        self.stats.frames_in += ended
        self._inbox.put(SerialBytes(self.port, data, t_us))
        return ended

    def _write_queued(self) -> None:
        while (frame := self._queue.take()) is not None:
            if self._write(frame):
                self.stats.frames_out += 1

    def _write(self, data: bytes) -> bool:
        if self._dirty:
            data = b"\x00" + data
        try:
            self._open_port().write(data)
        except serial.SerialTimeoutException as exc:
            self._dirty = True
            self.stats.write_timeouts += 1
            log.warning("%s: write timed out, frame dropped: %s", self.name, exc)
            return False
        self._dirty = False
        self.stats.bytes_out += len(data)
        return True


def serial_links(config: HallConfig, now_us: Callable[[], int], boot: int,
                 **options: Any) -> list[SerialLink]:
    """One link per serial port of the hall's usb and rs485 devices; `options` go to each
    SerialLink (opener, queue_max, reply_margin_s, cycle_min_s)."""
    by_port: dict[str, list[DeviceConfig]] = {}
    for device in config.devices.values():
        if device.link not in SERIAL_LINKS:
            continue
        check_frame_device(device)
        assert device.port is not None  # checked
        by_port.setdefault(device.port, []).append(device)
    return [SerialLink(port, devices, now_us, boot, **options)
            for port, devices in sorted(by_port.items())]
