"""The running agent (`python -m edge_agent run`) over a real mosquitto, killed with SIGKILL 20
times while 12 pads press continuously: every press a pad saw acknowledged is in the journal
exactly once, and nothing is journaled twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.journal import open_for_reading, read_records, verify
from tests.broker import Broker, broker  # noqa: F401  (fixture)
from tools.padfleet import PadFleet, fleet_config

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "run", "--config", str(config),
             "--log-level", "WARNING"], cwd=ROOT, stdout=out, stderr=out,
            env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_for_acks(fleet: PadFleet, more_than: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        n = len(fleet.acked())
        if n > more_than:
            return n
        time.sleep(0.02)
    raise AssertionError(f"no new ack within {timeout_s} s (had {more_than})")


def journaled_presses(journal: Path) -> list[tuple[str, int, int]]:
    db = open_for_reading(journal)
    try:
        out = []
        for r in read_records(db):
            event = r.event_dict()
            if event.get("type") == "rating":
                w = event["wire"]
                out.append((w["device"], w["boot"], w["seq"]))
        return out
    finally:
        db.close()


@pytest.fixture
def fleet_hall(tmp_path: Path, broker: Broker) -> Iterator[tuple[Path, PadFleet]]:  # noqa: F811
    text, pads = fleet_config("k9", 12, broker.host, broker.port,
                              str(tmp_path / "journal.sqlite"))
    config = tmp_path / "hall.toml"
    config.write_text(text)
    fleet = PadFleet("k9", pads, broker.host, broker.port, gap_s=0.01)
    fleet.start()
    yield config, fleet
    fleet.stop()


def test_every_acked_press_is_journaled_once_through_20_kills(
        tmp_path: Path, fleet_hall: tuple[Path, PadFleet]) -> None:
    config, fleet = fleet_hall
    log = tmp_path / "agent.log"
    rng = random.Random(9)
    for _ in range(KILLS):
        agent = start_agent(config, log)
        try:
            wait_for_acks(fleet, len(fleet.acked()), 30)  # this agent is up and acking
            time.sleep(rng.uniform(0.05, 0.4))  # pressing goes on; kill mid-stream
        finally:
            agent.kill()
            agent.wait()
    agent = start_agent(config, log)
    try:
        wait_for_acks(fleet, len(fleet.acked()), 30)  # this agent is up and acking
        assert fleet.settle(60), "presses still unacked a minute after the last restart"
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(20) == 0, log.read_text()[-2000:]

    journal = tmp_path / "journal.sqlite"
    presses = journaled_presses(journal)
    twice = [p for p, n in Counter(presses).items() if n > 1]
    acked = fleet.acked()
    assert not twice, f"journaled more than once: {twice[:5]}"
    assert acked <= set(presses), f"acked but not journaled: {sorted(acked - set(presses))[:5]}"
    assert set(presses) == acked  # after settling, every journaled press got its ack too
    assert len(acked) > KILLS * 12  # the pads were really pressing throughout
    assert fleet.resends > 0  # and some presses crossed a kill
    assert verify(journal).ok
    print(f"acked {len(acked)} presses, {fleet.resends} resends, journal {len(presses)}")
    assert "Traceback" not in log.read_text()
