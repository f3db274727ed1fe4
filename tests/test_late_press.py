"""A rating that reaches the engine late keeps when it was pressed (`pressed`, earlier than
`t`): the double-press grace and the too-soon interval are measured from the press, so a
slow bus or a pad's stored presses neither split a citizen's double press into a
consecutive rating nor merge pumped presses into a harmless double press (docs/rules.md)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.config import HallConfig
from edge_agent.records import event_to_dict
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import Decision, Event, Incident
from edge_agent.timeline import EventParser, TimelineError
from tests.helpers import Runner, at, ev, kinds, login, press, reasons

CALLED = [login("09:00:00", id_hash="h:staff1"),
          ev("09:10:00", "ticket_called", ticket="T1", applicant="h:citizen")]


def test_a_double_press_that_arrives_late_is_still_a_double_press(run: Runner) -> None:
    late = press("09:11:08", pressed=at("09:11:00.500"))  # pressed 0.5 s after the first
    doc = run.replay([*CALLED, press("09:11:00"), late])
    assert reasons(doc) == ["accepted", "double_press"]
    assert kinds(doc) == []


def test_the_same_press_stamped_on_arrival_would_be_a_consecutive_rating(run: Runner) -> None:
    doc = run.replay([*CALLED, press("09:11:00"), press("09:11:08")])
    assert reasons(doc) == ["accepted", "already_rated"]
    assert kinds(doc) == ["consecutive_rating"]


def test_pumped_presses_delivered_together_are_still_caught(run: Runner) -> None:
    """Stored through an outage, two presses 20 s apart arrive a moment apart."""
    doc = run.replay([*CALLED, press("09:30:00", pressed=at("09:11:00")),
                      press("09:30:00.1", pressed=at("09:11:20"))])
    assert reasons(doc) == ["accepted", "already_rated"]
    assert kinds(doc) == ["consecutive_rating"]


def test_too_soon_is_measured_between_presses(run: Runner) -> None:
    """The next ticket's rating pressed 10 s after the last accepted one is too soon, however
    late it arrives (min_rating_interval_s 15)."""
    lines: list[dict[str, Any] | str] = [
        *CALLED, press("09:11:00"), ev("09:11:05", "ticket_called", ticket="T2"),
        press("09:11:40", pressed=at("09:11:10"))]
    doc = run.replay(lines)
    assert reasons(doc) == ["accepted", "too_soon"]


def test_pressed_after_t_is_refused_with_its_line() -> None:
    parser = EventParser("binary")
    with pytest.raises(TimelineError, match='line 3: "pressed" must not be later than "t"'):
        parser.parse(press("09:11:00", pressed=at("09:11:01")), 3)


def test_pressed_goes_through_the_journal_form_and_back() -> None:
    parser = EventParser("binary")
    event = parser.parse(press("09:11:08", pressed=at("09:11:00.25")), 1)
    again = parser.parse(event_to_dict(event, HallConfig("H").tz), 1)
    assert (again.t, again.pressed) == (event.t, event.pressed)
    assert again.pressed is not None and event.t - again.pressed == 7_750_000


US = 1_000_000
START = 1_700_000_000 * US


def _decide(gaps_ms: list[int], late_us: int | None) -> tuple[list[str], list[str]]:
    """Presses at the given gaps on a serving counter; delivered on time, or all at one
    later moment (late_us after the last) carrying when each was pressed."""
    engine = RulesEngine(HallConfig("H"), displays=False)
    out: list[object] = []
    engine.handle(Event(START, "staff_login", "A01", 1, staff="S1"))
    engine.handle(Event(START + US, "ticket_called", "A01", 2, ticket="T1"))
    times, t = [], START + 2 * US
    for gap in gaps_ms:
        t += gap * 1000
        times.append(t)
    arrive = None if late_us is None else times[-1] + late_us
    for i, pressed in enumerate(times):
        if arrive is None:
            e = Event(pressed, "rating", "A01", 10 + i, level="satisfied")
        else:
            e = Event(arrive + i, "rating", "A01", 10 + i, level="satisfied", pressed=pressed)
        out += engine.handle(e)
    return ([o.reason for o in out if isinstance(o, Decision)],
            [o.kind for o in out if isinstance(o, Incident)])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40_000), min_size=1, max_size=8),
       st.integers(1, 50_000_000))
def test_late_delivery_with_press_times_decides_as_on_time(gaps: list[int], late: int) -> None:
    """On a serving counter (no deadline can fall due between press and arrival), presses
    delivered late with their press times get exactly the on-time decisions."""
    assert _decide(gaps, late) == _decide(gaps, None)
