"""The archive's files: one SQLite file per hall and month, in the agent's journal format.

``<dir>/<hall>/<YYYY-MM>.sqlite`` holds the hall's records of that month exactly as the
agent journaled them (seq, time, kind, event, outcome, prev, hash), as a segment of the
hall's chain: its meta table names the first record and the hash it links to
(:meth:`edge_agent.journal.Journal.start_at`), so ``python -m edge_agent verify`` checks it
and ``replay --journal`` reads it. A file is written under a temporary name, synced, and
renamed into place: a file with the final name is always complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from edge_agent.durable_files import replace_durably
from edge_agent.journal import Journal, Record, open_for_reading, read_records


def month_path(folder: Path, hall: str, month: str) -> Path:
    return folder / hall / f"{month}.sqlite"


def write(path: Path, hall: str, month: str, first: int, prev: bytes,
          records: Iterable[Record]) -> int:
    """Write a month's records (checked to continue ``prev`` from record ``first``) to
    ``path`` durably; the count. A file already at ``path`` is replaced only at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    for leftover in (part, part.with_name(part.name + "-wal"),
                     part.with_name(part.name + "-shm")):
        leftover.unlink(missing_ok=True)
    count = 0
    with Journal(part) as journal:
        journal.set_meta("hall", hall)
        journal.set_meta("month", month)
        journal.start_at(first, prev)
        batch: list[Record] = []
        for r in records:
            batch.append(r)
            if len(batch) >= 10_000:
                count += journal.append_records(batch)
                batch = []
        count += journal.append_records(batch)
        journal.seal()
    replace_durably(part, path)
    return count


def read(path: Path, after: int = 0) -> Iterator[Record]:
    db = open_for_reading(path)
    try:
        yield from read_records(db, after)
    finally:
        db.close()


