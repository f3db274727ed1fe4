"""Repair records through the core (RULES.md §3 "Device faults: reported, then verified"):
a report the agent originates is journaled with its source and a ref the agent assigns,
``{device}-{YYYYMMDDHHMMSS}`` in the hall's local time, so the IT department can rule on it
at the center by (device, ref); the center's entries are journaled as fault_report (ref
``center-N``, its source), fault_cleared and fault_verified; a restarted core resumes with
the same outages' standings."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from edge_agent.records import FaultRecord, center_entry
from edge_agent.service.clock import ManualClock
from edge_agent.service.inputs import BadgeRead, KeyAction, SerialBytes
from edge_agent.wire import Kind
from tests.service.core_kit import MONDAY_9, Pad, make_core
from tests.service.test_core import journal_rows


def events(path: Path, kind: str) -> list[dict[str, Any]]:
    return [e for _, k, e, _ in journal_rows(path) if k == "event" and e["type"] == kind]


def outage(core: Any) -> dict[str, Any]:
    core.publish_status()
    [a01] = [c for c in core.status["counters"] if c["id"] == "A01"]
    [found] = [i for i in a01["incidents"] if i["kind"] == "device_offline"]
    return dict(found)


def test_the_keypad_s_fault_key_files_a_staff_report_with_the_agent_s_ref(tmp_path: Path
                                                                        ) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    core.step([KeyAction("A01-keypad", "fault", clock.now_us() + 7_250_000)])
    clock.advance(60)
    core.step([KeyAction("A01-keypad", "fault_cleared", clock.now_us())])
    [report] = events(tmp_path / "j.sqlite", "fault_report")
    assert (report["device"], report["source"], report["ref"]) == (
        "A01-pad", "staff", "A01-pad-20261123090007")  # local time, to the second
    [cleared] = events(tmp_path / "j.sqlite", "fault_cleared")
    assert "ref" not in cleared


def test_a_pad_s_failed_self_test_and_fault_frame_are_pad_reports(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.selftest(failed=0b10), clock.now_us())])
    clock.advance(30)
    fault = pad.frame(Kind.FAULT, struct.pack(">BIBBB", 0, 0, 2, 0, 1))  # display, raised
    core.step([SerialBytes("/dev/ttyPAD", fault, clock.now_us())])
    reports = events(tmp_path / "j.sqlite", "fault_report")
    assert [(r["source"], r["ref"], r["reason"].split(":")[0]) for r in reports] == [
        ("pad", "A01-pad-20261123090000", "selftest failed"),
        ("pad", "A01-pad-20261123090030", "pad fault")]


def test_the_center_s_entries_are_journaled_as_reports_clears_and_rulings(
        tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    pad = Pad()
    core.step([BadgeRead("A01-badge", "1001", clock.now_us()),
               SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us())])
    clock.advance(60)
    core.step([])  # the pad is silent: down at 09:01, in working hours
    filed = clock.now_us()
    core.step([FaultRecord("A01-pad", True, filed, "屏幕不亮", "4", "report", "staff")])
    assert outage(core)["pending"]
    clock.advance(600)
    core.step([FaultRecord("A01-pad", False, filed, "note", "5", "ruling",
                           fault_ref="center-4", verdict="device_fault")])
    assert outage(core)["exempt"] and not outage(core)["pending"]
    core.step([FaultRecord("A01-pad", False, clock.now_us(), "修好了", "6", "cleared"),
               FaultRecord("P-unknown", True, clock.now_us(), "x", "7", "report")])
    [report] = events(path, "fault_report")
    assert (report["source"], report["ref"]) == ("staff", "center-4")
    [ruling] = events(path, "fault_verified")
    assert (ruling["device"], ruling["ref"], ruling["verdict"]) == ("A01-pad", "center-4",
                                                                    "device_fault")
    # journaled when the agent took it, not at the center's clock
    assert ruling["t"] == "2026-11-23T09:11:00+08:00"
    marks = [e.get("center_entry") for kind in
             ("fault_report", "fault_verified", "fault_cleared") for e in events(path, kind)]
    assert [m for m in marks if m] == [4, 5, 6]  # the outbox's restart marks, as fields
    assert [center_entry(e) for kind in ("fault_report", "fault_verified", "fault_cleared")
            for e in events(path, kind) if center_entry(e)] == [4, 5, 6]
    assert core.refusals["unknown_device"] == 1
    before = outage(core)
    core.journal.close()
    restarted = make_core(path, clock)
    assert outage(restarted) == before
    restarted.journal.close()
