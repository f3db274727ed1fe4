"""The repair queue: the IT department files a repair record and rules on it through the
console's forms; the ruling is stored as the API stores one (what the agent pulls)."""

from __future__ import annotations

from datetime import datetime

from starlette.applications import Starlette
from starlette.testclient import TestClient

from edge_agent.config import parse_config
from edge_agent.rules.calendar import WorkCalendar, to_us
from server_stub.audit import AuditLog
from server_stub.console_html import covered_by
from server_stub.outages import working_seconds
from server_stub.store import Store
from tests.center.fixtures import HALL, TOKEN, auth
from tests.console.fixtures import Browser, browser

REPAIRS = "/halls/test/repairs"


def _file(b: Browser, device: str = "A01-pad", reason: str = "屏幕不亮") -> int:
    r = b.post(f"{REPAIRS}/faults", {"csrf": b.csrf, "device": device, "reason": reason,
                                     "active": "yes"})
    return int(r.status_code)


def test_it_files_a_record_and_rules_on_it(console: Starlette, store: Store) -> None:
    b = browser(console, "tech")
    assert _file(b) == 303
    page = b.get(REPAIRS).text
    assert 'data-ref="center-1" data-status="unverified"' not in page  # IT's own: verified
    assert 'data-ref="center-1" data-status="verified"' in page
    assert "A01-pad" in page and "屏幕不亮" in page
    assert 'data-seq="10"' in page  # the month's outage of A01-pad is shown beside it
    assert 'data-counted="2400"' in page and "0:40" in page  # down 10:00, up 10:40
    r = b.post(f"{REPAIRS}/rulings", {"csrf": b.csrf, "device": "A01-pad", "ref": "center-1",
                                      "verdict": "not_device_fault", "note": "<b>电源被拔</b>"})
    assert r.status_code == 303
    (record,) = store.fault_records(HALL)
    assert record["status"] == "rejected"
    assert [(x["verdict"], x["filed_by"], x["note"]) for x in record["rulings"]] == [
        ("not_device_fault", "tech", "<b>电源被拔</b>")]
    page = b.get(REPAIRS).text
    assert "&lt;b&gt;电源被拔&lt;/b&gt;" in page and "<b>电源被拔</b>" not in page
    # what the hall's agent pulls: the report, then the ruling naming it
    pulled = TestClient(console).get("/v1/halls/test/faults?after=0", headers=auth(TOKEN))
    kinds = [(f["kind"], f.get("fault_ref"), f.get("verdict")) for f in pulled.json()["faults"]]
    assert kinds == [("report", None, None), ("ruling", "center-1", "not_device_fault")]
    actions = [e["action"] for e in AuditLog(store.redis).recent({HALL})]
    assert actions[:2] == ["ruling", "fault"]


def test_counted_time_is_working_time_to_the_pads_return() -> None:
    config = parse_config('[hall]\nid = "test"\n')
    calendar = WorkCalendar(config.calendar, config.tz)
    noon = to_us(datetime(2026, 3, 2, 11, 30, tzinfo=config.tz))
    # 11:30 to 14:30 over the lunch break: 12:00-13:00 is not working time (RULES §4)
    end = to_us(datetime(2026, 3, 2, 14, 30, tzinfo=config.tz))
    worked = working_seconds(calendar, noon, end)
    assert worked == 30 * 60 + (end - to_us(datetime(2026, 3, 2, 13, 0, tzinfo=config.tz))
                                ) // 1_000_000
    friday = to_us(datetime(2026, 3, 6, 17, 0, tzinfo=config.tz))
    monday = to_us(datetime(2026, 3, 9, 9, 0, tzinfo=config.tz))
    assert working_seconds(calendar, friday, monday) == working_seconds(
        calendar, friday, to_us(datetime(2026, 3, 7, 0, 0, tzinfo=config.tz))) + \
        working_seconds(calendar, to_us(datetime(2026, 3, 9, 0, 0, tzinfo=config.tz)), monday)


def test_a_refused_ruling_says_why_and_stores_nothing(console: Starlette, store: Store) -> None:
    b = browser(console, "tech")
    assert _file(b) == 303
    before = store.faults(HALL, 0, 100)
    cases = [({"device": "A01-pad", "ref": "center-9", "verdict": "device_fault"}, 404, "ref"),
             ({"device": "A01-pad", "ref": "center-1", "verdict": "maybe"}, 422, "verdict"),
             ({"device": "A01-pad", "ref": "center-1", "verdict": "device_fault",
               "note": "x" * 501}, 422, "note"),
             ({"device": "A01 pad", "ref": "center-1", "verdict": "device_fault"}, 422,
              "device")]
    for fields, status, named in cases:
        r = b.post(f"{REPAIRS}/rulings", {"csrf": b.csrf, **fields})
        assert r.status_code == status, fields
        assert named in r.text and 'role="alert"' in r.text
    r = b.post(f"{REPAIRS}/rulings", {"device": "A01-pad", "ref": "center-1",
                                      "verdict": "device_fault"})
    assert r.status_code == 403  # no CSRF token
    assert store.faults(HALL, 0, 100) == before


def test_only_the_it_department_rules_or_files(console: Starlette, store: Store) -> None:
    tech = browser(console, "tech")
    assert _file(tech) == 303
    before = store.faults(HALL, 0, 100)
    for name in ("boss", "prov", "s1", "otherboss"):
        b = browser(console, name)
        r = b.post(f"{REPAIRS}/rulings", {"csrf": b.csrf, "device": "A01-pad",
                                          "ref": "center-1", "verdict": "device_fault"})
        assert r.status_code == 403, name
        assert _file(b) == 403, name
    boss = browser(console, "boss").get(REPAIRS).text  # a manager reads the queue
    assert "center-1" in boss and 'class="ruling"' not in boss
    assert store.faults(HALL, 0, 100) == before


def test_a_record_covers_the_outages_that_name_it_else_its_devices() -> None:
    named = {"seq": 5, "device": "P-A01", "faults": [{"ref": "center-2", "source": "staff",
                                                      "status": "unverified"}]}
    other = {"seq": 6, "device": "P-A01", "faults": [{"ref": "P-A01-20260302091500",
                                                      "source": "staff",
                                                      "status": "unverified"}]}
    unnamed = {"seq": 7, "device": "P-A01", "faults": [{"ref": None, "source": "staff",
                                                        "status": "unverified"}]}
    elsewhere = {"seq": 8, "device": "P-A02", "faults": []}
    outages = [named, other, unnamed, elsewhere]
    assert covered_by({"ref": "center-2", "device": "P-A01"}, outages) == [named, unnamed]
    assert covered_by({"ref": "P-A01-20260302091500", "device": "P-A01"}, outages) == [
        other, unnamed]
    assert covered_by({"ref": "center-9", "device": "P-A02"}, outages) == [elsewhere]
