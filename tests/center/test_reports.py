"""Month reports and the 好差评 export served from the records a hall sent, equal to the
agent's own `report` of its journal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_agent.cli import main as agent_cli
from tests.center.fixtures import OTHER_TOKEN, VIEWER_TOKEN, auth, batch, record_day

MONTH = "/v1/halls/test/months/2026-03"


@pytest.fixture
def sent(api: TestClient, tmp_path: Path) -> Path:
    """A recorded day, sent to the center in two batches; the journal's path."""
    journal = tmp_path / "journal.sqlite"
    records = record_day(journal)
    for part in (records[:7], records[7:]):
        body, headers = batch(part)
        assert api.post("/v1/halls/test/batches", content=body, headers=headers).json()[
            "stored"] == len(part)
    return journal


def agent_report(journal: Path, tmp_path: Path, capsys: Any) -> dict[str, Any]:
    config = tmp_path / "center" / "test.toml"
    capsys.readouterr()
    assert agent_cli(["report", "--journal", str(journal), "--config", str(config),
                      "--month", "2026-03", "--format", "json"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_the_centers_report_equals_the_agents_report_of_its_journal(
        api: TestClient, sent: Path, tmp_path: Path, capsys: Any) -> None:
    answer = api.get(f"{MONTH}/report.json", headers=auth(VIEWER_TOKEN))
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    center = answer.json()
    assert center == agent_report(sent, tmp_path, capsys)
    assert center["counters"]["A01"]["deductions"]  # the day has deductions to show
    assert api.get(f"{MONTH}/report.json", headers=auth()).json() == center  # own hall


def test_csv_html_and_export_are_served(api: TestClient, sent: Path) -> None:
    counters = api.get(f"{MONTH}/report-counters.csv", headers=auth(VIEWER_TOKEN))
    assert counters.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(counters.text.lstrip("\ufeff"))))
    assert [r["counter"] for r in rows] == ["A01", "A02"]
    staff = api.get(f"{MONTH}/report-staff.csv", headers=auth(VIEWER_TOKEN)).text
    assert [r["staff"] for r in csv.DictReader(io.StringIO(staff.lstrip("\ufeff")))] == [
        "S1", "S2"]
    page = api.get(f"{MONTH}/report.html", headers=auth(VIEWER_TOKEN))
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "A01" in page.text and "未提示评价" in page.text  # the deduction, by its name
    export = api.get(f"{MONTH}/export.json", headers=auth(VIEWER_TOKEN)).json()
    assert len(export) == 3 and {row["行政区划"] for row in export} == {"310118"}
    assert api.get(f"{MONTH}/export.csv", headers=auth(VIEWER_TOKEN)).status_code == 200


def test_report_requests_that_cannot_be_served(api: TestClient, sent: Path) -> None:
    bad = api.get("/v1/halls/test/months/2026-13/report.json", headers=auth(VIEWER_TOKEN))
    assert (bad.status_code, bad.json()["field"]) == (422, "month")
    unknown = api.get(f"{MONTH}/report.pdf", headers=auth(VIEWER_TOKEN))
    assert unknown.status_code == 404 and "report.json" in unknown.json()["reason"]
    assert api.get(f"{MONTH}/report.json", headers=auth(OTHER_TOKEN)).status_code == 403
    assert api.get(f"{MONTH}/report.json").status_code == 401


def test_a_hall_with_no_records_gets_an_empty_report(api: TestClient) -> None:
    doc = api.get(f"{MONTH}/report.json", headers=auth()).json()
    assert doc["month"] == "2026-03" and doc["counters"] == {} and doc["staff"] == {}
