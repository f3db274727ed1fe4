"""From the center to the agent and back, with the console in a real browser: a pad goes
down at the hall's agent (its real core on a real journal, with a manual clock, and its real
outbox), a repair record logged at the center is pulled and journaled by the agent, the
month page shows the outage pending, the IT department rules on the record in the console,
and once the agent has journaled the ruling the month page shows the outage exempt. The
center's clock is the agent's."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.journal import open_for_reading, read_records
from edge_agent.outbox import Outbox
from edge_agent.records import FaultRecord
from edge_agent.service.clock import ManualClock
from edge_agent.service.inputs import SerialBytes
from edge_agent.service_config import CenterConfig
from server_stub.accounts import Accounts
from server_stub.config import load_center_config, token_digest
from tests.console.fixtures import PASSWORD, TEST_KDF
from tests.console.live import Center, log_in, log_out, shot
from tests.outbox.fixtures import drive
from tests.outbox.simclock import SimClock
from tests.redis_server import RedisServer
from tests.service.core_kit import HALL, MONDAY_9, Pad, make_core

HALL_ID = "test-hall"  # tests/service/core_kit.py's hall
TOKEN = "agent-token-chain-0001"
COUNTER_PAGE = f"/halls/{HALL_ID}/months/2026-11/counters/A01"


@pytest.fixture
def hall_center(tmp_path: Path, redis_server: RedisServer) -> Iterator[tuple[Center,
                                                                               ManualClock]]:
    folder = tmp_path / "center"
    folder.mkdir()
    (folder / "hall.toml").write_text(HALL, encoding="utf-8")
    (folder / "center.toml").write_text(
        f'[halls.{HALL_ID}]\ntoken_sha256 = "{token_digest(TOKEN)}"\nconfig = "hall.toml"\n'
        'region_code = "310118"\n', encoding="utf-8")
    clock = ManualClock(MONDAY_9)
    center = Center(load_center_config(folder / "center.toml"), redis_server.url,
                    lambda: clock.now_us() / 1e6)
    accounts = Accounts(center.client, TEST_KDF)
    accounts.add("tech", "it", [HALL_ID], None, PASSWORD, {HALL_ID})
    accounts.add("boss", "manager", [HALL_ID], None, PASSWORD, {HALL_ID})
    center.start()
    yield center, clock
    center.stop()


def _records(path: Path) -> int:
    db = open_for_reading(path)
    try:
        return sum(1 for _ in read_records(db))
    finally:
        db.close()


def _journaled(path: Path) -> list[dict[str, Any]]:
    db = open_for_reading(path)
    try:
        return [json.loads(r.event) for r in read_records(db) if r.kind == "event"]
    finally:
        db.close()


def _file_by_phone(center: Center, when: str) -> None:
    """A repair request phoned in and logged at the center with the hall's token."""
    conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)
    conn.request("POST", f"/v1/halls/{HALL_ID}/faults", json.dumps(
        {"device": "A01-pad", "active": True, "t": when, "reason": "评价器黑屏"}),
        {"Authorization": f"Bearer {TOKEN}"})
    assert conn.getresponse().status == 201
    conn.close()


def test_a_ruling_in_the_console_makes_the_pending_outage_exempt_through_the_agent(
        hall_center: tuple[Center, ManualClock], chromium: Any, tmp_path: Path) -> None:
    """RULES v2 §3: a reported outage is deducted until the IT department rules. The agent
    journals the repair record it pulls, the month page shows the outage pending; the IT
    department rules device_fault in the console; the agent pulls the ruling and journals it
    as fault_verified; the month page shows the outage exempt."""
    center, clock = hall_center
    journal = tmp_path / "journal.sqlite"
    core = make_core(journal, clock)
    sim = SimClock(MONDAY_9 / 1e6)
    outbox = Outbox(journal, HALL_ID, "chain-agent", CenterConfig(url=center.url, token=TOKEN),
                    core.inbox, sim)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us())])
    clock.advance(31)  # silent past device_timeout_s (30 s): the pad is down
    core.step([])
    assert ("device_down", "A01-pad") in [(e["type"], e.get("device"))
                                          for e in _journaled(journal)]
    drive(outbox, sim)
    assert center.store.head(HALL_ID).seq == _records(journal)
    _file_by_phone(center, "2026-11-23T09:01:00+08:00")

    sim.advance(outbox.fault_poll_s)  # the outbox asks for fault records this often
    drive(outbox, sim)  # the agent pulls the record onto its core's inbox ...
    items = []
    while not core.inbox.empty():
        items.append(core.inbox.get_nowait())
    assert [(i.device, i.active, i.ref) for i in items if isinstance(i, FaultRecord)] == [
        ("A01-pad", True, "1")]
    clock.advance(1)
    core.step(items)  # ... journals it ...
    reports = [e for e in _journaled(journal) if e["type"] == "fault_report"]
    assert [(e["device"], e["reason"]) for e in reports] == [("A01-pad", "center:1: 评价器黑屏")]
    drive(outbox, sim)  # ... and sends the journal up
    assert center.store.head(HALL_ID).seq == _records(journal)

    boss = log_in(chromium, center, "boss")
    boss.goto(f"{center.url}{COUNTER_PAGE}")
    outage = boss.locator("table.evidence tr[data-seq]")
    assert outage.count() == 1
    assert outage.get_attribute("data-status") == "pending"  # deducted until IT rules
    assert "评价器离线" in outage.inner_text() and "device_down" in outage.inner_text()
    shot(boss, "chain-pending")
    log_out(boss, center)

    it = log_in(chromium, center, "tech")
    it.goto(f"{center.url}/halls/{HALL_ID}/repairs")
    record = it.locator("tr[data-ref='center-1']")
    assert record.get_attribute("data-status") == "unverified"
    assert record.locator("li[data-status=pending]").count() == 1  # the outage it covers
    record.locator("input[name=note]").fill("现场检查：电源模块损坏")
    record.locator("button[value=device_fault]").click()
    assert it.get_attribute("tr[data-ref='center-1']", "data-status") == "verified"
    shot(it, "chain-ruled")
    log_out(it, center)
    pulled = [(f["kind"], f.get("fault_ref"), f.get("verdict"))
              for f in center.store.faults(HALL_ID, 0, 10)]
    assert pulled == [("report", None, None), ("ruling", "center-1", "device_fault")]

    sim.advance(outbox.fault_poll_s)
    drive(outbox, sim)  # the agent pulls the ruling ...
    items = []
    while not core.inbox.empty():
        items.append(core.inbox.get_nowait())
    clock.advance(1)
    core.step(items)  # ... journals it as fault_verified ...
    verified = [e for e in _journaled(journal) if e["type"] == "fault_verified"]
    assert [(e["device"], e["ref"], e["verdict"]) for e in verified] == [
        ("A01-pad", "center-1", "device_fault")]
    drive(outbox, sim)  # ... and sends it up: the month page now shows the outage exempt
    boss = log_in(chromium, center, "boss")
    boss.goto(f"{center.url}{COUNTER_PAGE}")
    outage = boss.locator("table.evidence tr[data-seq]")
    assert outage.count() == 1
    assert outage.get_attribute("data-status") == "exempt"
    assert boss.inner_text("dd[data-figure=penalties]") == "0.00"  # nothing deducted
    shot(boss, "chain-exempt")
    outbox.stop()
    core.journal.close()
