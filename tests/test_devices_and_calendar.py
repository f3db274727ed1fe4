"""Device outages and working hours: 004 §17(一)4 "电子评价系统在工作时间内必须开启…无故关闭
的情况,每次扣1分", §17(二)1 (verified device faults are not deducted), §16 (working hours).
Which repair records cover an outage (RULES.md §3 "Device faults"); their rulings are in
test_fault_verification.py. Reports here are filed by the IT department (``source: it``),
which starts verified, so covered means exempt."""

from __future__ import annotations

from tests.helpers import Runner, ev, kinds, login

PAD = {"device": "A01-pad"}
IT = {"source": "it"}  # a repair record the IT department filed: verified from the start


def offline(doc: dict) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(i["t"][11:19], i["exempt"]) for i in doc["incidents"] if i["kind"] == "device_offline"]


def test_outage_in_working_hours_counts_once(run: Runner) -> None:
    doc = run.replay([login("09:00:00"), ev("09:30:00", "device_down", **PAD),
                      ev("09:31:00", "device_down", **PAD),  # same outage, reported twice
                      ev("14:00:00", "device_up", **PAD)])
    assert offline(doc) == [("09:30:00", False)]
    assert doc["incidents"][0]["line"] == 2
    assert doc["report"]["counters"]["A01"]["penalties"] == 1.0


def test_outage_outside_hours_counts_from_next_opening(run: Runner) -> None:
    doc = run.replay([ev("19:00:00", "device_down", **PAD),
                      ev("08:45:00", "device_up", day="2026-03-03", **PAD)])
    assert offline(doc) == [("08:30:00", False)]
    assert doc["incidents"][0]["t"] == "2026-03-03T08:30:00+08:00"
    assert doc["incidents"][0]["line"] == 1


def test_device_back_exactly_at_opening_raises_nothing(run: Runner) -> None:
    doc = run.replay([ev("19:00:00", "device_down", **PAD),
                      ev("08:30:00", "device_up", day="2026-03-03", **PAD)])
    assert kinds(doc) == []


def test_outage_over_lunch_starts_counting_at_one(run: Runner) -> None:
    doc = run.replay([ev("12:00:00", "device_down", **PAD), ev("13:00:00", "device_up", **PAD)])
    assert kinds(doc) == []
    doc = run.replay([ev("12:00:00", "device_down", **PAD), ev("13:00:01", "device_up", **PAD)])
    assert offline(doc) == [("13:00:00", False)]


def test_outage_exempt_when_fault_already_open(run: Runner) -> None:
    doc = run.replay([ev("09:00:00", "fault_report", **PAD, **IT),
                      ev("09:30:00", "device_down", **PAD)])
    assert offline(doc) == [("09:30:00", True)]
    row = doc["report"]["counters"]["A01"]
    assert row["penalties"] == 0.0
    assert doc["incidents"][0]["penalty"] == 1.0  # exempt keeps its nominal penalty (§7)


def test_fault_report_within_grace_inclusive_exempts(run: Runner) -> None:
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("10:00:00", "fault_report", **PAD, **IT)])
    assert offline(doc) == [("09:30:00", True)]


def test_fault_report_after_grace_does_not_exempt(run: Runner) -> None:
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("10:00:00.000001", "fault_report", **PAD, **IT)])
    assert offline(doc) == [("09:30:00", False)]


def test_cleared_fault_no_longer_exempts(run: Runner) -> None:
    doc = run.replay([ev("09:00:00", "fault_report", **PAD, **IT),
                      ev("09:10:00", "fault_cleared", **PAD), ev("09:30:00", "device_down", **PAD)])
    assert offline(doc) == [("09:30:00", False)]


def test_fault_for_another_device_does_not_exempt(run: Runner) -> None:
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("09:35:00", "fault_report", device="B01-pad", counter="B01", **IT)])
    assert offline(doc) == [("09:30:00", False)]


def test_pending_outage_keeps_incident_order(run: Runner) -> None:
    """Incidents are listed in the order they were raised, whatever waited on a grace."""
    doc = run.replay([login("09:00:00"), ev("09:30:00", "device_down", **PAD),
                      ev("09:40:00", "ticket_called", ticket="T1"),
                      ev("09:41:00", "ticket_called", ticket="T2"),
                      ev("09:50:00", "fault_report", **PAD, **IT)])
    assert [(i["kind"], i["exempt"]) for i in doc["incidents"]] == [
        ("device_offline", True), ("not_prompted", False)]


def test_sign_outage_is_not_an_evaluator_outage(run: Runner) -> None:
    config = ('[hall]\nid = "t"\n[devices.A01-sign]\ncounter = "A01"\nkind = "sign"\n')
    doc = run.replay([ev("09:30:00", "device_down", device="A01-sign")], config=config)
    assert kinds(doc) == []


# --- calendar (004 §16: 8:30-12:00, 13:00-17:00; summer afternoon 13:30-17:00)


def test_summer_afternoon_starts_at_half_past_one(run: Runner) -> None:
    day = "2026-06-01"  # a Monday in the summer period
    doc = run.replay([ev("13:10:00", "device_down", day=day, **PAD),
                      ev("13:30:00", "device_up", day=day, **PAD)], month="2026-06")
    assert kinds(doc) == []
    doc = run.replay([ev("13:10:00", "device_down", **PAD), ev("13:30:00", "device_up", **PAD)])
    assert offline(doc) == [("13:10:00", False)]


def test_weekend_holiday_and_make_up_day(run: Runner) -> None:
    config = ('[hall]\nid = "t"\n[calendar]\nholidays = ["2026-03-03"]\n'
              'workdays = ["2026-03-07"]\n')
    doc = run.replay([ev("09:00:00", "device_down", day="2026-03-03", **PAD),   # holiday
                      ev("10:00:00", "device_up", day="2026-03-03", **PAD),
                      ev("09:00:00", "device_down", day="2026-03-07", **PAD),   # make-up Saturday
                      ev("10:00:00", "device_up", day="2026-03-07", **PAD),
                      ev("09:00:00", "device_down", day="2026-03-08", **PAD),   # Sunday
                      ev("10:00:00", "device_up", day="2026-03-08", **PAD)], config=config)
    assert [i["t"][:10] for i in doc["incidents"]] == ["2026-03-07"]


def test_counter_with_its_own_saturday_calendar(run: Runner) -> None:
    """便民 windows open on Saturdays: [calendar.counter.B01] with the keys of [calendar]."""
    config = ('[hall]\nid = "t"\n[calendar.counter.B01]\n'
              'weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]\n')
    sat = "2026-03-07"
    doc = run.replay([ev("09:00:00", "device_down", "A01", sat, **PAD),
                      ev("09:00:00", "device_down", "B01", sat, device="B01-pad"),
                      ev("10:00:00", "device_up", "A01", sat, **PAD),
                      ev("10:00:00", "device_up", "B01", sat, device="B01-pad")], config=config)
    assert [i["counter"] for i in doc["incidents"]] == ["B01"]


def test_bound_rating_accepted_outside_hours(run: Runner) -> None:
    """Extended service (延时服务, 000): a bound rating is accepted at any hour."""
    doc = run.replay([login("18:00:00"), ev("18:30:00", "ticket_called", ticket="T1"),
                      ev("18:40:00", "service_done"), ev("18:40:05", "rating", level="satisfied")])
    assert doc["decisions"][0]["reason"] == "accepted"


def test_grace_of_an_overnight_outage_runs_from_the_opening(run: Runner) -> None:
    """Counted from 08:30, so a fault reported at 08:45 (long after the 19:00 start) exempts."""
    doc = run.replay([ev("19:00:00", "device_down", **PAD),
                      ev("08:45:00", "fault_report", day="2026-03-03", **PAD, **IT),
                      ev("09:30:00", "device_up", day="2026-03-03", **PAD)])
    assert offline(doc) == [("08:30:00", True)]
    doc = run.replay([ev("19:00:00", "device_down", **PAD),
                      ev("09:00:00.000001", "fault_report", day="2026-03-03", **PAD, **IT)])
    assert offline(doc) == [("08:30:00", False)]
