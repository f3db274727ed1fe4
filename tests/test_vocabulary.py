"""One vocabulary (edge_agent/rules/vocabulary.py): the agent's modules, the wire codec and the
firmware's own constants (MicroPython has no enum) name the hall's words the same way, and a
word serialises exactly as the string it always was."""

from __future__ import annotations

import importlib
import json
import sys
import tomllib
from collections.abc import Iterator
from enum import StrEnum
from types import ModuleType

import fakeredis
import pytest

from edge_agent import config, pad_render
from edge_agent.rules import model, vocabulary
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.vocabulary import (
    FRAME_KINDS,
    FRAME_LINKS,
    DecisionReason,
    DeviceKind,
    DeviceLink,
    EventType,
    FaultVerdict,
    IncidentKind,
    Level,
    Scale,
    Screen,
    UnknownWord,
    parse,
)
from edge_agent.service import checks, queue_report
from edge_agent.timeline import EventParser, TimelineError
from edge_agent.wire import SCREEN_CODES, ScreenCode
from edge_agent.wire.protocol import LEVELS

WORDS: list[type[StrEnum]] = [
    EventType, Level, Scale, Screen, IncidentKind, DecisionReason, vocabulary.Source,
    FaultVerdict, vocabulary.FaultStatus, DeviceKind, DeviceLink,
]


@pytest.fixture
def firmware() -> Iterator[dict[str, ModuleType]]:
    """The firmware's modules imported as a board imports them (by bare name)."""
    before = set(sys.modules)
    sys.path.insert(0, str(pad_render.FIRMWARE))
    try:
        yield {name: importlib.import_module(name) for name in ("messages", "selftest",
                                                                "screens")}
    finally:
        sys.path.remove(str(pad_render.FIRMWARE))
        for name in set(sys.modules) - before:
            del sys.modules[name]


def test_the_firmware_levels_are_the_agents_in_the_wire_order(
        firmware: dict[str, ModuleType]) -> None:
    messages = firmware["messages"]
    assert messages.LEVEL_NAMES == tuple(Level) == LEVELS
    for member in Level:
        assert getattr(messages, member.name) == LEVELS.index(member)
    assert [messages.LEVEL_NAMES[i] for i in messages.TWO_KEY_LEVELS] == [
        Level.SATISFIED, Level.UNSATISFIED]


def test_the_firmware_screens_are_the_wire_codes_the_agent_sends(
        firmware: dict[str, ModuleType]) -> None:
    messages = firmware["messages"]
    assert tuple(code.name.lower() for code in ScreenCode) == messages.SCREEN_NAMES
    for code in ScreenCode:
        assert getattr(messages, code.name) == code.value
    assert pad_render.SCREENS == messages.SCREEN_NAMES
    # Every screen the rules engine picks has a wire number and a caption on the pad.
    assert set(SCREEN_CODES) == set(Screen)
    assert set(Screen) <= set(firmware["screens"].CAPTIONS)
    assert set(Screen) <= set(config.DisplayConfig().captions())
    for screen, code in SCREEN_CODES.items():
        assert screen == code.name.lower() or (screen, code) == (Screen.SERVING,
                                                                  ScreenCode.WELCOME)


def test_the_firmware_accepts_exactly_the_frame_links(firmware: dict[str, ModuleType]) -> None:
    config_ok = firmware["selftest"].config_ok
    for link in [*DeviceLink, "rs232", ""]:
        assert config_ok({"address": 1, "keys": 2, "link": str(link)}) == (link in FRAME_LINKS)


def test_the_agents_tables_are_the_vocabulary() -> None:
    assert tuple(IncidentKind) == config.INCIDENT_KINDS
    assert set(config.DEFAULT_PENALTIES) == set(IncidentKind)
    assert tuple(Scale) == config.SCALES
    assert tuple(DeviceKind) == config.DEVICE_KINDS
    assert tuple(DeviceLink) == config.DEVICE_LINKS
    assert checks.FRAME_KINDS == FRAME_KINDS and checks.FRAME_LINKS == FRAME_LINKS
    assert set(model.LEVEL_POINTS) == set(Scale)
    assert set(queue_report.TYPES) <= set(EventType)
    assert tuple(EventType) == model.EVENT_TYPES


@pytest.mark.parametrize("words", WORDS, ids=lambda w: w.__name__)
def test_a_word_serialises_as_the_string_it_always_was(words: type[StrEnum]) -> None:
    for member in words:
        text = member.value
        assert json.dumps({member: [member]}) == json.dumps({text: [text]})
        assert f"{member}" == str(member) == text and f"{member!r}" == repr(text)
        assert tomllib.loads(f'k = "{member}"')["k"] == text
        assert parse(words, text) is member
    r = fakeredis.FakeStrictRedis()
    member = next(iter(words))
    r.hset("h", member, member)
    assert r.hgetall("h") == {member.value.encode(): member.value.encode()}


def test_an_unknown_word_is_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownWord) as caught:
        parse(FaultVerdict, "maybe")
    assert str(caught.value) == ("unknown fault verdict 'maybe' "
                                 "(one of device_fault, not_device_fault)")
    with pytest.raises(UnknownWord, match=r"unknown event type \['rating'\]"):
        parse(EventType, ["rating"])
    with pytest.raises(UnknownWord, match="unknown incident kind 'Rating'"):
        parse(IncidentKind, "Rating")


def test_the_timeline_boundary_parses_words_to_members() -> None:
    parser = EventParser("five")
    ev = parser.parse({"t": "2026-03-02T09:00:00+08:00", "type": "rating", "counter": "A01",
                       "level": "basic", "source": "staff"}, 1)
    assert ev.type is EventType.RATING and ev.level is Level.BASIC
    assert ev.source is vocabulary.Source.STAFF
    ruling = parser.parse({"t": "2026-03-02T09:00:00+08:00", "type": "fault_verified",
                           "counter": "A01", "device": "P1", "verdict": "device_fault"}, 2)
    assert ruling.verdict is FaultVerdict.DEVICE_FAULT
    with pytest.raises(TimelineError, match="line 3: unknown event type 'rate'"):
        parser.parse({"t": "2026-03-02T09:00:00+08:00", "type": "rate", "counter": "A01"}, 3)


def test_the_engine_speaks_the_vocabulary() -> None:
    engine = RulesEngine(config.HallConfig("H1", scale="five"))
    parser = EventParser("five")
    outputs = []
    for i, line in enumerate([
        '{"t": "2026-03-02T09:00:00+08:00", "type": "staff_login", "counter": "A01", '
        '"staff": "S1"}',
        '{"t": "2026-03-02T09:01:00+08:00", "type": "ticket_called", "counter": "A01", '
        '"ticket": "T1"}',
        '{"t": "2026-03-02T09:05:00+08:00", "type": "service_done", "counter": "A01"}',
        '{"t": "2026-03-02T09:05:10+08:00", "type": "rating", "counter": "A01", '
        '"level": "basic"}',
        '{"t": "2026-03-02T09:05:20+08:00", "type": "rating", "counter": "A01", '
        '"level": "satisfied"}',
    ], 1):
        outputs += engine.handle(parser.parse_line(line, i))
    decisions = [o for o in outputs if isinstance(o, model.Decision)]
    assert [(d.reason, d.level) for d in decisions] == [
        (DecisionReason.ACCEPTED, Level.BASIC), (DecisionReason.ALREADY_RATED, Level.SATISFIED)]
    assert all(type(d.reason) is DecisionReason for d in decisions)
    screens = [o.screen for o in outputs if isinstance(o, model.ScreenChange)]
    assert screens == [Screen.WELCOME, Screen.SERVING, Screen.INVITE, Screen.THANKS]
    assert all(type(s) is Screen for s in screens)
    kinds = [o.kind for o in outputs if isinstance(o, model.Incident)]
    assert kinds == [IncidentKind.CONSECUTIVE_RATING]
    assert type(kinds[0]) is IncidentKind
