"""The hall's TOML configuration: loading and validation (RULES.md §6).

Every key has a default, so a file holding only ``[hall]`` and ``id`` is valid. An unknown
key, a wrong type or an impossible value raises :class:`ConfigError` naming the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge_agent.rules.vocabulary import DeviceKind, DeviceLink, IncidentKind, Scale
from edge_agent.service_config import SERVICE_SECTIONS, ServiceConfig, build_service
from edge_agent.toml_fields import (
    ConfigError as ConfigError,  # part of this module's face: load_config raises it
)
from edge_agent.toml_fields import (
    as_table,
    check_keys,
    choice,
    id_tables,
    id_value,
    section,
    typed_value,
)

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
INCIDENT_KINDS = tuple(IncidentKind)
DEFAULT_PENALTIES: dict[str, float] = {
    IncidentKind.DEVICE_OFFLINE: 1.0,
    IncidentKind.NOT_PROMPTED: 1.0,
    IncidentKind.REFUSED_EVALUATION: 2.5,
    IncidentKind.CONSECUTIVE_RATING: 1.0,
    IncidentKind.SELF_RATING: 1.0,
    IncidentKind.UNBOUND_RATING: 0.0,
    IncidentKind.LEFT_MID_SERVICE: 0.0,
    IncidentKind.LONG_PAUSE: 0.0,
}
SCALES = tuple(Scale)
DEVICE_KINDS = tuple(DeviceKind)
DEVICE_LINKS = tuple(DeviceLink)
DISPLAY_MAX_BYTES = 60  # a caption wraps over at most the pad's four 16 px lines


@dataclass(frozen=True)
class RulesConfig:
    invite_ttl_s: float = 60
    double_press_grace_ms: float = 3000
    min_rating_interval_s: float = 15
    min_invite_s: float = 10
    long_pause_min: float = 60
    fault_report_grace_min: float = 30
    # After a system outage, inputs made during it (the queue system's retried reports, the
    # pads' kept events) still arrive for this long, in no guaranteed order (rules.md).
    outage_catch_up_s: float = 120
    # False: a fault report exempts without the IT department's ruling (a hall that trusts
    # its staff's reports); RULES.md §3.
    fault_verification: bool = True


@dataclass(frozen=True)
class CalendarConfig:
    weekdays: frozenset[int] = frozenset(range(5))  # Monday is 0
    summer: tuple[tuple[int, int], tuple[int, int]] = ((5, 1), (9, 30))
    morning: tuple[time, time] = (time(8, 30), time(12, 0))
    afternoon: tuple[time, time] = (time(13, 0), time(17, 0))
    summer_afternoon: tuple[time, time] = (time(13, 30), time(17, 0))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class DeviceConfig:
    id: str
    counter: str
    kind: DeviceKind = DeviceKind.PAD
    link: DeviceLink = DeviceLink.USB
    port: str | None = None
    address: int | None = None
    keys: int = 2
    key: bytes | None = None


@dataclass(frozen=True)
class DisplayConfig:
    """[display]: what the pads and signs say (firmware/screens.py has the same defaults)."""

    closed: str = "暂停服务"  # no one logged in (some halls prefer 未登录)
    welcome: str = "欢迎光临"
    invite: str = "请您评价"
    thanks: str = "谢谢您的评价"
    paused: str = "暂停服务"
    serving: str = "正在服务"  # the sign while the counter serves
    staff_no: str = "工号"  # before the staff number on the invite screen
    keys_5: str = "满意12345不满意"  # the keys' meaning on a 5-key pad's invite screen

    def captions(self) -> dict[str, str]:
        return dict(vars(self))


@dataclass(frozen=True)
class HallConfig:
    hall_id: str
    timezone: str = "Asia/Shanghai"
    rules: RulesConfig = field(default_factory=RulesConfig)
    scale: Scale = Scale.BINARY
    penalties: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PENALTIES))
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    counter_calendars: Mapping[str, CalendarConfig] = field(default_factory=dict)
    counters: Mapping[str, str] = field(default_factory=dict)  # id -> display name
    devices: Mapping[str, DeviceConfig] = field(default_factory=dict)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    # The live service's sections ([agent], [mqtt], [hook], [staff], [center]).
    service: ServiceConfig = field(default_factory=ServiceConfig)
    base_dir: Path = Path(".")  # the hall file's folder: relative paths in it start here

    def path(self, value: str) -> Path:
        """A path from the file, relative ones taken from the file's folder."""
        return self.base_dir / value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def calendar_for(self, counter: str) -> CalendarConfig:
        return self.counter_calendars.get(counter, self.calendar)


def load_config(path: str | Path) -> HallConfig:
    """Read and validate a hall configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not UTF-8 text") from None
    return replace(parse_config(text, source=str(p)), base_dir=p.resolve().parent)


def parse_config(text: str, source: str = "<config>") -> HallConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        return _build(raw)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


# --- building -------------------------------------------------------------------------


def _build(raw: dict[str, Any]) -> HallConfig:
    check_keys(raw, "", {"hall", "rules", "scale", "penalties", "calendar", "counters", "devices",
                    "display"} | SERVICE_SECTIONS)
    hall = section(raw, "hall", required=True)
    check_keys(hall, "hall", {"id", "timezone"})
    if "id" not in hall:
        raise ConfigError("[hall] id: missing (the hall's identifier, e.g. id = \"qingpu\")")
    hall_id = id_value(hall["id"], "[hall] id")
    timezone = typed_value(hall, "hall", "timezone", str, "Asia/Shanghai")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[hall] timezone: unknown time zone {timezone!r}") from None

    scale = section(raw, "scale")
    check_keys(scale, "scale", {"kind"})
    kind = choice(scale, "scale", "kind", Scale, Scale.BINARY)

    calendar_raw = section(raw, "calendar")
    calendar = _calendar(calendar_raw, "calendar", CalendarConfig(), allow_counter=True)
    per_counter = section(calendar_raw, "counter", where="calendar")
    counter_calendars = {
        cid: _calendar(as_table(sub, f"calendar.counter.{cid}"), f"calendar.counter.{cid}",
                       calendar, allow_counter=False)
        for cid, sub in per_counter.items()
    }
    return HallConfig(
        hall_id=hall_id,
        timezone=timezone,
        rules=_rules(section(raw, "rules")),
        scale=kind,
        penalties=_penalties(section(raw, "penalties")),
        calendar=calendar,
        counter_calendars=counter_calendars,
        counters=_counters(section(raw, "counters")),
        devices=_devices(section(raw, "devices")),
        display=_display(section(raw, "display")),
        service=build_service(raw),
    )


def _rules(raw: dict[str, Any]) -> RulesConfig:
    defaults = RulesConfig()
    positive = {"invite_ttl_s", "long_pause_min"}
    values: dict[str, Any] = {}
    check_keys(raw, "rules", set(vars(defaults)))
    values["fault_verification"] = typed_value(raw, "rules", "fault_verification", bool,
                                        defaults.fault_verification)
    for key, default in vars(defaults).items():
        if isinstance(default, bool):
            continue
        value = typed_value(raw, "rules", key, float, default)
        if value < 0 or (key in positive and value == 0):
            bound = "greater than 0" if key in positive else "0 or more"
            raise ConfigError(f"[rules] {key}: must be {bound}, got {value}")
        values[key] = value
    return RulesConfig(**values)


def _penalties(raw: dict[str, Any]) -> dict[str, float]:
    check_keys(raw, "penalties", set(INCIDENT_KINDS))
    out = dict(DEFAULT_PENALTIES)
    for key in INCIDENT_KINDS:
        value = typed_value(raw, "penalties", key, float, DEFAULT_PENALTIES[key])
        if value < 0:
            raise ConfigError(f"[penalties] {key}: must be 0 or more, got {value}")
        out[key] = value
    return out


def _calendar(
    raw: dict[str, Any], where: str, base: CalendarConfig, *, allow_counter: bool
) -> CalendarConfig:
    keys = {"weekdays", "summer", "morning", "afternoon", "summer_afternoon",
            "holidays", "workdays"}
    check_keys(raw, where, keys | ({"counter"} if allow_counter else set()))
    morning = _span(raw, where, "morning", base.morning)
    afternoon = _span(raw, where, "afternoon", base.afternoon)
    summer_afternoon = _span(raw, where, "summer_afternoon", base.summer_afternoon)
    for key, span in (("afternoon", afternoon), ("summer_afternoon", summer_afternoon)):
        if span[0] < morning[1]:
            raise ConfigError(f"[{where}] {key}: starts at {span[0]:%H:%M}, "
                              f"before the morning ends ({morning[1]:%H:%M})")
    return CalendarConfig(
        weekdays=_weekdays(raw, where, base.weekdays),
        summer=_summer(raw, where, base.summer),
        morning=morning,
        afternoon=afternoon,
        summer_afternoon=summer_afternoon,
        holidays=_dates(raw, where, "holidays", base.holidays),
        workdays=_dates(raw, where, "workdays", base.workdays),
    )


def _span(
    raw: dict[str, Any], where: str, key: str, default: tuple[time, time]
) -> tuple[time, time]:
    if key not in raw:
        return default
    pair = _pair(raw[key], f"[{where}] {key}", '["08:30", "12:00"]')
    start, end = (_clock(v, f"[{where}] {key}") for v in pair)
    if end <= start:
        raise ConfigError(f"[{where}] {key}: ends ({end:%H:%M}) before it starts ({start:%H:%M})")
    return start, end


def _summer(
    raw: dict[str, Any], where: str, default: tuple[tuple[int, int], tuple[int, int]]
) -> tuple[tuple[int, int], tuple[int, int]]:
    if "summer" not in raw:
        return default
    pair = _pair(raw["summer"], f"[{where}] summer", '["05-01", "09-30"]')
    first, last = (_month_day(v, f"[{where}] summer") for v in pair)
    return first, last


def _weekdays(raw: dict[str, Any], where: str, default: frozenset[int]) -> frozenset[int]:
    if "weekdays" not in raw:
        return default
    value = raw["weekdays"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'[{where}] weekdays: must be a list of day names like ["mon", "sat"]')
    days = set()
    for name in value:
        if name.lower() not in WEEKDAY_NAMES:
            raise ConfigError(f"[{where}] weekdays: unknown day {name!r} "
                              f"(use {', '.join(WEEKDAY_NAMES)})")
        days.add(WEEKDAY_NAMES.index(name.lower()))
    return frozenset(days)


def _dates(raw: dict[str, Any], where: str, key: str, default: frozenset[date]) -> frozenset[date]:
    if key not in raw:
        return default
    value = raw[key]
    if not isinstance(value, list):
        raise ConfigError(f"[{where}] {key}: must be a list of dates like [\"2026-10-01\"]")
    out = set()
    for item in value:
        if isinstance(item, date):
            out.add(item)
            continue
        try:
            out.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise ConfigError(f"[{where}] {key}: {item!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(out)



def _counters(raw: dict[str, Any]) -> dict[str, str]:
    return {cid: typed_value(t, where, "name", str, cid)
            for cid, where, t in id_tables(raw, "counters", {"name"})}


def _devices(raw: dict[str, Any]) -> dict[str, DeviceConfig]:
    out = {}
    keys = {"counter", "kind", "link", "port", "address", "keys", "key"}
    for did, where, t in id_tables(raw, "devices", keys):
        if "counter" not in t:
            raise ConfigError(f"[{where}] counter: missing (the counter this device serves)")
        kind = choice(t, where, "kind", DeviceKind, DeviceKind.PAD)
        link = choice(t, where, "link", DeviceLink, DeviceLink.USB)
        address = typed_value(t, where, "address", int, 0) or None
        if link == "rs485" and (address is None or not 1 <= address <= 247):
            raise ConfigError(f"[{where}] address: an rs485 device needs an address 1..247")
        keys = typed_value(t, where, "keys", int, 2)
        if keys not in (2, 5):
            raise ConfigError(f"[{where}] keys: must be 2 or 5, got {keys}")
        out[did] = DeviceConfig(
            id=did, counter=id_value(t["counter"], f"[{where}] counter"), kind=kind, link=link,
            port=typed_value(t, where, "port", str, "") or None, address=address, keys=keys,
            key=_hex_key(t, where),
        )
    return out


def _display(raw: dict[str, Any]) -> DisplayConfig:
    defaults = DisplayConfig()
    check_keys(raw, "display", set(vars(defaults)))
    values = {key: typed_value(raw, "display", key, str, default)
              for key, default in vars(defaults).items()}
    for key, value in values.items():
        if not value.strip() or len(value.encode("utf-8")) > DISPLAY_MAX_BYTES:
            raise ConfigError(f"[display] {key}: must be 1 to {DISPLAY_MAX_BYTES} bytes of "
                              f"text, got {value!r}")
    return DisplayConfig(**values)


def _hex_key(t: dict[str, Any], where: str) -> bytes | None:
    value = typed_value(t, where, "key", str, "")
    if not value:
        return None
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ConfigError(f"[{where}] key: must be 64 hex digits (a 32-byte key)")
    return bytes.fromhex(value)


# --- small validators -----------------------------------------------------------------








def _pair(value: Any, name: str, example: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{name}: must be a pair like {example}")
    return value


def _parsed(parse: Callable[[str], Any], value: Any, name: str, shape: str) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not {shape}") from None


def _clock(value: Any, name: str) -> time:
    if not isinstance(value, str) or not re.fullmatch(r"\d\d:\d\d", value):
        raise ConfigError(f"{name}: {value!r} is not a time of day (HH:MM)")
    result: time = _parsed(time.fromisoformat, value, name, "a time of day (HH:MM)")
    return result


def _month_day(value: Any, name: str) -> tuple[int, int]:
    if not isinstance(value, str) or not re.fullmatch(r"\d\d-\d\d", value):
        raise ConfigError(f"{name}: {value!r} is not a month and day (MM-DD)")
    parsed: date = _parsed(lambda v: date.fromisoformat(f"2000-{v}"), value, name,
                           "a month and day (MM-DD)")
    return parsed.month, parsed.day
