"""The pad's main loop logic, driven by the board through injected parts.

io:   keys() -> mask of held keys (bit i = rating key i, bit PAUSE_BIT = pause key);
      show(screen, text, led) draws the display.
link: send(raw frame); recv() -> list of raw frames; `polled` is True on RS-485, where the pad
      speaks only in answer to a poll. Its step(now), the link's own upkeep (MQTT: connect,
      read the broker, ping), is the main loop's to call (app.run), before the pad's.

One event is in flight at a time (stop-and-wait), so the agent sees each pad's sequence
numbers in increasing order and can reject anything at or below the last one it committed.
"""

import frame
import messages as m
from debounce import Debouncer
from display import Display
from hmac_sha256 import HmacSha256
from outbox import Outbox
from ticks import ticks_add, ticks_diff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fs import Fs
    from ports import Io, Link

PAUSE_BIT = 5
RETRY_FIRST_MS = 500
RETRY_MAX_MS = 8000
HEARTBEAT_MS = 10000


class Pad:
    def __init__(
        self, cfg: dict, io: "Io", link: "Link", fs: "Fs", boot: int, now: int, flags: int = 0
    ) -> None:
        self.address = cfg["address"]
        self.keys = cfg["keys"]
        self._mac = HmacSha256(bytes.fromhex(cfg["key"]))
        self._io = io
        self._link = link
        self.boot = boot
        self.seq = 0
        self.flags = flags  # heartbeat flags, e.g. safe mode
        self._last = now
        self._uptime_ms = 0
        self.outbox = Outbox(fs, now)
        self.display = Display(now)
        self._keys = Debouncer(PAUSE_BIT + 1)
        self._keys.prime(now, io.keys())
        self._stuck = 0
        self._dropped = 0
        self._in_flight: tuple[int, int] | None = None
        self._retry_at = now
        self._retry_ms = RETRY_FIRST_MS
        self._heartbeat_at = now
        self._polled = False
        self._down = (0, 0)  # highest (boot, seq) of a display command taken
        self._shown: tuple[int, str, bool] | None = None
        self._display_fault = 0  # reported once per boot: a bad font stays bad until reflashed
        self.rejected = 0
        if self.outbox.corrupt:
            self.event(now, m.FAULT, m.fault(m.FAULT_FLASH, 0, True))

    def event(self, now: int, kind: int, body: bytes) -> None:
        """Queue an event for the agent; it stays in flash until acked."""
        if self._dropped and self.outbox.room() >= 2:
            detail = min(self._dropped, 255)
            self._dropped = 0
            self._add(now, m.FAULT, m.fault(m.FAULT_OUTBOX_FULL, detail, True))
        if not self._add(now, kind, body):
            self._dropped += 1

    def _add(self, now: int, kind: int, body: bytes) -> bool:
        if not self.outbox.room():
            return False
        self.seq += 1
        return self.outbox.add(now, self.boot, self.seq, kind, body)

    def step(self, now: int) -> None:
        self._uptime_ms += ticks_diff(now, self._last)
        self._last = now
        self._read_keys(now)
        for raw in self._link.recv():
            self._receive(now, raw)
        self._transmit(now)
        self.outbox.flush(now)
        self._draw(now)

    def _read_keys(self, now: int) -> None:
        pressed = self._keys.update(now, self._io.keys())
        for i in range(self.keys):
            if pressed & (1 << i):
                self.display.pressed(now)
                self.event(now, m.PRESS, m.press(i, m.level_of(self.keys, i)))
        if pressed & (1 << PAUSE_BIT):
            self.event(now, m.PAUSE_KEY, b"")
        stuck = self._keys.stuck(now)
        for i in range(PAUSE_BIT + 1):
            bit = 1 << i
            if (stuck ^ self._stuck) & bit:
                detail = m.PAUSE_KEY_INDEX if i == PAUSE_BIT else i
                self.event(now, m.FAULT, m.fault(m.FAULT_KEY_STUCK, detail, bool(stuck & bit)))
        self._stuck = stuck

    def _receive(self, now: int, raw: bytes) -> None:
        got = frame.check(self._mac, self.address, raw)
        if got is None:
            self.rejected += 1
            return
        kind, boot, seq, body = got
        if kind == m.ACK:
            # Acks need no freshness check: they name one (boot, seq) of this pad, which
            # never repeats, so a replayed ack matches nothing.
            acked = m.parse_ack(body)
            if acked is None or not self.outbox.ack(now, acked[0], acked[1]):
                return
            if self._in_flight == acked:
                self._in_flight = None
                self._retry_ms = RETRY_FIRST_MS
        elif kind == m.POLL:
            self._polled = True
        elif kind == m.DISPLAY:
            shown = m.parse_display(body)
            if shown is None or (boot, seq) <= self._down:
                self.rejected += 1
                return
            self._down = (boot, seq)
            self.display.command(now, shown[0], shown[1])
        else:
            self.rejected += 1

    def _transmit(self, now: int) -> None:
        head = self.outbox.head()
        if self._link.polled:
            if not self._polled:
                return
            self._polled = False
            if head is not None:
                self._send_event(now, head)
            else:
                self._send_heartbeat(now)
            return
        if head is not None:
            key = (head[0], head[1])
            if self._in_flight != key:
                self._in_flight = key
                self._retry_ms = RETRY_FIRST_MS
                self._send_event(now, head)
            elif ticks_diff(now, self._retry_at) >= 0:
                self._retry_ms = min(self._retry_ms * 2, RETRY_MAX_MS)
                self._send_event(now, head)
        elif ticks_diff(now, self._heartbeat_at) >= 0:
            self._send_heartbeat(now)

    def _send_event(self, now: int, entry: list) -> None:
        # The age is measured at each (re)transmission: the pad has no clock, the agent
        # stamps the event with its own time minus this age.
        body = m.event(entry[6], Outbox.age(entry, now), entry[3])
        self._link.send(frame.seal(self._mac, self.address, entry[2], entry[0], entry[1], body))
        self._retry_at = ticks_add(now, self._retry_ms)
        self._heartbeat_at = ticks_add(now, HEARTBEAT_MS)

    def _send_heartbeat(self, now: int) -> None:
        self.seq += 1
        uptime = self._uptime_ms // 1000
        body = m.heartbeat(uptime, len(self.outbox), self.display.screen, self.flags)
        self._link.send(frame.seal(self._mac, self.address, m.HEARTBEAT, self.boot, self.seq, body))
        self._heartbeat_at = ticks_add(now, HEARTBEAT_MS)

    def _draw(self, now: int) -> None:
        screen, text = self.display.current(now)
        shown = (screen, text, self.display.led(now))
        if shown != self._shown:
            self._shown = shown
            fault = self._io.show(screen, text, shown[2])
            if fault and not self._display_fault:
                self._display_fault = fault
                self.event(now, m.FAULT, m.fault(m.FAULT_DISPLAY, fault, True))
