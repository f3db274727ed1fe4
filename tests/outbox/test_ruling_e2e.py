"""The live path of a ruling, end to end (RULES.md §3 "Device faults: reported, then verified";
004 §17(二)1): a pad goes down in working hours, staff press the keypad's fault key, and the
status page shows the outage pending (待核实); the IT department rules at the center (the
real center, uvicorn on a real redis-server) on the report the center learnt from the
journal; the agent's outbox pulls the ruling, the core journals it as fault_verified, and
the status page, the center's month report and the agent's `report --journal` all show the
outage exempt (device_fault: 已查实) or deducted (not_device_fault: 非设备故障).

The agent is the real core (tests/service/core_kit.py: a real journal file, a manual clock)
with the real outbox driven step by step, so each hop is seen in order.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import parse_config
from edge_agent.journal import open_for_reading, read_records
from edge_agent.outbox import Outbox
from edge_agent.service.clock import ManualClock
from edge_agent.service.core import Core
from edge_agent.service.inputs import BadgeRead, KeyAction, SerialBytes
from edge_agent.service.status_cli import render
from edge_agent.service.status_http import StatusServer
from edge_agent.service_config import CenterConfig
from server_stub.config import load_center_config
from tests.center.live import LiveCenter
from tests.redis_server import RedisServer
from tests.service.core_kit import HALL, MONDAY_9, Pad, make_core
from tests.service.test_status_page import chromium_command

ROOT = Path(__file__).resolve().parents[2]
HALL_ID = "test-hall"
AGENT_TOKEN, IT_TOKEN = "agent-token-e2e-0001", "it-token-e2e-0002"
MONTH = "2026-11"


@dataclass
class Rig:
    core: Core
    clock: ManualClock
    outbox: Outbox
    center: LiveCenter
    config: Path
    journal: Path

    def agent_step(self, items: list[Any] | None = None) -> None:
        self.core.step(items or [])
        self.core.publish_status()

    def sync(self) -> None:
        """One outbox round (journal up, fault records and rulings down), then the core
        takes what the outbox put on its inbox."""
        self.outbox.step()
        items = []
        while not self.core.inbox.empty():
            items.append(self.core.inbox.get_nowait())
        self.agent_step(items)
        self.outbox.step()  # what the core journaled goes up too

    def center_call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    token: str = IT_TOKEN) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.center.port, timeout=10)
        try:
            conn.request(method, f"/v1/halls/{HALL_ID}{path}",
                         None if body is None else json.dumps(body),
                         {"Authorization": f"Bearer {token}"})
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            conn.close()

    def pad(self) -> dict[str, Any]:
        counter = next(c for c in self.core.status["counters"] if c["id"] == "A01")
        return next(d for d in counter["devices"] if d["id"] == "A01-pad")

    def outage(self) -> dict[str, Any]:
        counter = next(c for c in self.core.status["counters"] if c["id"] == "A01")
        return next(i for i in counter["incidents"] if i["kind"] == "device_offline")

    def journaled(self, kind: str) -> list[dict[str, Any]]:
        db = open_for_reading(self.journal)
        try:
            return [r.event_dict() for r in read_records(db)
                    if r.kind == "event" and r.event_dict()["type"] == kind]
        finally:
            db.close()

    def agent_report(self) -> dict[str, Any]:
        proc = subprocess.run([sys.executable, "-m", "edge_agent", "report", "--journal",
                               str(self.journal), "--config", str(self.config), "--month",
                               MONTH, "--format", "json"], cwd=ROOT, capture_output=True,
                              text=True, check=True)
        doc: dict[str, Any] = json.loads(proc.stdout)
        return doc

    def center_report(self) -> dict[str, Any]:
        status, doc = self.center_call("GET", f"/months/{MONTH}/report.json",
                                       token=AGENT_TOKEN)
        assert status == 200, doc
        return dict(doc)


@pytest.fixture
def rig(tmp_path: Path, redis_server: RedisServer) -> Iterator[Rig]:
    config = tmp_path / "hall.toml"
    config.write_text(HALL)
    digest = {t: hashlib.sha256(t.encode()).hexdigest() for t in (AGENT_TOKEN, IT_TOKEN)}
    (tmp_path / "center.toml").write_text(
        f'[halls.{HALL_ID}]\ntoken_sha256 = "{digest[AGENT_TOKEN]}"\n'
        f'it_token_sha256 = "{digest[IT_TOKEN]}"\nconfig = "hall.toml"\n'
        'region_code = "310118"\n')
    center = LiveCenter(load_center_config(tmp_path / "center.toml"), redis_server.url)
    center.start()
    clock = ManualClock(MONDAY_9)
    journal = tmp_path / "journal.sqlite"
    core = make_core(journal, clock, parse_config(HALL))
    outbox = Outbox(journal, HALL_ID, "e2e-agent", CenterConfig(url=center.url,
                                                                 token=AGENT_TOKEN),
                    inbox=core.inbox, fault_poll_s=0.0)
    core.outbox = outbox
    try:
        yield Rig(core, clock, outbox, center, config, journal)
    finally:
        outbox.stop()
        core.journal.close()
        center.stop()


def pad_down_and_reported(rig: Rig) -> str:
    """S01 at A01 from 09:00; the pad is heard, then silent until it is down (09:01);
    staff press the fault key at 09:05. The repair record's ref, as the agent assigned it."""
    pad = Pad()
    rig.agent_step([BadgeRead("A01-badge", "1001", rig.clock.now_us()),
                    SerialBytes("/dev/ttyPAD", pad.heartbeat(), rig.clock.now_us())])
    rig.clock.advance(60)
    rig.agent_step()
    assert rig.pad()["online"] is False
    rig.clock.advance(240)
    rig.agent_step([KeyAction("A01-keypad", "fault", rig.clock.now_us())])
    [report] = rig.journaled("fault_report")
    assert (report["source"], report["ref"]) == ("staff", "A01-pad-20261123090500")
    return str(report["ref"])


def status_page_text(rig: Rig, tmp_path: Path) -> str:
    """The status page as a hall manager's browser shows it (headless Chromium)."""
    server = StatusServer("127.0.0.1:0", lambda: rig.core.status)
    server.start()
    try:
        host, port = server.address
        command = chromium_command(f"http://{host}:{port}/", tmp_path / "profile",
                                   "--virtual-time-budget=5000", "--dump-dom")
        return subprocess.run(command, capture_output=True, text=True, timeout=60,
                              check=True).stdout
    finally:
        server.stop()


@pytest.mark.parametrize(("verdict", "exempt", "label"), [
    ("device_fault", True, "已查实"), ("not_device_fault", False, "非设备故障")])
def test_a_ruling_at_the_center_reaches_the_agent_and_both_reports(
        rig: Rig, tmp_path: Path, verdict: str, exempt: bool, label: str) -> None:
    ref = pad_down_and_reported(rig)
    outage = rig.outage()
    assert outage["pending"] and not outage["exempt"]
    assert [(f["ref"], f["source"], f["status"]) for f in outage["faults"]] == [
        (ref, "staff", "unverified")]
    assert [(r["ref"], r["status"]) for r in rig.pad()["repairs"]] == [(ref, "unverified")]
    assert "待核实" in render(rig.core.status)
    assert "待核实 暂扣" in status_page_text(rig, tmp_path)

    rig.sync()  # the journal goes up; the center indexes the keypad's repair record
    status, repairs = rig.center_call("GET", "/repairs")
    assert status == 200
    assert [(r["device"], r["ref"], r["source"], r["status"]) for r in repairs["records"]] == [
        ("A01-pad", ref, "staff", "unverified")]
    status, ruled = rig.center_call("POST", "/rulings", {"device": "A01-pad", "ref": ref,
                                                         "verdict": verdict,
                                                         "note": "信息技术科 查实"})
    assert status == 201, ruled

    rig.clock.advance(600)
    rig.sync()  # the ruling comes down, is journaled, and goes up again
    [journaled] = rig.journaled("fault_verified")
    assert (journaled["device"], journaled["ref"], journaled["verdict"]) == (
        "A01-pad", ref, verdict)
    outage = rig.outage()
    assert (outage["exempt"], outage["pending"]) == (exempt, False)
    status = "verified" if exempt else "rejected"
    assert [f["status"] for f in outage["faults"]] == [status]
    assert [(r["ref"], r["status"]) for r in rig.pad()["repairs"]] == [(ref, status)]
    assert "待核实" not in render(rig.core.status)
    assert label in render(rig.core.status)
    assert label in status_page_text(rig, tmp_path)
    assert rig.outbox.status()["backlog"] == 0

    for report in (rig.agent_report(), rig.center_report()):
        [offline] = [d for d in report["counters"]["A01"]["deductions"]
                     if d["kind"] == "device_offline"]
        assert bool(offline["exempt_lines"]) == exempt
        assert bool(offline["lines"]) != exempt and offline["pending_lines"] == []
        assert [(o["status"], [(f["ref"], f["status"]) for f in o["faults"]])
                for o in offline["outages"]] == [
            ("exempt" if exempt else "deducted", [(ref, status)])]
    assert rig.agent_report() == rig.center_report()
