"""A simulated pad's pins: the keys people hold down, and what the pad shows.

The firmware reads the keys as a mask (bit i = rating key i, bit 5 = the pause key) and draws
through show(); this is the board-layer `Io` of firmware/ports.pyi. Key changes are scheduled
in simulated milliseconds, so a press lasts as long in simulated time whatever the speed.
"""

from __future__ import annotations

import heapq
from itertools import count

PAUSE_BIT = 5  # firmware/pad.py
# The firmware's debounce takes a change once it has read the key the same way for 30 ms
# (debounce.py): the pad is stepped this long after each key goes down and comes up, so a
# short press, or two in quick succession, is never missed.
DEBOUNCE_SAMPLE_MS = 35


class Pins:
    """Keys held now, changes to come, and the display as last drawn."""

    def __init__(self) -> None:
        self.held = 0
        self.screen = 0
        self.text = ""
        self.led = False
        self.screens: list[tuple[int, str]] = []  # every (screen, text) drawn, in order
        self._changes: list[tuple[int, int, int, bool | None]] = []  # (ms, order, bit, down)
        self._order = count()

    # --- the firmware's Io -----------------------------------------------------------------

    def keys(self) -> int:
        return self.held

    def show(self, screen: int, text: str, led: bool) -> None:
        if (screen, text) != (self.screen, self.text) or not self.screens:
            self.screens.append((screen, text))
        self.screen, self.text, self.led = screen, text, led

    # --- people's hands --------------------------------------------------------------------

    def press(self, bit: int, at_ms: int, hold_ms: int) -> None:
        """Hold key `bit` down from `at_ms` for `hold_ms` (at least the debounce time)."""
        hold_ms = max(hold_ms, DEBOUNCE_SAMPLE_MS + 5)
        self._push(at_ms, bit, True)
        self._push(at_ms + DEBOUNCE_SAMPLE_MS, bit, None)  # a look while it is held
        self._push(at_ms + hold_ms, bit, False)
        # and one after it is let go: the release too must be seen stable, or a second
        # press of the same key would find it still down
        self._push(at_ms + hold_ms + DEBOUNCE_SAMPLE_MS, bit, None)

    def jam(self, bit: int, at_ms: int) -> None:
        """A key stuck down from `at_ms` until released by `release`."""
        self._push(at_ms, bit, True)

    def release(self, bit: int, at_ms: int) -> None:
        self._push(at_ms, bit, False)

    def _push(self, at_ms: int, bit: int, down: bool | None) -> None:
        heapq.heappush(self._changes, (at_ms, next(self._order), bit, down))

    def due(self, now_ms: int) -> int | None:
        """The time of the next change at or before `now_ms`, if any."""
        if self._changes and self._changes[0][0] <= now_ms:
            return self._changes[0][0]
        return None

    def apply_next(self) -> None:
        """Apply the earliest scheduled change (a look changes nothing)."""
        _, _, bit, down = heapq.heappop(self._changes)
        if down is True:
            self.held |= 1 << bit
        elif down is False:
            self.held &= ~(1 << bit)
