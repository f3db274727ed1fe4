"""Journals written before rules version 2: replay says which decisions and incidents the new
rules change and why (a version change, not tampering), and exits 0 when only those differ."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from edge_agent.config import load_config
from edge_agent.journal import Entry, Journal, rules_versions
from edge_agent.records import event_to_dict, outcome_dict
from edge_agent.rules.engine import RulesEngine
from edge_agent.timeline import EventParser
from tests.helpers import Runner, ev, login, press

DAY_V1 = [login("09:00:00", id_hash="h:old"),
          ev("09:10:00", "ticket_called", ticket="T1"),
          ev("09:11:00", "ticket_called", ticket="T1"),        # 重呼
          ev("09:12:00", "service_done"), press("09:12:10"),
          ev("09:30:00", "device_down", device="A01-pad"),
          ev("09:35:00", "fault_report", device="A01-pad")]   # exempt at once in version 1


def write_v1_journal(path: Path, config_path: Path, lines: list[dict[str, Any]]) -> None:
    """A journal as an agent of rules version 1 wrote it: no version in its meta."""
    config = load_config(config_path)
    engine = RulesEngine(config, rules_version=1)
    parser = EventParser(config.scale)
    with Journal(path) as journal:
        journal.set_meta("hall", config.hall_id)
        for number, line in enumerate(lines, 1):
            item = parser.parse(line, number)
            event = event_to_dict(item, config.tz)
            event.pop("source", None)  # version 1 kept no fault report source
            journal.append(Entry(item.t, "event", event,
                                 outcome_dict(engine.handle(item), config)))
    db = sqlite3.connect(path)  # an agent of version 1 kept no rules version
    db.execute("DELETE FROM meta WHERE key = 'rules_versions'")
    db.commit()
    db.close()


def test_a_version_1_journal_replays_with_its_changes_explained(run: Runner) -> None:
    config = run.config()
    journal = run.tmp / "v1.sqlite"
    write_v1_journal(journal, config, DAY_V1)
    status, out, err = run.cli("replay", "--journal", str(journal), "--config", str(config),
                               "--month", "2026-03")
    assert status == 0, err
    assert "written under an older version of the rules; rules version 2 decides 2 of its " \
           "records otherwise (a version's change, not tampering)" in err
    assert "journal record 3: not_prompted: version 1 gave deducted, version 2 gives no " \
           "incident (重呼: the current ticket called again is the same service " \
           "(rules version 2))" in err
    assert "journal record 6: device_offline of A01-pad: version 1 gave exempt, " \
           "version 2 gives pending (a fault report exempts an outage only once the IT " \
           "department verifies it)" in err
    assert "disagrees with the journal" not in err
    doc = json.loads(out)
    assert [i["kind"] for i in doc["incidents"]] == ["device_offline"]
    assert doc["incidents"][0]["pending"] is True  # the report is the new rules'
    assert doc["report"]["counters"]["A01"]["volume"] == 1


def test_a_tampered_version_1_journal_still_fails(run: Runner) -> None:
    """Records are checked against the rules they were decided under: a difference there is
    a disagreement (exit 1), whatever the version's own changes."""
    journal = run.tmp / "v1.sqlite"
    write_v1_journal(journal, run.config(), [*DAY_V1[:5], press("09:12:20"), *DAY_V1[5:]])
    looser = run.config('[hall]\nid = "test"\n[rules]\ndouble_press_grace_ms = 30000\n')
    status, _, err = run.cli("replay", "--journal", str(journal), "--config", str(looser),
                             "--month", "2026-03")
    assert status == 1
    assert "journal record 6: decision recorded (False, 'already_rated'), replay gives " \
           "(False, 'double_press')" in err
    assert "rules version 2 decides 2 of its records otherwise" in err


def test_what_version_1_held_behind_an_outage_is_not_read_as_tampering(run: Runner) -> None:
    """Version 1 held an outage's incident through its grace and queued the incidents raised
    after it, so they were journaled with a later record; the check reproduces that."""
    config = run.config()
    journal = run.tmp / "v1.sqlite"
    write_v1_journal(journal, config, [
        login("09:00:00"), ev("09:30:00", "device_down", device="A01-pad"),
        ev("09:40:00", "ticket_called", ticket="T1"), ev("09:41:00", "ticket_called", ticket="T2"),
        ev("10:05:00", "ticket_called", ticket="T3")])
    db = sqlite3.connect(journal)
    outcomes = [json.loads(o) for (o,) in db.execute("SELECT outcome FROM records ORDER BY seq")]
    assert [len(o.get("incidents", ())) for o in outcomes] == [0, 0, 0, 0, 3]
    status, _, err = run.cli("replay", "--journal", str(journal), "--config", str(config),
                             "--month", "2026-03")
    assert status == 0 and err == "", err  # same incidents, each left with its own record now


def test_an_agent_opening_an_old_journal_records_where_version_2_begins(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        journal.append(Entry(1, "tick", {}, {}))
        journal.append(Entry(2, "tick", {}, {}))
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'rules_versions'")  # as version 1 left it
    db.commit()
    db.close()
    with Journal(path) as journal:
        journal.claim_rules_version(2)
        journal.claim_rules_version(2)  # again: nothing changes
        journal.append(Entry(3, "tick", {}, {}))
    db = sqlite3.connect(path)
    assert rules_versions(db) == [(1, 1), (3, 2)]
    with Journal(tmp_path / "new.sqlite"):
        pass  # a new journal claims the current rules itself
    assert rules_versions(sqlite3.connect(tmp_path / "new.sqlite")) == [(1, 2)]
