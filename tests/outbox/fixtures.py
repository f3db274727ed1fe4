"""An outbox's world for tests: a journal of a generated hall day, the center (uvicorn and a
real redis-server) and a fault-injecting proxy before it; helpers to drive and compare."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.journal import open_for_reading, read_records
from edge_agent.outbox import Outbox, RetryClock
from edge_agent.service.inputs import Inbox
from edge_agent.service_config import CenterConfig
from server_stub.config import CenterSettings, load_center_config
from server_stub.store import Store
from tests.center.fixtures import AGENT, HALL, TOKEN, write_center
from tests.center.live import LiveCenter
from tests.outbox.proxy import FaultProxy
from tests.outbox.simclock import SimClock
from tests.redis_server import RedisServer
from tools.bench_center import generate_journal

START = 1_772_400_000.0  # 2026-03-02 (simulated clocks start here)


@pytest.fixture
def center_settings(tmp_path: Path) -> CenterSettings:
    return load_center_config(write_center(tmp_path / "center"))


@pytest.fixture
def center(redis_server: RedisServer, center_settings: CenterSettings) -> Iterator[LiveCenter]:
    live = LiveCenter(center_settings, redis_server.url)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def proxy(center: LiveCenter) -> Iterator[FaultProxy]:
    p = FaultProxy(center.port).start()
    yield p
    p.stop()


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """About 3,000 records: a generated day of a 31-counter hall, journaled by the rules."""
    path = tmp_path / "journal.sqlite"
    generate_journal(path, 3000, days=1, hall=HALL)
    return path


def make_outbox(journal: Path, url: str, clock: RetryClock | None = None, *, batch: int = 400,
                timeout_s: float = 5.0, retry_max_s: float = 300.0,
                inbox: Inbox | None = None, ca_file: str = "") -> Outbox:
    center = CenterConfig(url=url, token=TOKEN, batch_records=batch, timeout_s=timeout_s,
                          retry_max_s=retry_max_s, ca_file=ca_file)
    return Outbox(journal, HALL, AGENT, center, inbox, clock or SimClock(START),
                  rng=random.Random(7))


def drive(outbox: Outbox, clock: SimClock, max_steps: int = 10_000) -> int:
    """Step the outbox (the caller's thread, simulated waits) until it has nothing to send."""
    for n in range(1, max_steps + 1):
        delay, idle = outbox.step()
        if idle and outbox.status()["backlog"] == 0:
            return n
        clock.advance(delay)
    raise AssertionError(f"not caught up after {max_steps} steps: {outbox.status()}")


def journal_chain(path: Path) -> list[tuple[int, bytes]]:
    db = open_for_reading(path)
    try:
        return [(r.seq, r.hash) for r in read_records(db)]
    finally:
        db.close()


def center_chain(store: Store) -> list[tuple[int, bytes]]:
    return [(r.seq, r.hash) for r in store.records(HALL)]


def assert_center_equals_journal(center: LiveCenter, journal: Path) -> None:
    assert center.store is not None
    expected = journal_chain(journal)
    assert center_chain(center.store) == expected
    head = center.store.head(HALL)
    assert (head.seq, head.hash) == expected[-1]
