"""A simulated pad (or pause sign): the real firmware's boot sequence and main loop
(firmware/app.py, pad.py and the modules they use), driven in simulated time.

The simulator is the board layer: pins (pins.py), a flash folder (a real directory, through
the firmware's own Fs), and a link opened at power-on by a `Board` (a pty serial port, a tap
on a shared RS-485 bus, or MQTT: serial_port.py, mqtt_port.py). app.run() itself cannot be
used: it reads the real clock and never returns, so power_on() does what it does before its
loop, and advance() what its loop does, at the simulated times of each key change.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from tools.simhall.clock import ticks
from tools.simhall.firmware import module
from tools.simhall.ledger import EventId, Ledger
from tools.simhall.pins import PAUSE_BIT, Pins

_app = module("app")
_bootstate = module("bootstate")
_messages = module("messages")
_pad = module("pad")
_selftest = module("selftest")
_fs = module("fs")

PRESS = int(_messages.PRESS)
EVENT_KINDS = frozenset(int(k) for k in _messages.EVENTS)
GOOD_AFTER_MS = int(_app.GOOD_AFTER_MS)
OUTBOX_FILE = str(module("outbox").NAME)


class Link(Protocol):
    """firmware/ports.pyi Link."""

    polled: bool

    def step(self, now: int) -> None: ...

    def send(self, raw: bytes) -> None: ...

    def recv(self) -> list[bytes]: ...


class Board(Protocol):
    """The part of a board that differs by link: opens the link at power-on, drops it at a
    power cut (no goodbye on the wire: an MQTT socket just dies, a USB port vanishes)."""

    def open(self, cfg: dict[str, Any], now: int) -> Link: ...

    def close(self) -> None: ...


class Gate:
    """The pad's link as the simulator steps it. The loop turns every few ms of real time,
    many simulated ms at speed, so the pad is stepped at the past instant of each key change
    to see it as a board would (pins.py). At such an instant the pad must not talk: a frame
    sent then would leave now with the age it had then, and the agent, stamping arrival
    minus age, would place the event late by the catch-up. So while catching up the link
    reads nothing and calls itself polled (a polled pad speaks only when polled, and it is
    not): the pad keeps its events, and sends them at the present step with their true age.
    """

    def __init__(self, link: Link, sent: Counter[EventId] | None = None) -> None:
        self.link = link
        self.live = True
        self.sent = sent if sent is not None else Counter()  # event -> times sent

    @property
    def polled(self) -> bool:
        return self.link.polled or not self.live

    def step(self, now: int) -> None:
        if self.live:
            self.link.step(now)

    def send(self, raw: bytes) -> None:
        if len(raw) >= 9 and raw[2] in EVENT_KINDS:
            boot, seq = struct.unpack_from(">HI", raw, 3)
            self.sent[(boot, seq)] += 1
        self.link.send(raw)

    def recv(self) -> list[bytes]:
        return self.link.recv() if self.live else []


def key_for(keys: int, level: str) -> int:
    """The key index a citizen presses for `level` on a pad with `keys` keys."""
    names = _messages.LEVEL_NAMES
    for i in range(keys):
        if names[_messages.level_of(keys, i)] == level:
            return i
    raise ValueError(f"a {keys}-key pad has no key for level {level!r}")


class SimPad:
    """One pad: provisioned flash, pins, and the firmware's Pad while powered."""

    def __init__(self, cfg: dict[str, Any], flash: Path, board: Board) -> None:
        self.cfg = cfg
        self.device: str = cfg["device"]
        self.counter: str = cfg["counter"]
        self.address: int = cfg["address"]
        self.keys: int = cfg["keys"]
        self.flash = flash
        self.board = board
        self.pins = Pins()
        self.ledger = Ledger()
        self.sent: Counter[EventId] = Counter()  # event -> times handed to the link
        self.pad: Any = None  # firmware pad.Pad while powered and booted
        self.rejected_before = 0  # frames the pad's earlier boots rejected
        self._link: Gate | None = None
        self._fs: Any = None
        self.powered = False
        self.safe_mode: str | None = None
        self.boots = 0
        self._booted_ms = 0
        self._good = False
        self._last_ms = 0
        flash.mkdir(parents=True, exist_ok=True)
        (flash / "config.json").write_text(json.dumps(cfg), encoding="utf-8")

    # --- power ---------------------------------------------------------------------------

    def power_on(self, now_ms: int) -> None:
        """What app.run does before its loop: count the boot, load config.json, open the
        link, build the pad, run the self-test and queue its result."""
        if self.powered:
            return
        self.powered = True
        self._last_ms = max(self._last_ms, now_ms)
        now = ticks(self._last_ms)
        fs = _fs.Fs(str(self.flash))
        boot, safe = _bootstate.begin(fs)
        cfg = _app.load_config(fs)
        if safe or cfg is None:
            self.safe_mode = "boot loop" if safe else "bad config.json"
            return  # the board would blink SOS with the REPL open: nothing on the link
        link = Gate(self.board.open(cfg, now), self.sent)
        pad = _pad.Pad(cfg, self.pins, link, fs, boot, now)
        self._link = link
        ok, fail = _selftest.run(cfg, fs, self.pins.keys(), None, True)
        pad.event(now, _messages.SELFTEST, _messages.selftest(cfg["keys"], ok, fail))
        self.pad = pad
        self.boots += 1
        self.safe_mode = None
        self._booted_ms = self._last_ms
        self._good = False
        self._fs = fs
        self.ledger.rebooted(pad.outbox.entries)
        self.ledger.observe(pad.outbox.entries)

    def power_off(self) -> None:
        """A power cut: nothing is flushed, the link dies without a word."""
        if not self.powered:
            return
        self.powered = False
        if self.pad is not None:
            self.board.close()
            self.rejected_before += self.pad.rejected
        self.pad = None

    @property
    def rejected(self) -> int:
        """Frames the firmware rejected (bad CRC, tag, address, stale display), all boots."""
        return self.rejected_before + (self.pad.rejected if self.pad is not None else 0)

    def reboot(self, now_ms: int) -> None:
        self.power_off()
        self.power_on(now_ms)

    # --- people --------------------------------------------------------------------------

    def press(self, key: int, at_ms: int, hold_ms: int = 120) -> None:
        if not 0 <= key < self.keys:
            raise ValueError(f"{self.device} has keys 0..{self.keys - 1}, not {key}")
        self.pins.press(key, at_ms, hold_ms)

    def rate(self, level: str, at_ms: int, hold_ms: int = 120) -> None:
        self.pins.press(key_for(self.keys, level), at_ms, hold_ms)

    def press_pause(self, at_ms: int, hold_ms: int = 150) -> None:
        self.pins.press(PAUSE_BIT, at_ms, hold_ms)

    # --- time ----------------------------------------------------------------------------

    def advance(self, now_ms: int) -> None:
        """Run the pad's loop up to `now_ms`: one step at each key change on the way (so the
        debounce sees every press as the board would), then one at `now_ms`."""
        while (t := self.pins.due(now_ms)) is not None:
            self.pins.apply_next()
            self._step(t, live=t >= now_ms)
        self._step(now_ms, live=True)

    def _step(self, t_ms: int, live: bool) -> None:
        t_ms = max(t_ms, self._last_ms)
        self._last_ms = t_ms
        pad = self.pad
        if pad is None:
            return
        now = ticks(t_ms)
        assert self._link is not None
        self._link.live = live
        self._link.step(now)  # MQTT: (re)connect, read the broker, ping; serial: nothing
        pad.step(now)
        self.ledger.observe(pad.outbox.entries)
        if not self._good and t_ms - self._booted_ms >= GOOD_AFTER_MS:
            _bootstate.good(self._fs)
            self._good = True

    # --- what an observer sees -----------------------------------------------------------

    def presses(self) -> list[tuple[int, int]]:
        """(boot, seq) of every press this pad made."""
        return self.ledger.of_type(PRESS)

    def presses_acked(self) -> list[tuple[int, int]]:
        return sorted(set(self.presses()) & self.ledger.acked)

    def in_flight(self) -> list[tuple[EventId, int]]:
        """(event, type) of each event sent at least once, not yet acknowledged, and in the
        outbox file on flash: what a power cut now would leave to be sent again at boot."""
        if self.pad is None:
            return []
        try:
            rows = json.loads((self.flash / OUTBOX_FILE).read_text(encoding="utf-8"))["e"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        saved = {(int(r[0]), int(r[1])) for r in rows}
        return [((int(e[0]), int(e[1])), int(e[2])) for e in self.pad.outbox.entries
                if (int(e[0]), int(e[1])) in saved and self.sent[(int(e[0]), int(e[1]))]]
