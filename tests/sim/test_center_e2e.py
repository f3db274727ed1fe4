"""The bench test of the whole chain: a short simulated working day of four cheating counters
(pads on USB, RS-485 and MQTT) against the real services: mosquitto, the edge agent on the
simulator's clock, redis-server and the center (`python -m server_stub serve`), as
`tools/sim run` and the demo run them. Then:

- every press a pad saw acknowledged is counted exactly once at the center, key by key
  (device, boot, seq), and nothing is counted that no pad made;
- every cheat the people injected raises its incident, in the agent's journal and at the
  center, and nothing else is penalised;
- the center's month report equals the agent's replay of its journal;
- no child process outlives the run.

The day is short (09:00-10:00, 10:10-10:50) so that a whole day, with every check, runs in
about 40 s at x200; four counters take the four per-ticket cheats (self_rater, pumper,
hurrier, skipper), cheating on half their services. Not faster: the agent stamps a keypad's
请评价 on arrival and the pad's press at its own time, so a loop running late by 12 ms on a
busy machine sends a press planned 3.5 s after the invitation (the shortest) together with
it at x300, and the press may overtake it (x200 gives 17.5 ms).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from datetime import date
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import pytest

from edge_agent.journal import Entry, Journal, Record
from tools.simhall import people, tally
from tools.simhall.outcome import Outcome, execute
from tools.simhall.simulation import Options

DAY = date(2026, 3, 2)
HOURS = ((dt_time(9, 0), dt_time(10, 0)), (dt_time(10, 10), dt_time(10, 50)))


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    opts = Options(counters=4, days=[DAY], seed=7, speed=200.0, cheats=True, hours=HOURS,
                   citizens=people.Citizens(arrivals_per_hour=10, service_s=(60, 240)),
                   habits=people.Habits(cheat_probability=0.5),
                   work=tmp_path_factory.mktemp("sim") / "work", lead_s=1.0, progress=False)
    return execute(opts)


def test_every_acknowledged_press_is_counted_once_at_the_center(day: Outcome) -> None:
    t = day.presses
    assert t is not None and t.counted is not None
    assert day.drained and t.acked == t.seen  # every press made got its ack
    assert len(t.acked) >= 20
    assert {link for device, link in t.links.items()
            if any(k[0] == device for k in t.acked)} == {"usb", "rs485", "mqtt"}
    counted = t.counted
    assert all(counted[k] == 1 for k in t.acked)  # each acked key, exactly once
    assert set(counted) == t.acked  # and nothing a pad did not make and see acked
    assert t.lost == set() and t.duplicated == set() and t.ok
    assert t.journaled == counted and t.forwarded == counted
    assert day.forwarded is True


def test_the_tally_table_names_every_pad_and_the_totals(day: Outcome) -> None:
    assert day.presses is not None
    text = tally.render(day.presses)
    n = len(day.presses.acked)
    total = next(line for line in text.splitlines() if line.startswith("total"))
    assert total.split() == ["total", *[str(n)] * 5, "0", "0"]
    for device in ("A01-pad", "A02-pad", "A03-pad", "A04-pad"):
        assert device in text
    assert "the center's Redis store" in text


def test_every_injected_cheat_raises_its_incident_at_the_agent_and_the_center(
        day: Outcome) -> None:
    assert day.live is not None and day.center_live is not None
    injected = Counter[str]()
    for r in day.expected:
        injected.update(r.injected)
    assert {k for k, n in injected.items() if n > 0} >= {
        "self_rating", "consecutive_rating", "refused_evaluation", "not_prompted"}
    for results in (day.expected, day.live, day.center_live):
        for r in results:
            assert r.ok, (r.counter, r.profile, r.injected, dict(r.penalised))
            for behaviour, n in r.injected.items():
                assert r.raised(behaviour) == n


def test_the_center_month_report_equals_the_agent_replay(day: Outcome) -> None:
    assert len(day.agent_reports) == len(day.center_reports) == 1
    assert day.report_diffs == []
    assert day.center_reports == day.agent_reports  # every counter, staff member, figure
    report = day.center_reports[0]
    assert sorted(report["counters"]) == ["A01", "A02", "A03", "A04"]
    assert sum(row["ratings"] for row in report["counters"].values()) > 0


def test_no_child_outlives_the_run(day: Outcome) -> None:
    """The agent, mosquitto and the center have the work folder in their command lines;
    redis-server renames itself `redis-server 127.0.0.1:PORT`, its port is in its log."""
    port = re.search(r"port=(\d+)", (day.work / "center" / "redis" / "redis.log").read_text())
    assert port is not None
    for pattern in (str(day.work), f"redis-server 127.0.0.1:{port[1]}"):
        found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True,
                               check=False)
        assert found.stdout == ""
    assert (Path(day.work) / "center" / "report-2026-03.html").stat().st_size > 0
    assert day.ok


def test_the_tally_names_a_lost_and_a_duplicated_press(tmp_path: Path) -> None:
    """The tally itself, on a journal and center records made by hand: one acked press never
    reached the center, another is there twice; a heartbeat-like record is not a press."""
    def rating(seq: int) -> dict[str, Any]:
        return {"type": "rating", "counter": "A01", "level": "satisfied",
                "wire": {"device": "A01-pad", "boot": 1, "seq": seq}}

    with Journal(tmp_path / "journal.sqlite") as journal:
        events: list[dict[str, Any]] = [rating(10), rating(11), {"type": "service_done"}]
        for n, event in enumerate(events):
            journal.append(Entry(n + 1, "event", event, {}))
    stored = [Record(i + 1, i + 1, "event", json.dumps(e), "{}", b"", b"")
              for i, e in enumerate([rating(10), rating(10), {"type": "resume"}])]
    pad = tally.PadPresses("A01-pad", "usb", seen=[(1, 10), (1, 11), (1, 12)],
                           acked=[(1, 10), (1, 11)])
    t = tally.tally([pad], tmp_path / "journal.sqlite", stored)
    assert t.lost == {("A01-pad", 1, 11)}
    assert t.duplicated == {("A01-pad", 1, 10)}
    assert not t.ok and t.center_head == 3
    assert t.row() == {"seen": 3, "acked": 2, "journaled": 2, "forwarded": 2, "counted": 2,
                       "lost": 1, "duplicated": 1}
    alone = tally.tally([pad], tmp_path / "journal.sqlite", None)  # no center: the journal
    assert alone.lost == set() and alone.duplicated == set() and alone.ok
    assert "no center in this run" in tally.render(alone)
