"""A long outage of the center (simulated clock): the hall keeps journaling, the outbox backs
off up to its cap, then catches up the backlog. The center ends with the journal record for
record, and its month report equals the agent's own.

Two sizes: a day of a ~95-counter hall (about 7,000 records) in the suite, and the week of a
~640-counter hall (at least 350,000 records), which takes minutes, as a soak test
(`tools/long-tests`, marker `soak`)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_agent.journal import Journal, Record, open_for_reading, read_records
from server_stub.config import CenterSettings
from tests.center.fixtures import HALL, VIEWER_TOKEN
from tests.center.live import LiveCenter
from tests.outbox.fixtures import assert_center_equals_journal, drive, make_outbox
from tests.outbox.simclock import SimClock
from tests.redis_server import RedisServer
from tools.bench_center import generate_journal

RETRY_MAX_S = 300.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outage:
    days: int  # from Mon 2026-03-02
    records: int  # asked of the generator (it sizes the hall to make about this many)
    backlog: int  # records journaled while the center is down, at least
    counters: int  # the generated hall has more than this many counters


DAY = Outage(days=1, records=7_500, backlog=7_000, counters=70)
WEEK = Outage(days=7, records=355_000, backlog=350_000, counters=500)


@pytest.fixture(params=[pytest.param(DAY, id="day"),
                        pytest.param(WEEK, id="week", marks=pytest.mark.soak)])
def outage(request: pytest.FixtureRequest) -> Outage:
    value: Outage = request.param
    return value


@pytest.fixture
def records(tmp_path_factory: pytest.TempPathFactory, outage: Outage) -> Path:
    """What the hall journals over the outage's days."""
    path = tmp_path_factory.mktemp("records") / "source.sqlite"
    made = generate_journal(path, outage.records, days=outage.days, hall=HALL)
    assert made >= outage.backlog
    return path


class Hall:
    """The core, journaling the week's records as simulated time reaches them (an hour's
    records a commit), into the journal the outbox reads."""

    def __init__(self, source: Path, journal: Path) -> None:
        self._db = open_for_reading(source)
        self._records: Iterator[Record] = read_records(self._db)
        self._next: Record | None = next(self._records)
        self.writer = Journal(journal)
        self.writer.set_meta("hall", HALL)
        assert self._next is not None
        self.start = self._next.t_us / 1e6
        self._flushed_to = self.start

    def until(self, now: float) -> None:
        if now < self._flushed_to + 3600:
            return
        self._flushed_to = now
        rows = []
        while self._next is not None and self._next.t_us <= now * 1e6:
            r = self._next
            rows.append((r.t_us, r.kind, r.event, r.outcome))
            self._next = next(self._records, None)
        if rows:
            self.writer.append_rows(rows)

    def close(self) -> None:
        self.writer.close()
        self._db.close()


def test_a_long_outage_loses_nothing_and_counts_nothing_twice(
        tmp_path: Path, redis_server: RedisServer, center_settings: CenterSettings,
        outage: Outage, records: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    hall = Hall(records, journal)
    center = LiveCenter(center_settings, redis_server.url)  # down: nothing listens on its port
    clock = SimClock(hall.start, on_advance=hall.until)
    outbox = make_outbox(journal, center.url, clock, batch=1000, retry_max_s=RETRY_MAX_S)
    try:
        tries, backlog = 0, 0
        while clock.now < hall.start + outage.days * 86_400:
            delay, _ = outbox.step()
            tries += 1
            assert 0 < delay <= RETRY_MAX_S
            backlog = outbox.status()["backlog"]
            clock.advance(delay)
        status = outbox.status()
        assert str(status["last_error"]).startswith("center unreachable: ConnectionRefused")
        assert status["confirmed_seq"] == 0 and backlog >= outage.backlog
        # it backed off: fewer than one try a minute on average
        assert tries < outage.days * 86_400 / 60
        center.start()
        drive(outbox, clock)
        assert outbox.status()["state"] == "ok"
        assert_center_equals_journal(center, journal)
        assert outbox.status()["backlog"] == 0
    finally:
        outbox.stop()
        hall.close()
    agent = _agent_report(journal, center_settings)  # in its own process, meanwhile
    try:
        center_report = _center_report(center)
    finally:
        center.stop()
    out, err = agent.communicate(timeout=300)
    assert agent.returncode == 0, err
    agent_report = json.loads(out)
    assert len(agent_report["counters"]) > outage.counters
    assert len(agent_report["staff"]) > outage.counters
    assert center_report == agent_report  # every counter and staff member, every figure


def _center_report(center: LiveCenter) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", center.port, timeout=300)
    conn.request("GET", f"/v1/halls/{HALL}/months/2026-03/report.json",
                 headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    answer = conn.getresponse()
    assert answer.status == 200
    doc: dict[str, Any] = json.loads(answer.read())
    conn.close()
    return doc


def _agent_report(journal: Path, settings: CenterSettings) -> subprocess.Popen[str]:
    """`python -m edge_agent report --journal ... --format json`, as a person runs it."""
    config = settings.halls[HALL].config.base_dir / "test.toml"
    return subprocess.Popen([sys.executable, "-m", "edge_agent", "report", "--journal",
                             str(journal), "--config", str(config), "--month", "2026-03",
                             "--format", "json"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
