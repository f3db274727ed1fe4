"""The queue system logs staff in and out (工号登录) and pauses or resumes a counter (暂停):
the same rules-engine events a badge or the staff keypad makes, journaled before the answer;
a retry is answered and not journaled twice; a report that clashes with what is recorded is
refused. And a frame whose address byte is not its device's is refused (`wrong_address`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_agent.service.clock import ManualClock
from edge_agent.service.inputs import BadgeRead, KeyAction, QueueReport, SerialBytes
from edge_agent.service.queue_report import QueueReportError, parse_report
from edge_agent.wire import Ack, Kind, seal, wire
from tests.service.core_kit import MONDAY_9, PAD_KEY, Pad, make_core
from tests.service.test_core import acks, journal_rows

STAFF = ("S01", "S02")


class Answers:
    def __init__(self, core: Any) -> None:
        self.core = core
        self.got: list[tuple[bool, str, int]] = []

    def report(self, clock: ManualClock, kind: str, **fields: Any) -> QueueReport:
        def done(ok: bool, why: str) -> None:
            self.got.append((ok, why, self.core.journal.head_seq))
        return QueueReport("A01", kind, clock.now_us(), done=done, **fields)


def events(path: Path) -> list[tuple[str, str | None]]:
    return [(r[2]["type"], r[2].get("staff")) for r in journal_rows(path) if r[1] == "event"
            and not r[2]["type"].startswith("device_")]


def test_staff_login_logout_pause_resume_are_the_engines_events_journaled_before_the_answer(
        tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers = Answers(core)
    for kind, fields in [("staff_login", {"staff": "S01"}), ("pause", {}), ("resume", {}),
                         ("staff_login", {"staff": "S02"}), ("staff_logout", {})]:
        core.step([answers.report(clock, kind, **fields)])
        clock.advance(30)
    assert events(tmp_path / "j.sqlite") == [
        ("staff_login", "S01"), ("pause", None), ("resume", None), ("staff_login", "S02"),
        ("staff_logout", "S02")]
    seqs = [r[0] for r in journal_rows(tmp_path / "j.sqlite")
            if r[1] == "event" and not r[2]["type"].startswith("device_")]
    assert [(ok, why) for ok, why, _ in answers.got] == [(True, "")] * 5
    # each answered once its record was committed
    assert all(head >= seq for (_, _, head), seq in zip(answers.got, seqs, strict=True))
    login = journal_rows(tmp_path / "j.sqlite")[0][2]
    assert login["id_hash"] == "h:staff1"  # from [staff.S01]: rule 4 works as with a badge
    assert core.engine.counters["A01"].state == "closed"


def test_a_login_through_the_queue_lets_a_pad_press_count_for_that_staff(tmp_path: Path
                                                                         ) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers = Answers(core)
    core.step([answers.report(clock, "staff_login", staff="S02")])
    core.step([answers.report(clock, "ticket_called", ticket="T1")])
    clock.advance(120)
    core.step([answers.report(clock, "service_done", ticket="T1")])
    clock.advance(3)
    core.step([SerialBytes("/dev/ttyPAD", Pad().press(), clock.now_us())])
    decision = journal_rows(tmp_path / "j.sqlite")[-1][3]["decision"]
    assert decision["accepted"] is True and decision["staff"] == "S02"


def test_retries_are_answered_not_journaled_and_clashes_are_refused(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers = Answers(core)
    steps = [("pause", {}), ("staff_logout", {}),  # a closed counter
             ("staff_login", {"staff": "S01"}), ("staff_login", {"staff": "S01"}),
             ("staff_logout", {"staff": "S02"}), ("resume", {}), ("pause", {}), ("pause", {}),
             ("staff_logout", {"staff": "S01"}), ("staff_logout", {"staff": "S01"})]
    for kind, fields in steps:
        core.step([answers.report(clock, kind, **fields)])
        clock.advance(10)
    assert [(ok, why) for ok, why, _ in answers.got] == [
        (False, "conflict: counter A01 is closed (no staff logged in)"), (True, ""),
        (True, ""), (True, ""),
        (False, "conflict: staff S02 is not logged in at A01 (S01 is)"), (True, ""),
        (True, ""), (True, ""), (True, ""), (True, "")]
    assert events(tmp_path / "j.sqlite") == [("staff_login", "S01"), ("pause", None),
                                             ("staff_logout", "S01")]
    assert core.rejections()["queue_conflict"] == 2


def test_the_queue_and_a_badge_keep_one_state_between_them(tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    answers = Answers(core)
    core.step([BadgeRead("A01-badge", "1001", clock.now_us())])
    clock.advance(10)
    core.step([answers.report(clock, "staff_login", staff="S01")])  # already: not journaled
    core.step([KeyAction("A01-keypad", "pause_toggle", clock.now_us())])
    clock.advance(10)
    core.step([answers.report(clock, "resume")])
    assert events(tmp_path / "j.sqlite") == [("staff_login", "S01"), ("pause", None),
                                             ("resume", None)]


@pytest.mark.parametrize(("body", "message"), [
    (b'{"counter": "A01", "type": "staff_login"}', 'a staff_login report needs "staff"'),
    (b'{"counter": "A01", "type": "staff_login", "staff": "S9"}', "unknown staff 'S9'"),
    (b'{"counter": "A01", "type": "pause", "staff": "S01"}', '"staff" belongs to staff_login'),
    (b'{"counter": "A01", "type": "resume", "ticket": "T1"}',
     "ticket and applicant_id belong to ticket_called / service_done, not resume"),
    (b'{"counter": "A01", "type": "pause", "id": 7}', "id must be 1-32 printable"),
    (b'{"counter": "A01", "type": "staff_lgoin", "staff": "S01"}', "type must be one of"),
])
def test_bad_staff_reports_are_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(QueueReportError, match=message):
        parse_report(body, "salt-0123456789abcdef", {"A01"}, 1, STAFF)


def test_a_good_staff_report_parses() -> None:
    report = parse_report(b'{"counter": "A01", "type": "staff_logout", "staff": "S02", '
                          b'"id": "r-17"}', "salt-0123456789abcdef", {"A01"}, 5, STAFF)
    assert (report.type, report.staff, report.id, report.t_us) == ("staff_logout", "S02",
                                                                   "r-17", 5)


def test_a_frame_with_another_address_than_its_devices_is_refused_not_acked(
        tmp_path: Path) -> None:
    clock = ManualClock(MONDAY_9)
    core = make_core(tmp_path / "j.sqlite", clock)
    pad = Pad()
    stray = wire(seal(PAD_KEY, 9, Kind.PRESS, 1, 1, bytes([0, 0, 0, 0, 0, 0, 1])))
    core.step([SerialBytes("/dev/ttyPAD", stray, clock.now_us())])
    # Nothing journaled for it (the core's first step journals its heartbeat tick only).
    assert [r[1] for r in journal_rows(tmp_path / "j.sqlite")] in ([], ["tick"])
    assert acks(core) == []
    assert core.rejections() == {"wrong_address": 1}
    core.step([SerialBytes("/dev/ttyPAD", pad.press(), clock.now_us())])  # address 1: taken
    assert [a.seq for a, _ in acks(core)] == [1]
    assert isinstance(acks(core)[0][0], Ack)
