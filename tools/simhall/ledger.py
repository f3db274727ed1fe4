"""What became of each event a simulated pad made: the pad's side of "every press seen is
counted exactly once".

It watches the pad's outbox (firmware/outbox.py) after every step. An event enters the
outbox when the pad makes it; it leaves only on the agent's ack (Outbox.ack is the only
removal), so leaving while powered means acknowledged. A power cut loses whatever had not
reached flash yet (the outbox writes at most every 100 ms): such events are `lost`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

EventId = tuple[int, int]  # (boot, seq)


class Ledger:
    def __init__(self) -> None:
        self.made: dict[EventId, int] = {}  # every event that entered the outbox -> its type
        self.acked: set[EventId] = set()
        self.lost: set[EventId] = set()
        self._open: set[EventId] = set()

    def observe(self, entries: Sequence[Sequence[Any]]) -> None:
        """The outbox's entries ([boot, seq, type, ...]) after a step."""
        now: set[EventId] = set()
        for entry in entries:
            key = (int(entry[0]), int(entry[1]))
            now.add(key)
            if key not in self.made:
                self.made[key] = int(entry[2])
        self.acked |= self._open - now
        self._open = now

    def rebooted(self, entries: Sequence[Sequence[Any]]) -> None:
        """The outbox as reloaded from flash at power-on, after a power cut."""
        kept = {(int(e[0]), int(e[1])) for e in entries}
        self.lost |= self._open - kept
        self._open = kept

    def of_type(self, kind: int) -> list[EventId]:
        return sorted(k for k, t in self.made.items() if t == kind)

    def pending(self) -> set[EventId]:
        return set(self._open)
