"""The month's report page, rendered by a real browser (headless Chromium)."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import load_config
from server_stub.reports import MonthReplay, render_html, replay_month
from tests.center_reports import (
    MONTH,
    ROOT,
    Hall,
    generated_hall,
    read_all,
    record,
    write_config,
)
from tests.helpers import ev, login, press

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason="Debian's chromium is not installed")


def chromium(tmp: Path, page: Path, *args: str) -> str:
    """Run headless Chromium on a file:// page; its standard output (the DOM for --dump-dom)."""
    profile = tmp / "chromium-profile"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Dom(HTMLParser):
    """What the tests read from the browser's DOM: per section, the score, each deduction's
    records (seq and time), and all the text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.sections: dict[tuple[str, str], dict[str, Any]] = {}
        self.text: list[str] = []
        self.tags: set[str] = set()
        self._section: dict[str, Any] | None = None
        self._kind: str | None = None
        self._in_score = False
        self._seq: int | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        for scope in ("counter", "staff"):
            if tag == "section" and f"data-{scope}" in a:
                self._section = {"score": "", "kinds": {}}
                self.sections[(scope, a[f"data-{scope}"] or "")] = self._section
        if self._section is None:
            return
        if tag == "b" and "data-score" in a:
            self._in_score = True
        elif tag == "tr" and "data-kind" in a:
            self._kind = a["data-kind"]
            self._section["kinds"][self._kind] = {}
        elif tag == "li" and "data-seq" in a and self._kind is not None:
            self._seq = int(a["data-seq"] or "0")
            self._section["kinds"][self._kind][self._seq] = None
        elif tag == "time" and self._seq is not None and self._kind is not None:
            self._section["kinds"][self._kind][self._seq] = a["datetime"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "b":
            self._in_score = False
        elif tag == "li":
            self._seq = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_score and self._section is not None:
            self._section["score"] += data


@pytest.fixture(scope="module")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Hall:
    return generated_hall(tmp_path_factory.mktemp("hall"))


@pytest.fixture(scope="module")
def replay(hall: Hall) -> MonthReplay:
    return replay_month(hall.records(), hall.config, MONTH)


def page_of(replay: MonthReplay, hall: Hall) -> str:
    return render_html(replay.report, "青浦区行政服务中心", replay.evidence, hall.config.counters)


@needs_chromium
def test_browser_shows_every_score_and_deduction_with_its_records(
        hall: Hall, replay: MonthReplay, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(page_of(replay, hall), encoding="utf-8")
    dom = Dom(chromium(tmp_path, page, "--dump-dom"))
    report = replay.report
    for scope, table in (("counter", "counters"), ("staff", "staff")):
        assert {k for s, k in dom.sections if s == scope} == set(report[table])
        for key, row in report[table].items():
            shown = dom.sections[(scope, key)]
            assert shown["score"] == f"{row['score']:.2f}"
            assert set(shown["kinds"]) - {"shortfall"} == {d["kind"] for d in row["deductions"]}
            times = {(e["kind"], e["seq"]): e["t"] for e in replay.evidence[table][key]}
            for d in row["deductions"]:
                records = shown["kinds"][d["kind"]]
                assert sorted(records) == sorted(d["lines"] + d["exempt_lines"])
                assert all(t == times[(d["kind"], seq)] for seq, t in records.items())
    text = "".join(dom.text)
    assert "不动产登记 1" in text and "社保 <医保> & 公积金" in text  # the config's names
    assert "免扣" in text  # the faulty pad's reported outage


@needs_chromium
def test_screenshot_for_people_to_look_at(hall: Hall, replay: MonthReplay,
                                          tmp_path: Path) -> None:
    """Kept under tests/artifacts/ for a person to check that the page reads well."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = tmp_path / "report.html"
    page.write_text(page_of(replay, hall), encoding="utf-8")
    shot = ARTIFACTS / "center_month_report.png"
    shot.unlink(missing_ok=True)
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1280,1600",
             "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_chromium
def test_markup_in_names_and_ids_is_shown_as_text(tmp_path: Path) -> None:
    counter = '<img src=x onerror="alert(1)">&amp;'
    lines = [login("08:40:00", staff="<b>S1</b>", counter=counter),
             ev("09:00:00", "ticket_called", counter=counter, ticket="T1"),
             ev("09:10:00", "ticket_called", counter=counter, ticket="T2"),
             press("09:10:05", counter=counter, source="staff")]
    config_path = write_config(tmp_path, '[hall]\nid = "x"\n')
    config = load_config(config_path)
    journal = record(tmp_path, "t", lines, config_path)
    replay = replay_month(read_all(journal), config, MONTH)
    page = tmp_path / "report.html"
    page.write_text(render_html(replay.report, "<script>alert('hall')</script>",
                                replay.evidence), encoding="utf-8")
    dom = Dom(chromium(tmp_path, page, "--dump-dom"))
    assert {"img", "script"}.isdisjoint(dom.tags)
    text = "".join(dom.text)
    assert counter in text and "<b>S1</b>" in text and "<script>alert('hall')</script>" in text
    shown = dom.sections[("counter", counter)]
    assert set(shown["kinds"]) == {"shortfall", "not_prompted", "self_rating"}
    assert shown["kinds"]["not_prompted"] and shown["kinds"]["self_rating"] == {
        4: "2026-03-02T09:10:05+08:00"}


def test_the_page_is_self_contained_and_works_without_evidence(replay: MonthReplay) -> None:
    html = render_html(replay.report)
    assert "http" not in html and "src=" not in html and "<link" not in html
    assert "<style>" in html and "@media print" in html
    dom = Dom(html)
    for key, row in replay.report["counters"].items():
        for d in row["deductions"]:
            records = dom.sections[("counter", key)]["kinds"][d["kind"]]
            assert sorted(records) == sorted(d["lines"] + d["exempt_lines"])
            assert set(records.values()) == {None}  # seqs only, no times
