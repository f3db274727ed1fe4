"""The rules' time thresholds a simulated hall runs with, and the plan's gaps kept clear of
them, by a margin that grows with the speed.

The simulator runs the hall's clock `speed` times faster than real time, and the agent stamps
what it hears in that clock: a pad's press at the frame's arrival minus the age the pad sent,
a keypad or queue report at its arrival. A frame that is late by a few real milliseconds
(a busy CPU, a bus waiting for its poll) is late by `speed` times as many simulated ones, so
two presses can be measured further apart, or closer, than they were made. Measured on the
2-core machine under load (load average 10, x100): a nervous double press made 0.58 s
apart was stamped 4.26 s apart, 37 real ms of error, and the agent took it for a second
rating (consecutive_rating against an honest counter).

So every gap the plan makes on one side of a threshold stays MARGIN = JITTER_REAL_S x speed
simulated seconds clear of it (JITTER_REAL_S = 40 real ms: 4 s at x100, 8 s at x200):

- the double-press grace is widened to the nervous double press's longest gap + MARGIN
  (never below the rules' 3 s);
- a pumper's second press comes at least the grace + MARGIN after the first;
- the invitation's time to live is widened so that the pumper's second press still falls
  MARGIN inside it (else it would be an expired invitation's press, not 连续评价);
- the catch-up after a system outage (rules.md) covers the queue system's back-off
  (RETRY_MAX_S real seconds) and the agent's start, CATCH_UP_REAL_S real seconds in all.

The rules the plan is checked against (check.py) are the same the agent gets in its hall
file: the thresholds change together, and every behaviour stays on its side of them.
"""

from __future__ import annotations

import math
from dataclasses import replace

from edge_agent.config import RulesConfig
from tools.simhall.people import Citizens, Habits

JITTER_REAL_S = 0.040  # real seconds a stamp may be off on a loaded 2-core machine
CATCH_UP_REAL_S = 5.0  # queue back-off (2 s) + the agent's start and a loaded CPU (3 s)
PUMP_SPREAD_S = 4.0  # how much a pumper's second press varies, past its earliest


def margin_s(speed: float) -> float:
    return JITTER_REAL_S * speed


def rules(speed: float, citizens: Citizens, habits: Habits) -> RulesConfig:
    """The hall's rules at this speed: the defaults, thresholds widened as above."""
    base = RulesConfig()
    margin = margin_s(speed)
    grace_s = max(base.double_press_grace_ms / 1000, citizens.double_press_gap_s[1] + margin)
    pump = pump_gap_s(speed, habits, grace_s)
    last_press_s = citizens.rate_delay_s[1] + pump[1]  # after the invitation
    return replace(base, double_press_grace_ms=math.ceil(grace_s * 1000),
                   invite_ttl_s=max(base.invite_ttl_s, math.ceil(last_press_s + margin)),
                   outage_catch_up_s=max(base.outage_catch_up_s, CATCH_UP_REAL_S * speed))


def pump_gap_s(speed: float, habits: Habits, grace_s: float) -> tuple[float, float]:
    low = max(habits.pump_gap_s[0], grace_s + margin_s(speed))
    return low, max(habits.pump_gap_s[1], low + PUMP_SPREAD_S)


def habits(speed: float, citizens: Citizens, given: Habits) -> Habits:
    """The staff's habits with the pumper's gap kept clear of the widened grace."""
    grace_s = rules(speed, citizens, given).double_press_grace_ms / 1000
    return replace(given, pump_gap_s=pump_gap_s(speed, given, grace_s))
