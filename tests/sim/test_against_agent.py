"""A short simulated morning against the real edge agent (`python -m edge_agent run` on the
simulator's clock), its mosquitto and queue hook: three counters, one a link (USB pty,
RS-485 bus, MQTT). What the pads saw acknowledged is in the agent's journal exactly once."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime

import pytest

from edge_agent.rules.calendar import to_us
from tools.simhall import people
from tools.simhall.people import TZ
from tools.simhall.simulation import Options, Simulation, summary

DAY = date(2026, 3, 2)
SPEED = 300.0  # 50 simulated minutes in 10 real seconds


@pytest.fixture(scope="module")
def morning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulation, bool]]:
    opts = Options(counters=3, days=[DAY], seed=4, speed=SPEED, cheats=False,
                   citizens=people.Citizens(arrivals_per_hour=30, service_s=(60, 180)),
                   work=tmp_path_factory.mktemp("sim") / "work", lead_s=1.0,
                   until_us=to_us(datetime(2026, 3, 2, 9, 0, tzinfo=TZ)), progress=False,
                   center=False)  # the agent alone; the center's side: test_center_e2e.py
    sim = Simulation(opts)
    try:
        sim.prepare()
        sim.start_services()
        drained = sim.play()
    finally:
        sim.close()
    yield sim, drained


def journal_events(sim: Simulation) -> list[dict[str, object]]:
    with sqlite3.connect(sim.work / "journal.sqlite") as db:
        rows = db.execute("SELECT event FROM records WHERE kind = 'event' ORDER BY seq")
        return [json.loads(event) for (event,) in rows]


def test_every_press_a_pad_saw_acked_is_journaled_exactly_once(
        morning: tuple[Simulation, bool]) -> None:
    sim, drained = morning
    assert drained  # nothing left unacknowledged at the end
    report = summary(sim.hall, sim.queue, sim.clock, sim.performer)
    acked = {(device, boot, seq) for device, pad in report["pads"].items()
             for boot, seq in pad["acked"]}
    presses = {(device, boot, seq) for device, pad in report["pads"].items()
               for boot, seq in pad["presses"]}
    assert acked == presses and len(acked) >= 6
    journaled = Counter((e["wire"]["device"], e["wire"]["boot"], e["wire"]["seq"])  # type: ignore[index]
                        for e in journal_events(sim) if e["type"] == "rating")
    assert set(journaled) == acked and set(journaled.values()) == {1}
    pads = {device for device, _, _ in acked}
    assert pads == {"A01-pad", "A02-pad", "A03-pad"}  # USB, RS-485 and MQTT alike


def test_badges_keypads_and_the_queue_system_reach_the_journal(
        morning: tuple[Simulation, bool]) -> None:
    sim, _ = morning
    events = journal_events(sim)
    done = sim.performer.done
    kinds = Counter(str(e["type"]) for e in events)
    assert kinds["staff_login"] == done["staff_login"] == 3
    assert kinds["ticket_called"] == done["ticket_called"] > 0
    assert kinds["service_done"] == done["service_done"] > 0
    assert sim.queue is not None and sim.queue.answers == {"ok": done["ticket_called"]}
    logins = {str(e["staff"]) for e in events if e["type"] == "staff_login"}
    assert logins == {d.counter.staff for d in sim.desks}
