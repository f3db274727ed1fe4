"""kill -9 of `python -m server_stub archive` at points spread over a whole run: after every
kill each record is readable exactly once (from a month file or from Redis), the chain
intact; a run to the end then archives every closed month. Real redis-server, real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge_agent.journal import GENESIS, Record, canonical, record_hash
from edge_agent.rules.calendar import to_us
from server_stub.store import Store, records_key
from tests.center.fixtures import write_center
from tests.center_reports import ROOT
from tests.redis_server import RedisServer

KILLS = 6
RECORDS = 12_000  # three months and a day: Jan, Feb, Mar archived, April kept
START = to_us(datetime(2026, 1, 1, 8, tzinfo=ZoneInfo("Asia/Shanghai")))
END = to_us(datetime(2026, 4, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")))


def spread_chain(n: int) -> list[Record]:
    """``n`` chained records spread evenly from 2026-01-01 08:00 to 2026-04-01 09:00."""
    out, prev = [], GENESIS
    step = (END - START) // n
    for seq in range(1, n + 1):
        t_us = START + seq * step
        event = canonical({"counter": f"A{seq % 40:02d}", "type": "rating", "n": seq})
        outcome = canonical({})
        digest = record_hash(prev, seq, t_us, "rating", event, outcome)
        out.append(Record(seq, t_us, "rating", event, outcome, prev, digest))
        prev = digest
    return out


def archive_argv(config: Path, url: str, hall: str) -> list[str]:
    return [sys.executable, "-m", "server_stub", "archive", "--config", str(config),
            "--before", "2026-04", "--redis", url, "--hall", hall]


def test_kill_9_at_any_point_of_an_archive_run_loses_nothing(
        tmp_path: Path, redis_server: RedisServer) -> None:
    config = write_center(tmp_path / "center", '[archive]\ndir = "archive"\n')
    records = spread_chain(RECORDS)
    hashes = [r.hash for r in records]
    client = redis_server.client()
    store = Store(client, tmp_path / "center" / "archive")
    for hall in ("test", "other"):
        for i in range(0, RECORDS, 5000):
            store.append(hall, "pi", records[i:i + 5000])
    # A whole run on the other hall: how long one takes, so the kills spread over it.
    started = time.monotonic()
    done = subprocess.run(archive_argv(config, redis_server.url, "other"), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    whole = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("archived: records") == 3
    seen = set()
    for kill in range(1, KILLS + 1):
        proc = subprocess.Popen(archive_argv(config, redis_server.url, "test"), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * kill / (KILLS + 1))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        state = store.head_state("test")
        seen.add(state.base)
        assert client.llen(records_key("test")) == state.head.seq - state.base
        assert [r.hash for r in store.records("test")] == hashes  # nothing lost, once each
    final = subprocess.run(archive_argv(config, redis_server.url, "test"), cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert [s.month for s in store.segments("test")] == ["2026-01", "2026-02", "2026-03"]
    assert list(store.records("test")) == records
    april = sum(1 for r in records if r.t_us >= to_us(datetime(2026, 4, 1,
                                                                tzinfo=ZoneInfo("Asia/Shanghai"))))
    assert client.llen(records_key("test")) == april
    print(f"archive run {whole:.2f} s; bases seen after the kills: {sorted(seen)}")
    client.close()
