"""Simulated time: the agent's scaled clock (edge_agent.service.clock.Clock), shared.

The simulator picks the origin and the speed, and passes the same three numbers to the agent
(`python -m edge_agent run --clock REAL_START_US:SIM_START_US:SPEED`), so both read the same
simulated time off the wall clock without talking. Pads count milliseconds that wrap, as
on the boards (firmware/ticks.py): their ticks are the simulated time in ms, wrapped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from edge_agent.service.clock import Clock

TICKS_PERIOD = 1 << 30  # firmware/ticks.py PERIOD


def ticks(sim_ms: int) -> int:
    """A pad's ticks_ms() at simulated time `sim_ms`."""
    return sim_ms % TICKS_PERIOD


@dataclass(frozen=True)
class SimClock:
    clock: Clock

    @classmethod
    def starting(cls, sim_start_us: int, speed: float, lead_s: float = 0.0) -> SimClock:
        """Simulated time `sim_start_us` falls `lead_s` real seconds from now."""
        if speed <= 0:
            raise ValueError(f"speed must be greater than 0, got {speed}")
        real_start = time.time_ns() // 1000 + round(lead_s * 1e6)
        return cls(Clock(real_start, sim_start_us, speed))

    @property
    def speed(self) -> float:
        return self.clock.speed

    def now_us(self) -> int:
        return self.clock.now_us()

    def spec(self) -> str:
        """The agent's --clock argument."""
        c = self.clock
        return f"{c.real_start_us}:{c.sim_start_us}:{c.speed!r}"

    def real_wait(self, sim_us: int) -> float:
        """Real seconds from now until simulated time `sim_us` (negative: already past)."""
        return self.clock.real_seconds((sim_us - self.now_us()) / 1e6)
