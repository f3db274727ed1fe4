"""Shared fixtures' helpers: a generated hall month recorded into a real journal."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from edge_agent.config import HallConfig, load_config
from edge_agent.hall_state import record_timeline
from edge_agent.journal import Journal, Record, open_for_reading, read_records
from edge_agent.replay import timeline_events
from edge_agent.timeline import EventParser
from tools import hallgen

ROOT = Path(__file__).resolve().parents[2]
MONTH = "2026-03"
# Two days before the month and two after, so other months' records are in the chain.
DAYS = [date(2026, 2, 26), date(2026, 2, 27), *hallgen.month_days(MONTH),
        date(2026, 4, 1), date(2026, 4, 2)]
CONFIG = """[hall]
id = "qingpu"
[counters.A01]
name = "不动产登记 1"
[counters.A02]
name = "社保 <医保> & 公积金"
[penalties]
unbound_rating = 0.5
"""


@dataclass
class Hall:
    config_path: Path
    config: HallConfig
    journal: Path
    events: list[dict[str, Any]]

    def records(self) -> list[Record]:
        return read_all(self.journal)


def write_config(folder: Path, text: str = CONFIG) -> Path:
    path = folder / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return path


def write_timeline(path: Path, events: Iterable[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        hallgen.write(iter(events), out)
    return path


def record(folder: Path, name: str, events: list[dict[str, Any]], config_path: Path) -> Path:
    """Record a timeline into a fresh journal file the way ``edge_agent record`` does."""
    config = load_config(config_path)
    timeline = write_timeline(folder / f"{name}.jsonl", events)
    journal_path = folder / f"{name}.sqlite"
    with timeline.open("rb") as stream, Journal(journal_path) as journal:
        journal.set_meta("hall", config.hall_id)
        record_timeline(timeline_events(stream, EventParser(config.scale)), config, journal)
    return journal_path


def read_all(journal: Path) -> list[Record]:
    db = open_for_reading(journal)
    try:
        return list(read_records(db))
    finally:
        db.close()


def generated_hall(folder: Path, counters: int = 8, seed: int = 11,
                   days: list[date] | None = None, config_text: str = CONFIG) -> Hall:
    """A hall with every cheating profile (8 counters: 7 cheaters and an honest one)."""
    events, _ = hallgen.generate(counters, days or DAYS, seed)
    timeline = list(events)
    config_path = write_config(folder, config_text)
    journal = record(folder, "hall", timeline, config_path)
    return Hall(config_path, load_config(config_path), journal, timeline)


def in_month(events: Iterable[dict[str, Any]], month: str = MONTH) -> Iterator[dict[str, Any]]:
    return (e for e in events if e["t"].startswith(month))


def cli_report(hall: Hall, month: str = MONTH, fmt: str = "json") -> str:
    """``python -m edge_agent report --journal ... --format json``, as a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "edge_agent", "report", "--journal", str(hall.journal),
         "--config", str(hall.config_path), "--month", month, "--format", fmt],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def days_around(first: date, count: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(count)]


def citizen_hashes(events: Iterable[dict[str, Any]]) -> set[str]:
    """Every applicant hash and staff ID hash in a timeline (never to leave in clear)."""
    return {e[k] for e in events for k in ("applicant", "id_hash") if k in e}


def dumps(report: dict[str, Any]) -> str:
    """What ``report --format json`` prints for a report."""
    return json.dumps(report, ensure_ascii=False, indent=1) + "\n"
