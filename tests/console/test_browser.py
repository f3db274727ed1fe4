"""The console in a real browser (Playwright driving Debian's /usr/bin/chromium) against a
real center (uvicorn on a free port) storing into a real redis-server: each role logs in
through the form, sees what it may and is refused what it may not, the IT department rules
on a repair record, a manager closes a follow-up and reads the audit log, everyone logs out.
Screenshots are kept in tests/artifacts/console-*.png for people to look at."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server_stub.accounts import Accounts
from server_stub.config import CenterSettings
from tests.center.fixtures import HALL, TOKEN, record_day
from tests.console.fixtures import EVENTS, PASSWORD, PEOPLE, TEST_KDF
from tests.console.live import Center, log_in, log_out, shot, status_of
from tests.redis_server import RedisServer

MONTH = "/halls/test/months/2026-03"
RED = "rgb(164, 38, 44)"  # --bad in the console's stylesheet


@pytest.fixture
def center(redis_server: RedisServer, settings: CenterSettings, tmp_path: Path
           ) -> Iterator[Center]:
    live = Center(settings, redis_server.url)
    accounts = Accounts(live.client, TEST_KDF)
    for name, (role, halls, staff) in PEOPLE.items():
        accounts.add(name, role, halls, staff, PASSWORD, set(settings.halls))
    live.store.append(HALL, "pi-test", record_day(tmp_path / "day.sqlite", EVENTS))
    live.start()
    yield live
    live.stop()


def test_each_role_in_a_real_browser(center: Center, chromium: Any) -> None:
    # a repair request phoned in and filed with the hall's token (source "staff")
    conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)
    conn.request("POST", f"/v1/halls/{HALL}/faults", json.dumps(
        {"device": "A01-pad", "active": True, "t": "2026-03-02T10:05:00+08:00",
         "reason": "评价器黑屏"}), {"Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().status == 201
    conn.close()

    # a wrong password: the form again, with the reason and the lockout rule
    page = log_in(chromium, center, "boss", "not the password")
    assert page.url.endswith("/login")
    assert "用户名或密码错误" in page.inner_text("p.error")
    assert "15 分钟" in page.inner_text("main")
    shot(page, "login-refused")

    # the manager: overview of hall test only, month, a counter, follow-up, audit
    page = log_in(chromium, center, "boss")
    p = page
    assert p.url == f"{center.url}/"
    assert p.locator("section.hall").count() == 1
    assert p.get_attribute("section.hall", "data-hall") == "test"
    assert p.inner_text("tr[data-counter=A01] td:nth-child(3)") == "3"  # ratings today
    shot(p, "overview")
    p.click("text=月报")
    assert p.url.endswith(MONTH)
    assert p.locator("section[data-scope=counters] tr[data-id]").count() == 3
    assert "<img src=x onerror=alert(1)>" in p.inner_text("section[data-scope=staff]")
    assert p.locator("img").count() == 0
    shot(p, "month")
    p.click("section[data-scope=counters] a:text-is('A01')")
    assert p.url.endswith(f"{MONTH}/counters/A01")
    rows = p.locator("table.evidence tr[data-seq]")
    assert rows.count() == 3
    assert p.get_attribute("tr[data-seq='10']", "data-status") in ("deducted", "exempt")
    assert "device_down" in p.inner_text("tr[data-seq='10']")  # the journal record itself
    shot(p, "counter")
    p.goto(f"{center.url}/halls/test/followups?month=2026-03")
    case = p.locator("tr[data-case='9']")
    assert case.get_attribute("class") == "overdue"
    assert case.locator("td.due").evaluate("e => getComputedStyle(e).color") == RED
    shot(p, "followup-open")
    case.locator("input[name=contacted]").check()
    case.locator("select[name=outcome]").select_option("resolved")
    case.locator("input[name=note]").fill("已电话回访 <script>alert(1)</script>")
    case.locator("button[value=close]").click()
    case = p.locator("tr[data-case='9']")
    assert case.get_attribute("class") == "closed"
    assert "<script>alert(1)</script>" in case.inner_text()
    shot(p, "followup-closed")
    assert status_of(p, "/halls/other/months/2026-03", center) == 403
    assert "无权查看大厅" in p.inner_text("main")
    assert status_of(p, "/halls/nowhere/months/2026-03", center) == 404
    p.goto(f"{center.url}/audit")
    actions = p.locator("table.audit tr[data-action]")
    seen = {actions.nth(i).get_attribute("data-action") for i in range(actions.count())}
    assert {"login", "login_failed", "followup"} <= seen
    shot(p, "audit")
    log_out(p, center, MONTH)

    # the IT department: the repair queue only; rules the phoned-in record a device fault
    it = log_in(chromium, center, "tech")
    assert it.url == f"{center.url}/"
    assert it.locator("text=月报").count() == 0
    assert it.locator("tr[data-counter]").count() == 0  # no counters' figures either
    it.click("text=报修处理")
    record = it.locator("tr[data-ref='center-1']")
    assert record.get_attribute("data-status") == "unverified"
    assert record.locator("li[data-seq='10']").count() == 1  # the outage it covers
    shot(it, "repairs-before")
    record.locator("input[name=note]").fill("现场检查：电源模块损坏")
    record.locator("button[value=device_fault]").click()
    record = it.locator("tr[data-ref='center-1']")
    assert record.get_attribute("data-status") == "verified"
    assert "电源模块损坏" in record.inner_text()
    shot(it, "repairs-ruled")
    (stored,) = center.store.fault_records(HALL)
    assert [(r["verdict"], r["filed_by"]) for r in stored["rulings"]] == [("device_fault",
                                                                          "tech")]
    assert status_of(it, MONTH, center) == 403
    log_out(it, center, MONTH)

    # a staff member: their own page only
    staff = log_in(chromium, center, "s1")
    assert staff.url.endswith(f"{MONTH}/staff/S1")
    assert staff.locator("tr[data-seq]").count() >= 1
    shot(staff, "staff")
    assert status_of(staff, f"{MONTH}/staff/S2", center) == 403
    assert status_of(staff, MONTH, center) == 403
    log_out(staff, center, MONTH)

    # the province's viewer: every hall's reports, no follow-up
    viewer = log_in(chromium, center, "prov")
    halls = viewer.locator("section.hall")
    assert {halls.nth(i).get_attribute("data-hall") for i in range(halls.count())} == {
        "test", "other"}
    assert status_of(viewer, "/halls/other/months/2026-03", center) == 200
    assert status_of(viewer, "/halls/test/followups", center) == 403
    log_out(viewer, center, MONTH)
