"""Snapshots of the hall's state in the journal: a start from the latest usable one and the
records after it is in exactly the state a replay of the whole journal gives."""

from __future__ import annotations

import itertools
import json
import logging
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import types
from collections import deque
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import hall_state, snapshot_codec
from edge_agent.config import HallConfig, parse_config
from edge_agent.hall_state import HallState, restore, write_snapshot
from edge_agent.journal import ChainBroken, Entry, Journal, verify
from edge_agent.records import event_to_dict, outcome_dict
from edge_agent.rules.model import HALL, Event
from edge_agent.timeline import EventParser
from tests.test_properties import CONFIG, DEVICES, steps, timeline

PARSER = EventParser(CONFIG.scale)


def form(root: Any) -> Any:
    """Everything an object graph holds, compared as a whole: every attribute of every object
    (written independently of the snapshot's own walker, so a field it missed shows), with
    shared objects as references to where they were first met."""
    seen: dict[int, int] = {}
    keep: list[Any] = []

    def walk(v: Any) -> Any:
        if isinstance(v, (str, int, float, bool, type(None))):
            return v
        if isinstance(v, HallConfig):
            return "<config>"
        if id(v) in seen:
            return ("ref", seen[id(v)])
        seen[id(v)] = len(seen)
        keep.append(v)
        if isinstance(v, types.MethodType):
            return ("method", v.__func__.__name__, walk(v.__self__))
        if isinstance(v, dict):
            return ("dict", [(walk(k), walk(x)) for k, x in v.items()])
        if isinstance(v, (list, tuple, deque)):
            return (type(v).__name__, [walk(x) for x in v])
        if isinstance(v, (set, frozenset)):
            return (type(v).__name__, sorted(repr(x) for x in v))
        if isinstance(v, itertools.count):
            return repr(v)
        if isinstance(v, ZoneInfo):
            return ("tz", v.key)
        attrs = dict(vars(v)) if hasattr(v, "__dict__") else {}
        for cls in type(v).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if hasattr(v, slot):
                    attrs[slot] = getattr(v, slot)
        attrs.pop("_calendars", None)  # a cache of the configuration's calendars
        return (type(v).__qualname__, {k: walk(x) for k, x in sorted(attrs.items())})

    return walk(root)


def wired(plan: list[Any], outages: set[int] = frozenset()  # type: ignore[assignment]
          ) -> list[tuple[Event, dict[str, Any] | None]]:
    """The plan's events as the agent takes them: pad presses carry (device, boot, seq), and
    before each event numbered in ``outages`` the agent was down since the one before."""
    out: list[tuple[Event, dict[str, Any] | None]] = []
    seqs = dict.fromkeys(DEVICES, 0)
    for n, text in enumerate(timeline(plan), 1):
        ev = PARSER.parse_line(text, n)
        if n - 1 in outages and out:
            out.append((Event(out[-1][0].t, "system_outage", HALL, until=ev.t), None))
        wire = None
        if ev.type == "rating" and ev.source == "pad":
            device = f"{ev.counter}-pad"
            seqs[device] += 1
            wire = {"device": device, "boot": 1 + seqs[device] // 7, "seq": seqs[device]}
        out.append((ev, wire))
    return out


def record(journal: Journal, events: list[tuple[Event, dict[str, Any] | None]],
           snapshot_after: set[int], config: HallConfig = CONFIG) -> HallState:
    """Journal the events as the live agent does, a snapshot after each index given (a
    little later than the event: time passes in the engine, as between the agent's ticks)."""
    state = HallState(config)
    for i, (ev, wire) in enumerate(events):
        ev.line = journal.head_seq + 1
        ev.t = max(ev.t, state.engine.now or ev.t)
        if ev.until is not None:
            ev.until = max(ev.until, ev.t)
        outputs = state.engine.handle(ev)
        data = event_to_dict(ev, config.tz)
        if wire is not None:
            data["wire"] = wire
        entry = Entry(ev.t, "event", data, outcome_dict(outputs, config))
        journal.append_many([entry])
        state.note_entry(entry)
        if i in snapshot_after:
            write_snapshot(journal, state, ev.t + 1000 * (i % 3))
    return state


def full_replay(journal: Journal, config: HallConfig = CONFIG) -> HallState:
    state = HallState(config)
    state.replay(journal.records())
    return state


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.data())
def test_the_restored_state_is_the_full_replays_at_every_snapshot(
        plan: list[Any], data: st.DataObject) -> None:
    outages = data.draw(st.sets(st.integers(1, len(plan) - 1), max_size=3), label="outages")
    events = wired(plan, outages)
    points = data.draw(st.sets(st.integers(0, len(events) - 1), max_size=6), label="points")
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        live = record(j, events, points)
        whole = full_replay(j)
        assert form(live) == form(whole)  # the live state is the replayed one
        restored = restore(j, CONFIG)
        assert restored.warnings == ()
        assert form(restored.state) == form(whole)
        snaps = list(j.snapshots())
        assert len(snaps) == len(points)
        if snaps:
            assert restored.snapshot_seq == snaps[0][0].seq
            assert restored.replayed == j.head_seq - snaps[0][0].seq
        for rec, blob in snaps:  # each snapshot is the state a replay up to it gives
            upto = HallState(CONFIG)
            upto.replay(r for r in j.records() if r.seq <= rec.seq)
            assert form(hall_state.decode_state(blob, CONFIG)) == form(upto)
        assert verify(j.path).ok


def test_the_comparison_sees_a_single_changed_field() -> None:
    """The property above would catch a field a snapshot lost: one nested flag differs."""
    events = wired([(0, "A01", {"type": "staff_login", "staff": "S1", "id_hash": "h:1"}),
                    (0, "A01", {"type": "ticket_called", "ticket": "T1"}),
                    (1000, "A01", {"type": "service_done"})])
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        record(j, events, {2})
        restored = restore(j, CONFIG).state
        whole = full_replay(j)
        assert form(restored) == form(whole)
        ticket = restored.engine.counters["A01"].ticket
        assert ticket is not None
        ticket.rated = True
        assert form(restored) != form(whole)
        # Shared objects stay shared: the deadline's ticket is the counter's ticket.
        again = restore(j, CONFIG).state
        held = [d[4] for d in again.engine._deadlines]
        assert again.engine.counters["A01"].ticket in held


def _journal_with_snapshots(tmp: str, n: int = 3) -> tuple[Journal, HallState]:
    events = wired([(60_000 * k, "A01" if k % 2 else "A02",
                     {"type": "rating", "level": "satisfied", "source": "pad"})
                    for k in range(30)])
    j = Journal(Path(tmp) / "j.sqlite")
    record(j, events, set([9, 19, 25][:n]))
    return j, full_replay(j)


def _corrupt(path: Path, seq: int) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("UPDATE snapshots SET state = CAST(X'00' || state AS BLOB) WHERE seq = ?", (seq,))
    db.close()


def test_a_corrupt_snapshot_falls_back_to_the_one_before(
        caplog: pytest.LogCaptureFixture) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        j, whole = _journal_with_snapshots(tmp)
        seqs = [r.seq for r, _ in j.snapshots()]
        _corrupt(j.path, seqs[0])
        with caplog.at_level(logging.WARNING):
            restored = restore(j, CONFIG)
        assert restored.snapshot_seq == seqs[1]
        assert "does not match the digest" in restored.warnings[0]
        assert "not used" in caplog.text
        assert form(restored.state) == form(whole)
        j.close()


def test_with_every_snapshot_unusable_the_whole_journal_is_replayed(
        caplog: pytest.LogCaptureFixture) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        j, whole = _journal_with_snapshots(tmp)
        for rec, _ in list(j.snapshots()):
            _corrupt(j.path, rec.seq)
        with caplog.at_level(logging.WARNING):
            restored = restore(j, CONFIG)
        assert restored.snapshot_seq == 0
        assert restored.replayed == j.head_seq
        assert len(restored.warnings) == 3
        assert "replaying the whole journal" in caplog.text
        assert form(restored.state) == form(whole)
        j.close()


def test_a_snapshot_made_under_another_configuration_is_not_used() -> None:
    other = parse_config('[hall]\nid = "prop"\n[rules]\nlong_pause_min = 25\n')
    with tempfile.TemporaryDirectory() as tmp:
        j, _ = _journal_with_snapshots(tmp)
        seqs = [r.seq for r, _ in j.snapshots()]
        restored = restore(j, other)
        assert restored.snapshot_seq == 0  # and older ones are not tried: one warning
        assert restored.warnings == (f"snapshot at journal record {seqs[0]} not used: made "
                                     "under another configuration",)
        assert form(restored.state) == form(full_replay(j, other))
        j.close()


def test_a_snapshot_whose_record_was_rewritten_is_not_used(
        caplog: pytest.LogCaptureFixture) -> None:
    """Nor is the journal then taken as it is: the full replay names the broken record."""
    with tempfile.TemporaryDirectory() as tmp:
        j, _ = _journal_with_snapshots(tmp, 1)
        seq = next(j.snapshots())[0].seq
        db = sqlite3.connect(j.path, isolation_level=None)
        db.execute("DROP TRIGGER records_no_update")
        db.execute("UPDATE records SET event = replace(event, '\"after\"', '\"afte\"') "
                   "WHERE seq = ?", (seq,))
        db.close()
        with caplog.at_level(logging.WARNING), pytest.raises(ChainBroken, match=f"record {seq}"):
            restore(j, CONFIG)
        assert (f"snapshot at journal record {seq} not used: its record does not match its "
                "hash") in caplog.text
        j.close()


def test_the_codec_builds_only_this_packages_classes() -> None:
    with pytest.raises(snapshot_codec.CodecError, match="not a name in this package"):
        snapshot_codec.decode({"@o": "subprocess:Popen", "f": {}}, {})
    with pytest.raises(snapshot_codec.CodecError, match="not a class of this package"):
        snapshot_codec.encode(Path("x"), {})
    # A class whose fields changed since the snapshot is refused, not half-filled.
    data = snapshot_codec.encode(Event(1, "rating", "A01"), {})
    del data["f"]["pressed"]
    with pytest.raises(snapshot_codec.CodecError, match="has fields"):
        snapshot_codec.decode(json.loads(json.dumps(data)), {})


def test_record_writes_a_snapshot_at_each_days_close() -> None:
    lines = [json.dumps({"t": f"2026-03-0{d}T09:0{m}:00+08:00", "counter": "A01",
                         "type": "staff_login", "staff": "S1", "id_hash": "h:1"})
             for d in (2, 3, 4) for m in (0, 1)]
    with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as j:
        n = hall_state.record_timeline(
            (PARSER.parse_line(x, i) for i, x in enumerate(lines, 1)), CONFIG, j)
        assert n == 6
        kinds = [r.kind for r in j.records()]
        assert kinds == ["staff_login"] * 2 + ["snapshot"] + ["staff_login"] * 2 + [
            "snapshot"] + ["staff_login"] * 2
        restored = restore(j, CONFIG)
        assert restored.snapshot_seq == 6 and restored.replayed == 2
        assert form(restored.state) == form(full_replay(j))


# --- kill -9 while a snapshot is being written ----------------------------------------------

WRITER = r"""
import sys
from pathlib import Path
from edge_agent.config import parse_config
from edge_agent.hall_state import restore, write_snapshot
from edge_agent.journal import Entry, Journal
from edge_agent.records import event_to_dict, outcome_dict
from edge_agent.rules.model import HALL, Event

config = parse_config(sys.argv[2])
journal = Journal(Path(sys.argv[1]))
state = restore(journal, config).state
t = max(state.engine.now or 0, 1772412000000000)
for round_ in range(1000):
    entries = []
    for c in range(300):  # a big hall: the snapshot takes a while to write
        t += 1000
        counter = f"C{c:03d}"
        kind = ("staff_login", "ticket_called", "service_done", "rating")[round_ % 4]
        ev = Event(t, kind, counter, journal.head_seq + len(entries) + 1, staff=f"S{c}",
                   id_hash="h", ticket=f"T{round_}-{c}", level="satisfied")
        out = state.engine.handle(ev)
        entries.append(Entry(t, "event", event_to_dict(ev, config.tz),
                             outcome_dict(out, config)))
    journal.append_many(entries)
    for e in entries:
        state.note(e.t_us, e.event, e.outcome)
    print("writing", journal.head_seq, flush=True)
    write_snapshot(journal, state, t)
    print("written", journal.head_seq, flush=True)
"""
BIG_HALL = '[hall]\nid = "big"\n'


def test_kill_9_while_writing_a_snapshot_leaves_a_start_that_decides_the_same(
        tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    config = parse_config(BIG_HALL)
    interrupted = 0
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), BIG_HALL],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for _ in range(round_ + 1):  # let some snapshots complete, then kill inside one
            line = proc.stdout.readline()
            assert line.startswith("writing"), line
            if _ < round_:
                assert proc.stdout.readline().startswith("written")
        time.sleep(0.002 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Journal(path) as j:
            kinds = [r.kind for r in j.records()]
            interrupted += kinds[-1] != "snapshot"
            restored = restore(j, config)
            whole = full_replay(j, config)
            assert restored.warnings == ()
            assert restored.snapshot_seq == max(
                (seq for seq, k in enumerate(kinds, 1) if k == "snapshot"), default=0)
            assert form(restored.state) == form(whole)
            assert _decisions_after(restored.state) == _decisions_after(whole)
        assert verify(path).ok
    assert interrupted >= 2  # most kills landed inside a snapshot's writing


def _decisions_after(state: HallState) -> list[Any]:
    """What the state decides for the same next inputs: a press at every counter."""
    t = (state.engine.now or 0) + 5_000_000
    return [state.engine.handle(Event(t + i, "rating", c, 10**6 + i, level="satisfied"))
            for i, c in enumerate(sorted(state.engine.counters))]
