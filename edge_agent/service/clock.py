"""The agent's clock. Real time by default; a scaled clock lets the hall simulator run a
working day in minutes (the simulator and the agent share the same origin and speed)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class TimeSource(Protocol):
    """What the core needs of a clock."""

    @property
    def speed(self) -> float: ...

    def now_us(self) -> int: ...


@dataclass(frozen=True)
class Clock:
    """sim_start_us + (real now - real_start_us) * speed; speed 1 and no offset = wall time."""

    real_start_us: int = 0
    sim_start_us: int = 0
    speed: float = 1.0

    def now_us(self) -> int:
        real = time.time_ns() // 1000
        if self.speed == 1.0 and self.real_start_us == self.sim_start_us:
            return real
        return self.sim_start_us + int((real - self.real_start_us) * self.speed)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long a span of agent time takes in real time."""
        return sim_seconds / self.speed

    @classmethod
    def parse(cls, spec: str) -> Clock:
        """REAL_START_US:SIM_START_US:SPEED, as the simulator passes it (--clock)."""
        try:
            real, sim, speed = spec.split(":")
            clock = cls(int(real), int(sim), float(speed))
        except ValueError:
            raise ValueError(f"--clock {spec!r}: expected REAL_START_US:SIM_START_US:SPEED"
                             ) from None
        if clock.speed <= 0:
            raise ValueError(f"--clock {spec!r}: speed must be greater than 0")
        return clock


WALL = Clock()


class ManualClock:
    """A clock that moves only when told: tests, and runs that step time themselves."""

    speed = 1.0

    def __init__(self, start_us: int) -> None:
        self.t = start_us

    def now_us(self) -> int:
        return self.t

    def advance(self, seconds: float) -> int:
        self.t += round(seconds * 1_000_000)
        return self.t
