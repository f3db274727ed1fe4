"""The simulated people keep their promises: the plan they make, fed to the rules engine as
a timeline, raises each cheat's incident as often as it was injected, at the rate the
parameters set, and nothing penalised for honest staff."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.config import HallConfig
from edge_agent.timeline import format_time
from tools.simhall import check, people

WEEK = [date(2026, 3, 2) + timedelta(days=i) for i in range(7)]  # Mon..Sun
WORKDAYS = 5
CONFIG = HallConfig("sim")
PER_TICKET = {"self_rater": "self_rating", "hurrier": "refused_evaluation",
              "skipper": "not_prompted", "pumper": "consecutive_rating"}
ONCE_A_DAY = {"long_pauser": "long_pause", "unplugger": "device_offline",
              "faulty_pad": "device_offline_exempt", "self_excuser": "device_offline_excused"}


def run(desks: list[people.Desk], days: list[date], citizens: people.Citizens | None = None,
        habits: people.Habits | None = None) -> list[check.CounterResult]:
    acts = list(people.plan(desks, days, citizens, habits))
    return check.judge(desks, check.incidents(acts, CONFIG))


@pytest.fixture(scope="module")
def week() -> list[check.CounterResult]:
    return run(people.make_desks(12, seed=11, salt="s"), WEEK)


def test_every_cheat_raises_its_incident_as_often_as_it_was_injected(
        week: list[check.CounterResult]) -> None:
    profiles = {r.profile for r in week}
    assert profiles == set(PER_TICKET) | set(ONCE_A_DAY) | {"honest"}
    for r in week:
        assert r.ok, check.table([r])
        if r.profile != "honest":
            assert sum(r.injected.values()) > 0, r


def test_cheats_happen_at_the_promised_rates(week: list[check.CounterResult]) -> None:
    habits, citizens = people.Habits(), people.Citizens()
    for r in week:
        if r.profile in PER_TICKET:
            p = habits.cheat_probability
            if r.profile == "pumper":  # only a rated service can be pumped
                p *= citizens.rate_probability
            n = r.tickets
            spread = 4 * math.sqrt(n * p * (1 - p))
            assert abs(r.injected[PER_TICKET[r.profile]] - n * p) <= spread, (r, n * p)
        elif r.profile in ONCE_A_DAY:
            assert r.injected == {ONCE_A_DAY[r.profile]: WORKDAYS}


def test_nobody_works_at_the_weekend_and_everyone_waiting_is_served_or_counted() -> None:
    desks = people.make_desks(12, seed=3, salt="s")
    acts = list(people.plan(desks, WEEK))
    days = {format_time(a.t, CONFIG.tz)[:10] for a in acts}
    assert days == {d.isoformat() for d in WEEK[:WORKDAYS]}
    calls = sum(a.body["type"] == "ticket_called" for a in acts)
    own = sum(d.counter.injected.get("self_rating", 0) for d in desks)  # staff's own tickets
    assert calls == sum(d.served for d in desks) + own > 0


spans = st.tuples(st.floats(0, 1), st.floats(0, 1))


def span(lo: float, hi: float, pair: tuple[float, float]) -> tuple[float, float]:
    a, b = sorted(pair)
    return lo + a * (hi - lo), lo + b * (hi - lo)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), day=st.integers(0, 30), rate=st.floats(0.5, 30),
       service=spans, p_rate=st.floats(0, 1), p_sat=st.floats(0, 1), delay=spans,
       p_double=st.floats(0, 1), gap=spans, p_cheat=st.floats(0, 1), call=spans)
def test_whatever_the_parameters_honest_staff_raise_no_penalised_incident(
        seed: int, day: int, rate: float, service: tuple[float, float], p_rate: float,
        p_sat: float, delay: tuple[float, float], p_double: float, gap: tuple[float, float],
        p_cheat: float, call: tuple[float, float]) -> None:
    """Citizens within what the rules expect of people: rating while invited (60 s, less
    the pumper's 20 s: Habits.pump_gap_s), a double press within the 3 s grace. Cheaters,
    too, raise nothing penalised beyond their own cheat."""
    citizens = people.Citizens(
        arrivals_per_hour=rate, service_s=span(10, 1800, service), rate_probability=p_rate,
        satisfied_probability=p_sat, rate_delay_s=span(0, 40, delay),
        double_press_probability=p_double, double_press_gap_s=span(0.05, 3.0, gap))
    habits = people.Habits(cheat_probability=p_cheat, next_call_s=span(0, 300, call))
    days = [date(2026, 3, 1) + timedelta(days=day)]
    for r in run(people.make_desks(12, seed, "s"), days, citizens, habits):
        assert r.ok, check.table([r])


def test_the_plan_holds_hashes_never_id_numbers() -> None:
    desks = people.make_desks(3, seed=5, salt="a-salt-of-16-chars")
    text = "\n".join(json.dumps(a.body) for a in people.plan(desks, WEEK[:1]))
    numbers = [n for d in desks for n in d.id_numbers.values()]
    assert numbers and not [n for n in numbers if n in text]
    assert '"applicant": "h:' in text and '"id_hash": "h:' in text


@pytest.mark.parametrize(("make", "name"), [
    (lambda: people.Citizens(arrivals_per_hour=0), "arrivals_per_hour"),
    (lambda: people.Citizens(rate_probability=1.5), "rate_probability"),
    (lambda: people.Citizens(service_s=(300, 60)), "service_s"),
    (lambda: people.Habits(cheat_probability=-0.1), "cheat_probability"),
    (lambda: people.Habits(next_call_s=(-1, 5)), "next_call_s"),
])
def test_an_impossible_parameter_is_named(make: object, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}: "):
        make()  # type: ignore[operator]
