"""A simulated clock for the outbox: waiting takes no real time, it moves the clock on."""

from __future__ import annotations

import threading
from collections.abc import Callable


class SimClock:
    """``wait`` returns at once, ``seconds`` later in simulated time (or at once if the event
    is already set); ``on_advance(now)`` runs after each move, e.g. to let the hall write."""

    def __init__(self, start: float, on_advance: Callable[[float], None] | None = None) -> None:
        self.now = start
        self.on_advance = on_advance
        self.waits: list[float] = []

    def time(self) -> float:
        return self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.advance(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        if self.on_advance is not None:
            self.on_advance(self.now)
