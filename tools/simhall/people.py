"""Simulated people: citizens who arrive at a counter and wait to be called, and the staff who
serve them, honest or not.

The staff profiles and what each must raise (PROFILES), the long-stretch cheats (a long
pause, an unplugged pad, a broken pad reported in time and verified by the IT department, a
pad switched off and reported faulty to excuse it), the shape of one service (call, serve,
invite, rate), citizens arriving at a rate (a Poisson process per counter) and called in
turn when staff are free, every probability and duration as a parameter, staff ID numbers
and badge cards.

The output is a plan: timed acts in the timeline's own terms (RULES.md §6). The same plan is
fed to the rules engine (check.py: does each cheat raise its incident, and nothing else?),
acted out on the simulated devices (acts.py), and written as a timeline file by
tools/hallgen.py (the samples, `record`, the benchmarks). ID numbers stay in memory: the plan holds
only their salted hashes (edge_agent.service.queue_report.id_hash, as the agent keeps them).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.config import CalendarConfig
from edge_agent.rules.calendar import WorkCalendar, from_us
from edge_agent.service.queue_report import id_hash

S = 1_000_000  # microseconds
MIN = 60 * S
TZ = ZoneInfo("Asia/Shanghai")

# Behaviour profile → the incident kinds it must raise (what the demo and tests check).
PROFILES: dict[str, tuple[str, ...]] = {
    "honest": (),
    "self_rater": ("self_rating",),
    "pumper": ("consecutive_rating",),
    "hurrier": ("refused_evaluation",),
    "skipper": ("not_prompted",),
    "long_pauser": ("long_pause",),
    "unplugger": ("device_offline",),
    # An honest counter whose pad breaks: staff report it, the IT department verifies it
    # (device_fault), and the outage is exempt (RULES.md §3, 004 §17(二)1).
    "faulty_pad": (),
    # Switches the pad off and presses the fault key to excuse the outage; the IT department
    # finds no fault (not_device_fault): deducted, and pending until the ruling.
    "self_excuser": ("device_offline",),
}


# Timed event bodies; a sub-sequence returns the time it ends at.
Steps = Generator[tuple[int, dict[str, Any]], None, int]


@dataclass
class Counter:
    """One counter as the plan makes it: its staff, their profile, what they injected."""

    id: str
    profile: str
    staff: str
    staff_hash: str
    rng: random.Random
    tickets: int = 0
    injected: dict[str, int] = field(default_factory=dict)

    def note(self, behaviour: str) -> None:
        self.injected[behaviour] = self.injected.get(behaviour, 0) + 1


def assign_profiles(n: int, rng: random.Random, cheats: bool) -> list[str]:
    cheaters = [p for p in PROFILES if p != "honest"] if cheats else []
    profiles = cheaters[:n] + ["honest"] * max(0, n - len(cheaters))
    rng.shuffle(profiles)
    return profiles




@dataclass(frozen=True)
class Citizens:
    """Who comes to a counter, how long they take, and how they rate."""

    arrivals_per_hour: float = 5.0  # per counter, from opening to 15 min before closing
    service_s: tuple[float, float] = (180.0, 840.0)  # from being called to service done
    rate_probability: float = 0.88  # rates when invited (else lets the invitation lapse)
    satisfied_probability: float = 0.93
    rate_delay_s: tuple[float, float] = (3.5, 25.0)  # from the invitation to the press
    double_press_probability: float = 0.05  # a nervous second press of the same key
    double_press_gap_s: tuple[float, float] = (0.2, 1.5)

    def __post_init__(self) -> None:
        _positive(self, "arrivals_per_hour")
        for name in ("rate_probability", "satisfied_probability", "double_press_probability"):
            _probability(self, name)
        for name in ("service_s", "rate_delay_s", "double_press_gap_s"):
            _span(self, name)


@dataclass(frozen=True)
class Habits:
    """How staff work: the gap before calling the next citizen, and how often a cheating
    profile cheats on a service (self_rater, pumper, hurrier, skipper)."""

    cheat_probability: float = 0.15
    next_call_s: tuple[float, float] = (10.0, 90.0)  # after a service, before the next call
    login_early_min: tuple[float, float] = (2.0, 8.0)
    logout_late_min: tuple[float, float] = (1.0, 10.0)
    # A pumper's second press of the same ticket, after its first. Kept well past the
    # double-press grace (3 s): the agent stamps a press when its frame arrives, so at x300
    # a link that is 10 real ms late moves a press by 3 simulated s, and a second press 4 s
    # after the first would read as a nervous double press rather than as 连续评价.
    pump_gap_s: tuple[float, float] = (8.0, 20.0)

    def __post_init__(self) -> None:
        _probability(self, "cheat_probability")
        for name in ("next_call_s", "login_early_min", "logout_late_min", "pump_gap_s"):
            _span(self, name)


def _positive(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if not value > 0:
        raise ValueError(f"{name}: must be greater than 0, got {value!r}")


def _probability(obj: Any, name: str) -> None:
    value = getattr(obj, name)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: a probability, 0..1, got {value!r}")


def _span(obj: Any, name: str) -> None:
    lo, hi = getattr(obj, name)
    if not 0 <= lo <= hi:
        raise ValueError(f"{name}: (low, high) with 0 <= low <= high, got {(lo, hi)!r}")


@dataclass(frozen=True, slots=True)
class Act:
    """One thing a person does at a counter: a timeline event body (type and fields)."""

    t: int  # simulated time, µs since the epoch
    counter: str
    body: dict[str, Any]


@dataclass
class Desk:
    """One counter's staff member, as the hall's configuration knows them."""

    counter: Counter
    name: str
    card: str
    id_number: str = field(default="", repr=False)  # the staff's own; only its hash is kept
    salt: str = field(default="", repr=False)  # ID numbers' salt: the agent's [hook] salt
    unserved: int = 0  # citizens still waiting at closing time
    served: int = 0
    id_numbers: dict[str, str] = field(default_factory=dict, repr=False)  # ticket -> ID no.


def synthetic_id(rng: random.Random) -> str:
    """An 18-digit number shaped like a resident ID, made up (no checksum)."""
    return f"{rng.randrange(10**17, 10**18)}"


def make_desks(n: int, seed: int, salt: str, cheats: bool = True) -> list[Desk]:
    """N counters (A01, A02, ...) with staff; the cheating profiles shuffled among them."""
    rng = random.Random(seed)
    profiles = assign_profiles(n, rng, cheats)
    desks = []
    for i in range(n):
        crng = random.Random(rng.getrandbits(64))
        number = synthetic_id(crng)
        counter = Counter(f"{chr(65 + i // 50)}{i % 50 + 1:02d}", profiles[i], f"S{i + 1:03d}",
                          id_hash(salt, number), crng)
        desks.append(Desk(counter, name=f"Staff {i + 1}", card=f"{7_000_000 + i * 37:08d}",
                          id_number=number, salt=salt))
    return desks


def uniform_us(rng: random.Random, span: tuple[float, float], unit: int = S) -> int:
    return round(rng.uniform(*span) * unit)


def arrivals(rng: random.Random, start: int, end: int, per_hour: float) -> deque[int]:
    """Poisson arrivals in [start, end)."""
    out: deque[int] = deque()
    t = start
    while True:
        t += round(rng.expovariate(per_hour) * 3600 * S)
        if t >= end:
            return out
        out.append(t)


def call(desk: Desk, t: int, number: str) -> tuple[int, dict[str, Any]]:
    """The queue system calls the next ticket: the holder's ID number, hashed."""
    c = desk.counter
    c.tickets += 1
    ticket_id = f"{c.id}-{c.tickets:04d}"
    desk.id_numbers[ticket_id] = number
    return t, {"type": "ticket_called", "ticket": ticket_id,
               "applicant": id_hash(desk.salt, number)}


def self_ticket(desk: Desk, t: int) -> Steps:
    """自我评价 as it is done at a counter: staff take a ticket with their own ID number,
    "serve" it, invite and press the pad themselves (rule 4: the applicant is the staff)."""
    rng = desk.counter.rng
    desk.counter.note("self_rating")
    yield call(desk, t, desk.id_number)
    t += rng.randint(20_000, 60_000) * 1000
    yield t, {"type": "service_done"}
    t += rng.randint(2_000, 6_000) * 1000
    yield t, {"type": "rating", "level": "satisfied", "source": "pad"}
    return t + rng.randint(15_000, 40_000) * 1000


def ticket(desk: Desk, t: int, people: Citizens, habits: Habits) -> Steps:
    """One citizen served: call, serve, invite, rate; a cheating profile bends it now and
    then (the pumper's gap: see Habits.pump_gap_s); the self-rater takes a ticket of its own
    first (self_ticket) rather than rating from a staff-side input, which no staff keypad
    has."""
    c = desk.counter
    rng = c.rng
    desk.served += 1
    cheat = c.profile != "honest" and rng.random() < habits.cheat_probability
    if cheat and c.profile == "self_rater":
        t = yield from self_ticket(desk, t)
    yield call(desk, t, synthetic_id(rng))
    t += uniform_us(rng, people.service_s)
    if cheat and c.profile == "skipper":
        c.note("not_prompted")
        return t  # the next call ends this ticket with no invitation and no rating
    yield t, {"type": "service_done"}
    if cheat and c.profile == "hurrier":
        c.note("refused_evaluation")
        t += rng.randint(1_000, 8_000) * 1000
        yield t, {"type": "invite_cancel"}
        return t
    if rng.random() < people.rate_probability:
        t += uniform_us(rng, people.rate_delay_s)
        level = "satisfied" if rng.random() < people.satisfied_probability else "unsatisfied"
        yield t, {"type": "rating", "level": level, "source": "pad"}
        if rng.random() < people.double_press_probability:
            yield t + uniform_us(rng, people.double_press_gap_s), {
                "type": "rating", "level": level, "source": "pad"}
        if cheat and c.profile == "pumper":
            c.note("consecutive_rating")
            t += uniform_us(rng, habits.pump_gap_s)
            yield t, {"type": "rating", "level": "satisfied", "source": "pad"}
    return t + rng.randint(15_000, 40_000) * 1000


def counter_day(desk: Desk, day: date, cal: WorkCalendar, people: Citizens, habits: Habits
                ) -> Iterator[tuple[int, dict[str, Any]]]:
    """One counter's working day, in time order: (µs, event body)."""
    periods = cal.periods_on(day)
    if not periods:
        return
    c = desk.counter
    rng = c.rng
    first_open, last_close = periods[0][0], periods[-1][1]
    waiting = arrivals(rng, first_open, last_close - 15 * MIN, people.arrivals_per_hour)
    t = first_open - uniform_us(rng, habits.login_early_min, MIN)
    yield t, {"type": "staff_login", "staff": c.staff, "id_hash": c.staff_hash}
    pad = f"{c.id}-pad"
    stretch = {"long_pauser": first_open + rng.randint(60, 120) * MIN,
               "unplugger": first_open + rng.randint(30, 150) * MIN,
               "faulty_pad": periods[-1][0] + rng.randint(30, 120) * MIN,
               "self_excuser": first_open + rng.randint(20, 120) * MIN}.get(c.profile)
    for n, (start, end) in enumerate(periods):
        t = max(t, start)
        while t < end - 5 * MIN:
            if stretch is not None and t >= stretch:
                t = yield from special(c, t, pad)
                stretch = None
                continue
            due = waiting[0] if waiting else None
            if due is not None and due <= t:
                waiting.popleft()
                t = yield from ticket(desk, t, people, habits)
                t += uniform_us(rng, habits.next_call_s)
                continue
            upcoming = [x for x in (due, stretch) if x is not None]
            if not upcoming or min(upcoming) >= end - 5 * MIN:
                break  # nothing more to do before this period ends
            t = min(upcoming)  # wait for the next citizen (or the cheat's moment)
        if n + 1 < len(periods):
            yield max(t, end - 2 * MIN), {"type": "pause", "reason": "lunch"}
            # (a long stretch, an outage say, may run past the next opening: never back)
            t = max(t, periods[n + 1][0] + rng.randint(0, 3) * MIN)
            yield t, {"type": "resume"}
            # Back at the counter, then the first call: never at the same instant, as the
            # two go by different devices (the pad's pause key, the queue system).
            t += uniform_us(rng, habits.next_call_s)
    desk.unserved += len(waiting)
    yield (max(t, last_close) + uniform_us(rng, habits.logout_late_min, MIN),
           {"type": "staff_logout"})


def plan(desks: list[Desk], days: list[date], people: Citizens | None = None,
         habits: Habits | None = None, calendar: CalendarConfig | None = None
         ) -> Iterator[Act]:
    """The hall's acts in time order, lazily, a day at a time."""
    people = people or Citizens()
    habits = habits or Habits()
    cal = WorkCalendar(calendar or CalendarConfig(), TZ)
    for day in days:
        streams = [_tagged(i, counter_day(d, day, cal, people, habits))
                   for i, d in enumerate(desks)]
        for t, i, body in heapq.merge(*streams):
            yield Act(t, desks[i].counter.id, body)


def _tagged(index: int, events: Iterator[tuple[int, dict[str, Any]]]
            ) -> Iterator[tuple[int, int, dict[str, Any]]]:
    for t, body in events:
        yield t, index, body


def expected(profile: str) -> tuple[str, ...]:
    """The incident kinds a profile must raise (PROFILES)."""
    return PROFILES[profile]


def special(c: Counter, t: int, pad: str) -> Steps:
    """The long-stretch cheats (and the honest broken pad): a long pause, an unplugged pad,
    a pad reported faulty and ruled on by the IT department; returns when it ends."""
    rng = c.rng
    if c.profile == "long_pauser":
        c.note("long_pause")
        yield t, {"type": "pause", "reason": "away"}
        t += rng.randint(70, 100) * MIN
        yield t, {"type": "resume"}
    elif c.profile == "unplugger":
        c.note("device_offline")
        yield t, {"type": "device_down", "device": pad}
        t += rng.randint(15, 40) * MIN
        yield t, {"type": "device_up", "device": pad}
    else:  # faulty_pad, self_excuser: reported within the grace; the IT department rules
        # (查实): a device fault for faulty_pad, whose pad broke (the outage is exempt); not a
        # device fault for self_excuser, who switched it off (deducted, pending until then)
        faulty = c.profile == "faulty_pad"
        c.note("device_offline_exempt" if faulty else "device_offline_excused")
        yield t, {"type": "device_down", "device": pad}
        reported = t + rng.randint(2, 20) * MIN
        ref = f"{pad}-{from_us(reported, TZ):%Y%m%d%H%M%S}"
        yield reported, {"type": "fault_report", "device": pad, "ref": ref}
        t += rng.randint(40, 70) * MIN
        yield t, {"type": "device_up", "device": pad}
        yield t + MIN, {"type": "fault_cleared", "device": pad}
        yield t + 2 * MIN, {"type": "fault_verified", "device": pad, "ref": ref,
                             "verdict": "device_fault" if faulty else "not_device_fault"}
        t += 2 * MIN
    return t
