"""Bad input to the command line: exit status 2 and a message naming the line or key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import Runner, ev, login, press, write_timeline

GOOD = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1"), press("09:11:00")]


@pytest.mark.parametrize(("bad", "message"), [
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "rating", "counter": "A01", "level": ',
     "line 4: not valid JSON"),
    ('[1, 2]', "line 4: an event must be a JSON object"),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "teleport", "counter": "A01"}',
     "line 4: unknown event type 'teleport'"),
    ('{"t": "2026-03-02T09:12:00+08:00", "counter": "A01"}', 'line 4: missing "type"'),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "rating", "counter": "A01"}',
     'line 4: a rating event needs "level"'),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "rating", "counter": "A01", "level": "great"}',
     "line 4: unknown rating level 'great'"),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "rating", "counter": "A01", '
     '"level": "very_satisfied"}', "line 4: level 'very_satisfied' is a five-level name"),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "rating", "counter": "A01", '
     '"level": "satisfied", "source": "robot"}', 'line 4: "source" must be pad or staff'),
    ('{"t": "2026-03-02T09:12:00", "type": "resume", "counter": "A01"}',
     'line 4: "t" has no UTC offset'),
    ('{"t": "yesterday", "type": "resume", "counter": "A01"}', 'line 4: "t" is not an ISO 8601'),
    ('{"type": "resume", "counter": "A01"}', 'line 4: missing "t"'),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "resume"}', 'line 4: missing "counter"'),
    ('{"t": "2026-03-02T09:12:00+08:00", "type": "resume", "counter": 7}',
     'line 4: "counter" must be a non-empty string'),
    ('{"t": "2026-03-02T09:05:00+08:00", "type": "resume", "counter": "A01"}',
     "line 4: time goes backwards: 2026-03-02T09:05:00+08:00 is before "
     "2026-03-02T09:11:00+08:00 (line 3)"),
])
def test_bad_timeline_line(run: Runner, bad: str, message: str) -> None:
    timeline = write_timeline(run.tmp / "t.jsonl", [*GOOD, bad])
    status, _, err = run.cli("replay", str(timeline), "--config", str(run.config()),
                             "--month", "2026-03")
    assert status == 2
    assert message in err
    assert "Traceback" not in err


def test_blank_lines_count_as_lines(run: Runner) -> None:
    doc = run.replay([GOOD[0], "", GOOD[1], "   ", GOOD[2]])
    assert doc["decisions"][0]["line"] == 5


@pytest.mark.parametrize(("config", "month", "message"), [
    ('[hall]\nid = "x"\n[rules]\nbogus = 1\n', "2026-03", "[rules] bogus: unknown key"),
    ('[hall]\nid = "x"\n[calendar]\nmorning = ["12:00", "08:30"]\n', "2026-03",
     "[calendar] morning: ends (08:30) before it starts (12:00)"),
    ('[hall]\nid = "x"\n', "2026-3", "--month must be YYYY-MM"),
])
def test_bad_config_or_option(run: Runner, config: str, month: str, message: str) -> None:
    timeline = write_timeline(run.tmp / "t.jsonl", GOOD)
    status, _, err = run.cli("replay", str(timeline), "--config", str(run.config(config)),
                             "--month", month)
    assert status == 2
    assert message in err


def test_missing_files_are_named(run: Runner) -> None:
    status, _, err = run.cli("replay", str(run.tmp / "nope.jsonl"), "--config",
                             str(run.config()), "--month", "2026-03")
    assert status == 2 and "nope.jsonl: cannot read" in err
    status, _, err = run.cli("replay", str(run.tmp / "t.jsonl"), "--config",
                             str(run.tmp / "none.toml"), "--month", "2026-03")
    assert status == 2 and "none.toml: cannot read" in err


def test_real_process_exit_status_and_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a hall technician runs it."""
    bad = '{"t": 1, "type": "resume", "counter": "A01"}'
    timeline = write_timeline(tmp_path / "t.jsonl", [*GOOD, bad])
    config = tmp_path / "hall.toml"
    config.write_text('[hall]\nid = "x"\n')
    proc = subprocess.run([sys.executable, "-m", "edge_agent", "replay", str(timeline),
                           "--config", str(config), "--month", "2026-03"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f'edge_agent: error: {timeline} line 4: "t" must be an ISO '
                                   "8601 string, got 1")
