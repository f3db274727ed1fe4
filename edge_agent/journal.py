"""The journal: every input event with the decision it got, append-only, hash-chained.

One SQLite file in WAL mode with ``synchronous=FULL``: when :meth:`Journal.append_many`
returns, its records are on disk, so an acknowledgement may leave the agent. Each record's
hash covers the previous record's hash, so a rewritten, removed or inserted record breaks
the chain from that point on; :func:`verify` finds the first break. A whole rewritten
history with a recomputed chain is caught by comparing the head with one kept elsewhere
(the center keeps every head it was sent).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.rules.model import RULES_VERSION

FORMAT = "window-eval-journal/1"
GENESIS = bytes(32)
# meta key: JSON [[first seq, rules version], ...], the rules each stretch was decided under.
RULES_VERSIONS = "rules_versions"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    t_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS records_no_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
"""
SNAPSHOT = "snapshot"  # the kind of a snapshot's record: its state's digest, in the chain


class JournalError(RuntimeError):
    """A journal file that cannot be opened or used."""


@dataclass(frozen=True, slots=True)
class Entry:
    """What the caller appends: an input (or a "tick" of time) and what came of it."""

    t_us: int
    kind: str
    event: dict[str, Any]
    outcome: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    t_us: int
    kind: str
    event: str  # canonical JSON, exactly as hashed
    outcome: str
    prev: bytes
    hash: bytes

    def event_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.event)
        return value

    def outcome_dict(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.outcome)
        return value


@dataclass(frozen=True, slots=True)
class Verification:
    records: int
    head_seq: int
    head: bytes
    problem: str | None  # the first break found, naming the record
    chain_ok: bool = False  # every record verifies; only the head differs from the one given

    @property
    def ok(self) -> bool:
        return self.problem is None


# One encoder for every record: json.dumps with options builds a new one on each call.
canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def record_hash(prev: bytes, seq: int, t_us: int, kind: str, event: str, outcome: str) -> bytes:
    """SHA-256 of the previous hash, the sequence number, the time and the record's text."""
    head = prev + seq.to_bytes(8, "big") + t_us.to_bytes(8, "big", signed=True)
    return hashlib.sha256(head + f"{kind}\x00{event}\x00{outcome}".encode()).digest()


class Journal:
    """The single writer of one journal file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = _connect(self.path)
        try:
            self._db.executescript(_SCHEMA)
            self._claim_format()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{self.path}: not a journal ({exc})") from None
        row = self._db.execute(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        start_seq, start_prev = chain_start(self._db)
        self.head_seq: int = row[0] if row else start_seq - 1
        self.head: bytes = row[1] if row else start_prev
        if row is None and read_meta(self._db, RULES_VERSIONS) is None:
            self.claim_rules_version(RULES_VERSION)  # a new journal: decided by these rules

    def _claim_format(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        elif row[0] != FORMAT:
            raise JournalError(f"{self.path}: journal format {row[0]!r}, expected {FORMAT!r}")

    def next_seq(self, pending: int = 0) -> int:
        """The sequence number the next record gets once ``pending`` records in hand (not yet
        appended) are: a rules event carries its record's number when it is decided."""
        return self.head_seq + pending + 1

    def append(self, entry: Entry) -> int:
        return self.append_many([entry])[-1]

    def append_many(self, entries: Sequence[Entry]) -> list[int]:
        """Append in one durable transaction (group commit); return the sequence numbers."""
        return self.append_rows([(e.t_us, e.kind, canonical(e.event), canonical(e.outcome))
                                 for e in entries])

    def append_rows(self, rows: Sequence[tuple[int, str, str, str]]) -> list[int]:
        """Append (t_us, kind, event JSON, outcome JSON) rows already encoded by the caller."""
        chained = []
        seq, head = self.head_seq, self.head
        for t_us, kind, event, outcome in rows:
            seq += 1
            digest = record_hash(head, seq, t_us, kind, event, outcome)
            chained.append((seq, t_us, kind, event, outcome, head, digest))
            head = digest
        first = self.head_seq + 1
        if chained:
            self._insert(chained)
        return list(range(first, seq + 1))

    def _insert(self, chained: Sequence[tuple[int, int, str, str, str, bytes, bytes]]) -> None:
        """Insert chained rows in one durable transaction; the head moves to the last."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", chained)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.head_seq, self.head = chained[-1][0], chained[-1][6]

    def start_at(self, seq: int, prev: bytes) -> None:
        """Make an empty journal a segment of a longer chain: its first record will be
        ``seq``, linked to ``prev`` (the center's archive of one month is such a segment)."""
        if self._db.execute("SELECT 1 FROM records LIMIT 1").fetchone() is not None:
            raise JournalError(f"{self.path}: holds records already; a segment starts empty")
        self.set_meta("first_seq", str(seq))
        self.set_meta("first_prev", prev.hex())
        self.head_seq, self.head = seq - 1, prev

    def append_records(self, records: Iterable[Record]) -> int:
        """Append records chained elsewhere (a copy of part of another journal) in one
        durable transaction; the count. Each must link to the one before it (seq and prev,
        from this journal's head); their hashes are not recomputed here: :func:`verify`
        the file for that."""
        rows = []
        seq, head = self.head_seq, self.head
        for r in records:
            if r.seq != seq + 1 or r.prev != head:
                raise ChainBroken(r.seq, f"does not follow record {seq} of {self.path}")
            rows.append((r.seq, r.t_us, r.kind, r.event, r.outcome, r.prev, r.hash))
            seq, head = r.seq, r.hash
        if rows:
            self._insert(rows)
        return len(rows)

    def seal(self) -> None:
        """Fold the write-ahead log into the file and leave WAL mode, so the file alone is
        the whole journal (a copy to keep elsewhere, as the center's archive)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.execute("PRAGMA journal_mode=DELETE")

    def append_snapshot(self, t_us: int, event: dict[str, Any], outcome: dict[str, Any],
                        state: bytes) -> int:
        """Append a snapshot's record (``event`` holds the state's digest) and the state
        itself, in one durable transaction: a crash leaves both or neither."""
        seq = self.head_seq + 1
        event_text, outcome_text = canonical(event), canonical(outcome)
        digest = record_hash(self.head, seq, t_us, SNAPSHOT, event_text, outcome_text)
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (seq, t_us, SNAPSHOT, event_text, outcome_text, self.head, digest))
            db.execute("INSERT INTO snapshots VALUES (?, ?)", (seq, state))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.head_seq, self.head = seq, digest
        return seq

    def record(self, seq: int) -> Record | None:
        return record_at(self._db, seq)

    def snapshots(self) -> Iterator[tuple[Record, bytes]]:
        return read_snapshots(self._db)

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


    def get_meta(self, key: str) -> str | None:
        return read_meta(self._db, key)

    def claim_rules_version(self, version: int) -> None:
        """Records from the next one on are decided under ``version`` of the rules."""
        history = rules_versions(self._db)
        if history[-1][1] != version:
            start = self.head_seq + 1
            history = [h for h in history if h[0] < start] + [(start, version)]
            self.set_meta(RULES_VERSIONS, json.dumps(history))

    def records(self, after: int = 0) -> Iterator[Record]:
        return read_records(self._db, after)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        db.execute("PRAGMA synchronous=FULL")
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: cannot open as a journal ({exc})") from None
    if mode != "wal":
        db.close()
        raise JournalError(f"{path}: cannot switch to WAL mode (got {mode!r})")
    return db


def open_for_reading(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.is_file():
        raise JournalError(f"{p}: no such journal file")
    try:
        db = sqlite3.connect(f"file:{p}?mode=ro", uri=True, isolation_level=None)
        fmt = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{p}: not a journal ({exc})") from None
    if fmt is None or fmt[0] != FORMAT:
        db.close()
        raise JournalError(f"{p}: not a journal of format {FORMAT!r}")
    return db


def read_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def rules_versions(db: sqlite3.Connection) -> list[tuple[int, int]]:
    """(first seq, rules version) of each stretch of the journal, oldest first.

    A journal that never recorded it was written before rules version 2, under version 1.
    """
    text = read_meta(db, RULES_VERSIONS)
    if text is None:
        return [(1, 1)]
    try:
        history = [(int(seq), int(version)) for seq, version in json.loads(text)]
    except (TypeError, ValueError) as exc:
        raise JournalError(f"meta {RULES_VERSIONS} is not understood: {text!r:.80} ({exc})"
                           ) from None
    return history or [(1, 1)]


def read_records(db: sqlite3.Connection, after: int = 0) -> Iterator[Record]:
    cursor = db.execute("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
                        "WHERE seq > ? ORDER BY seq", (after,))
    while rows := cursor.fetchmany(1024):
        for row in rows:
            yield Record(*row)


def read_snapshots(db: sqlite3.Connection) -> Iterator[tuple[Record, bytes]]:
    """Each stored snapshot with its record, the latest first (only records of kind
    ``snapshot``: a state stored against any other record is not a snapshot)."""
    cursor = db.execute(
        "SELECT r.seq, r.t_us, r.kind, r.event, r.outcome, r.prev, r.hash, "
        "CAST(s.state AS BLOB) "
        "FROM snapshots s JOIN records r ON r.seq = s.seq WHERE r.kind = ? "
        "ORDER BY s.seq DESC", (SNAPSHOT,))
    for row in cursor:
        yield Record(*row[:7]), row[7]


def record_at(db: sqlite3.Connection, seq: int) -> Record | None:
    row = db.execute("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
                     "WHERE seq = ?", (seq,)).fetchone()
    return Record(*row) if row else None


def chain_start(db: sqlite3.Connection) -> tuple[int, bytes]:
    """(first seq, the hash it links to): (1, GENESIS) for an agent's journal; a segment of a
    longer chain (a month archived at the center) names them in its meta table."""
    seq, prev = read_meta(db, "first_seq"), read_meta(db, "first_prev")
    if seq is None or prev is None:
        return 1, GENESIS
    try:
        return int(seq), bytes.fromhex(prev)
    except ValueError:
        raise JournalError(f"meta first_seq / first_prev are not a record number and a "
                           f"hash: {seq!r}, {prev!r}") from None


def checked(records: Iterable[Record], start: tuple[int, bytes] = (1, GENESIS)
            ) -> Iterator[Record]:
    """Pass records through, raising :class:`ChainBroken` at the first break of the chain
    (which begins at record ``start[0]``, linked to the hash ``start[1]``)."""
    expected_seq, head = start
    for r in records:
        problem = _break(r, expected_seq, head)
        if problem is not None:
            raise ChainBroken(r.seq, problem)
        yield r
        expected_seq, head = r.seq + 1, r.hash


class ChainBroken(JournalError):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"record {seq}: {problem}")
        self.seq = seq


def _break(r: Record, expected_seq: int, head: bytes) -> str | None:
    if r.seq != expected_seq:
        return f"expected record {expected_seq} here: records are missing"
    if r.prev != head:
        return "its link to the previous record does not match (a record before it changed)"
    if record_hash(r.prev, r.seq, r.t_us, r.kind, r.event, r.outcome) != r.hash:
        return "its content does not match its hash (the record was rewritten)"
    return None


def verify(path: str | Path, expect_head: bytes | None = None) -> Verification:
    """Walk the whole chain; report the first break, or a head that differs from ``expect_head``."""
    db = open_for_reading(path)
    try:
        start = chain_start(db)
    except JournalError as exc:
        db.close()
        return Verification(0, 0, GENESIS, str(exc))
    count, seq, head = 0, start[0] - 1, start[1]
    try:
        for r in checked(read_records(db), start):
            count, seq, head = count + 1, r.seq, r.hash
    except ChainBroken as exc:
        return Verification(count, seq, head, str(exc))
    finally:
        db.close()
    if expect_head is not None and expect_head != head:
        return Verification(count, seq, head,
                            f"head of record {seq} is {head.hex()}, expected {expect_head.hex()}"
                            " (the history was rewritten)", chain_ok=True)
    return Verification(count, seq, head, None)
