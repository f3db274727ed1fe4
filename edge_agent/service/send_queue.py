"""The frames a link holds for its devices until it can send them: acks first.

One queue for every link (serial_link: while a port is absent or between bus polls;
mqtt_link: while the broker is unreachable). The core says which frames are acks when it
hands them over (Link.send), so no link reads a frame it did not build.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class AckFirstQueue(Generic[T]):
    """At most ``limit`` frames; acks leave first, each kind in the order it came.

    When full, the oldest frame that is not an ack goes (a pad shows only the last display
    command anyway), or a new display when only acks are held. An ack beyond the bound:
    ``drop_acks`` drops the oldest ack (a serial port's memory stays bounded; the pad
    retransmits and is acked again), else it is kept over the bound (MQTT: each ack answers
    a frame that came over the link, so the core's inbox bounds them).
    """

    def __init__(self, limit: int, *, drop_acks: bool) -> None:
        if limit < 1:
            raise ValueError(f"queue limit must be at least 1, got {limit}")
        self.limit = limit
        self.drop_acks = drop_acks
        self._acks: deque[T] = deque()
        self._displays: deque[T] = deque()  # every frame that is not an ack
        self._lock = threading.Lock()
        self.dropped_displays = 0
        self.dropped_acks = 0

    def __len__(self) -> int:
        return len(self._acks) + len(self._displays)

    @property
    def dropped(self) -> int:
        return self.dropped_displays + self.dropped_acks

    def put(self, frame: T, ack: bool) -> None:
        with self._lock:
            if len(self) >= self.limit and not self._make_room(ack):
                self.dropped_displays += 1  # the new display is the oldest one there is
                return
            (self._acks if ack else self._displays).append(frame)

    def _make_room(self, ack: bool) -> bool:
        if self._displays:
            self._displays.popleft()
            self.dropped_displays += 1
            return True
        if not ack:
            return False
        if self.drop_acks:
            self._acks.popleft()
            self.dropped_acks += 1
        return True

    def take(self) -> T | None:
        with self._lock:
            if self._acks:
                return self._acks.popleft()
            if self._displays:
                return self._displays.popleft()
            return None

    def drain(self) -> list[T]:
        """Everything held, acks first."""
        with self._lock:
            frames = [*self._acks, *self._displays]
            self._acks.clear()
            self._displays.clear()
            return frames
