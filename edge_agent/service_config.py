"""The live service's sections of the hall file: [agent], [mqtt], [hook], [staff.ID], [center].

They sit beside the rules' sections (config.py) and follow the same conventions: every key has
a default, an unknown key or a bad value raises ConfigError naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from edge_agent.toml_fields import ConfigError, as_table, check_keys, id_tables, typed_value

SERVICE_SECTIONS = {"agent", "mqtt", "hook", "staff", "center"}


@dataclass(frozen=True)
class AgentConfig:
    journal: str = "journal.sqlite"  # relative paths are relative to the hall file's folder
    device_timeout_s: float = 30.0  # no frame for this long: the device is down
    tick_ms: int = 1000  # how often time passes in the engine with no input
    bus_cycle_ms: int = 100  # an RS-485 bus's shortest poll cycle (serial_link.py)
    status_listen: str = "127.0.0.1:8480"  # the live status page and its JSON; "" = off
    heartbeat_s: float = 60.0  # a record at least this often: the journal bounds a downtime
    snapshot_every: int = 5_000  # records between snapshots of the state (and each day)


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    user: str = "agent"
    password: str = ""
    broker_dir: str = ""  # where `broker-files` writes passwd and acl; "" = not managed
    keepalive_s: int = 30


@dataclass(frozen=True)
class HookConfig:
    listen: str = "127.0.0.1:8481"
    token: str = ""  # "" = the queue-system hook is off
    salt: str = ""  # salt for applicants' ID numbers; required when the hook is on


@dataclass(frozen=True)
class StaffConfig:
    id: str
    name: str
    card: str | None = None  # badge number typed by the RFID reader
    id_hash: str | None = None  # salted hash of the staff's ID number (rule 4)


@dataclass(frozen=True)
class CenterConfig:
    url: str = ""  # "" = no uplink
    token: str = ""
    batch_records: int = 1000
    timeout_s: float = 10.0
    retry_max_s: float = 300.0
    ca_file: str = ""
    fault_poll_s: float = 60.0  # how often the outbox asks for fault records and rulings


@dataclass(frozen=True)
class ServiceConfig:
    agent: AgentConfig = field(default_factory=AgentConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    hook: HookConfig = field(default_factory=HookConfig)
    staff: dict[str, StaffConfig] = field(default_factory=dict)
    center: CenterConfig = field(default_factory=CenterConfig)

    def staff_by_card(self) -> dict[str, StaffConfig]:
        return {s.card: s for s in self.staff.values() if s.card}


def build_service(raw: dict[str, Any]) -> ServiceConfig:
    return ServiceConfig(
        agent=_agent(_section(raw, "agent")),
        mqtt=_mqtt(_section(raw, "mqtt")),
        hook=_hook(_section(raw, "hook")),
        staff=_staff(_section(raw, "staff")),
        center=_center(_section(raw, "center")),
    )


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    return as_table(raw[name], name) if name in raw else {}


def _fields(raw: dict[str, Any], where: str, defaults: Any) -> dict[str, Any]:
    """Each key of a flat section, typed like its default."""
    check_keys(raw, where, set(vars(defaults)))
    return {key: typed_value(raw, where, key, type(default), default)
            for key, default in vars(defaults).items()}


def _positive(values: dict[str, Any], where: str, *keys: str) -> None:
    for key in keys:
        if values[key] <= 0:
            raise ConfigError(f"[{where}] {key}: must be greater than 0, got {values[key]}")


def _listen(value: str, where: str, key: str) -> None:
    if value and not re.fullmatch(r"[^:\s]+:\d{1,5}", value):
        raise ConfigError(f"[{where}] {key}: must be HOST:PORT like 127.0.0.1:8480, got {value!r}")
    if value and not 0 < int(value.rsplit(":", 1)[1]) < 65536:
        raise ConfigError(f"[{where}] {key}: port out of range in {value!r}")


def _agent(raw: dict[str, Any]) -> AgentConfig:
    v = _fields(raw, "agent", AgentConfig())
    _positive(v, "agent", "device_timeout_s", "tick_ms", "bus_cycle_ms", "heartbeat_s",
              "snapshot_every")
    if not v["journal"]:
        raise ConfigError("[agent] journal: must name a file")
    _listen(v["status_listen"], "agent", "status_listen")
    return AgentConfig(**v)


def _mqtt(raw: dict[str, Any]) -> MqttConfig:
    v = _fields(raw, "mqtt", MqttConfig())
    _positive(v, "mqtt", "keepalive_s")
    if not 0 < v["port"] < 65536:
        raise ConfigError(f"[mqtt] port: must be 1..65535, got {v['port']}")
    return MqttConfig(**v)


def _hook(raw: dict[str, Any]) -> HookConfig:
    v = _fields(raw, "hook", HookConfig())
    _listen(v["listen"], "hook", "listen")
    if v["token"] and len(v["token"]) < 16:
        raise ConfigError("[hook] token: at least 16 characters (generate one with "
                          "`python -c 'import secrets; print(secrets.token_hex(16))'`)")
    if v["token"] and len(v["salt"]) < 16:
        raise ConfigError("[hook] salt: at least 16 characters, required when the hook is on "
                          "(applicants' ID numbers are kept only as salted hashes)")
    return HookConfig(**v)


def _staff(raw: dict[str, Any]) -> dict[str, StaffConfig]:
    out: dict[str, StaffConfig] = {}
    cards: dict[str, str] = {}
    for sid, where, t in id_tables(raw, "staff", {"name", "card", "id_hash"}):
        card = typed_value(t, where, "card", str, "").upper() or None  # readers differ in case
        if card is not None:
            if card in cards:
                raise ConfigError(f"[{where}] card: {card!r} is already staff {cards[card]}'s")
            cards[card] = sid
        out[sid] = StaffConfig(id=sid, name=typed_value(t, where, "name", str, sid), card=card,
                               id_hash=typed_value(t, where, "id_hash", str, "") or None)
    return out


def _center(raw: dict[str, Any]) -> CenterConfig:
    v = _fields(raw, "center", CenterConfig())
    _positive(v, "center", "batch_records", "timeout_s", "retry_max_s", "fault_poll_s")
    if v["url"] and not re.match(r"https?://", v["url"]):
        raise ConfigError(f"[center] url: must start with http:// or https://, got {v['url']!r}")
    if v["url"] and not v["token"]:
        raise ConfigError("[center] token: required when url is set (the center's agent token)")
    return CenterConfig(**v)
