"""RULES.md §3 "Device faults: reported, then verified" (004 §17(二)1: "电子评价器出现故障,应及时
报信息技术科维修,信息技术科做好报修记录 … 经查实属于评价器故障的,不予扣分"): a repair record
exempts an outage only once the IT department verifies it (查实)."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import Runner, ev, write_timeline

PAD = {"device": "A01-pad"}


def outages(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(time, status) of each device_offline incident as the replay ends."""
    return [(i["t"][11:19], "exempt" if i["exempt"] else "pending" if i["pending"]
             else "deducted") for i in doc["incidents"] if i["kind"] == "device_offline"]


def penalties(doc: dict[str, Any]) -> float:
    return float(doc["report"]["counters"]["A01"]["penalties"])


DOWN_AND_REPORTED = [ev("09:30:00", "device_down", **PAD),
                     ev("09:35:00", "fault_report", ref="R1", **PAD)]


def ruling(clock: str, verdict: str, day: str = "2026-03-02", **fields: Any) -> dict[str, Any]:
    return ev(clock, "fault_verified", day=day, verdict=verdict, **PAD, **fields)


def test_a_staff_report_leaves_the_outage_pending_and_deducted_until_ruled(run: Runner) -> None:
    """§3: "pending (deducted until ruled) when none is verified and some covering report is
    still unverified"; a staff report (the default source) starts unverified."""
    doc = run.replay(DOWN_AND_REPORTED)
    assert outages(doc) == [("09:30:00", "pending")]
    assert penalties(doc) == 1.0
    (incident,) = doc["incidents"]
    assert incident["faults"] == [{"ref": "R1", "source": "staff", "status": "unverified",
                                   "line": 2}]


def test_device_fault_ruling_exempts(run: Runner) -> None:
    """§3: "exempt … when some covering report is verified"."""
    doc = run.replay([*DOWN_AND_REPORTED, ruling("11:00:00", "device_fault", ref="R1")])
    assert outages(doc) == [("09:30:00", "exempt")]
    assert penalties(doc) == 0.0
    assert doc["incidents"][0]["penalty"] == 1.0  # exempt keeps its nominal penalty (§7)
    assert doc["incidents"][0]["faults"][0]["status"] == "verified"


def test_not_device_fault_ruling_deducts_plainly(run: Runner) -> None:
    """§3: deducted plainly when every covering report is rejected (非设备故障)."""
    doc = run.replay([*DOWN_AND_REPORTED, ruling("11:00:00", "not_device_fault", ref="R1")])
    assert outages(doc) == [("09:30:00", "deducted")]
    assert penalties(doc) == 1.0
    assert doc["incidents"][0]["faults"][0]["status"] == "rejected"


def test_a_later_ruling_replaces_an_earlier_one(run: Runner) -> None:
    """§3: "a later ruling replaces an earlier one"."""
    doc = run.replay([*DOWN_AND_REPORTED, ruling("11:00:00", "device_fault", ref="R1"),
                      ruling("11:30:00", "not_device_fault", ref="R1")])
    assert outages(doc) == [("09:30:00", "deducted")]


def test_a_ruling_without_ref_applies_to_the_devices_latest_report(run: Runner) -> None:
    """§3: "without ref applies to that device's latest report"."""
    doc = run.replay([ev("09:00:00", "fault_report", ref="OLD", **PAD),
                      ev("09:10:00", "fault_cleared", **PAD),
                      *DOWN_AND_REPORTED, ruling("11:00:00", "device_fault")])
    assert outages(doc) == [("09:30:00", "exempt")]
    statuses = {f["ref"]: f["status"] for f in doc["incidents"][0]["faults"]}
    assert statuses == {"R1": "verified"}  # OLD was closed before the outage: not covering


def test_a_ruling_names_the_devices_latest_report_with_its_ref(run: Runner) -> None:
    doc = run.replay([ev("09:00:00", "fault_report", ref="R0", **PAD), *DOWN_AND_REPORTED,
                      ruling("11:00:00", "not_device_fault", ref="R0")])
    # R0 (open at the outage's start) is rejected; R1 still unverified: pending.
    assert outages(doc) == [("09:30:00", "pending")]
    assert [(f["ref"], f["status"]) for f in doc["incidents"][0]["faults"]] == [
        ("R0", "rejected"), ("R1", "unverified")]


def test_a_ruling_that_matches_no_report_changes_nothing(run: Runner) -> None:
    """§3: "a ruling that matches no report changes nothing"."""
    doc = run.replay([*DOWN_AND_REPORTED, ruling("11:00:00", "device_fault", ref="NOPE"),
                      ev("11:05:00", "fault_verified", device="B01-pad", counter="B01",
                         verdict="device_fault")])
    assert outages(doc) == [("09:30:00", "pending")]


def test_a_report_the_it_department_files_starts_verified(run: Runner) -> None:
    """§3: "A report filed by the IT department starts verified"."""
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("09:35:00", "fault_report", source="it", ref="IT-7", **PAD)])
    assert outages(doc) == [("09:30:00", "exempt")]


def test_a_pads_self_test_report_waits_for_the_ruling_too(run: Runner) -> None:
    doc = run.replay([ev("09:00:00", "fault_report", source="pad", **PAD),
                      ev("09:30:00", "device_down", **PAD)])
    assert outages(doc) == [("09:30:00", "pending")]


def test_without_fault_verification_every_report_exempts_at_once(run: Runner) -> None:
    """§3: "[rules] fault_verification = false makes every report start verified"."""
    config = '[hall]\nid = "test"\n[rules]\nfault_verification = false\n'
    doc = run.replay(DOWN_AND_REPORTED, config=config)
    assert outages(doc) == [("09:30:00", "exempt")]


def test_a_report_open_at_any_moment_before_the_outage_counts_covers_it(run: Runner) -> None:
    """§3: a report covers an outage "when it is open at any moment … from the outage's start
    to the moment the outage is counted": here filed and cleared overnight, before 08:30."""
    doc = run.replay([ev("19:00:00", "device_down", **PAD),
                      ev("20:00:00", "fault_report", ref="N1", **PAD),
                      ev("21:00:00", "fault_cleared", **PAD),
                      ruling("10:00:00", "device_fault", day="2026-03-03", ref="N1"),
                      ev("10:30:00", "device_up", day="2026-03-03", **PAD)])
    assert outages(doc) == [("08:30:00", "exempt")]


def test_a_report_filed_after_the_grace_does_not_cover(run: Runner) -> None:
    """§3: "or when it is filed within fault_report_grace_min (30) after the outage was
    counted" (§7: the grace includes its end)."""
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("10:00:00", "fault_report", ref="IN", **PAD),
                      ruling("10:10:00", "device_fault", ref="IN")])
    assert outages(doc) == [("09:30:00", "exempt")]
    doc = run.replay([ev("09:30:00", "device_down", **PAD),
                      ev("10:00:00.000001", "fault_report", ref="LATE", **PAD),
                      ruling("10:10:00", "device_fault", ref="LATE")])
    assert outages(doc) == [("09:30:00", "deducted")]
    assert doc["incidents"][0]["faults"] == []


def test_a_ruling_in_a_later_month_changes_the_earlier_months_report(run: Runner) -> None:
    """§3: "A ruling may come at any time, after the month too"."""
    lines = [ev("09:30:00", "device_down", day="2026-03-31", **PAD),
             ev("09:35:00", "fault_report", day="2026-03-31", ref="R1", **PAD),
             ev("10:00:00", "device_up", day="2026-03-31", **PAD)]
    before = run.replay(lines)
    assert penalties(before) == 1.0 and outages(before) == [("09:30:00", "pending")]
    after = run.replay([*lines, ruling("09:00:00", "device_fault", day="2026-04-02", ref="R1")])
    assert penalties(after) == 0.0 and outages(after) == [("09:30:00", "exempt")]


def test_a_ruling_changes_only_the_outages_its_report_covers(run: Runner) -> None:
    other = {"device": "A01-pad2"}
    doc = run.replay([*DOWN_AND_REPORTED,
                      ev("09:40:00", "device_down", **other),
                      ev("09:41:00", "fault_report", ref="R1", **other),
                      ruling("11:00:00", "device_fault", ref="R1")])
    assert outages(doc) == [("09:30:00", "exempt"), ("09:40:00", "pending")]


def test_report_lists_pending_apart_from_exempt(run: Runner) -> None:
    lines = [*DOWN_AND_REPORTED, ev("10:00:00", "device_up", **PAD),
             ev("14:00:00", "device_down", **PAD),
             ev("14:05:00", "fault_report", ref="R2", **PAD),
             ruling("15:00:00", "device_fault", ref="R2")]
    timeline = write_timeline(run.tmp / "t.jsonl", lines)
    config = run.config()
    status, out, err = run.cli("report", str(timeline), "--config", str(config),
                               "--month", "2026-03", "--format", "json")
    assert status == 0, err
    (deduction,) = json.loads(out)["counters"]["A01"]["deductions"]
    assert (deduction["pending_lines"], deduction["exempt_lines"], deduction["lines"]) == (
        [1], [4], [1])
    assert [o["status"] for o in deduction["outages"]] == ["pending", "exempt"]
    status, out, _ = run.cli("report", str(timeline), "--config", str(config),
                             "--month", "2026-03")
    assert "1 exempt: device fault verified, 已查实" in out
    assert "1 pending the IT department's ruling, 待核实" in out
    assert "line 1 A01-pad: pending (待核实); repair records: R1 by staff: unverified 待核实" in out
    status, out, _ = run.cli("report", str(timeline), "--config", str(config),
                             "--month", "2026-03", "--format", "csv")
    assert "device_offline -1.0 [1] exempt:4 pending:1" in out


def test_bad_rulings_and_reports_name_the_line(run: Runner) -> None:
    config = run.config()
    for body, message in (
            (ruling("11:00:00", "maybe"), '"verdict" must be one of device_fault, '
                                          "not_device_fault, got 'maybe'"),
            (ev("11:00:00", "fault_verified", **PAD), 'a fault_verified event needs "verdict"'),
            (ev("11:00:00", "fault_report", source="manager", **PAD),
             "a fault_report's \"source\" must be one of staff, pad, it, got 'manager'")):
        timeline = write_timeline(run.tmp / "bad.jsonl", [*DOWN_AND_REPORTED, body])
        status, _, err = run.cli("replay", str(timeline), "--config", str(config),
                                 "--month", "2026-03")
        assert status == 2
        assert f"bad.jsonl line 3: {message}" in err
