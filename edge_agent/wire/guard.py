"""Replay protection: per device, the highest (boot, seq) accepted so far.

A pad sends its frames in increasing (boot, seq) order, one event in flight at a time, so
anything below the high-water mark is a replay and the mark itself is a retransmission
whose ack was lost. The agent must persist the marks with the events it commits (for
example: the journal stores (device, boot, seq) with each event and the marks are reloaded
from it at start), or a replay after an agent restart would be taken as new.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    REPLAYED = "replayed"


class SeqGuard:
    def __init__(self, marks: dict[str, tuple[int, int]] | None = None) -> None:
        self._marks: dict[str, tuple[int, int]] = dict(marks or {})

    def check(self, device: str, boot: int, seq: int) -> Verdict:
        """Judge a frame and, when it is new, raise the device's mark to it."""
        mark = self._marks.get(device)
        here = (boot, seq)
        if mark is not None and here < mark:
            return Verdict.REPLAYED
        if mark == here:
            return Verdict.DUPLICATE
        self._marks[device] = here
        return Verdict.NEW

    def mark(self, device: str) -> tuple[int, int] | None:
        return self._marks.get(device)

    def marks(self) -> dict[str, tuple[int, int]]:
        return dict(self._marks)

    def forget(self, device: str) -> None:
        """Start afresh, for a device given a new key (its boot counter restarts)."""
        self._marks.pop(device, None)
