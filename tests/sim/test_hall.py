"""A simulated hall's devices and the hall file the agent runs it with; the plan acted out
on the devices, by the simulator's loop at speed (no agent: what the devices did is read
back from them)."""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from edge_agent.config import HallConfig
from edge_agent.service.broker_files import broker_users
from edge_agent.service.keymap import STAFF_KEYMAP, BadgeDecoder, KeyDecoder
from edge_agent.service.socket_input import SocketSource
from edge_agent.wire.keys import mqtt_password
from tools.simhall import people
from tools.simhall.acts import Performer
from tools.simhall.agent_config import Services, write_config
from tools.simhall.clock import SimClock
from tools.simhall.hall import Layout, SimHall
from tools.simhall.people import Act
from tools.simhall.runner import Runner
from tools.simhall.simulation import secret

SALT = secret(1, "salt")
SERVICES = Services(agent_password="agent-password-1", hook_token="t" * 32, salt=SALT)


def make_hall(folder: Path, n: int = 6, layout: Layout | None = None) -> SimHall:
    desks = people.make_desks(n, seed=1, salt=SALT)
    return SimHall(layout or Layout(), desks, folder, seed=1)


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[SimHall]:
    h = make_hall(tmp_path, layout=Layout(signs=True))
    try:
        yield h
    finally:
        h.unplug_all()


def test_the_hall_file_is_the_agents_with_every_device_and_staff(hall: SimHall,
                                                                tmp_path: Path) -> None:
    config = write_config(tmp_path / "hall.toml", hall, SERVICES)
    assert stat.S_IMODE(os.stat(tmp_path / "hall.toml").st_mode) == 0o600
    assert isinstance(config, HallConfig) and config.hall_id == "sim"
    kinds = sorted(d.kind for d in config.devices.values())
    assert kinds == sorted(["pad", "sign", "keypad", "badge"] * 6)
    by_link: dict[str, list[str]] = {}
    for d in config.devices.values():
        by_link.setdefault(d.link, []).append(d.id)
    assert sorted(by_link) == ["evdev", "mqtt", "rs485", "usb"]
    bus = [d for d in config.devices.values() if d.link == "rs485"]
    assert len({d.port for d in bus}) == 1  # 2 counters, pad and sign each: one bus
    assert sorted(d.address for d in bus) == [1, 2, 3, 4]  # type: ignore[type-var]
    usb = [d for d in config.devices.values() if d.link == "usb"]
    assert len({d.port for d in usb}) == len(usb) == 4
    for station in hall.stations.values():
        staff = config.service.staff[station.desk.counter.staff]
        assert staff.card == station.desk.card
        assert staff.id_hash == station.desk.counter.staff_hash
    # The broker's users come from the same file: each MQTT pad logs in with the password
    # its own config.json holds, derived from its key.
    users = broker_users(config)
    for pad in hall.pads():
        if pad.cfg["link"] == "mqtt":
            assert users[pad.device] == pad.cfg["mqtt"]["password"] \
                == mqtt_password(pad.cfg["key"])


def test_plugged_in_every_port_is_there_and_unplugged_none_is(hall: SimHall) -> None:
    hall.plug_in(0)
    ports = [Path(d["port"]) for d in hall.devices.values() if "port" in d]
    assert ports and all(p.exists() for p in ports)
    serial = [p for p in ports if p.parent.name == "dev"]
    assert all(os.readlink(p).startswith("/dev/pts/") for p in serial)
    assert all(stat.S_ISSOCK(os.stat(p).st_mode) for p in ports if p.parent.name == "input")
    hall.unplug_all()
    assert not [p for p in ports if p.exists()]


def test_acts_reach_the_devices_a_person_would_use(hall: SimHall) -> None:
    hall.plug_in(0)
    station = hall.stations["A01"]
    keypad = SocketSource(str(station.keypad.dev.path))
    badge = SocketSource(str(station.badge.dev.path))
    performer = Performer(hall, None, random.Random(1))
    t = 1_000_000
    for body in ({"type": "staff_login", "staff": "S001"}, {"type": "ticket_called",
                 "ticket": "A01-0001"}, {"type": "service_done"}, {"type": "invite_cancel"},
                 {"type": "fault_report", "device": "A01-pad"},
                 {"type": "rating", "level": "unsatisfied", "source": "pad"},
                 {"type": "pause"}):
        performer.do(Act(t, "A01", body), t)
        t += 1_000_000
    keys = KeyDecoder(STAFF_KEYMAP)
    actions = [p.action for e in keypad.read() if (p := keys.feed(e)) is not None]
    assert actions == ["call_next", "invite", "cancel_invite", "fault"]
    cards = BadgeDecoder()
    assert [c.text for e in badge.read() if (c := cards.feed(e)) is not None] == \
        [station.desk.card]
    station.pad.advance(t // 1000 + 500)
    assert len(station.pad.presses()) == 1  # the rating; the pause key is an event too
    performer.do(Act(t, "A01", {"type": "device_down", "device": "A01-pad"}), t)
    assert not station.pad.powered
    performer.do(Act(t, "A01", {"type": "device_up", "device": "A01-pad"}), t)
    assert station.pad.powered and station.pad.boots == 2
    with pytest.raises(ValueError, match="no staff keypad has a rate key"):
        performer.do(Act(t, "A01", {"type": "rating", "level": "satisfied",
                                    "source": "staff"}), t)
    keypad.close()
    badge.close()


def test_at_speed_the_loop_presses_every_key_of_the_plan(tmp_path: Path) -> None:
    """A morning of 3 counters at 2000x (no agent: nothing is acked, nothing is lost): the
    loop turns every few ms of real time, several simulated seconds, and still every
    planned press, double presses included, is made by its pad, at its time."""
    hall = make_hall(tmp_path, n=3, layout=Layout(links=("usb", "rs485")))
    citizens = people.Citizens(arrivals_per_hour=30, double_press_probability=0.5)
    desks = [s.desk for s in hall.stations.values()]
    acts = [a for a in people.plan(desks, [date(2026, 3, 2)], citizens)
            if a.body["type"] != "device_down"]
    end = acts[0].t + 90 * 60_000_000  # an hour and a half
    acts = [a for a in acts if a.t <= end]
    clock = SimClock.starting(acts[0].t, speed=2000)
    hall.plug_in(clock.now_us() // 1000)
    try:
        performer = Performer(hall, None, random.Random(1))
        runner = Runner(hall, clock, acts, performer)
        runner.run(end)
        planned = {c: sum(1 for a in acts if a.counter == c and a.body["type"] == "rating")
                   for c in hall.stations}
        made = {c: len(s.pad.presses()) for c, s in hall.stations.items()}
        assert made == planned and sum(made.values()) > 20
        assert runner.turns > 100
    finally:
        hall.unplug_all()
