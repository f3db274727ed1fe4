"""A progress bar on stderr for long inputs, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts bytes read against a known total and redraws at most five times a second."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0
        self._calls = 0
        self._next_draw = 0.0
        self._start = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        self._calls += 1
        if self._calls & 0x3FF:  # look at the clock only every 1024 lines
            return
        now = time.monotonic()
        if now >= self._next_draw:
            self._next_draw = now + 0.2
            self._draw(now)

    def _draw(self, now: float) -> None:
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        rate = self.done / max(now - self._start, 1e-9) / 1e6
        self.stream.write(f"\r{self.label} [{bar:<30}] {share:4.0%} {rate:5.1f} MB/s")
        self.stream.flush()

    def close(self) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def wanted(total_bytes: int, stream: TextIO | None = None) -> bool:
    """Worth showing: a large input and a person watching."""
    s = stream or sys.stderr
    return total_bytes >= 8 << 20 and s.isatty()
