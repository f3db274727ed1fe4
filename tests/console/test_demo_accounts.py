"""The simulated hall's console: accounts made with the user command on its center's Redis
log in through the form (tools/demo prints them), and the simulated IT department rules
through the console's pages and forms (tools/simhall/it_department.py, `console` set)."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from server_stub.app import create_app
from server_stub.config import load_center_config
from server_stub.faults import parse_fault
from server_stub.store import Store
from tests.center.fixtures import HALL, write_center
from tests.console.fixtures import csrf_of
from tests.console.live import Center
from tests.redis_server import RedisServer
from tools.simhall.center import CenterError, add_console_user
from tools.simhall.it_department import ItDepartment

PASSWORD = "a password for the demo"


def test_accounts_made_with_the_user_command_log_in(tmp_path: Path,
                                                    redis_server: RedisServer) -> None:
    center_toml = write_center(tmp_path / "center")
    for name, role in (("manager", "manager"), ("it", "it")):
        add_console_user(center_toml, redis_server.url, name, role, HALL, PASSWORD)
    try:
        add_console_user(center_toml, redis_server.url, "it", "it", HALL, PASSWORD)
        raise AssertionError("a second 'it' account was made")
    except CenterError as exc:
        assert "exists already" in str(exc)
    with redis_server.client() as client:
        app = create_app(load_center_config(center_toml), Store(client))
        for name, role in (("manager", "manager"), ("it", "it")):
            c = TestClient(app)
            form = c.get("/login")
            r = c.post("/login", data={"username": name, "password": PASSWORD,
                                       "csrf": csrf_of(form.text)}, follow_redirects=False)
            assert r.status_code == 303, name
            page = c.get("/").text
            assert 'data-hall="test"' in page and 'data-hall="other"' not in page
            assert ("/halls/test/followups" in page) == (role == "manager")


def test_the_simulated_it_department_rules_through_the_console(
        tmp_path: Path, redis_server: RedisServer) -> None:
    center_toml = write_center(tmp_path / "center")
    add_console_user(center_toml, redis_server.url, "it", "it", HALL, PASSWORD)
    live = Center(load_center_config(center_toml), redis_server.url)
    live.start()
    try:
        t_us = live.store.add_fault(HALL, parse_fault(
            b'{"device": "A01-pad", "active": true, "t": "2026-03-02T10:05:00+08:00", '
            b'"reason": "fault key"}', "hall test's agent", "staff"))
        assert t_us == 1
        it = ItDepartment("127.0.0.1", live.port, HALL, token="unused", patience_s=30)
        it.console = ("it", PASSWORD)
        it.rule("A01-pad", "device_fault", 1_772_417_000_000_000, note="simulated")
        assert it.finish(60), it.failed
        (ruling,) = it.done
        assert (ruling.device, ruling.ref, ruling.verdict) == ("A01-pad", "center-1",
                                                               "device_fault")
        (record,) = live.store.fault_records(HALL)
        assert record["status"] == "verified"
        assert [r["filed_by"] for r in record["rulings"]] == ["it"]  # the console's user
        bad = ItDepartment("127.0.0.1", live.port, HALL, token="unused", patience_s=5)
        bad.console = ("it", "not the password")
        started = time.monotonic()
        bad.rule("A01-pad", "device_fault", 0)
        assert not bad.finish(30)
        assert "401" in bad.failed[0][1] and time.monotonic() - started < 30
    finally:
        live.stop()
