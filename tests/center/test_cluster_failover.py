"""Fail-over without loss: an agent catches up a backlog into the center on a Redis Cluster
of three masters and three replicas; the master holding the hall's slot is killed (-9)
mid-way; once its replica has taken over, the agent's resend from the center's head brings
the center back to exactly the journal, record for record (seq and hash)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from server_stub.config import CenterSettings, load_center_config
from server_stub.store import Store, head_key
from tests.center.fixtures import HALL, write_center
from tests.center.live import LiveCenter
from tests.outbox.fixtures import center_chain, journal_chain, make_outbox
from tests.outbox.simclock import SimClock
from tests.redis_cluster import LocalCluster, running_cluster
from tools.bench_center import generate_journal

START = 1_772_400_000.0
pytestmark = pytest.mark.scaling


@pytest.fixture
def failover_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with running_cluster(tmp_path / "cluster", masters=3, replicas=1) as cluster:
        yield cluster


def test_a_master_killed_mid_catch_up_loses_nothing(
        tmp_path: Path, failover_cluster: LocalCluster) -> None:
    journal = tmp_path / "journal.sqlite"
    total = generate_journal(journal, 12_000, days=1, hall=HALL)
    settings: CenterSettings = load_center_config(write_center(tmp_path / "center"))
    center = LiveCenter(settings, failover_cluster.settings)
    center.start()
    clock = SimClock(START)
    outbox = make_outbox(journal, center.url, clock, batch=500, timeout_s=30.0,
                         retry_max_s=2.0)
    killed: int | None = None
    head_at_kill = lost = 0
    try:
        assert center.store is not None
        store: Store = center.store
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            delay, idle = outbox.step()
            if idle and outbox.status()["backlog"] == 0:
                break
            clock.advance(delay)
            if killed is None and store.head(HALL).seq >= total // 3:
                killed = failover_cluster.master_of(head_key(HALL))
                head_at_kill = store.head(HALL).seq
                failover_cluster.kill(killed)
                failover_cluster.wait_promoted(head_key(HALL), killed)
                confirmed = outbox.status()["confirmed_seq"]
                lost = confirmed - store.head(HALL).seq  # acknowledged, then lost: resent
        assert outbox.status()["backlog"] == 0, f"not caught up: {outbox.status()}"
        assert killed is not None, "the catch-up ended before the kill"
        assert failover_cluster.master_of(head_key(HALL)) != killed  # the replica took over
        assert center_chain(store) == journal_chain(journal)  # record for record
        assert store.head(HALL).seq == total
        print(f"killed master {killed} at head {head_at_kill} of {total}; acknowledged "
              f"records lost in the fail-over and resent: {max(lost, 0)}; "
              f"outbox: {outbox.status()}")
    finally:
        outbox.stop()
        center.stop()
