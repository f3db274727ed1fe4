"""The journal commands as an operator uses them: record, verify, replay and report from it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

from edge_agent.progress import Progress
from tests.helpers import Runner, ev, login, press, write_timeline

ROOT = Path(__file__).resolve().parent.parent
DAY = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1"),
       ev("09:12:00", "service_done"), press("09:12:05"), press("09:12:30"),
       ev("09:20:00", "ticket_called", ticket="T2"), ev("09:30:00", "ticket_called", ticket="T3"),
       ev("09:31:00", "service_done"), press("09:31:20", "unsatisfied")]


def _recorded(run: Runner) -> tuple[Path, Path, Path]:
    timeline = write_timeline(run.tmp / "day.jsonl", DAY)
    config = run.config()
    journal = run.tmp / "journal.sqlite"
    status, out, err = run.cli("record", str(timeline), "--journal", str(journal),
                               "--config", str(config))
    assert status == 0, err
    assert out.startswith(f"recorded {len(DAY)} events into {journal}; head ")
    return timeline, config, journal


def test_replay_from_journal_equals_replay_from_timeline(run: Runner) -> None:
    timeline, config, journal = _recorded(run)
    status, out, _ = run.cli("verify", str(journal))
    assert status == 0 and out.startswith(f"ok: {len(DAY)} records")
    _, from_timeline, _ = run.cli("replay", str(timeline), "--config", str(config),
                                  "--month", "2026-03")
    status, from_journal, err = run.cli("replay", "--journal", str(journal), "--config",
                                        str(config), "--month", "2026-03")
    assert status == 0, err
    assert json.loads(from_journal) == json.loads(from_timeline)  # journal seq == line here


def test_tampered_journal_stops_replay_and_verify(run: Runner) -> None:
    _, config, journal = _recorded(run)
    db = sqlite3.connect(journal, isolation_level=None)
    db.execute("DROP TRIGGER records_no_update")
    db.execute("UPDATE records SET event = replace(event, 'unsatisfied', 'satisfied') "
               "WHERE seq = 9")
    db.close()
    status, out, _ = run.cli("verify", str(journal))
    assert status == 1
    assert out.startswith("BROKEN: record 9: its content does not match its hash")
    status, _, err = run.cli("replay", "--journal", str(journal), "--config", str(config),
                             "--month", "2026-03")
    assert status == 1
    assert "record 9: its content does not match its hash" in err


def test_verify_against_a_head_kept_elsewhere(run: Runner) -> None:
    _, _, journal = _recorded(run)
    status, out, _ = run.cli("verify", str(journal))
    head = out.split()[-1]
    assert run.cli("verify", str(journal), "--head", head)[0] == 0
    status, out, _ = run.cli("verify", str(journal), "--head", "0" * 64)
    assert status == 1 and "the history was rewritten" in out
    assert run.cli("verify", str(journal), "--head", "xyz")[0] == 2


def test_changed_rules_show_where_replay_disagrees_with_the_journal(run: Runner) -> None:
    _, _, journal = _recorded(run)
    stricter = run.config('[hall]\nid = "test"\n[rules]\ndouble_press_grace_ms = 30000\n')
    status, out, err = run.cli("replay", "--journal", str(journal), "--config", str(stricter),
                               "--month", "2026-03")
    assert status == 1
    assert "journal record 5: decision recorded (False, 'already_rated'), replay gives " \
           "(False, 'double_press'); incidents recorded " \
           "[('consecutive_rating', 5, False, False)], replay gives []" in err
    assert json.loads(out)["decisions"][1]["reason"] == "double_press"


def test_report_formats_list_the_records_behind_each_deduction(run: Runner) -> None:
    _, config, journal = _recorded(run)
    base = ("report", "--journal", str(journal), "--config", str(config), "--month", "2026-03")
    status, out, _ = run.cli(*base, "--format", "json")
    assert status == 0
    row = json.loads(out)["counters"]["A01"]
    # base (5 + 0) / 2; standard ⌈0.7·3⌉ = 3, one rating short → −1; penalties 1 + 1
    assert (row["base"], row["shortfall_deduction"], row["penalties"], row["score"]) == (
        2.5, 1, 2.0, 0.0)
    assert {d["kind"]: d["lines"] for d in row["deductions"]} == {
        "consecutive_rating": [5], "not_prompted": [7]}
    status, out, _ = run.cli(*base, "--format", "csv")
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["scope"] == "counter" and rows[0]["id"] == "A01"
    assert rows[0]["deductions"] == "consecutive_rating -1.0 [5]; not_prompted -1.0 [7]"
    assert rows[1]["scope"] == "staff" and rows[1]["id"] == "S1"
    status, out, _ = run.cli(*base)
    assert status == 0
    assert "not_prompted ×1 −1.00  (journal record 7)" in out


def test_record_refuses_a_journal_that_already_holds_records(run: Runner) -> None:
    timeline, config, journal = _recorded(run)
    status, _, err = run.cli("record", str(timeline), "--journal", str(journal), "--config",
                             str(config))
    assert status == 2 and "already holds 9 records" in err


def test_progress_bar_draws_share_and_rate() -> None:
    screen = io.StringIO()
    bar = Progress(total=2048 * 100, label="replay", stream=screen)
    for _ in range(2048):
        bar.advance(100)
    bar.close()
    last = screen.getvalue().rstrip("\n").split("\r")[-1]
    assert last.startswith("replay [" + "#" * 30 + "] 100%")
    assert last.endswith("MB/s")


def test_record_names_the_line_where_time_goes_backwards(run: Runner) -> None:
    timeline = write_timeline(run.tmp / "bad.jsonl", [*DAY, ev("09:00:00", "resume")])
    status, _, err = run.cli("record", str(timeline), "--journal", str(run.tmp / "j.sqlite"),
                             "--config", str(run.config()))
    assert status == 2
    assert "bad.jsonl line 10: time goes backwards: 2026-03-02T09:00:00+08:00 is before " \
           "2026-03-02T09:31:20+08:00 (line 9)" in err


def test_a_journal_is_replayed_only_with_its_own_halls_config(run: Runner) -> None:
    _, _, journal = _recorded(run)
    other = run.config('[hall]\nid = "another"\n')
    status, _, err = run.cli("replay", "--journal", str(journal), "--config", str(other),
                             "--month", "2026-03")
    assert status == 2
    assert "is the journal of hall 'test', but" in err and "configures hall 'another'" in err


def test_a_changed_deduction_shows_even_when_no_decision_changes(run: Runner) -> None:
    """The disputed deduction itself is compared, not only the presses' decisions."""
    timeline = write_timeline(run.tmp / "day.jsonl", [
        login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1"),
        ev("09:12:00", "service_done"), ev("09:12:07", "invite_cancel")])
    journal = run.tmp / "j.sqlite"
    assert run.cli("record", str(timeline), "--journal", str(journal), "--config",
                   str(run.config()))[0] == 0
    looser = run.config('[hall]\nid = "test"\n[rules]\nmin_invite_s = 5\n')
    status, _, err = run.cli("report", "--journal", str(journal), "--config", str(looser),
                             "--month", "2026-03")
    assert status == 1
    assert "journal record 4: incidents recorded [('refused_evaluation', 4, False, False)], " \
           "replay gives []" in err
    assert "disagrees with the journal on 1 of 4 records" in err
