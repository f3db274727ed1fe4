"""Moving closed months out of Redis into one file per hall and month, without loss.

For each hall, from the oldest record still in Redis, month by month while the month is
before ``before`` and closed by the chain (a record of a later month is stored, so no record
of it can still arrive):

1. write the month's records to ``<dir>/<hall>/<YYYY-MM>.sqlite`` (a temporary name, synced,
   renamed: :mod:`server_stub.archive_files`);
2. verify the file on its own: its chain from the link before its first record to the
   month's last record, whose hash must be the one Redis holds;
3. only then, in one Redis transaction (WATCH on the head): drop those records from the
   list, move the head's ``base`` / ``base_hash`` (the chain's link) to the month's last
   record and note the month in ``months``.

A kill -9 anywhere leaves either the records in Redis (with or without a complete file; the
next run writes the file again) or the file complete and verified with the records dropped:
never a record dropped and not archived. Records are time-ordered in a hall's chain (the
agent journals in time order), so a month's records are one run of sequence numbers; a
record out of order stops that hall's archiving with an error naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge_agent.journal import Record, verify
from edge_agent.rules.calendar import from_us, to_us
from edge_agent.scoring import month_bounds
from server_stub import archive_files
from server_stub.store import HeadState, Segment, Store, records_key, row_time

log = logging.getLogger("server_stub.archive")


class ArchiveError(RuntimeError):
    """A hall whose records cannot be archived as they are (named)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    hall: str
    archived: list[Segment]
    kept: str  # why archiving stopped where it did


def month_of(t_us: int, tz: ZoneInfo) -> str:
    moment: datetime = from_us(t_us, tz)
    return f"{moment:%Y-%m}"


def months_back(now_us: int, tz: ZoneInfo, keep: int) -> str:
    """The month ``keep`` months before the one holding ``now_us`` (the periodic run
    archives every month before it)."""
    moment = from_us(now_us, tz)
    index = moment.year * 12 + moment.month - 1 - keep
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def archive_hall(store: Store, hall: str, tz: ZoneInfo, before: str) -> Outcome:
    if store.archive_dir is None:
        raise ArchiveError("no archive folder ([archive] dir in center.toml)")
    before_start = month_bounds(before, tz)[0]
    done: list[Segment] = []
    while True:
        state = store.head_state(hall)
        if state.head.seq == state.base:
            return Outcome(hall, done, "no records in Redis")
        first_t = row_time(store.redis.lindex(records_key(hall), 0))
        if first_t >= before_start:
            return Outcome(hall, done, f"the oldest record in Redis is of "
                                       f"{month_of(first_t, tz)}, not before {before}")
        month = month_of(first_t, tz)
        last = _last_of_month(store, hall, state, month_bounds(month, tz)[1])
        if last is None:
            return Outcome(hall, done, f"{month} is not closed: no record of a later month "
                                       "is stored yet")
        seg = _archive_month(store, hall, tz, state, month, last)
        done.append(seg)


def _last_of_month(store: Store, hall: str, state: HeadState, end_us: int) -> int | None:
    """The seq of the month's last record (binary search on the time-ordered list), or None
    when no stored record is at or after ``end_us``."""
    key = records_key(hall)
    lo, hi = 0, state.head.seq - state.base  # find the first index whose time >= end_us
    if row_time(store.redis.lindex(key, hi - 1)) < end_us:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if row_time(store.redis.lindex(key, mid)) >= end_us:
            hi = mid
        else:
            lo = mid + 1
    return state.base + lo


def _archive_month(store: Store, hall: str, tz: ZoneInfo, state: HeadState, month: str,
                   last: int) -> Segment:
    assert store.archive_dir is not None
    first = state.base + 1
    start, end = month_bounds(month, tz)
    path = archive_files.month_path(store.archive_dir, hall, month)
    tail: list[Record] = []
    records = _in_month(store.records(hall, state.base, last), start, end, hall, tail)
    count = archive_files.write(path, hall, month, first, state.base_hash, records)
    seg = Segment(month, first, last, tail[0].hash)
    _check_file(path, seg, count)
    if store.drop_archived(hall, seg):
        log.info("hall %s: %s archived to %s (records %d-%d)", hall, month, path, first, last)
    else:
        log.warning("hall %s: %s was archived by another run meanwhile", hall, month)
    return seg


def _in_month(records: Iterable[Record], start: int, end: int, hall: str,
              tail: list[Record]) -> Iterator[Record]:
    for r in records:
        if not start <= r.t_us < end:
            raise ArchiveError(f"hall {hall}: record {r.seq} is out of time order (its time "
                               "is outside its neighbours' month); not archived")
        tail[:] = [r]
        yield r


def _check_file(path: Path, seg: Segment, count: int) -> None:
    result = verify(path, seg.last_hash)
    expected = seg.last - seg.first + 1
    if not result.ok or result.records != expected or count != expected \
            or result.head_seq != seg.last:
        raise ArchiveError(f"{path}: does not verify against the chain ({result.problem or ''}"
                           f" {result.records} records, expected {expected}); nothing "
                           "dropped from Redis")


def now_us() -> int:
    return to_us(datetime.now(ZoneInfo("UTC")))
