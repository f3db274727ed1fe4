"""The hall configuration (RULES.md §6): defaults, and a clear error naming each bad key."""

from __future__ import annotations

from datetime import date, time

import pytest

from edge_agent.config import ConfigError, parse_config


def test_minimal_file_takes_every_default() -> None:
    cfg = parse_config('[hall]\nid = "qingpu"\n')
    assert cfg.hall_id == "qingpu"
    assert cfg.timezone == "Asia/Shanghai"
    assert cfg.rules.invite_ttl_s == 60
    assert cfg.rules.double_press_grace_ms == 3000
    assert cfg.penalties["refused_evaluation"] == 2.5
    assert cfg.penalties["long_pause"] == 0.0
    assert cfg.scale == "binary"
    assert cfg.calendar.morning == (time(8, 30), time(12, 0))
    assert cfg.calendar.summer_afternoon == (time(13, 30), time(17, 0))


def test_full_example_of_rules_md_parses() -> None:
    cfg = parse_config('''
[hall]
id = "qingpu"
timezone = "Asia/Shanghai"
[rules]
invite_ttl_s = 30
double_press_grace_ms = 2000
min_rating_interval_s = 20
min_invite_s = 8
long_pause_min = 45
fault_report_grace_min = 15
[scale]
kind = "five"
[penalties]
device_offline = 1.0
not_prompted = 1.0
refused_evaluation = 2.5
consecutive_rating = 1.0
self_rating = 1.0
[calendar]
summer = ["05-01", "09-30"]
morning = ["08:30", "12:00"]
afternoon = ["13:00", "17:00"]
summer_afternoon = ["13:30", "17:00"]
holidays = ["2026-10-01"]
workdays = ["2026-10-10"]
[calendar.counter.B01]
weekdays = ["mon", "tue", "wed", "thu", "fri", "sat"]
[devices.A01-pad]
counter = "A01"
kind = "pad"
link = "rs485"
address = 3
keys = 5
key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
''')
    assert cfg.rules.invite_ttl_s == 30
    assert cfg.scale == "five"
    assert cfg.calendar.holidays == frozenset({date(2026, 10, 1)})
    assert cfg.calendar_for("B01").weekdays == frozenset(range(6))
    assert cfg.calendar_for("B01").holidays == cfg.calendar.holidays  # inherited
    assert cfg.devices["A01-pad"].address == 3
    assert cfg.devices["A01-pad"].key == bytes.fromhex("00112233445566778899aabbccddeeff" * 2)


@pytest.mark.parametrize(("text", "message"), [
    ('[hall]\nid = "x"\n[rules]\ninvite_tll_s = 5\n', "[rules] invite_tll_s: unknown key"),
    ('[hall]\nid = "x"\n[rules]\ninvite_ttl_s = -5\n', "[rules] invite_ttl_s: must be greater"),
    ('[hall]\nid = "x"\n[rules]\nmin_invite_s = "10"\n', "[rules] min_invite_s: must be a number"),
    ('[hall]\nid = "x"\n[rules]\nlong_pause_min = true\n', "[rules] long_pause_min: must be"),
    ('[hall]\nid = "x"\n[calendar]\nafternoon = ["17:00", "13:00"]\n',
     "[calendar] afternoon: ends (13:00) before it starts (17:00)"),
    ('[hall]\nid = "x"\n[calendar]\nafternoon = ["11:00", "17:00"]\n',
     "[calendar] afternoon: starts at 11:00, before the morning ends"),
    ('[hall]\nid = "x"\n[calendar]\nmorning = ["8:30", "12:00"]\n', "[calendar] morning: '8:30'"),
    ('[hall]\nid = "x"\n[calendar]\nholidays = ["2026-13-01"]\n', "[calendar] holidays: "),
    ('[hall]\nid = "x"\n[calendar]\nweekdays = ["monday"]\n', "[calendar] weekdays: unknown day"),
    ('[hall]\nid = "x"\n[calendar]\nsummer = ["05-01"]\n', "[calendar] summer: must be a pair"),
    ('[hall]\nid = "x"\n[calendar.counter.B01]\nmornin = ["08:00", "12:00"]\n',
     "[calendar.counter.B01] mornin: unknown key"),
    ('[hall]\nid = "x"\n[scale]\nkind = "ten"\n', "[scale] kind: must be one of binary, five"),
    ('[hall]\nid = "x"\n[penalties]\nself_rating = -1\n', "[penalties] self_rating: must be 0"),
    ('[hall]\nid = "x"\n[penalties]\ncheating = 1\n', "[penalties] cheating: unknown key"),
    ('[hall]\nid = "x"\ntimezone = "Mars/Olympus"\n', "[hall] timezone: unknown time zone"),
    ('[hall]\n', "[hall] id: missing"),
    ('[hal]\nid = "x"\n', "hal: unknown section"),
    ('[hall]\nid = "x"\n[devices.P1]\ncounter = "A01"\nlink = "rs485"\n',
     "[devices.P1] address: an rs485 device needs an address 1..247"),
    ('[hall]\nid = "x"\n[devices.P1]\ncounter = "A01"\nkey = "abc"\n',
     "[devices.P1] key: must be 64 hex digits"),
    ('[hall]\nid = "x"\n[devices.P1]\ncounter = "A01"\nkeys = 3\n', "[devices.P1] keys: must be"),
    ('[hall\nid = "x"\n', "not valid TOML"),
])
def test_bad_key_or_value_is_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="hall.toml")
    assert str(info.value).startswith("hall.toml: ")
    assert message in str(info.value)
