"""The 好差评 export: one table-9 row per accepted rating of the month, nothing of a citizen."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.config import load_config
from edge_agent.journal import Record
from edge_agent.scoring import month_bounds
from server_stub.export import (
    FIELDS,
    ExportError,
    case_number,
    haochaping_rows,
    render_export,
)
from server_stub.reports import month_report
from tests.center_reports import (
    MONTH,
    Hall,
    citizen_hashes,
    days_around,
    generated_hall,
    record,
    write_config,
)
from tests.helpers import ev, login, press
from tools import hallgen

REGION = "310118"  # 青浦区
CODES = {"very_satisfied": ("非常满意", "5"), "satisfied": ("满意", "4"),
         "basic": ("基本满意", "3"), "unsatisfied": ("不满意", "2"),
         "very_unsatisfied": ("非常不满意", "1")}


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    return generated_hall(tmp_path_factory.mktemp("hall"))


def accepted_in_journal(records: list[Record], month: str, hall: Hall
                        ) -> list[tuple[Record, dict[str, Any]]]:
    """The oracle: what the live agent journaled as accepted, pressed in the month."""
    start, end = month_bounds(month, hall.config.tz)
    return [(r, r.event_dict()) for r in records
            if r.outcome_dict().get("decision", {}).get("accepted") and start <= r.t_us < end]


def parse_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    reader = csv.reader(io.StringIO(text[1:], newline=""))
    assert next(reader) == list(FIELDS)
    return [dict(zip(FIELDS, row, strict=True)) for row in reader]


def check_rows_against_journal(rows: list[dict[str, str]], hall: Hall, month: str,
                               region: str = REGION) -> None:
    records = hall.records()
    accepted = accepted_in_journal(records, month, hall)
    assert len(rows) == len(accepted)
    seen: dict[str, int] = {}
    for row, (r, event) in zip(rows, accepted, strict=True):
        ticket = r.outcome_dict()["decision"]["ticket"]
        number = case_number(hall.config.hall_id, ticket, r.seq)
        seen[number] = seen.get(number, 0) + 1
        t = event["t"]  # local time with offset, as the pad press was stamped
        assert row == {
            "办件编号": number, "评价渠道": "政务大厅其他终端", "评价人": "",
            "评价时间": f"{t[0:4]}{t[5:7]}{t[8:10]}T{t[11:13]}{t[14:16]}{t[17:19]}",
            "评价次数": str(seen[number]), "满意度": CODES[event["level"]][0],
            "满意度代码": CODES[event["level"]][1], "文字评价": "", "行政区划": region}
        assert len(number) <= 50 and number.isascii()
        assert number == ticket or number.startswith("W")


def check_no_citizen_data(text: str, events: list[dict[str, Any]]) -> None:
    """No applicant or staff ID hash, whole, without its "h:" or in upper case."""
    secrets = {h.removeprefix("h:").lower() for h in citizen_hashes(events)}
    assert secrets and "h:" not in text
    width = min(len(h) for h in secrets)
    for run in re.findall(f"[0-9a-fA-F]{{{width},}}", text):
        run = run.lower()
        assert not any(run[i:i + len(h)] == h for h in secrets if len(h) <= len(run)
                       for i in range(len(run) - len(h) + 1))


def test_one_row_per_accepted_rating_of_the_month(hall: Hall) -> None:
    rows = haochaping_rows(hall.records(), hall.config, MONTH, REGION)
    check_rows_against_journal(rows, hall, MONTH)
    report = month_report(hall.records(), hall.config, MONTH)  # the export and the report agree
    assert len(rows) == sum(r["ratings"] for r in report["counters"].values())
    assert sum(r["满意度"] == "满意" for r in rows) == sum(
        r["satisfied"] for r in report["counters"].values())
    assert {r["满意度"] for r in rows} == {"满意", "不满意"}  # the binary scale
    for fmt in ("json", "csv"):
        check_no_citizen_data(render_export(rows, fmt), hall.events)


def test_rejected_presses_are_not_exported(hall: Hall) -> None:
    rows = haochaping_rows(hall.records(), hall.config, MONTH, REGION)
    start, end = month_bounds(MONTH, hall.config.tz)
    presses = [r for r in hall.records()
               if r.kind == "rating" and start <= r.t_us < end]
    assert len(presses) > len(rows) > 0


def test_both_formats_parse_back_to_the_rows(hall: Hall) -> None:
    rows = haochaping_rows(hall.records(), hall.config, "2026-04", REGION)
    assert rows and all(r["评价时间"].startswith("202604") for r in rows)
    assert json.loads(render_export(rows, "json")) == rows
    assert parse_csv(render_export(rows, "csv")) == rows
    assert render_export(rows, "csv").count("\r\n") == len(rows) + 1  # RFC 4180 rows


# --- a property over generated timelines ------------------------------------------------

FIVE = '[hall]\nid = "hall-9"\n[scale]\nkind = "five"\n'
BINARY = '[hall]\nid = "hall-9"\n'


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), counters=st.integers(1, 3),
       first=st.sampled_from([date(2026, 2, 27), date(2026, 3, 16), date(2026, 3, 31)]),
       five=st.booleans(), anonymous=st.floats(0, 1), region=st.from_regex(r"[1-9]\d{0,8}",
                                                                         fullmatch=True))
def test_property_rows_match_the_journal(seed: int, counters: int, first: date, five: bool,
                                         anonymous: float, region: str) -> None:
    """Any hall: one row per journaled accepted rating of the month, codes and formats right,
    anonymous tickets (no queue system) get stable derived ids, no citizen hash leaves."""
    events = generate(seed, counters, days_around(first, 2), five, anonymous)
    with tempfile.TemporaryDirectory() as tmp:
        hall = small_hall(Path(tmp), events, FIVE if five else BINARY)
        rows = haochaping_rows(hall.records(), hall.config, MONTH, region)
        check_rows_against_journal(rows, hall, MONTH, region)
        again = haochaping_rows(hall.records(), hall.config, MONTH, region)
    assert again == rows  # stable ids
    for fmt in ("json", "csv"):
        check_no_citizen_data(render_export(rows, fmt), events)


def generate(seed: int, counters: int, days: list[date], five: bool, anonymous: float
             ) -> list[dict[str, Any]]:
    """A generated timeline; some tickets never called (anonymous), five levels if asked."""
    rng = random.Random(seed)
    stream, _ = hallgen.generate(counters, days, seed)
    out = []
    for e in stream:
        if e["type"] == "ticket_called" and rng.random() < anonymous:
            continue  # a hall without a queue system: 请评价 opens an anonymous ticket
        if e["type"] == "rating" and five:
            e = {**e, "level": rng.choice(list(CODES))}
        out.append(e)
    return out


# --- the fields, one by one -------------------------------------------------------------


def small_hall(tmp_path: Path, lines: list[dict[str, Any]], config: str = BINARY) -> Hall:
    config_path = write_config(tmp_path, config)
    journal = record(tmp_path, "t", lines, config_path)
    return Hall(config_path, load_config(config_path), journal, lines)


def test_case_numbers_the_ticket_or_a_stable_derived_id(tmp_path: Path) -> None:
    odd = ["=SUM(A1)", "T 1", "号1", "x" * 51]
    lines = [login("08:40:00", id_hash="h:staff")]
    for n, ticket in enumerate(["T1", *odd, "x" * 50]):
        lines += [ev(f"09:{n:02d}:00", "ticket_called", ticket=ticket, applicant=f"h:cit{n}"),
                  ev(f"09:{n:02d}:20", "service_done"), press(f"09:{n:02d}:30")]
    lines += [ev("10:00:00", "service_done"), press("10:00:30")]  # anonymous ticket
    hall = small_hall(tmp_path, lines)
    numbers = [r["办件编号"] for r in haochaping_rows(hall.records(), hall.config, MONTH,
                                                       REGION)]
    assert numbers[0] == "T1" and numbers[5] == "x" * 50
    for ticket, number in zip(odd, numbers[1:5], strict=True):
        digest = hashlib.sha256(f"hall-9\x00{ticket}".encode()).hexdigest()
        assert number == "W" + digest[:24].upper()
    assert numbers[6].startswith("W") and len(numbers[6]) == 25
    assert len(set(numbers)) == len(numbers)


def test_a_recalled_ticket_is_rated_a_second_time(tmp_path: Path) -> None:
    lines = [login("08:40:00"),
             ev("09:00:00", "ticket_called", ticket="B7"), ev("09:05:00", "service_done"),
             press("09:05:10"),
             ev("09:30:00", "ticket_called", ticket="B8"), ev("09:35:00", "service_done"),
             press("09:35:10", "unsatisfied"),
             ev("10:00:00", "ticket_called", ticket="B7"), ev("10:05:00", "service_done"),
             press("10:05:10")]
    hall = small_hall(tmp_path, lines)
    rows = haochaping_rows(hall.records(), hall.config, MONTH, "3101")
    assert [(r["办件编号"], r["评价次数"], r["满意度代码"], r["评价时间"]) for r in rows] == [
        ("B7", "1", "4", "20260302T090510"), ("B8", "1", "2", "20260302T093510"),
        ("B7", "2", "4", "20260302T100510")]


def test_more_than_99_ratings_of_one_case_is_an_error(tmp_path: Path) -> None:
    lines: list[dict[str, Any]] = [login("08:00:00")]
    # The same ticket id called, served and rated 100 times, each call after the last
    # invitation expired (calling the current ticket again is one service: 重呼).
    for n in range(100):
        lines += [ev(clock(n * 70 + 1), "ticket_called", ticket="A001"),
                  ev(clock(n * 70 + 2), "service_done"), press(clock(n * 70 + 3))]
    hall = small_hall(tmp_path, lines)
    with pytest.raises(ExportError, match="办件编号 A001: more than 99 ratings in one month"):
        haochaping_rows(hall.records(), hall.config, MONTH, REGION)


def clock(seconds_after_eight: int) -> str:
    s = 8 * 3600 + seconds_after_eight
    return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"


@pytest.mark.parametrize("region", ["", "1234567890", "31011a", " 310118", 310118])
def test_a_bad_region_code_is_refused(region: Any, tmp_path: Path) -> None:
    hall = small_hall(tmp_path, [login("08:40:00")])
    with pytest.raises(ExportError, match="region_code"):
        haochaping_rows(hall.records(), hall.config, MONTH, region)


def test_render_refuses_a_bad_format_or_a_malformed_row() -> None:
    good = {"办件编号": "T1", "评价渠道": "政务大厅其他终端", "评价人": "",
            "评价时间": "20260302T090510", "评价次数": "1", "满意度": "满意", "满意度代码": "4",
            "文字评价": "", "行政区划": REGION}
    assert render_export([good], "json")
    with pytest.raises(ExportError, match="format must be 'json' or 'csv', got 'xml'"):
        render_export([good], "xml")
    with pytest.raises(ExportError, match="row 2: a row needs exactly the fields"):
        render_export([good, {k: v for k, v in good.items() if k != "评价人"}], "csv")
    with pytest.raises(ExportError, match="row 1: 评价人 'h:3f9a' is not in its format"):
        render_export([{**good, "评价人": "h:3f9a"}], "json")  # a citizen's hash never leaves
    with pytest.raises(ExportError, match="row 1: 评价次数 1 is not in its format"):
        render_export([{**good, "评价次数": 1}], "json")  # type: ignore[dict-item]
