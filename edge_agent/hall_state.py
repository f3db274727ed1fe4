"""What a hall's journal builds up, and snapshots of it so a start need not replay it all.

:class:`HallState` is everything the live agent derives from its journal: the rules engine,
the replay guard's marks (from the ``(device, boot, seq)`` each pad event was journaled
with), each device's journaled up/down and fault flags, and today's figures. Replaying the
journal into a fresh one gives the agent's state after its last record.

A snapshot is that state at one record, written into the journal as a record of kind
``snapshot`` (time passing to when it was taken) whose event holds the SHA-256 of the stored
state, so the hash chain covers it; the state itself sits beside the record in the
``snapshots`` table, written in the same transaction. A snapshot is used only if its record
holds up in the chain, its state matches the digest, and it was made by the same rules code
under the same configuration (both fingerprinted in the record); otherwise the next older one
is tried, and with none the whole journal is replayed, with a warning. It is never a
different state: a property test compares the restored state with the full replay's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent import snapshot_codec
from edge_agent.config import HallConfig
from edge_agent.journal import (
    GENESIS,
    SNAPSHOT,
    Entry,
    Journal,
    Record,
    canonical,
    checked,
    record_hash,
)
from edge_agent.records import event_to_dict, outcome_dict, wire_mark
from edge_agent.replay import Tick, TimeOrder
from edge_agent.rules.calendar import from_us, to_us
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import Event, Output
from edge_agent.timeline import EventParser, format_time
from edge_agent.today import Today
from edge_agent.wire.guard import SeqGuard

log = logging.getLogger("edge_agent.snapshots")
OTHER_CODE = "made by other rules code (the agent was upgraded)"
OTHER_CONFIG = "made under another configuration"
TICKS = frozenset({"tick", SNAPSHOT})  # records that are time passing (replay.journal_events)
FORMAT = "hall-state/1"
SNAPSHOT_EVERY = 5_000  # records (a start replays at most about this many); and each day
# The code whose behaviour a snapshot's state depends on: a change to any of it (a new
# field, a changed rule) makes older snapshots unusable, and the first start replays all.
_CODE = ("rules", "hall_state.py", "snapshot_codec.py", "today.py", "replay.py",
         "timeline.py", "wire/guard.py")


@dataclass(slots=True)
class DeviceFlags:
    """A device's state as its journaled events leave it."""

    online: bool | None = None  # None: no up/down journaled
    fault: bool = False
    selftest_failed: bool = False


class HallState:
    def __init__(self, config: HallConfig) -> None:
        self.config = config
        self.engine = RulesEngine(config)
        self.guard = SeqGuard()
        self.flags: dict[str, DeviceFlags] = {}
        self.today = Today(config.tz)

    def apply(self, item: Event | Tick, record: Record) -> list[Output]:
        """One journal record: the engine decides (again), the rest takes note."""
        if isinstance(item, Event):
            outputs = self.engine.handle(item)
        else:
            outputs = self.engine.advance(item.t)
        self.note(record.t_us, record.event_dict(), record.outcome_dict())
        return outputs

    def note_entry(self, entry: Entry) -> None:
        """A record just journaled, read as replay reads it (its JSON in canonical form, keys
        sorted), so the state is the replayed one down to the order of a dictionary's keys."""
        self.note(entry.t_us, json.loads(canonical(entry.event)),
                  json.loads(canonical(entry.outcome)))

    def note(self, t_us: int, event: dict[str, Any], outcome: dict[str, Any]) -> None:
        """A record's marks, device flags and today's figures (the engine has decided it)."""
        mark = wire_mark(event)
        if mark is not None:
            self.guard.check(*mark)
        device = event.get("device")
        if device is not None:
            self._flag(device, event)
        self.today.add(t_us, event, outcome)

    def _flag(self, device: str, event: dict[str, Any]) -> None:
        kind = event["type"]
        flags = self.flags.get(device)
        if flags is None:
            flags = self.flags[device] = DeviceFlags()
        if kind in ("device_down", "device_up"):
            flags.online = kind == "device_up"
        elif kind in ("fault_report", "fault_cleared"):
            flags.fault = kind == "fault_report"
            flags.selftest_failed = flags.fault and str(event.get("reason", "")).startswith(
                "selftest")

    def replay(self, records: Iterable[Record], after: int = 0, head: bytes = GENESIS
               ) -> int:
        """Apply the journal's records after ``after`` (chain-checked); how many.

        As :meth:`apply` on :func:`journal_events`, with each record's JSON read once."""
        parse = EventParser(self.config.scale).parse
        handle, advance, note = self.engine.handle, self.engine.advance, self.note
        loads = json.loads
        n = 0
        for r in checked(records, (after + 1, head)):
            event = loads(r.event)
            if r.kind in TICKS:
                advance(r.t_us)
            else:
                handle(parse(event, r.seq))
            note(r.t_us, event, loads(r.outcome))
            n += 1
        return n


# --- fingerprints --------------------------------------------------------------------------


def code_fingerprint() -> str:
    global _code_digest
    if _code_digest is None:
        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for name in _CODE:
            path = root / name
            for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
                digest.update(f.relative_to(root).as_posix().encode() + b"\0")
                digest.update(f.read_bytes() + b"\0")
        _code_digest = digest.hexdigest()[:32]
    return _code_digest


_code_digest: str | None = None


def config_fingerprint(config: HallConfig) -> str:
    """What of the configuration the state depends on: all but the service's sections, the
    file's folder and the devices' keys (secrets)."""
    fields = _plain(config)
    for name in ("service", "base_dir"):
        fields.pop(name)
    for device in fields["devices"].values():
        device.pop("key")
    return hashlib.sha256(canonical(fields).encode()).hexdigest()[:32]


def _plain(value: Any) -> Any:
    """A value as JSON, in an order that does not depend on the process (sets sorted)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    return repr(value)


# --- writing ---------------------------------------------------------------------------------


def write_snapshot(journal: Journal, state: HallState, t_us: int) -> list[Output]:
    """Journal a snapshot of ``state`` at ``t_us`` (not before the engine's time).

    Its record is time passing to ``t_us``, as replay takes it: what falls due by then is
    its outcome, returned (the agent snapshots at its engine's time: nothing falls due)."""
    t_us = max(t_us, state.engine.now or t_us)
    event = {"t": format_time(t_us, state.config.tz)}
    outputs = state.engine.advance(t_us)
    outcome = outcome_dict(outputs, state.config)
    state.note(t_us, event, json.loads(canonical(outcome)))  # as replay will read it
    blob = encode_state(state)
    journal.append_snapshot(t_us, {
        **event, "format": FORMAT, "code": code_fingerprint(),
        "config": config_fingerprint(state.config), "after": journal.head_seq,
        "sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}, outcome, blob)
    return outputs


def encode_state(state: HallState) -> bytes:
    data = snapshot_codec.encode(state, {"config": state.config})
    # In the walker's order, not sorted: an object comes before the references to it.
    return zlib.compress(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), 6)


def decode_state(blob: bytes, config: HallConfig) -> HallState:
    data = json.loads(zlib.decompress(blob))
    state = snapshot_codec.decode(data, {"config": config})
    if not isinstance(state, HallState):
        raise snapshot_codec.CodecError("the snapshot is not a hall's state")
    return state


# --- loading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Restored:
    state: HallState
    snapshot_seq: int  # 0: replayed from the start
    replayed: int  # records applied after it
    warnings: tuple[str, ...]


def restore(journal: Journal, config: HallConfig) -> Restored:
    """The state after the journal's last record: from the latest usable snapshot and the
    records after it, or (none usable) from the whole journal."""
    warnings: list[str] = []
    for record, blob in journal.snapshots():
        problem = snapshot_problem(journal, record, blob, config)
        state = None
        if problem is None:
            try:
                state = decode_state(blob, config)
            except (ValueError, zlib.error, snapshot_codec.CodecError) as exc:
                problem = f"its state does not decode ({exc})"
        if state is not None:
            n = state.replay(journal.records(record.seq), record.seq, record.hash)
            return Restored(state, record.seq, n, tuple(warnings))
        warnings.append(f"snapshot at journal record {record.seq} not used: {problem}")
        log.warning("%s", warnings[-1])
        if problem in (OTHER_CODE, OTHER_CONFIG):
            break  # older ones were made by older code (or configuration) still
    if warnings:
        log.warning("no usable snapshot: replaying the whole journal")
    state = HallState(config)
    n = state.replay(journal.records())
    return Restored(state, 0, n, tuple(warnings))


def snapshot_problem(journal: Journal, record: Record, blob: bytes,
                     config: HallConfig) -> str | None:
    """Why a stored snapshot cannot be used, or None."""
    if record_hash(record.prev, record.seq, record.t_us, record.kind, record.event,
                   record.outcome) != record.hash:
        return "its record does not match its hash"
    before = journal.record(record.seq - 1) if record.seq > 1 else None
    if (before.hash if before is not None else GENESIS) != record.prev:
        return "its record's link to the one before it does not hold"
    try:
        meta = json.loads(record.event)
    except ValueError:
        return "its record is not JSON"
    expected = {"format": FORMAT, "code": code_fingerprint(),
                "config": config_fingerprint(config),
                "sha256": hashlib.sha256(blob).hexdigest()}
    for key, value in expected.items():
        if meta.get(key) != value:
            return {"format": f"format {meta.get('format')!r}, expected {FORMAT!r}",
                    "code": OTHER_CODE, "config": OTHER_CONFIG,
                    "sha256": "its stored state does not match the digest in its record",
                    }[key]
    return None


# --- recording a timeline ------------------------------------------------------------------


def record_timeline(events: Iterable[Event], config: HallConfig, journal: Journal,
                    batch: int = 256, snapshot_every: int = SNAPSHOT_EVERY) -> int:
    """Decide each event and journal it with its outcome, ``batch`` records a commit, with a
    snapshot after each local day and every ``snapshot_every`` records, as the agent does."""
    state = HallState(config)
    order = TimeOrder(config)
    pending: list[Entry] = []
    count = since = 0
    day_end = 0
    for ev in _ordered(events, order):
        if ev.t >= day_end or since >= snapshot_every:
            count += _flush(journal, pending)
            if journal.head_seq:  # the day's close (or N records): at its last event's time
                write_snapshot(journal, state, state.engine.now or ev.t)
            since, day_end = 0, next_midnight(ev.t, config.tz)
        ev.line = journal.next_seq(len(pending))  # as the agent does: its record
        outputs = state.engine.handle(ev)
        entry = Entry(ev.t, ev.type, event_to_dict(ev, config.tz), outcome_dict(outputs, config))
        state.note_entry(entry)
        pending.append(entry)
        since += 1
        if len(pending) >= batch:
            count += _flush(journal, pending)
    return count + _flush(journal, pending)


def _ordered(events: Iterable[Event], order: TimeOrder) -> Iterator[Event]:
    for ev in events:
        order.check(ev)
        yield ev


def _flush(journal: Journal, pending: list[Entry]) -> int:
    n = len(journal.append_many(pending)) if pending else 0
    pending.clear()
    return n


def next_midnight(t_us: int, tz: ZoneInfo) -> int:
    """The local midnight after ``t_us``."""
    local = from_us(t_us, tz)
    return to_us(datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(days=1))
