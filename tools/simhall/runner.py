"""The simulator's loop: act out the plan as simulated time reaches each act, and run every
device between acts, waking as soon as a line, a socket or an input device has something.

A fault injector, if any, steps first each turn (it may kill the agent or stop the center
under the hall); then acts are done before the devices step, so a key pressed at simulated
time t is seen by the pad at t even when the loop gets there late (pins.py). The loop turns
at least every LOOP_S of real time, as a board's main loop does (firmware/app.py LOOP_MS = 5).
"""

from __future__ import annotations

import select
import time
from collections.abc import Iterable, Iterator
from typing import Protocol

from tools.simhall.acts import Performer
from tools.simhall.clock import SimClock
from tools.simhall.hall import SimHall
from tools.simhall.people import Act
from tools.simhall.progress import ClockBar

LOOP_S = 0.005


class Faults(Protocol):
    def step(self, now_us: int) -> None: ...


class Runner:
    def __init__(self, hall: SimHall, clock: SimClock, acts: Iterable[Act],
                 performer: Performer, bar: ClockBar | None = None,
                 faults: Faults | None = None) -> None:
        self.hall = hall
        self.clock = clock
        self._acts: Iterator[Act] = iter(acts)
        self._next: Act | None = next(self._acts, None)
        self.performer = performer
        self.bar = bar
        self.faults = faults
        self.turns = 0

    def run(self, end_us: int) -> None:
        """Until simulated time `end_us` (acts after it are left undone)."""
        while True:
            now = self.clock.now_us()
            if self.faults is not None:
                self.faults.step(now)
            while self._next is not None and self._next.t <= min(now, end_us):
                self.performer.do(self._next, now)
                self._next = next(self._acts, None)
            self.hall.step(now // 1000)
            self.turns += 1
            if self.bar is not None:
                self.bar.show(now, self.note())
            if now >= end_us:
                return
            self._wait(end_us)

    def drain(self, timeout_s: float) -> bool:
        """Keep the devices running until no pad has an event waiting for its ack; False if
        some still have after `timeout_s` of real time."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.hall.step(self.clock.now_us() // 1000)
            if not any(p.ledger.pending() for p in self.hall.pads() if p.powered):
                return True
            self._wait(None)
        return False

    def _wait(self, end_us: int | None) -> None:
        timeout = LOOP_S
        due = self._next.t if self._next is not None else end_us
        if due is not None:
            timeout = min(timeout, max(0.0, self.clock.real_wait(due)))
        fds = self.hall.wait_fds()
        if fds:
            select.select(fds, [], [], timeout)
        else:
            time.sleep(timeout)

    def note(self) -> str:
        made = acked = 0
        for pad in self.hall.pads():
            presses = pad.presses()
            made += len(presses)
            acked += len(pad.presses_acked())
        return f"presses {made}, {acked} acked"
