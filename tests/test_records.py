"""The journal record (edge_agent/records.py): the center's entry as a field, older journals'
entry in the reason still read, and the sequence numbers the journal gives."""

from __future__ import annotations

from pathlib import Path

from edge_agent.config import HallConfig
from edge_agent.journal import Entry, Journal
from edge_agent.records import FaultRecord, center_entry, event_record, fault_reason
from edge_agent.rules.model import Event
from edge_agent.timeline import EventParser

TZ = HallConfig("H").tz
RULING = FaultRecord("A01-pad", False, 0, "人为关机", "12", "ruling",
                     fault_ref="center-3", verdict="not_device_fault")


def test_an_applied_entry_is_journaled_as_a_field_and_parses_as_its_event() -> None:
    ev = Event(1_772_417_100_000_000, "fault_verified", "A01", device="A01-pad",
               reason=fault_reason(RULING), ref="center-3", verdict="not_device_fault")
    data = event_record(ev, TZ, center=RULING)
    assert data["center_entry"] == 12
    assert center_entry(data) == 12
    again = EventParser("binary").parse(data, 1)  # the field is the record's, not the event's
    assert (again.type, again.ref, again.verdict, again.reason) == (
        "fault_verified", "center-3", "not_device_fault", "center:12: 人为关机")


def test_older_journals_name_the_entry_in_the_reason_only() -> None:
    old = {"type": "fault_report", "counter": "A01", "device": "A01-pad",
           "reason": "center:7: 屏幕不亮"}
    assert center_entry(old) == 7
    assert center_entry({**old, "center_entry": 9}) == 9  # the field wins
    assert center_entry({**old, "reason": "pad fault: 3 (x)"}) is None
    assert center_entry({**old, "type": "rating"}) is None  # only fault events apply entries
    assert center_entry({**old, "center_entry": True, "reason": "x"}) is None


def test_the_journal_gives_the_numbers_its_records_get(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        assert journal.next_seq() == 1
        entries = [Entry(i, "event", {"n": i}, {}) for i in range(3)]
        expected = [journal.next_seq(pending) for pending in range(len(entries))]
        assert journal.append_many(entries) == expected == [1, 2, 3]
        assert journal.next_seq() == 4
        assert journal.next_seq(2) == 6
