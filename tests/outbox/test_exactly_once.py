"""Exactly once: whatever fails between the agent's journal and the center, the center ends
with the journal's records, each once, record for record (seq, hash)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from edge_agent.journal import Journal, open_for_reading, read_records
from edge_agent.outbox import WallClock, batch_body
from tests.center.fixtures import AGENT, HALL, TOKEN
from tests.center.live import LiveCenter
from tests.outbox.fixtures import (
    START,
    assert_center_equals_journal,
    drive,
    journal_chain,
    make_outbox,
)
from tests.outbox.proxy import FaultProxy
from tests.outbox.simclock import SimClock
from tests.redis_server import RedisServer
from tools.bench_center import generate_journal

ROOT = Path(__file__).resolve().parents[2]


def test_a_journal_goes_over_in_batches_and_the_status_shows_it(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock, batch=400)
    total = len(journal_chain(journal))
    assert outbox.status() == {"url": proxy.url, "backlog": total, "confirmed_seq": 0,
                               "last_error": None, "last_ok": None, "state": "ok"}
    drive(outbox, clock)
    assert_center_equals_journal(center, journal)
    keys = proxy.batch_keys()
    assert keys[:2] == [f"{AGENT}:1-400", f"{AGENT}:401-800"] and len(keys) == -(-total // 400)
    status = outbox.status()
    assert (status["backlog"], status["confirmed_seq"], status["last_error"]) == (0, total, None)
    assert status["last_ok"] == "2026-03-01T21:20:00+00:00"  # the simulated clock's time
    outbox.stop()


@pytest.mark.parametrize("fault", ["duplicate", "stored-500", "drop", "500"])
def test_batches_duplicated_failed_or_lost_are_stored_once(
        center: LiveCenter, proxy: FaultProxy, journal: Path, fault: str) -> None:
    proxy.plan.extend([fault, "forward", fault, fault, "forward", fault])
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock)
    drive(outbox, clock)
    assert_center_equals_journal(center, journal)
    failures = {"duplicate": 0, "stored-500": 4, "drop": 4, "500": 4}[fault]
    assert len(proxy.batch_keys()) == -(-len(journal_chain(journal)) // 400) + failures
    outbox.stop()


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    proxy.plan.extend(["500"] * 12)
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock, retry_max_s=60)
    drive(outbox, clock)
    backoffs = [w for w in clock.waits if w > 0]
    assert len(backoffs) == 12
    # Full jitter: try n waits uniform(0, min(60, 2^n)); the ceilings are 2, 4, ... 60.
    assert all(0 <= w <= min(60, 2 ** n) for n, w in enumerate(backoffs, 1))
    assert max(backoffs[6:]) > 30  # the cap is reached, not just the first steps
    assert outbox.status()["last_error"] == "center answered 500: injected 500"
    assert_center_equals_journal(center, journal)
    outbox.stop()


def test_a_timeout_after_the_center_stored_the_batch(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    proxy.plan.extend(["forward", "stored-hang"])
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock, timeout_s=0.5)
    outbox.step()
    outbox.step()  # stored at the center, but the answer never comes
    assert outbox.status()["last_error"] == "center unreachable: TimeoutError: timed out"
    assert center.store is not None and center.store.head(HALL).seq == 800
    proxy.release()
    drive(outbox, clock)
    assert_center_equals_journal(center, journal)
    outbox.stop()


def test_the_center_restarts_mid_stream_and_a_batch_is_replayed_after(
        center: LiveCenter, proxy: FaultProxy, journal: Path,
        redis_server: RedisServer) -> None:
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock)
    for _ in range(3):
        outbox.step()
    center.stop()
    redis_server.restart()  # the AOF brings the stored records back
    assert outbox.step()[0] > 0 and "unreachable" in str(outbox.status()["last_error"])
    center.start()
    drive(outbox, clock)
    assert_center_equals_journal(center, journal)
    # The second batch sent again by hand after the restart: already there, nothing stored.
    db = open_for_reading(journal)
    rows = db.execute("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
                      "WHERE seq BETWEEN 401 AND 800").fetchall()
    db.close()
    conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=10)
    conn.request("POST", f"/v1/halls/{HALL}/batches", batch_body(AGENT, rows),
                 {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": f"{AGENT}:401-800"})
    answer = json.loads(conn.getresponse().read())
    conn.close()
    assert (answer["stored"], answer["already"]) == (0, 400)
    assert_center_equals_journal(center, journal)
    outbox.stop()


def test_the_agent_killed_between_send_and_confirm_then_restarted(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    proxy.plan.extend(["forward", "forward", "stored-hold"])
    argv = [sys.executable, "-m", "edge_agent.outbox", "--journal", str(journal), "--hall",
            HALL, "--agent", AGENT, "--url", proxy.url, "--token", TOKEN, "--batch", "400",
            "--until-idle"]
    first = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proxy.held.wait(30), "the third batch never reached the center"
        assert center.store is not None and center.store.head(HALL).seq == 1200
        os.kill(first.pid, signal.SIGKILL)  # the answer to the third batch never arrives
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    proxy.release()
    second = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=False)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["backlog"] == 0
    # The restarted outbox asked the center's head first: nothing was sent twice.
    assert proxy.batch_keys()[3] == f"{AGENT}:1201-1600"
    assert_center_equals_journal(center, journal)


def test_a_center_that_lost_records_gets_them_again(
        center: LiveCenter, proxy: FaultProxy, journal: Path,
        redis_server: RedisServer) -> None:
    """409: the center's head moved back (restored from an older backup); the outbox asks
    the head again and sends from there."""
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock)
    outbox.step()
    outbox.step()
    redis_server.client().flushall()
    outbox.step()
    assert outbox.status()["last_error"].startswith("center answered 409: the batch starts "
                                                    "at record 801")
    drive(outbox, clock)
    assert_center_equals_journal(center, journal)
    outbox.stop()


def test_a_rewritten_journal_is_refused_loudly_and_retried_slowly(
        center: LiveCenter, proxy: FaultProxy, journal: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    db = sqlite3.connect(journal, isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("UPDATE records SET outcome = '{}' WHERE seq = 950")
    db.close()
    clock = SimClock(START)
    outbox = make_outbox(journal, proxy.url, clock, retry_max_s=120)
    outbox.step()
    outbox.step()
    delay, _ = outbox.step()  # records 801..1200: 950 does not match its hash
    assert delay == 120
    status = outbox.status()
    assert status["state"] == "broken" and status["confirmed_seq"] == 800
    assert status["last_error"] == ("center answered 422: record 950: its content does not "
                                    "match its hash (the record was changed)")
    assert "REFUSED BY THE CENTER, a person must look" in caplog.text
    assert center.store is not None and center.store.head(HALL).seq == 800
    outbox.stop()


def test_a_journal_that_differs_from_the_centers_copy_is_not_sent(
        center: LiveCenter, proxy: FaultProxy, journal: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    generate_journal(other, 1000, days=1, hall=HALL, seed=99)
    clock = SimClock(START)
    outbox = make_outbox(other, proxy.url, clock)
    outbox.step()
    outbox.stop()
    outbox = make_outbox(journal, proxy.url, clock)
    assert outbox.step()[0] == 300
    assert "journal record 400 differs from the center's copy" in outbox.status()["last_error"]
    assert len(proxy.batch_keys()) == 1  # only the first journal's batch was ever sent
    outbox.stop()


def test_the_thread_sends_new_records_promptly_when_woken(
        center: LiveCenter, proxy: FaultProxy, journal: Path) -> None:
    clock = _IdleWatch()
    outbox = make_outbox(journal, proxy.url, clock, batch=1000)
    outbox.idle_s = 3600  # without wake() it would sit idle for an hour
    db = open_for_reading(journal)
    last = list(read_records(db))[-5:]
    db.close()
    with Journal(journal) as writer:  # the core: the journal's only writer
        outbox.start()
        try:
            _wait(lambda: outbox.status()["backlog"] == 0 and clock.idle.is_set())
            writer.append_rows([(r.t_us + 1, r.kind, r.event, r.outcome) for r in last])
            assert outbox.status()["backlog"] == 5
            outbox.wake()
            _wait(lambda: outbox.status()["backlog"] == 0)
        finally:
            outbox.stop()
    assert_center_equals_journal(center, journal)


class _IdleWatch(WallClock):
    """Wall time; ``idle`` is set while the outbox sits in an idle wait."""

    def __init__(self) -> None:
        self.idle = threading.Event()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if seconds < 3600:
            return super().wait(event, seconds)
        self.idle.set()
        try:
            return super().wait(event, seconds)
        finally:
            self.idle.clear()


def _wait(condition: Callable[[], bool], limit_s: float = 30.0) -> None:
    """Poll a condition (bounded): the test asserts what happens, not how fast."""
    end = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.01)
