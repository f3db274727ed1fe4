"""Millisecond ticks that wrap, as on the boards (time.ticks_ms wraps after 2**30 ms,
about 12 days, which a pad outlives). CPython gets the same arithmetic for tests."""

import time

PERIOD = 1 << 30
_HALF = PERIOD // 2

if hasattr(time, "ticks_ms"):

    def ticks_ms() -> int:
        return time.ticks_ms()  # type: ignore[return-value]  # a small int on every port

else:

    def ticks_ms() -> int:
        return (time.monotonic_ns() // 1000000) % PERIOD  # type: ignore[attr-defined]


def ticks_add(t: int, delta: int) -> int:
    return (t + delta) % PERIOD


def ticks_diff(a: int, b: int) -> int:
    """a - b, signed, correct across one wrap."""
    return ((a - b + _HALF) % PERIOD) - _HALF
