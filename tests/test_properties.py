"""Property tests of the rules engine, the journal and scoring over random event sequences."""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.config import parse_config
from edge_agent.hall_state import record_timeline
from edge_agent.journal import Journal, verify
from edge_agent.records import decision_dict
from edge_agent.replay import ContractWriter, Replayer, journal_events
from edge_agent.rules.model import Decision, Incident
from edge_agent.timeline import EventParser, parse_time

CONFIG = parse_config('[hall]\nid = "prop"\n[rules]\nlong_pause_min = 20\n')
START = datetime(2026, 3, 2, 8, 40, tzinfo=timezone(timedelta(hours=8)))
COUNTERS = ["A01", "A02"]
DEVICES = ["A01-pad", "A02-pad"]

gaps_ms = st.one_of(st.integers(0, 4000), st.integers(0, 20_000), st.integers(0, 70_000),
                    st.integers(0, 3_600_000))
BODIES = {
    "staff_login": st.builds(lambda s, h: {"type": "staff_login", "staff": s, "id_hash": h},
                             st.sampled_from(["S1", "S2", "S3"]),
                             st.sampled_from(["h:1", "h:2", "h:x"])),
    "ticket_called": st.builds(lambda n, a: {"type": "ticket_called", "ticket": f"T{n}",
                                             "applicant": a},
                               st.integers(0, 50), st.sampled_from(["h:1", "h:2", "h:x", "h:y"])),
    "rating": st.builds(lambda lv, src: {"type": "rating", "level": lv, "source": src},
                        st.sampled_from(["satisfied", "unsatisfied"]),
                        st.sampled_from(["pad"] * 9 + ["staff"])),
    "device": st.builds(lambda t, d: {"type": t, "device": d},
                        st.sampled_from(["device_down", "device_up", "fault_report",
                                         "fault_cleared"]),
                        st.sampled_from(DEVICES)),
}
REFS = st.sampled_from([None, "R1", "R2"])
BODIES["fault"] = st.builds(
    lambda d, src, ref: {"type": "fault_report", "device": d, "source": src,
                         **({} if ref is None else {"ref": ref})},
    st.sampled_from(DEVICES), st.sampled_from(["staff", "staff", "pad", "it"]), REFS)
BODIES["ruling"] = st.builds(
    lambda d, verdict, ref: {"type": "fault_verified", "device": d, "verdict": verdict,
                             **({} if ref is None else {"ref": ref})},
    st.sampled_from(DEVICES), st.sampled_from(["device_fault", "not_device_fault"]), REFS)
for simple in ("staff_logout", "service_done", "invite_cancel", "pause", "resume"):
    BODIES[simple] = st.just({"type": simple})
# Weights: presses and the call / invite flow dominate real timelines.
MIX = (["rating"] * 8 + ["service_done"] * 4 + ["ticket_called"] * 4 + ["device"] * 2
       + ["staff_login", "staff_logout", "invite_cancel", "pause", "resume", "fault", "ruling"])
bodies = st.sampled_from(MIX).flatmap(lambda kind: BODIES[kind])
LOGINS = [(0, c, {"type": "staff_login", "staff": f"L{c}", "id_hash": "h:x"}) for c in COUNTERS]
steps = st.lists(st.tuples(gaps_ms, st.sampled_from(COUNTERS), bodies),
                 min_size=1, max_size=80).map(lambda plan: LOGINS + plan)


def timeline(plan: list[tuple[int, str, dict[str, Any]]]) -> list[str]:
    t = START
    lines = []
    for number, (gap, counter, body) in enumerate(plan, 1):
        t += timedelta(milliseconds=gap)
        if "ticket" in body:  # one id per call, so outputs can be grouped by ticket
            body = {**body, "ticket": f"{body['ticket']}-{number}"}
        lines.append(json.dumps({"t": t.isoformat(), "counter": counter, **body}))
    return lines


def replay_doc(lines: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """The replay document and every output, as `replay` produces them."""
    parser = EventParser(CONFIG.scale)
    replayer = Replayer(CONFIG, "2026-03")
    buf = io.StringIO()
    writer = ContractWriter(buf, CONFIG)
    outputs: list[Any] = []
    for number, text in enumerate(lines, 1):
        out = replayer.feed(parser.parse_line(text, number))
        writer.write(out)
        outputs += out
    final = replayer.finish()
    writer.write(final)
    writer.close(replayer.tally.report())
    return json.loads(buf.getvalue()), outputs + final


@settings(max_examples=150, deadline=None)
@given(steps)
def test_every_rating_line_gets_exactly_one_decision(plan: list[Any]) -> None:
    lines = timeline(plan)
    doc, _ = replay_doc(lines)
    rating_lines = [n for n, text in enumerate(lines, 1) if '"rating"' in text]
    assert [d["line"] for d in doc["decisions"]] == rating_lines


@settings(max_examples=100, deadline=None)
@given(steps)
def test_replay_is_deterministic(plan: list[Any]) -> None:
    lines = timeline(plan)
    assert replay_doc(lines)[0] == replay_doc(lines)[0]


@settings(max_examples=150, deadline=None)
@given(steps)
def test_scores_stay_within_zero_and_five(plan: list[Any]) -> None:
    doc, _ = replay_doc(timeline(plan))
    for row in doc["report"]["counters"].values():
        assert 0 <= row["score"] <= 5
        assert 0 <= row["base"] <= 5
        assert row["satisfied"] <= row["ratings"]
        assert row["shortfall_deduction"] in range(6)
    for row in doc["report"]["staff"].values():
        assert 0 <= row["base"] <= 5


@settings(max_examples=150, deadline=None)
@given(steps)
def test_one_rating_and_one_consecutive_incident_per_ticket_at_most(plan: list[Any]) -> None:
    _, outputs = replay_doc(timeline(plan))
    accepted = Counter((o.counter, o.ticket) for o in outputs
                       if isinstance(o, Decision) and o.accepted)
    assert all(n == 1 for n in accepted.values())
    by_line = {o.line: o for o in outputs if isinstance(o, Decision)}
    consecutive = Counter((i.counter, by_line[i.line].ticket) for i in outputs
                          if isinstance(i, Incident) and i.kind == "consecutive_rating")
    assert all(n == 1 for n in consecutive.values())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps, st.integers(1, 64), st.data())
def test_journal_verifies_after_any_prefix_and_replays_the_same(
        plan: list[Any], batch: int, data: st.DataObject) -> None:
    lines = timeline(plan)
    prefix = lines[:data.draw(st.integers(1, len(lines)), label="prefix")]
    parser = EventParser(CONFIG.scale)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite"
        with Journal(path) as j:
            events = (parser.parse_line(text, n) for n, text in enumerate(prefix, 1))
            assert record_timeline(events, CONFIG, j, batch) == len(prefix)
            records = list(j.records())
        assert verify(path).ok
        replayer = Replayer(CONFIG, "2026-03")
        from_journal = []
        for item, record in journal_events(records, parser):
            outs = replayer.feed(item)
            derived = [o for o in outs if isinstance(o, Decision)]
            recorded = record.outcome_dict().get("decision")
            assert [(d.accepted, d.reason) for d in derived] == (
                [] if recorded is None else [(recorded["accepted"], recorded["reason"])])
            from_journal += derived
        timeline_doc, _ = replay_doc(prefix)
        assert [d.reason for d in from_journal] == [d["reason"] for d in
                                                   timeline_doc["decisions"]]
        # Each incident's status as the journal's records leave it (the incident, then any
        # later change to it) is what replay of the same prefix gives, up to the prefix's
        # last event (the replay runs on to the month's end; the journal stops there). A
        # record's line is its seq: snapshot records sit between the events.
        line_of = {r.seq: n for n, r in enumerate(
            (r for r in records if r.kind not in ("snapshot", "tick")), 1)}
        end = max(r.t_us for r in records)
        assert {(c, k, line_of[seq]): v for (c, k, seq), v in
                recorded_statuses(records).items()} == {
            (i["counter"], i["kind"], i["line"]): (i["exempt"], i["pending"])
            for i in timeline_doc["incidents"] if parse_time(i["t"], 0) <= end}


def recorded_statuses(records: list[Any]) -> dict[tuple[str, str, int], tuple[bool, bool]]:
    statuses = {}
    for record in records:
        outcome = record.outcome_dict()
        for i in [*outcome.get("incidents", ()), *outcome.get("changed", ())]:
            statuses[(i["counter"], i["kind"], i["line"])] = (i["exempt"], i["pending"])
    return statuses


@settings(max_examples=150, deadline=None)
@given(steps, st.sampled_from(DEVICES), st.sampled_from(["device_fault", "not_device_fault"]),
       REFS)
def test_a_later_ruling_changes_only_the_outages_its_report_covers(
        plan: list[Any], device: str, verdict: str, ref: str | None) -> None:
    lines = timeline(plan)
    last = json.loads(lines[-1])["t"]
    ruling = {"t": last, "type": "fault_verified", "counter": "A01", "device": device,
              "verdict": verdict, **({} if ref is None else {"ref": ref})}
    before, outputs = replay_doc(lines)
    after, _ = replay_doc([*lines, json.dumps(ruling)])
    ruled = _ruled_report(lines, device, ref)
    covering = {(i.counter, i.line) for i in outputs if isinstance(i, Incident)
                and ruled is not None and any(f.line == ruled for f in i.faults or ())}
    assert len(before["incidents"]) == len(after["incidents"])
    for was, now in zip(before["incidents"], after["incidents"], strict=True):
        if (was["counter"], was["line"]) not in covering or was["kind"] != "device_offline":
            assert was == now
        else:
            assert {k: v for k, v in was.items() if k not in ("exempt", "pending", "faults")} \
                == {k: v for k, v in now.items() if k not in ("exempt", "pending", "faults")}
            assert now["exempt"] == any(f["status"] == "verified" for f in now["faults"])


def _ruled_report(lines: list[str], device: str, ref: str | None) -> int | None:
    """The line of the report a ruling names: the device's latest (with that ref)."""
    found = None
    for number, text in enumerate(lines, 1):
        body = json.loads(text)
        if body["type"] == "fault_report" and body["device"] == device \
                and (ref is None or body.get("ref") == ref):
            found = number
    return found


@settings(max_examples=60, deadline=None)
@given(steps.filter(lambda p: len(p) >= 2), st.data())
def test_a_rewritten_record_is_detected(plan: list[Any], data: st.DataObject) -> None:
    lines = timeline(plan)
    parser = EventParser(CONFIG.scale)
    victim = data.draw(st.integers(1, len(lines)), label="victim")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite"
        with Journal(path) as j:
            record_timeline((parser.parse_line(x, n) for n, x in enumerate(lines, 1)), CONFIG, j)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("DROP TRIGGER records_no_update")
        db.execute("UPDATE records SET outcome = outcome || ' ' WHERE seq = ?", (victim,))
        db.close()
        result = verify(path)
        assert not result.ok
        assert result.records == victim - 1
        assert (result.problem or "").startswith(f"record {victim}:")


@settings(max_examples=500)
@given(st.integers(0, 10**9), st.text(min_size=1), st.booleans(), st.sampled_from(
    ["accepted", "closed", "too_soon"]), st.none() | st.text(min_size=1))
def test_decision_lines_are_the_json_of_the_contract(line: int, counter: str, accepted: bool,
                                                     reason: str, ticket: str | None) -> None:
    from edge_agent.replay import decision_json

    d = Decision(line, 0, counter, accepted, reason, ticket, None, "satisfied")
    assert decision_json(d) == json.dumps(decision_dict(d), ensure_ascii=False)


TIME_DRIVEN = ("device_offline", "long_pause")  # raised when a deadline falls due


@settings(max_examples=150, deadline=None)
@given(steps)
def test_an_events_own_incidents_leave_with_its_outputs(plan: list[Any]) -> None:
    """Nothing is held back: an incident leaves with the event (or deadline) that raised it,
    never with a later one; a later change to it comes as IncidentChanged."""
    parser = EventParser(CONFIG.scale)
    replayer = Replayer(CONFIG, "2026-03")
    for number, text in enumerate(timeline(plan), 1):
        ev = parser.parse_line(text, number)
        outputs = replayer.feed(ev)
        incidents = [o for o in outputs if isinstance(o, Incident)]
        assert all(i.line <= number for i in incidents)
        own = [i for i in incidents if i.kind not in TIME_DRIVEN]
        assert all(i.line == number for i in own)
