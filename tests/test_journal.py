"""The journal: durable, append-only, hash-chained; any rewrite of history is detected."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge_agent.journal import (
    Entry,
    Journal,
    JournalError,
    canonical,
    record_hash,
    verify,
)


def _entries(n: int, start: int = 0) -> list[Entry]:
    return [Entry(1_772_000_000_000_000 + i * 1000, "rating",
                  {"type": "rating", "counter": "A01", "level": "satisfied", "n": i},
                  {"decision": {"accepted": True, "reason": "accepted"}})
            for i in range(start, start + n)]


def _tamper(path: Path, sql: str, *params: object) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("DROP TRIGGER records_no_delete")
    db.execute(sql, params)
    db.close()


def test_sequence_continues_across_reopen_and_chain_verifies(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        assert j.append_many(_entries(3)) == [1, 2, 3]
    with Journal(path) as j:
        assert j.head_seq == 3
        assert j.append(_entries(1, 3)[0]) == 4
        head = j.head
        assert [r.seq for r in j.records()] == [1, 2, 3, 4]
        assert json.loads(next(j.records(after=3)).event)["n"] == 3
    result = verify(path)
    assert result.ok and result.records == 4 and result.head == head


def test_file_is_wal_with_full_sync(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as j:
        db = j._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_history_cannot_be_updated_or_deleted_through_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append_many(_entries(2))
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE records SET event = '{}' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM records WHERE seq = 2")


def test_rewritten_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append_many(_entries(10))
    _tamper(path, "UPDATE records SET event = replace(event, 'satisfied', 'unsatisfied') "
                  "WHERE seq = 6")
    result = verify(path)
    assert result.problem == ("record 6: its content does not match its hash "
                              "(the record was rewritten)")
    assert result.records == 5


def test_rewritten_record_with_its_own_hash_recomputed_breaks_the_next_link(
        tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append_many(_entries(10))
    db = sqlite3.connect(path)
    seq, t, kind, event, outcome, prev = db.execute(
        "SELECT seq, t_us, kind, event, outcome, prev FROM records WHERE seq = 4").fetchone()
    db.close()
    forged = canonical({**json.loads(event), "level": "unsatisfied"})
    _tamper(path, "UPDATE records SET event = ?, hash = ? WHERE seq = 4", forged,
            record_hash(prev, seq, t, kind, forged, outcome))
    assert verify(path).problem is not None
    assert verify(path).problem.startswith("record 5: its link to the previous record")


def test_removed_record_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as j:
        j.append_many(_entries(5))
    _tamper(path, "DELETE FROM records WHERE seq = 3")
    assert verify(path).problem == "record 4: expected record 3 here: records are missing"


def test_whole_rewritten_history_is_caught_by_a_head_kept_elsewhere(tmp_path: Path) -> None:
    honest, forged = tmp_path / "honest.sqlite", tmp_path / "forged.sqlite"
    with Journal(honest) as j:
        j.append_many(_entries(5))
        anchored = j.head
    entries = _entries(5)
    entries[2] = Entry(entries[2].t_us, "rating", {**entries[2].event, "level": "unsatisfied"},
                       entries[2].outcome)
    with Journal(forged) as j:
        j.append_many(entries)
    assert verify(forged).ok  # self-consistent...
    result = verify(forged, expect_head=anchored)  # ...but not the history the center saw
    assert not result.ok and "the history was rewritten" in (result.problem or "")


def test_not_a_journal_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(JournalError, match=r"junk\.sqlite"):
        Journal(junk)
    with pytest.raises(JournalError, match="no such journal"):
        verify(tmp_path / "missing.sqlite")


WRITER = textwrap.dedent("""
    import sys
    from edge_agent.journal import Entry, Journal
    j = Journal(sys.argv[1])
    i = j.head_seq
    while True:
        i += 1
        seq = j.append(Entry(i, "rating", {"n": i}, {}))
        print(seq, flush=True)  # the "acknowledgement": only after the commit returned
""")


def test_every_acknowledged_append_survives_kill_9(tmp_path: Path) -> None:
    """Committed before any acknowledgement leaves: kill -9 mid-stream, reopen, count."""
    path = tmp_path / "j.sqlite"
    acked: list[int] = []
    for _round in range(3):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(40):
            acked.append(int(proc.stdout.readline()))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    result = verify(path)
    assert result.ok, result.problem
    with Journal(path) as j:
        stored = [r.seq for r in j.records()]
    assert set(acked) <= set(stored)
    assert stored == list(range(1, len(stored) + 1))
    assert len(acked) == len(set(acked)) == 120
