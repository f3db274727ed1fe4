"""The core loop through its public surface: items in, journal records and frames out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from edge_agent.journal import Journal, open_for_reading, read_records
from edge_agent.replay import JournalComparison, Replayer, journal_events
from edge_agent.service.clock import ManualClock
from edge_agent.service.core import Core
from edge_agent.service.inputs import BadgeRead, KeyAction, LinkState, QueueReport, SerialBytes
from edge_agent.timeline import EventParser
from edge_agent.wire import Ack, ScreenCode, ScreenCommand
from tests.service.core_kit import (
    MONDAY_9,
    PAD_KEY,
    SIGN_KEY,
    Pad,
    RecordingLink,
    config,
    make_core,
)


def journal_rows(path: Path) -> list[tuple[int, str, dict[str, Any], dict[str, Any]]]:
    db = open_for_reading(path)
    try:
        return [(r.seq, r.kind, r.event_dict(), r.outcome_dict()) for r in read_records(db)]
    finally:
        db.close()


def open_counter(core: Any, clock: ManualClock) -> None:
    """Staff S01 badges in, the queue calls T1, service ends with 请评价."""
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    clock.advance(5)
    core.step([QueueReport("A01", "ticket_called", clock.now_us(), ticket="T1",
                           applicant="h:citizen")])
    clock.advance(120)
    core.step([KeyAction("A01-keypad", "invite", clock.now_us())])
    clock.advance(3)


def acks(core: Any, device: str = "A01-pad") -> list[tuple[Ack, int]]:
    link = core.links["serial:/dev/ttyPAD"]
    out = []
    for (_device, _frame, head), msg in zip(
            [s for s in link.sent if s[0] == device], link.decoded(device, PAD_KEY),
            strict=True):
        if isinstance(msg.body, Ack):
            out.append((msg.body, head))
    return out


def test_a_press_is_journaled_before_its_ack_leaves(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    open_counter(core, clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us())])
    rows = journal_rows(tmp_path / "j.sqlite")
    seq, _kind, event, outcome = rows[-1]
    assert event["type"] == "rating" and event["wire"] == {"device": "A01-pad", "boot": 1,
                                                           "seq": 1}
    assert outcome["decision"]["accepted"] is True
    assert outcome["decision"]["staff"] == "S01"
    [(ack, head_when_sent)] = acks(core)
    assert (ack.boot, ack.seq) == (1, 1)
    assert head_when_sent >= seq  # the record was on disk when the ack left


def test_a_retransmission_is_acked_again_and_never_counted_twice(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    open_counter(core, clock)
    pad = Pad()
    first = pad.press()
    core.step([SerialBytes("/dev/ttyPAD", first, clock.now_us())])
    clock.advance(1)
    core.step([SerialBytes("/dev/ttyPAD", pad.press(seq=1, age_ms=1000), clock.now_us())])
    ratings = [r for r in journal_rows(tmp_path / "j.sqlite") if r[2]["type"] == "rating"]
    assert len(ratings) == 1
    assert [(a.boot, a.seq) for a, _ in acks(core)] == [(1, 1), (1, 1)]


def test_a_restarted_core_keeps_the_guard_marks_and_the_counter_state(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    open_counter(core, clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us())])
    core.journal.close()

    clock.advance(2)
    again = make_core(path, clock)
    assert again.engine.counters["A01"].staff == "S01"
    older = Pad()
    older.seq = 0
    duplicate = pad.press(seq=1)
    replayed = Pad(boot=0).press()  # a frame from an earlier boot: below the mark
    again.step([SerialBytes("/dev/ttyPAD", duplicate + replayed, clock.now_us())])
    assert [r for r in journal_rows(path) if r[2]["type"] == "rating"].__len__() == 1
    assert [(a.boot, a.seq) for a, _ in acks(again)] == [(1, 1)]
    assert again.rejections()["replayed_seq"] == 1


def test_forged_and_unknown_frames_are_counted_and_the_core_goes_on(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    open_counter(core, clock)
    forged = Pad(key=bytes(32)).press()
    core.step([SerialBytes("/dev/ttyPAD", forged + b"\x05garbage\x00", clock.now_us()),
               SerialBytes("/dev/ttyNOPE", Pad().press(), clock.now_us()),
               BadgeRead("A01-badge", "9999", clock.now_us())])
    core.step([SerialBytes("/dev/ttyPAD", Pad().press(), clock.now_us())])
    counts = core.rejections()
    assert counts["bad_tag"] == 1 and counts["unknown_port"] == 1
    assert counts["unknown_card"] == 1
    assert counts["bad_cobs"] == 1
    ratings = [r for r in journal_rows(tmp_path / "j.sqlite") if r[2]["type"] == "rating"]
    assert len(ratings) == 1  # only the genuine press


def test_a_silent_pad_goes_down_and_comes_back_when_heard(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us())])
    clock.advance(29)
    core.step([])
    assert core.devices.health["A01-pad"].online is True
    clock.advance(2)
    core.step([])
    clock.advance(60)
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us())])
    types = [(r[2].get("type"), r[2].get("device"))  # ticks (heartbeats) have no type
             for r in journal_rows(tmp_path / "j.sqlite")]
    assert ("device_down", "A01-pad") in types
    assert types.index(("device_down", "A01-pad")) < types.index(("device_up", "A01-pad"))
    # The sign was never heard either: it went down at the same tick.
    assert ("device_down", "A01-sign") in types
    # Back online, the pad is told what to show.
    shown = [m.body for m in core.links["serial:/dev/ttyPAD"].decoded("A01-pad", PAD_KEY)]
    assert isinstance(shown[-1], ScreenCommand)


def test_a_pad_its_link_reports_gone_is_down_only_once_silent(tmp_path: Path) -> None:
    """A USB port gone or an MQTT last will is no outage by itself: a pad rebooting, or a
    broker restarting, back within device_timeout_s (30 s) journals nothing; one that stays
    away goes down at the silence, with its link's report in the reason."""
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    pad, sign = Pad(), Pad(SIGN_KEY)
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us()),
               SerialBytes("/dev/ttySIGN", sign.heartbeat(), clock.now_us())])
    core.step([LinkState(("A01-pad",), False, clock.now_us(), "last will")])
    assert core.devices.health["A01-pad"].link_lost == "last will"
    clock.advance(20)
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us()),
               SerialBytes("/dev/ttySIGN", sign.heartbeat(), clock.now_us())])
    assert core.devices.health["A01-pad"].link_lost is None
    core.step([LinkState(("A01-pad",), False, clock.now_us(), "port vanished")])
    clock.advance(20)
    core.step([SerialBytes("/dev/ttySIGN", sign.heartbeat(), clock.now_us())])
    clock.advance(11)
    core.step([])
    downs = [r[2] for r in journal_rows(tmp_path / "j.sqlite")
             if r[2].get("type") in ("device_down", "device_up")]
    assert [(d["type"], d["device"], d["reason"]) for d in downs] == [
        ("device_down", "A01-pad", "silent; its link: port vanished")]


def test_an_unplugged_evdev_pad_is_an_outage_a_link_reports(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    cfg = config('[devices.A01-cheap]\ncounter = "A01"\nlink = "evdev"\n'
                 'port = "/dev/input/by-id/cheap"\n')
    core = make_core(tmp_path / "j.sqlite", clock, cfg)
    core.step([LinkState(("A01-cheap",), False, clock.now_us(), "unplugged")])
    clock.advance(10)
    core.step([LinkState(("A01-cheap",), True, clock.now_us(), "plugged in")])
    events = [r[2] for r in journal_rows(tmp_path / "j.sqlite")]
    assert [(e["type"], e.get("reason")) for e in events] == [
        ("device_down", "unplugged"), ("device_up", "plugged in")]


def test_displays_follow_the_counter(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    open_counter(core, clock)
    core.step([KeyAction("A01-keypad", "pause_toggle", clock.now_us())])
    pad_screens = [m.body.screen for m in
                   core.links["serial:/dev/ttyPAD"].decoded("A01-pad", PAD_KEY)]
    sign_screens = [m.body.screen for m in
                    core.links["serial:/dev/ttySIGN"].decoded("A01-sign", SIGN_KEY)]
    assert pad_screens == [ScreenCode.WELCOME, ScreenCode.WELCOME, ScreenCode.INVITE,
                           ScreenCode.PAUSED]
    assert sign_screens == pad_screens
    invite = core.links["serial:/dev/ttyPAD"].decoded("A01-pad", PAD_KEY)[2].body
    assert invite.text == "Zhang\nS01"  # the name, then the staff number (工号)


def test_the_queue_hook_hears_back_only_after_the_commit(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers: list[tuple[bool, str, int]] = []

    def done(ok: bool, why: str) -> None:
        answers.append((ok, why, core.journal.head_seq))

    core.step([QueueReport("A01", "ticket_called", clock.now_us(), ticket="T9", done=done),
               QueueReport("Z99", "service_done", clock.now_us(), done=done)])
    assert answers == [(True, "", 1), (False, "unknown counter 'Z99'", 1)]


def test_a_second_badge_swipe_logs_out_and_a_colleague_covers(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    for card in ("1001", "1002", "1002"):
        core.step([BadgeRead("A01-badge", card, clock.now_us())])
        clock.advance(60)
    events = [(r[2]["type"], r[2].get("staff")) for r in journal_rows(tmp_path / "j.sqlite")
              if r[2]["type"].startswith("staff")]
    assert events == [("staff_login", "S01"), ("staff_login", "S02"), ("staff_logout", "S02")]


def test_a_swipe_the_morning_after_a_missed_logout_logs_in(tmp_path: Path) -> None:
    """Yesterday's logout swipe never arrived (the agent was down): the first swipe of the
    next day opens the counter, and the day's second swipe closes it."""
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    clock.advance(24 * 3600)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    assert core.engine.counters["A01"].staff == "S01"
    clock.advance(8 * 3600)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    assert core.engine.counters["A01"].staff is None
    events = [r[2]["type"] for r in journal_rows(tmp_path / "j.sqlite")
              if r[2]["type"].startswith("staff")]
    assert events == ["staff_login", "staff_login", "staff_logout"]


def test_the_live_journal_replays_to_the_same_decisions_and_incidents(tmp_path: Path) -> None:
    """What the core journals (events and ticks) is what replay re-derives, record by record."""
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.heartbeat(), clock.now_us())])
    open_counter(core, clock)
    core.step([SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us())])
    clock.advance(5)  # past the double-press grace: a second rating for the ticket
    core.step([SerialBytes("/dev/ttyPAD", pad.press("unsatisfied"), clock.now_us())])
    core.step([KeyAction("A01-keypad", "call_next", clock.now_us())])
    clock.advance(200)
    core.step([KeyAction("A01-keypad", "invite", clock.now_us())])
    clock.advance(3)  # the next ticket called 3 s into an unrated invitation
    core.step([KeyAction("A01-keypad", "call_next", clock.now_us())])
    clock.advance(200)
    core.step([KeyAction("A01-keypad", "invite", clock.now_us())])
    for _ in range(100):  # the invitation expires unrated; the pads fall silent
        clock.advance(1)
        core.step([])
    core.step([KeyAction("A01-keypad", "pause_toggle", clock.now_us())])
    clock.advance(2 * 3600)
    core.step([])
    core.journal.close()

    cfg = config()
    replayer = Replayer(cfg, "2026-11")
    comparison = JournalComparison()
    db = open_for_reading(path)
    for item, record in journal_events(read_records(db), EventParser(cfg.scale)):
        comparison.compare(record.outcome_dict(), replayer.feed(item), record.seq)
    db.close()
    kinds = {i["kind"] for r in journal_rows(path) for i in r[3].get("incidents", ())}
    assert {"consecutive_rating", "refused_evaluation", "device_offline",
            "long_pause"} <= kinds, kinds
    assert comparison.disagreements == 0, comparison.shown
    out = io.StringIO()
    json.dump(core.status, out)  # the status snapshot is plain JSON
    assert core.status["counters"][0]["today"]["ratings"] == 2


def test_a_press_that_waited_for_its_poll_keeps_its_press_time(tmp_path: Path) -> None:
    """A citizen's double press 0.5 s apart, the second held 8 s by the link (a slow bus, a
    retransmission) while time passed in the engine: still a double press, not 连续评价."""
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    open_counter(core, clock)
    pad = Pad()
    core.step([SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us())])
    clock.advance(8)
    core.step([])  # a tick: the engine's clock moves past the second press
    core.step([SerialBytes("/dev/ttyPAD", pad.press(age_ms=7500), clock.now_us())])
    rows = [r for r in journal_rows(tmp_path / "j.sqlite") if r[2]["type"] == "rating"]
    assert [r[3]["decision"]["reason"] for r in rows] == ["accepted", "double_press"]
    assert rows[1][2]["pressed"] < rows[1][2]["t"]
    assert not any(r[3].get("incidents") for r in rows)


def test_a_retried_report_naming_the_current_ticket_is_answered_not_journaled(
        tmp_path: Path) -> None:
    """A queue system that lost the answer (the agent was killed after its commit) retries:
    the call and the invitation are journaled once, and the rated ticket is not followed by
    an anonymous one, which a second 请评价 without a ticket would open."""
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers: list[bool] = []

    def report(kind: str, ticket: str | None) -> QueueReport:
        return QueueReport("A01", kind, clock.now_us(), ticket=ticket,
                           done=lambda ok, _why: answers.append(ok))

    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    for kind in ("ticket_called", "ticket_called", "service_done"):
        clock.advance(30)
        core.step([report(kind, "T1")])
    clock.advance(5)
    core.step([SerialBytes("/dev/ttyPAD", Pad().press(), clock.now_us())])
    clock.advance(30)
    core.step([report("service_done", "T1")])
    kinds = [(r[2]["type"], r[2].get("ticket")) for r in journal_rows(tmp_path / "j.sqlite")
             if r[1] == "event" and not r[2]["type"].startswith("device_")]
    assert kinds == [("staff_login", None), ("ticket_called", "T1"), ("service_done", "T1"),
                     ("rating", None)]
    assert answers == [True, True, True, True]
    state = core.engine.counters["A01"]
    assert state.ticket is not None and state.ticket.id == "T1" and state.ticket.rated


def test_input_taken_while_the_journal_is_restored_is_decided_after_it_in_order(
        tmp_path: Path) -> None:
    """A restarting agent's links run before the restore (run.py): what they hear waits on
    the inbox and is decided against the restored state, in the order it arrived."""
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    open_counter(core, clock)  # S01 logged in, T1 invited
    core.journal.close()

    clock.advance(2)
    journal = Journal(path)
    again = Core(config(), journal, boot=2, clock=clock, restore=False)
    again.links["serial:/dev/ttyPAD"] = RecordingLink("serial:/dev/ttyPAD", journal)
    pad = Pad()
    held = [SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us()),
            KeyAction("A01-keypad", "call_next", clock.now_us() + 1),
            QueueReport("A01", "service_done", clock.now_us() + 2)]
    for item in held:
        again.inbox.put(item)
    assert again.engine.counters == {}  # not restored yet: nothing decided
    again.restore()
    again.step([again.inbox.get_nowait() for _ in held])
    rows = journal_rows(path)[-3:]
    assert [r[2]["type"] for r in rows] == ["rating", "ticket_called", "service_done"]
    assert rows[0][3]["decision"]["reason"] == "accepted"  # T1's invitation was restored
    assert rows[0][3]["decision"]["ticket"] == "T1"
    assert [(a.boot, a.seq) for a, _ in acks(again)] == [(1, 1)]


def test_a_restart_journals_the_time_it_was_not_listening_as_a_system_outage(
        tmp_path: Path) -> None:
    """rules.md, System outages: from the last record to the start, the whole hall; a ticket
    under way then, or called in the catch-up after it, is not held against its staff."""
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    clock.advance(5)
    core.step([QueueReport("A01", "ticket_called", clock.now_us(), ticket="T1")])
    last_t = journal_rows(path)[-1][2]["t"]
    core.journal.close()  # kill -9: nothing more is journaled

    clock.advance(300)
    again = make_core(path, clock)
    seq, _, event, _ = journal_rows(path)[-1]
    assert (event["type"], event["counter"], event["t"]) == ("system_outage", "*", last_t)
    assert event["until"] == "2026-11-23T09:05:05+08:00"
    # T2 is called within the catch-up (outage_catch_up_s, 120 s): its call may have been
    # made in the outage and retried since, so it is the outage's too; T4, called after
    # the catch-up, is its staff's.
    for ticket, wait in (("T2", 10), ("T3", 10), ("T4", 130), ("T5", 10)):
        clock.advance(wait)
        again.step([QueueReport("A01", "ticket_called", clock.now_us(), ticket=ticket)])
    incidents = [(i["exempt"], i.get("system_outage")) for r in journal_rows(path)
                 for i in r[3].get("incidents", ()) if i["kind"] == "not_prompted"]
    gap = [last_t, event["until"]]  # (the pads, silent since, are down by T4: not counted)
    assert incidents == [(True, gap), (True, gap), (True, gap), (False, None)]
    again.journal.close()
    assert make_core(path, clock).journal.head_seq == seq + 6  # no time missed: no outage


def test_a_heartbeat_bounds_a_quiet_journal_and_a_clean_stop_writes_the_last(
        tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    path = tmp_path / "j.sqlite"
    core = make_core(path, clock)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    for _ in range(7):
        clock.advance(30)
        core.step([])
    # The pad and sign fall silent at 09:01 (device_down); then a heartbeat each minute.
    ticks = [r for r in journal_rows(path) if r[1] == "tick"]
    assert [(t[2]["t"][11:19], t[3]) for t in ticks] == [("09:02:00", {}), ("09:03:00", {})]
    clock.advance(5)
    core.step([], closing=True)
    assert journal_rows(path)[-1][2]["t"][11:19] == "09:03:35"
