"""Closed months archived to month files, reports from checkpoints and the report cache:
on a real redis-server, fakeredis and a real Redis Cluster (the `store` fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_agent.config import HallConfig
from edge_agent.journal import Record, canonical, record_hash
from server_stub import archive_files, checkpoints
from server_stub.archive import archive_hall, months_back
from server_stub.reports import month_report
from server_stub.store import Store, records_key, reports_key
from tests.center.fixtures import VIEWER_TOKEN, auth
from tests.center_reports import ROOT, Hall, generated_hall

HALL = "test"
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]
DAYS = [date(2026, 1, 29), date(2026, 1, 30), date(2026, 2, 2), date(2026, 2, 27),
        date(2026, 3, 2), date(2026, 3, 31), date(2026, 4, 1)]


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    """Eight counters (every cheating profile, outages among them) on days of four months."""
    return generated_hall(tmp_path_factory.mktemp("hall"), counters=8, seed=3, days=DAYS,
                          config_text=f'[hall]\nid = "{HALL}"\n')


@pytest.fixture(scope="module")
def expected(hall: Hall) -> dict[str, dict[str, Any]]:
    """Each month's report replayed from record 1 (what the agent's report prints)."""
    records = hall.records()
    return {m: month_report(records, hall.config, m) for m in MONTHS}


def sent(store: Store, hall: Hall, upto: int | None = None) -> list[Record]:
    records = hall.records()[:upto]
    for i in range(0, len(records), 2000):
        store.append(HALL, "pi", records[i:i + 2000])
    return records


def in_redis(store: Store) -> int:
    length: int = store.redis.llen(records_key(HALL))
    return length


def forget_reports(store: Store) -> None:
    store.redis.delete(reports_key(HALL), checkpoints.checkpoints_key(HALL))


def test_closed_months_move_to_files_and_every_report_stays_the_same(
        store: Store, hall: Hall, expected: dict[str, dict[str, Any]]) -> None:
    records = sent(store, hall)
    outcome = archive_hall(store, HALL, hall.config.tz, "2026-04")
    assert [s.month for s in outcome.archived] == MONTHS[:3]
    assert "not before 2026-04" in outcome.kept
    first_april = outcome.archived[-1].last + 1
    assert in_redis(store) == len(records) - first_april + 1 < len(records) // 3
    assert list(store.records(HALL)) == records  # archive and Redis, every field
    assert list(store.records(HALL, after=first_april - 5)) == records[first_april - 5:]
    for seg in outcome.archived:
        assert archive_files.month_path(store.archive_dir or Path(), HALL, seg.month).is_file()
    forget_reports(store)  # replays now read the files
    for month in MONTHS:
        assert checkpoints.month_replay(store, HALL, hall.config, month).report == \
            expected[month]


def test_a_month_still_open_in_the_chain_is_kept(store: Store, hall: Hall) -> None:
    records = hall.records()
    last_march = max(r.seq for r in records if r.event_dict()["t"].startswith("2026-03"))
    sent(store, hall, last_march)
    outcome = archive_hall(store, HALL, hall.config.tz, "2026-05")
    assert [s.month for s in outcome.archived] == ["2026-01", "2026-02"]
    assert outcome.kept == "2026-03 is not closed: no record of a later month is stored yet"
    assert archive_hall(store, HALL, hall.config.tz, "2026-05").archived == []  # again: same
    store.append(HALL, "pi", records[last_march:])  # April arrives: March can go
    assert [s.month for s in archive_hall(store, HALL, hall.config.tz, "2026-04").archived] \
        == ["2026-03"]
    assert list(store.records(HALL)) == records


def test_a_resent_archived_batch_is_already_held_and_a_rewritten_one_refused(
        store: Store, hall: Hall) -> None:
    records = sent(store, hall)
    archive_hall(store, HALL, hall.config.tz, "2026-03")
    again = store.append(HALL, "pi", records[10:600])
    assert (again.stored, again.already) == (0, 590)
    from dataclasses import replace

    from server_stub.errors import Rejection

    bad = [*records[10:20], replace(records[20], hash=bytes(32)), *records[21:30]]
    with pytest.raises(Rejection) as caught:
        store.append(HALL, "pi", bad)
    assert caught.value.error == "chain" and caught.value.extra == {"seq": 21}


def test_the_month_file_is_a_journal_the_agent_verifies_and_replays(
        store: Store, hall: Hall, tmp_path: Path) -> None:
    sent(store, hall)
    seg = archive_hall(store, HALL, hall.config.tz, "2026-03").archived[1]  # February
    path = archive_files.month_path(store.archive_dir or Path(), HALL, seg.month)
    run = [sys.executable, "-m", "edge_agent"]
    verified = subprocess.run([*run, "verify", str(path), "--head", seg.last_hash.hex()],
                              cwd=ROOT, capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith(f"ok: {seg.last - seg.first + 1} records, head "
                                      f"{seg.last} {seg.last_hash.hex()}")
    replayed = subprocess.run([*run, "replay", "--journal", str(path), "--config",
                               str(hall.config_path), "--month", "2026-02"],
                              cwd=ROOT, capture_output=True, text=True)
    doc = json.loads(replayed.stdout)
    assert doc["decisions"] and doc["report"]["month"] == "2026-02", replayed.stderr


def test_the_archive_command_and_reports_served_from_the_archive(
        store: Store, hall: Hall, api: TestClient, expected: dict[str, dict[str, Any]],
        tmp_path: Path) -> None:
    sent(store, hall)
    archive_hall(store, HALL, hall.config.tz, "2026-04")
    forget_reports(store)
    for month in MONTHS:
        answer = api.get(f"/v1/halls/{HALL}/months/{month}/report.json",
                         headers=auth(VIEWER_TOKEN))
        assert answer.status_code == 200 and answer.json() == expected[month]
    export = api.get(f"/v1/halls/{HALL}/months/2026-02/export.json",
                     headers=auth(VIEWER_TOKEN))
    assert export.status_code == 200 and export.json()


def test_months_back_counts_whole_months_in_the_halls_time(hall: Hall) -> None:
    from datetime import datetime

    from edge_agent.rules.calendar import to_us

    may_first = to_us(datetime(2026, 5, 1, 0, 30, tzinfo=hall.config.tz))
    assert months_back(may_first, hall.config.tz, 1) == "2026-04"
    assert months_back(may_first, hall.config.tz, 5) == "2025-12"


# --- checkpoints and the report cache -----------------------------------------------------


def test_a_report_replays_from_the_checkpoint_of_the_month_before(
        store: Store, hall: Hall, expected: dict[str, dict[str, Any]]) -> None:
    records = sent(store, hall)
    first = checkpoints.month_replay(store, HALL, hall.config, "2026-04")
    assert first.report == expected["2026-04"] and first.checked == len(records)
    kept = store.redis.hkeys(checkpoints.checkpoints_key(HALL))
    assert sorted(k.decode() for k in kept) == MONTHS[:3]
    forget_cache = store.redis.delete(reports_key(HALL))
    assert forget_cache in (0, 1)
    for month in MONTHS:
        again = checkpoints.replay(store, HALL, hall.config, month)[0]
        assert again.report == expected[month]
        before = [r for r in records if _month(r, hall.config) < month]
        assert again.checked == len(records) - len(before)  # from the month's start only


def _month(r: Record, config: HallConfig) -> str:
    return checkpoints.month_of(r.t_us, config)


def _continue(records: list[Record], *events: dict[str, Any]) -> list[Record]:
    """Records after the chain's last (an agent journaling more events), one minute apart."""
    out, prev = [], records[-1]
    for event in events:
        t_us = prev.t_us + 60_000_000
        seq = prev.seq + 1
        text = canonical({"t": _iso(t_us), **event})
        outcome = canonical({})
        prev = Record(seq, t_us, event["type"], text, outcome, prev.hash,
                      record_hash(prev.hash, seq, t_us, event["type"], text, outcome))
        out.append(prev)
    return out


def _iso(t_us: int) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t_us / 1e6, ZoneInfo("Asia/Shanghai")).isoformat()


def _cached(store: Store) -> set[str]:
    return {k.decode() for k in store.redis.hkeys(reports_key(HALL))}


def test_the_cache_of_a_closed_month_is_dropped_exactly_by_records_that_may_change_it(
        store: Store, hall: Hall) -> None:
    records = sent(store, hall)
    for month in MONTHS:
        checkpoints.month_replay(store, HALL, hall.config, month)
    assert _cached(store) == set(MONTHS[:3])  # April is still open
    devices = {m: checkpoints._devices(checkpoints.month_replay(store, HALL, hall.config, m))
               for m in MONTHS[:3]}
    broken = next(d for d in devices["2026-02"])
    counter = json.loads(next(r.event for r in records if broken in r.event))["counter"]
    plain = _continue(records, {"type": "rating", "counter": counter, "level": "satisfied"})
    store.append(HALL, "pi", plain)
    assert _cached(store) == set(MONTHS[:3])  # a known counter, no fault: nothing changes
    ruling = _continue(records + plain, {"type": "fault_report", "counter": counter,
                                         "device": broken})
    store.append(HALL, "pi", ruling)
    assert _cached(store) == {m for m in MONTHS[:3] if broken not in devices[m]}
    newcomer = _continue(records + plain + ruling,
                         {"type": "staff_login", "counter": counter, "staff": "S999"})
    again = checkpoints.month_replay(store, HALL, hall.config, "2026-02")  # cached again
    assert again.report == month_report(list(store.records(HALL)), hall.config, "2026-02")
    assert "2026-02" in _cached(store)
    store.append(HALL, "pi", newcomer)
    assert _cached(store) == set()  # a new staff member is listed in every month
    assert checkpoints.month_replay(store, HALL, hall.config, "2026-01").report == \
        month_report(list(store.records(HALL)), hall.config, "2026-01")


def test_the_configuration_fingerprint_is_the_same_in_every_process() -> None:
    """Checkpoints written by one API process are used by the others (sets of dates in the
    configuration iterate in a per-process order)."""
    code = ("from edge_agent.config import load_config\n"
            "from server_stub.checkpoints import fingerprint\n"
            "print(fingerprint(load_config('edge_agent/samples/hall.toml')))")
    prints = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                             text=True, env={"PYTHONHASHSEED": seed}).stdout
              for seed in ("1", "2", "3")}
    assert len(prints) == 1 and len(prints.pop().strip()) == 16


def test_a_read_under_way_while_months_are_archived_reads_on_from_the_files(
        store: Store, hall: Hall) -> None:
    records = sent(store, hall)
    reading = store.records(HALL, chunk=100)
    first = [next(reading) for _ in range(150)]
    archive_hall(store, HALL, hall.config.tz, "2026-04")  # the list's indexes shift
    assert first + list(reading) == records


def test_a_checkpoint_that_does_not_load_is_skipped(
        store: Store, hall: Hall, expected: dict[str, dict[str, Any]]) -> None:
    sent(store, hall)
    checkpoints.replay(store, HALL, hall.config, "2026-04")  # checkpoints Jan, Feb, Mar
    store.redis.hset(checkpoints.checkpoints_key(HALL), "2026-03", b"not a pickle")
    point = checkpoints.latest_before(store, HALL, hall.config, "2026-04")
    assert point is not None and point.month == "2026-02"
    assert checkpoints.replay(store, HALL, hall.config, "2026-04")[0].report == \
        expected["2026-04"]
