"""Key debouncing on a bitmask of pressed keys (bit i = key i held down)."""

from ticks import ticks_diff


class Debouncer:
    def __init__(self, count: int, stable_ms: int = 30, stuck_ms: int = 10000) -> None:
        self._count = count
        self._stable_ms = stable_ms
        self._stuck_ms = stuck_ms
        self._raw = 0
        self._state = 0
        self._changed = [0] * count

    def prime(self, now: int, raw: int) -> None:
        """Take the keys held at power-on as the resting state: they raise no press."""
        self._raw = raw
        self._state = raw
        self._changed = [now] * self._count

    def update(self, now: int, raw: int) -> int:
        """Feed the raw key mask; returns the keys that just became pressed."""
        pressed = 0
        for i in range(self._count):
            bit = 1 << i
            if (raw ^ self._raw) & bit:
                self._changed[i] = now
            elif (raw ^ self._state) & bit and ticks_diff(now, self._changed[i]) >= self._stable_ms:
                self._state ^= bit
                if raw & bit:
                    pressed |= bit
        self._raw = raw
        return pressed

    def held(self) -> int:
        return self._state

    def stuck(self, now: int) -> int:
        """Keys held down for longer than a person would: a jammed key or a short."""
        mask = 0
        for i in range(self._count):
            bit = 1 << i
            if self._state & bit and ticks_diff(now, self._changed[i]) >= self._stuck_ms:
                mask |= bit
        return mask
