"""The hall file the agent runs a simulated hall with (docs/configuration.md): its devices
with their ports and keys, staff with their cards and ID hashes, the MQTT login, the queue
hook, the status page and, if given, the center. The simulator writes it, then loads it with
the agent's own loader, so a file the agent would refuse is never left behind unnoticed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import Any

from edge_agent.config import HallConfig, RulesConfig, load_config
from tools.simhall.hall import SimHall


@dataclass(frozen=True)
class Services:
    agent_password: str
    hook_token: str
    salt: str  # the hook's salt: the simulator hashes staff ID numbers with it too
    hook_listen: str = "127.0.0.1:8481"
    status_listen: str = "127.0.0.1:8480"
    center_url: str = ""
    center_token: str = ""
    center_retry_max_s: float = 300.0  # the outbox's longest back-off, in real seconds
    # How often the outbox asks for the center's fault records and rulings (real seconds):
    # short, so a ruling of the simulated IT department reaches the agent within the run.
    center_fault_poll_s: float = 60.0
    # Agent time: at high speed a real-time hiccup is many simulated seconds, so the
    # simulator widens the silence after which a pad is taken as down (see runner.py).
    device_timeout_s: float = 30.0
    # An RS-485 bus is polled every bus_cycle_ms of real time: at high speed the simulator
    # shortens it so a bus pad waits about as long in simulated time as on a real bus.
    bus_cycle_ms: int = 100
    journal: str = "journal.sqlite"
    hours: tuple[tuple[time, time], tuple[time, time]] | None = None  # [calendar], if given
    rules: RulesConfig | None = None  # [rules]: what differs from the defaults (margins.py)


def q(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _table(name: str, values: dict[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    for key, value in values.items():
        if isinstance(value, str):
            lines.append(f"{key} = {q(value)}")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = {value!r}")
    return [*lines, ""]


def config_text(hall: SimHall, services: Services) -> str:
    layout = hall.layout
    lines = [f"# A simulated hall written by tools/sim (seed {hall.seed}); regenerated each run.",
             ""]
    lines += _table("hall", {"id": layout.hall_id})
    if layout.keys == 5:
        lines += _table("scale", {"kind": "five"})
    if services.hours is not None:
        (m0, m1), (a0, a1) = services.hours
        lines += ["[calendar]", f'morning = ["{m0:%H:%M}", "{m1:%H:%M}"]',
                  f'afternoon = ["{a0:%H:%M}", "{a1:%H:%M}"]',
                  f'summer_afternoon = ["{a0:%H:%M}", "{a1:%H:%M}"]', ""]
    if services.rules is not None:
        lines += _table("rules", changed_rules(services.rules))
    lines += _table("agent", {"journal": services.journal,
                              "device_timeout_s": services.device_timeout_s,
                              "bus_cycle_ms": services.bus_cycle_ms,
                              "status_listen": services.status_listen})
    lines += _table("mqtt", {"host": layout.mqtt_host, "port": layout.mqtt_port,
                             "user": "agent", "password": services.agent_password})
    lines += _table("hook", {"listen": services.hook_listen, "token": services.hook_token,
                             "salt": services.salt})
    if services.center_url:
        lines += _table("center", {"url": services.center_url, "token": services.center_token,
                                   "retry_max_s": services.center_retry_max_s,
                                   "fault_poll_s": services.center_fault_poll_s})
    for station in hall.stations.values():
        lines += _table(f"counters.{station.counter}", {"name": f"Counter {station.counter}"})
    for station in hall.stations.values():
        c = station.desk.counter
        lines += _table(f"staff.{c.staff}", {"name": station.desk.name,
                                             "card": station.desk.card, "id_hash": c.staff_hash})
    for device, table in hall.devices.items():
        lines += _table(f"devices.{device}", table)
    return "\n".join(lines)


def changed_rules(rules: RulesConfig) -> dict[str, Any]:
    defaults = RulesConfig()
    return {k: v for k, v in vars(rules).items() if v != getattr(defaults, k)}


def write_config(path: Path, hall: SimHall, services: Services) -> HallConfig:
    """Write the hall file (mode 0600: it holds device keys) and load it back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(config_text(hall, services))
    os.replace(tmp, path)
    return load_config(path)
