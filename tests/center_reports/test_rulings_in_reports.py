"""The center's month reports show each outage with its repair records (RULES.md §3 "Device
faults: reported, then verified"): pending deductions (待核实) apart from verified exemptions
(已查实) and rejected reports (非设备故障), in JSON, CSV and the HTML page; and a ruling
recorded later, even in a later month, changes the earlier month's report."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from edge_agent.config import load_config
from server_stub.reports import month_report, render_csv, render_html, replay_month
from tests.center_reports import read_all, record, write_config
from tests.helpers import ev, login

MONTH = "2026-03"
PAD = "A01-pad"
# Three outages of A01's pad on Monday 2026-03-02, in working hours: the first reported by
# staff (ref R1), the second by the pad's self-test (R2), the third never reported.
MARCH = [login("08:20:00", "S1"),
         ev("10:00:00", "device_down", device=PAD), ev("10:05:00", "fault_report", device=PAD,
                                                       ref="R1", source="staff"),
         ev("10:40:00", "device_up", device=PAD), ev("10:41:00", "fault_cleared", device=PAD),
         ev("14:00:00", "device_down", device=PAD), ev("14:01:00", "fault_report", device=PAD,
                                                       ref="R2", source="pad"),
         ev("14:30:00", "device_up", device=PAD), ev("14:31:00", "fault_cleared", device=PAD),
         ev("15:00:00", "device_down", device=PAD), ev("15:20:00", "device_up", device=PAD),
         ev("09:00:00", "fault_verified", day="2026-03-03", device=PAD, ref="R2",
            verdict="not_device_fault")]
# The IT department's ruling on R1 comes only in April.
APRIL = [ev("09:00:00", "fault_verified", day="2026-04-02", device=PAD, ref="R1",
            verdict="device_fault")]


def outages(report: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
    [offline] = [d for d in report["counters"]["A01"]["deductions"]
                 if d["kind"] == "device_offline"]
    return [(o["status"], [(f["ref"], f["source"], f["status"]) for f in o["faults"]])
            for o in offline["outages"]]


def test_a_ruling_in_a_later_month_changes_the_earlier_month_s_report(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    journal = record(tmp_path, "hall", MARCH + APRIL, config_path)
    records = read_all(journal)
    before = month_report(records[:-1], config, MONTH)  # the center before April's ruling
    after = month_report(records, config, MONTH)
    assert outages(before) == [("pending", [("R1", "staff", "unverified")]),
                               ("deducted", [("R2", "pad", "rejected")]),
                               ("deducted", [])]
    assert outages(after) == [("exempt", [("R1", "staff", "verified")]),
                              ("deducted", [("R2", "pad", "rejected")]),
                              ("deducted", [])]
    a01_before, a01_after = before["counters"]["A01"], after["counters"]["A01"]
    assert a01_before["penalties"] == 3.0 and a01_after["penalties"] == 2.0
    assert a01_after["score"] == a01_before["score"]  # no ratings: 0 either way

    rows = list(csv.DictReader(io.StringIO(render_csv(after, "counter").lstrip("\ufeff"))))
    [a01] = [r for r in rows if r["counter"] == "A01"]
    lines = [int(n) for n in a01["outages"].split("; ")[0].split()[:1]]
    assert a01["outages"] == (f"{lines[0]} {PAD} exempt [R1 staff verified]; "
                              f"{lines[0] + 4} {PAD} rejected [R2 pad rejected]; "
                              f"{lines[0] + 8} {PAD} deducted []")
    pending_csv = render_csv(before, "counter")
    assert "pending [R1 staff unverified]" in pending_csv


def test_the_page_marks_pending_verified_and_rejected_apart(tmp_path: Path) -> None:
    config_path = write_config(tmp_path)
    config = load_config(config_path)
    records = read_all(record(tmp_path, "hall", MARCH + APRIL, config_path))
    for upto, first in ((len(records) - 1, "待核实 暂扣"), (len(records), "已查实 免扣")):
        replay = replay_month(records[:upto], config, MONTH)
        page = render_html(replay.report, "青浦", replay.evidence, config.counters)
        section = page[page.index('data-counter="A01"'):]
        rows = section[section.index('class="outages"'):section.index("</table>",
                                                                      section.index('outages'))]
        standings = [rows[i:].split("</td>")[1] for i in range(len(rows))
                     if rows.startswith('<tr class="outage', i)]
        assert first in standings[0]
        assert "非设备故障 扣分" in standings[1] and "未报修 扣分" in standings[2]
        assert 'data-ref="R1"' in rows and 'data-ref="R2"' in rows
        assert ("评价器自检" in rows) and ("工作人员报修" in rows)
    assert "其中 1 次待核实" in render_html(
        month_report(records[:-1], config, MONTH), "青浦")
