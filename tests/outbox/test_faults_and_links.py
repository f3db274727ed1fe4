"""Fault records pulled from the center onto the core's inbox, once; HTTPS with the
hall's CA file; a center body limit smaller than a batch."""

from __future__ import annotations

import http.client
import json
import queue
import subprocess
from pathlib import Path
from typing import Any

import pytest

from edge_agent.journal import Entry, Journal
from edge_agent.records import FaultRecord, fault_reason
from edge_agent.service.inputs import Item
from server_stub.config import load_center_config
from tests.center.fixtures import HALL, IT_TOKEN, VIEWER_TOKEN, write_center
from tests.center.live import LiveCenter
from tests.outbox.fixtures import START, assert_center_equals_journal, drive, make_outbox
from tests.outbox.proxy import FaultProxy
from tests.outbox.simclock import SimClock
from tests.redis_server import RedisServer


def _post(center: LiveCenter, what: str, body: dict[str, object], token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)
    conn.request("POST", f"/v1/halls/{HALL}/{what}", json.dumps(body),
                 {"Authorization": f"Bearer {token}"})
    reply = conn.getresponse()
    answer = json.loads(reply.read())
    conn.close()
    assert reply.status == 201, answer
    ref: int = answer["ref"]
    return ref


def _file_fault(center: LiveCenter, device: str, active: bool, reason: str,
                token: str = VIEWER_TOKEN) -> int:
    body = {"device": device, "active": active, "t": "2026-03-02T10:05:00+08:00",
            "reason": reason}
    return _post(center, "faults", body, token)


def _drain(inbox: queue.Queue[Item]) -> list[Item]:
    items = []
    while not inbox.empty():
        items.append(inbox.get_nowait())
    return items


def test_fault_records_reach_the_inbox_once_and_again_only_if_not_journaled(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    assert _file_fault(center, "A01-pad", True, "屏幕不亮") == 1
    assert _file_fault(center, "A02-pad", True, "按键失灵") == 2
    inbox: queue.Queue[Item] = queue.Queue()
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock, inbox=inbox)
    drive(outbox, clock)
    first, second = _drain(inbox)
    assert first == FaultRecord("A01-pad", True, 1_772_417_100_000_000, "屏幕不亮", "1",
                                "report", "staff")
    assert isinstance(second, FaultRecord) and second.ref == "2"
    clock.advance(3600)
    outbox.step()
    assert _drain(inbox) == []  # handed over already
    with Journal(journal) as core:  # the core journals the first one, not (yet) the second
        core.append_many([Entry(first.t_us, "event",  # as the live core journals it
                                {"t": "2026-03-02T10:05:00+08:00", "type": "fault_report",
                                 "counter": "A01", "device": "A01-pad",
                                 "reason": fault_reason(first)}, {})])
    outbox.stop()
    restarted = make_outbox(journal, proxy.url, clock, inbox=inbox)
    drive(restarted, clock)
    assert _drain(inbox) == [second]
    assert _file_fault(center, "A01-pad", False, "修好了") == 3
    clock.advance(3600)
    restarted.step()
    cleared = _drain(inbox)
    assert [(i.ref, i.active) for i in cleared if isinstance(i, FaultRecord)] == [("3", False)]
    assert_center_equals_journal(center, journal)  # the fault_report record went up too
    restarted.stop()


def _applied(item: FaultRecord, fields: dict[str, Any], written: str) -> dict[str, Any]:
    """A journaled fault event as the core writes it now (the entry in ``center_entry``) or
    wrote it before that field (the entry only in the reason: such journals still load)."""
    event = {"t": "2026-03-02T10:05:00+08:00", "counter": "A01", "device": "A01-pad",
             **fields}
    if written == "field":
        return {**event, "center_entry": int(item.ref), "reason": item.reason}
    return {**event, "reason": fault_reason(item)}


@pytest.mark.parametrize("written", ["field", "reason (older journals)"])
def test_rulings_come_in_the_same_list_and_are_handed_over_once_across_a_restart(
        center: LiveCenter, journal: Path, written: str) -> None:
    """Reports, clears and the IT department's rulings come in filing order; a ruling
    journaled as fault_verified (its center_entry; in older journals its reason
    "center:N: ...") is not handed over again after a restart, one not journaled is."""
    assert _file_fault(center, "A01-pad", True, "屏幕不亮", token=IT_TOKEN) == 1
    assert _post(center, "rulings", {"device": "A01-pad", "ref": "center-1",
                                     "verdict": "not_device_fault", "note": "人为关机"},
                 IT_TOKEN) == 2
    assert _post(center, "rulings", {"device": "A01-pad", "ref": "center-1",
                                     "verdict": "device_fault"}, IT_TOKEN) == 3
    inbox: queue.Queue[Item] = queue.Queue()
    clock = SimClock(START)
    outbox = make_outbox(journal, center.url, clock, inbox=inbox)
    drive(outbox, clock)
    report, first, second = _drain(inbox)
    assert isinstance(report, FaultRecord) and isinstance(first, FaultRecord)
    assert (report.entry_kind, report.source, report.ref) == ("report", "it", "1")
    assert (first.entry_kind, first.ref, first.fault_ref, first.verdict, first.reason) == (
        "ruling", "2", "center-1", "not_device_fault", "人为关机")
    assert isinstance(second, FaultRecord) and second.verdict == "device_fault"
    with Journal(journal) as core:  # the core journals the report and the first ruling
        core.append_many([
            Entry(report.t_us, "event", _applied(report, {
                "type": "fault_report", "source": "it", "ref": "center-1"}, written), {}),
            Entry(report.t_us, "event", _applied(first, {
                "type": "fault_verified", "ref": "center-1", "verdict": "not_device_fault"},
                written), {})])
    outbox.stop()
    restarted = make_outbox(journal, center.url, clock, inbox=inbox)
    drive(restarted, clock)
    assert _drain(inbox) == [second]
    restarted.stop()


def test_https_with_the_halls_ca_file(tmp_path: Path, redis_server: RedisServer,
                                      journal: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    settings = load_center_config(write_center(tmp_path / "center"))
    center = LiveCenter(settings, redis_server.url, ssl=(cert, key))
    center.start()
    try:
        url = f"https://127.0.0.1:{center.port}"
        clock = SimClock(START)
        untrusted = make_outbox(journal, url, clock)
        untrusted.step()
        assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.status()["last_error"])
        untrusted.stop()
        outbox = make_outbox(journal, url, clock, ca_file=str(cert))
        drive(outbox, clock)
        assert_center_equals_journal(center, journal)
        outbox.stop()
    finally:
        center.stop()


def test_batches_shrink_when_the_center_finds_them_too_large(
        tmp_path: Path, redis_server: RedisServer, journal: Path) -> None:
    settings = load_center_config(write_center(tmp_path / "center",
                                               "[server]\nmax_body_bytes = 60000\n"))
    center = LiveCenter(settings, redis_server.url)
    center.start()
    try:
        clock = SimClock(START)
        outbox = make_outbox(journal, center.url, clock, batch=1000)
        drive(outbox, clock)
        assert outbox.batch < 1000  # halved until a batch fits
        assert_center_equals_journal(center, journal)
        outbox.stop()
    finally:
        center.stop()
