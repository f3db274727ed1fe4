"""The center's month report is the agent's own replay of the hall's journal, to the byte."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.config import parse_config
from edge_agent.journal import ChainBroken
from server_stub.reports import ReportQueryError, month_report, render_csv, replay_month
from tests.center_reports import (
    MONTH,
    Hall,
    cli_report,
    dumps,
    generated_hall,
    in_month,
    read_all,
    record,
)

CHEATS = {"self_rating", "consecutive_rating", "refused_evaluation", "not_prompted",
          "long_pause", "device_offline"}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    return generated_hall(tmp_path_factory.mktemp("hall"))


@pytest.fixture(scope="module")
def report(hall: Hall) -> dict[str, Any]:
    return month_report(hall.records(), hall.config, MONTH)


@pytest.mark.parametrize("month", ["2026-02", MONTH, "2026-04"])
def test_month_report_is_what_the_agent_report_command_prints(hall: Hall, month: str) -> None:
    """Every counter's and staff member's figures and deductions, byte for byte."""
    assert dumps(month_report(hall.records(), hall.config, month)) == cli_report(hall, month)


def test_the_month_has_every_cheat_and_every_counter_and_staff(report: dict[str, Any]) -> None:
    kinds = {d["kind"] for row in report["counters"].values() for d in row["deductions"]}
    assert kinds >= CHEATS
    assert sorted(report["counters"]) == ["A01", "A02", "A03", "A04", "A05", "A06", "A07", "A08"]
    assert sorted(report["staff"]) == [f"S00{i}" for i in range(1, 9)]
    exempt = [d for row in report["counters"].values() for d in row["deductions"] if d["exempt"]]
    assert exempt and all(d["kind"] == "device_offline" for d in exempt)  # the faulty pad


def test_records_of_other_months_are_not_counted(hall: Hall, report: dict[str, Any],
                                                 tmp_path: Path) -> None:
    """The same month recorded alone gives the same figures; its records' seqs are shifted
    by the records of the days before it in the full chain (events and day-close snapshots)."""
    alone = record(tmp_path, "march", list(in_month(hall.events)), hall.config_path)
    march = month_report(read_all(alone), hall.config, MONTH)
    before = next(r.seq for r in hall.records()
                  if r.kind != "snapshot" and r.event_dict()["t"] >= MONTH) - 1
    assert before > 0 and len(hall.events) > sum(1 for _ in in_month(hall.events))

    def shifted(r: dict[str, Any]) -> dict[str, Any]:
        def row(x: dict[str, Any]) -> dict[str, Any]:
            return {**x, "deductions": [
                {**d, **{key: [n + before for n in d[key]]
                         for key in ("lines", "exempt_lines", "pending_lines")},
                 **({"outages": [
                     {**o, "line": o["line"] + before,
                      "faults": [{**f, "line": f["line"] + before} for f in o["faults"]]}
                     for o in d["outages"]]} if "outages" in d else {})}
                for d in x["deductions"]]}
        return {**r, "counters": {k: row(v) for k, v in r["counters"].items()},
                "staff": {k: row(v) for k, v in r["staff"].items()}}

    assert shifted(march) == report


def test_a_month_with_no_records_of_its_own_reports_zeros(hall: Hall) -> None:
    empty = month_report(hall.records(), hall.config, "2026-06")
    assert all(row["volume"] == row["ratings"] == 0 and row["deductions"] == []
               for scope in ("counters", "staff") for row in empty[scope].values())


def test_evidence_names_the_record_and_time_behind_every_deduction(hall: Hall,
                                                                   report: dict[str, Any]
                                                                   ) -> None:
    replay = replay_month(hall.records(), hall.config, MONTH)
    assert replay.report == report
    assert replay.disagreements == 0 and replay.checked == len(hall.records())
    times = {e["t"][:19] for e in hall.events}
    for scope in ("counters", "staff"):
        for key, row in report[scope].items():
            evidence = replay.evidence[scope][key]
            for d in row["deductions"]:
                mine = [e for e in evidence if e["kind"] == d["kind"]]
                assert [e["seq"] for e in mine if not e["exempt"]] == d["lines"]
                assert [e["seq"] for e in mine if e["exempt"]] == d["exempt_lines"]
                assert all(e["t"].startswith(MONTH) for e in mine)
            # an event-driven incident happens at its record's time
            driven = [e for e in evidence if e["kind"] in ("self_rating", "not_prompted")]
            assert all(e["t"][:19] in times for e in driven)


def test_a_changed_configuration_shows_where_the_replay_disagrees(hall: Hall) -> None:
    looser = dataclasses.replace(hall.config, rules=dataclasses.replace(
        hall.config.rules, min_invite_s=1))
    replay = replay_month(hall.records(), looser, MONTH)
    assert replay.disagreements > 0
    assert replay.shown[0].startswith("journal record ")
    assert "refused_evaluation" in replay.shown[0]


def test_the_chain_must_start_at_record_one(hall: Hall) -> None:
    with pytest.raises(ChainBroken, match="record 2: expected record 1 here"):
        month_report(hall.records()[1:10], hall.config, MONTH)


def test_a_rewritten_record_is_named(hall: Hall) -> None:
    records = hall.records()[:20]
    records[7] = dataclasses.replace(records[7], t_us=records[7].t_us + 1)
    with pytest.raises(ChainBroken, match="record 8: its content does not match its hash"):
        month_report(records, hall.config, MONTH)


@pytest.mark.parametrize("month", ["2026-3", "2026-13", "03-2026", ""])
def test_a_bad_month_is_a_precise_error(month: str) -> None:
    with pytest.raises(ReportQueryError, match="month must be YYYY-MM"):
        month_report([], parse_config('[hall]\nid = "x"\n'), month)


# --- CSV --------------------------------------------------------------------------------


def parse_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize(("by", "scope"), [("counter", "counters"), ("staff", "staff")])
def test_csv_parses_back_to_the_same_numbers(report: dict[str, Any], by: str,
                                             scope: str) -> None:
    rows = parse_csv(render_csv(report, by))
    assert [r[by] for r in rows] == list(report[scope])
    for r in rows:
        want = report[scope][r[by]]
        assert r["month"] == MONTH
        for key in ("volume", "ratings", "satisfied", "standard", "shortfall",
                    "shortfall_deduction"):
            assert int(r[key]) == want[key]
        for key in ("base", "penalties", "score"):
            assert float(r[key]) == want[key]
        assert deductions_from_text(r["deductions"]) == {
            d["kind"]: (d["points"], d["lines"], d["exempt_lines"]) for d in want["deductions"]}


def deductions_from_text(text: str) -> dict[str, tuple[float, list[int], list[int]]]:
    out = {}
    for part in filter(None, text.split("; ")):
        head, _, rest = part.partition(" [")
        kind, points = head.split(" -")
        seqs, _, exempt = rest.partition("]")
        out[kind] = (float(points), [int(n) for n in seqs.split()],
                     [int(n) for n in exempt.replace("exempt:", "").split()])
    return out


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8, unique=True))
def test_csv_keeps_any_counter_id(report: dict[str, Any], ids: list[str]) -> None:
    """Commas, quotes, line breaks, Chinese: every id comes back as it was."""
    rows = list(report["counters"].values())[:len(ids)]
    renamed = {**report, "counters": dict(zip(ids, rows, strict=False))}
    parsed = parse_csv(render_csv(renamed, "counter"))
    assert [r["counter"] for r in parsed] == ids[:len(rows)]
    assert [int(r["volume"]) for r in parsed] == [r["volume"] for r in rows]


def test_csv_refuses_a_bad_scope_or_a_non_report(report: dict[str, Any]) -> None:
    with pytest.raises(ReportQueryError, match="by must be 'counter' or 'staff', got 'hall'"):
        render_csv(report, "hall")
    with pytest.raises(ReportQueryError, match="not a month report"):
        render_csv({"counters": {}}, "counter")
