"""Serial links of simulated pads: real pty pairs the agent opens like USB ports.

A `PtyPort` is one pty pair. The agent opens `path`, a symlink to the pty's slave that
stands for a /dev/serial/by-id/ name (stable across re-plugs, as by-id names are); the
simulator holds the master. Unplugging closes the pair and removes the link, so the agent's
reads fail as they do when a USB cable is pulled; plugging in again makes a new pair behind
the same path.

- `UsbBoard`: one pad on its own port (USB-CDC). The cable powers the pad, so power-on plugs
  the port and a power cut unplugs it. The pad's link is the firmware's SerialLink.
- `BusPort` + `BusBoard`: an RS-485 bus, one port shared by several pads. Every frame on the
  line reaches the pad whose address it carries (as firmware's bus mode expects: a pad
  answers only polls to its own address); a pad that is off hears nothing.
- `Noise`: bit errors on a port, each way (`PtyPort.noise_out`, `noise_in`): the fault
  injector (faults.py) sets them for a run's bit-error rate.
"""

from __future__ import annotations

import errno
import math
import os
import random
from pathlib import Path
from typing import Any

from tools.harness.pty_pair import PtyPair
from tools.simhall.devices import Link
from tools.simhall.firmware import module

_frame = module("frame")
_serial_link = module("serial_link")

READ_CHUNK = 4096


class Noise:
    """Bit errors on a line: each bit flipped with probability `ber`, independently.

    The gap to the next flip is drawn from the geometric distribution, so the cost is per
    flip, not per bit (at a BER of 1e-5 a flip every 12 500 bytes)."""

    def __init__(self, ber: float, rng: random.Random) -> None:
        if not 0.0 <= ber < 1.0:
            raise ValueError(f"bit-error rate: 0 <= BER < 1, got {ber!r}")
        self.ber = ber
        self._rng = rng
        self.bits = 0  # bits that went through
        self.bits_flipped = 0
        self.bytes_flipped = 0  # bytes with at least one bit flipped
        self._gap = self._draw()

    def _draw(self) -> int:
        """Bits that pass untouched before the next flip."""
        if self.ber <= 0.0:
            return -1
        u = 1.0 - self._rng.random()  # (0, 1]
        return int(math.log(u) / math.log1p(-self.ber))

    def corrupt(self, data: bytes) -> bytes:
        n = len(data) * 8
        self.bits += n
        if self._gap < 0 or self._gap >= n:
            if self._gap >= 0:
                self._gap -= n
            return data
        out = bytearray(data)
        pos = self._gap
        hit: set[int] = set()
        while pos < n:
            out[pos // 8] ^= 0x80 >> (pos % 8)
            self.bits_flipped += 1
            hit.add(pos // 8)
            pos += 1 + self._draw()
        self._gap = pos - n
        self.bytes_flipped += len(hit)
        return bytes(out)


class PtyPort:
    """One pty pair behind a stable path; the master end is the device's."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self._slave: int | None = None
        self.written = 0
        self.dropped = 0  # bytes written while nobody read the port (its buffer full)
        # Bit errors on the line, device to agent and agent to device (faults.py sets them).
        self.noise_out: Noise | None = None
        self.noise_in: Noise | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def fileno(self) -> int:
        if self._master is None:
            raise OSError(errno.ENODEV, f"{self.path} is unplugged")
        return self._master

    def plug(self) -> None:
        if self.plugged:
            return
        line = PtyPair.open(blocking=False)
        # The slave stays open here too: the line exists, whether or not the agent has it
        # open (without a slave holder the master reads EIO between agent restarts).
        self._master, self._slave = line.master, line.slave
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        os.symlink(line.path, tmp)
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        if not self.plugged:
            return
        self.path.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    # --- the firmware's Stream (ports.pyi) -----------------------------------------------

    def write(self, data: bytes) -> int:
        """Like a UART: bytes nobody can take are lost, the writer never waits."""
        if self._master is None:
            self.dropped += len(data)
            return 0
        if self.noise_out is not None:
            data = self.noise_out.corrupt(data)
        try:
            n = os.write(self._master, data)
        except (BlockingIOError, OSError):
            n = 0
        self.written += n
        self.dropped += len(data) - n
        return n

    def read_ready(self) -> bytes:
        if self._master is None:
            return b""
        try:
            data = os.read(self._master, READ_CHUNK)
        except (BlockingIOError, OSError):
            return b""  # nothing there; EIO: no reader on the other side just now
        return self.noise_in.corrupt(data) if self.noise_in is not None and data else data


class UsbBoard:
    """Board for a pad on its own USB port."""

    def __init__(self, port: PtyPort) -> None:
        self.port = port

    def open(self, cfg: dict[str, Any], now: int) -> Link:
        self.port.plug()
        link: Link = _serial_link.SerialLink(self.port, False)
        return link

    def close(self) -> None:
        self.port.unplug()


class BusTap:
    """A pad's link on the bus (firmware Link with polled = True, as bus_board.py's)."""

    polled = True

    def __init__(self, port: PtyPort) -> None:
        self._port = port
        self.inbox: list[bytes] = []
        self.powered = False

    def step(self, now: int) -> None:
        pass

    def send(self, raw: bytes) -> None:
        self._port.write(_frame.wire(raw))

    def recv(self) -> list[bytes]:
        got = self.inbox
        self.inbox = []
        return got


class BusPort:
    """One RS-485 bus on one pty; the agent polls, the addressed pad answers."""

    def __init__(self, path: Path) -> None:
        self.port = PtyPort(path)
        self.taps: dict[int, BusTap] = {}
        self._reader = _frame.Reader()
        self.unrouted = 0  # frames for an address no pad on the bus has

    def board(self, address: int) -> BusBoard:
        if address in self.taps:
            raise ValueError(f"address {address} is taken on {self.port.path}")
        tap = BusTap(self.port)
        self.taps[address] = tap
        return BusBoard(self, tap)

    def pump(self) -> set[int]:
        """Read the line; hand each frame to the powered pad it is addressed to. Returns the
        addresses that got something (they should be stepped now, to answer)."""
        data = self.port.read_ready()
        heard: set[int] = set()
        for raw in self._reader.feed(data) if data else ():
            tap = self.taps.get(raw[1]) if len(raw) > 1 else None
            if tap is None or not tap.powered:
                self.unrouted += 1
                continue
            tap.inbox.append(raw)
            heard.add(raw[1])
        return heard


class BusBoard:
    """Board for a pad on a bus: the bus outlives the pad's power cuts."""

    def __init__(self, bus: BusPort, tap: BusTap) -> None:
        self.bus = bus
        self.tap = tap

    def open(self, cfg: dict[str, Any], now: int) -> Link:
        self.bus.port.plug()
        self.tap.inbox = []
        self.tap.powered = True
        return self.tap

    def close(self) -> None:
        self.tap.powered = False
        self.tap.inbox = []
