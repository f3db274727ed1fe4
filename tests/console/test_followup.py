"""Bad-rating follow-up: the cases (every accepted 不满意 / 非常不满意 rating), their due
dates by the hall's calendar, recording and closing one, and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date

from starlette.applications import Starlette

from edge_agent.config import parse_config
from edge_agent.rules.calendar import to_us
from server_stub.followup import due_date
from server_stub.store import Store
from tests.console.fixtures import browser

PAGE = "/halls/test/followups?month=2026-03"


def _us(day: date) -> int:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    return to_us(datetime.combine(day, time(15, 0), tzinfo=ZoneInfo("Asia/Shanghai")))


def test_due_dates_count_the_halls_working_days() -> None:
    config = parse_config('[hall]\nid = "test"\n[calendar]\nholidays = ["2026-04-06"]\n'
                          'workdays = ["2026-04-12"]\n[calendar.counter.B01]\n'
                          'weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]\n')
    monday = date(2026, 3, 2)
    assert due_date(config, "A01", _us(monday), 5) == date(2026, 3, 9)  # over a weekend
    assert due_date(config, "A01", _us(date(2026, 3, 7)), 1) == date(2026, 3, 9)  # a Saturday
    assert due_date(config, "B01", _us(monday), 5) == date(2026, 3, 7)  # works Saturdays
    # Friday 2026-04-03: the holiday Monday is skipped, the make-up Sunday counts
    assert due_date(config, "A01", _us(date(2026, 4, 3)), 2) == date(2026, 4, 8)
    assert due_date(config, "A01", _us(date(2026, 4, 9)), 2) == date(2026, 4, 12)


def test_cases_are_the_months_bad_ratings_and_close_once(console: Starlette,
                                                         store: Store) -> None:
    b = browser(console, "boss")
    page = b.get(PAGE).text
    assert page.count('data-case="') == 2  # 不满意 at A01 (record 9) and at A03
    assert '<tr class="overdue" data-case="9">' in page  # due 2026-03-09, long past
    assert "2026-03-09" in page and "T3" in page and "S1" in page
    r = b.post("/halls/test/followups/9", {"csrf": b.csrf, "month": "2026-03",
                                           "action": "close", "note": "n"})
    assert r.status_code == 422 and "outcome" in r.text  # closing needs an outcome
    r = b.post("/halls/test/followups/9", {"csrf": b.csrf, "month": "2026-03",
                                           "contacted": "yes", "outcome": "resolved",
                                           "note": "已电话回访，群众表示理解", "action": "close"})
    assert r.status_code == 303
    page = b.get(PAGE).text
    assert '<tr class="closed" data-case="9">' in page and "已电话回访" in page
    r = b.post("/halls/test/followups/9", {"csrf": b.csrf, "month": "2026-03",
                                           "outcome": "other", "action": "save"})
    assert r.status_code == 422 and "closed already" in r.text
    assert b.post("/halls/test/followups/4", {"csrf": b.csrf, "month": "2026-03",
                                              "outcome": "other"}).status_code == 404
    text = b.get("/halls/test/followups.csv?month=2026-03").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["case"], r["closed"], r["overdue"], r["outcome"]) for r in rows] == [
        ("9", "yes", "no", "已解决"), (rows[1]["case"], "no", "yes", "")]
    assert rows[0]["ticket"] == "T3" and rows[0]["due"] == "2026-03-09"
    assert rows[1]["staff"] == "<img src=x onerror=alert(1)>"  # a CSV cell, not HTML


def test_a_formula_in_a_note_is_not_run_by_a_spreadsheet(console: Starlette) -> None:
    b = browser(console, "boss")
    b.post("/halls/test/followups/9", {"csrf": b.csrf, "month": "2026-03",
                                       "outcome": "other", "note": "=HYPERLINK(\"x\")",
                                       "action": "save"})
    text = b.get("/halls/test/followups.csv?month=2026-03").content.decode("utf-8-sig")
    assert next(csv.DictReader(io.StringIO(text)))["note"] == "'=HYPERLINK(\"x\")"
