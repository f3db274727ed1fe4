"""A progress bar of the simulated clock on stderr (when it is a terminal):

    sim [##########--------------------]  Mon 2026-03-02 11:42  x120  presses 212, 210 acked
"""

from __future__ import annotations

import sys
import time
from typing import TextIO
from zoneinfo import ZoneInfo

from edge_agent.rules.calendar import from_us

WIDTH = 30
REDRAW_S = 0.2


class ClockBar:
    def __init__(self, start_us: int, end_us: int, tz: ZoneInfo, speed: float,
                 stream: TextIO | None = None, force: bool = False) -> None:
        self.start_us = start_us
        self.span_us = max(end_us - start_us, 1)
        self.tz = tz
        self.speed = speed
        self.stream = stream or sys.stderr
        self.shown = force or self.stream.isatty()
        self._next = 0.0

    def line(self, now_us: int, note: str = "") -> str:
        share = min(max((now_us - self.start_us) / self.span_us, 0.0), 1.0)
        bar = "#" * int(share * WIDTH)
        when = from_us(now_us, self.tz).strftime("%a %Y-%m-%d %H:%M")
        return f"sim [{bar:-<{WIDTH}}]  {when}  x{self.speed:g}  {note}".rstrip()

    def show(self, now_us: int, note: str = "") -> None:
        if not self.shown:
            return
        t = time.monotonic()
        if t < self._next:
            return
        self._next = t + REDRAW_S
        self.stream.write("\r" + self.line(now_us, note) + "\x1b[K")
        self.stream.flush()

    def close(self, now_us: int, note: str = "") -> None:
        if self.shown:
            self.stream.write("\r" + self.line(now_us, note) + "\x1b[K\n")
            self.stream.flush()
