"""System outages (docs/rules.md, "System outages (the project's own reading)"): what was
under way when the agent stopped listening may have lost an input, so its incidents are
exempt and say why; what started after the restart is judged as always."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import BASE_CONFIG, Runner, at, ev, login, write_timeline

PAD = {"device": "A01-pad"}
CALLED = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1")]


def outage(start: str, until: str, day: str = "2026-03-02", until_day: str = "") -> dict[str, Any]:
    return {
        **ev(start, "system_outage", counter="*", day=day),
        "until": at(until, until_day or day),
    }


def found(doc: dict[str, Any]) -> list[tuple[str, bool, list[str] | None]]:
    return [(i["kind"], i["exempt"], i.get("system_outage")) for i in doc["incidents"]]


GAP = [at("09:20:00"), at("09:25:00")]


def test_a_ticket_current_when_the_system_went_down_is_not_held_against_staff(run: Runner) -> None:
    lines: list[dict[str, Any] | str] = [
        *CALLED,
        outage("09:20:00", "09:25:00"),
        ev("09:30:00", "ticket_called", ticket="T2"),
        ev("09:40:00", "ticket_called", ticket="T3"),
    ]
    doc = run.replay(lines)
    # T1 spanned the outage (its 请评价 may have been lost): exempt, with the outage's times.
    # T2 was called after the restart: judged as always.
    assert found(doc) == [("not_prompted", True, GAP), ("not_prompted", False, None)]
    assert doc["report"]["counters"]["A01"]["penalties"] == 1.0
    path = write_timeline(run.tmp / "t.jsonl", lines)
    code, out, _ = run.cli(
        "report", str(path), "--config", str(run.config()), "--month", "2026-03", "--format", "json"
    )
    assert code == 0
    assert json.loads(out)["counters"]["A01"]["deductions"] == [
        {"kind": "not_prompted", "count": 2, "exempt": 1, "pending": 0, "points": 1.0,
         "lines": [5], "exempt_lines": [4], "pending_lines": [], "system_outage_lines": [4]}
    ]


def test_refusal_and_consecutive_rating_of_a_spanning_ticket_are_exempt(run: Runner) -> None:
    invited = [*CALLED, ev("09:11:00", "service_done")]
    doc = run.replay([*invited, outage("09:11:02", "09:11:05"), ev("09:11:06", "invite_cancel")])
    assert found(doc) == [("refused_evaluation", True, [at("09:11:02"), at("09:11:05")])]
    doc = run.replay(
        [
            *invited,
            ev("09:11:01", "rating", level="satisfied"),
            outage("09:11:02", "09:11:30"),
            ev("09:11:31", "rating", level="satisfied"),
        ]
    )
    assert found(doc) == [("consecutive_rating", True, [at("09:11:02"), at("09:11:30")])]


def test_a_pause_open_when_the_system_went_down_raises_an_exempt_long_pause(run: Runner) -> None:
    doc = run.replay(
        [
            login("09:00:00"),
            ev("09:10:00", "pause"),
            outage("09:15:00", "11:00:00"),
            ev("11:05:00", "resume"),
        ]
    )
    assert found(doc) == [("long_pause", True, [at("09:15:00"), at("11:00:00")])]


def test_a_device_outage_open_or_in_its_grace_when_the_system_went_down_is_exempt(
    run: Runner,
) -> None:
    # Down overnight, counted at the opening inside the system outage.
    doc = run.replay(
        [
            ev("19:00:00", "device_down", **PAD),
            outage("19:10:00", "09:00:00", until_day="2026-03-03"),
            ev("09:05:00", "device_up", day="2026-03-03", **PAD),
        ]
    )
    assert [(k, e) for k, e, _ in found(doc)] == [("device_offline", True)]
    # Down in hours and waiting out its fault-report grace when the system went down.
    doc = run.replay(
        [
            login("09:00:00"),
            ev("10:00:00", "device_down", **PAD),
            ev("10:01:00", "device_up", **PAD),
            outage("10:02:00", "10:40:00"),
        ]
    )
    assert found(doc) == [("device_offline", True, [at("10:02:00"), at("10:40:00")])]


def test_what_starts_after_the_restart_is_judged_as_always(run: Runner) -> None:
    doc = run.replay(
        [
            login("09:00:00"),
            outage("09:05:00", "09:06:00"),
            ev("09:10:00", "pause"),
            ev("10:20:00", "resume"),
            ev("10:30:00", "device_down", **PAD),
            ev("11:30:00", "device_up", **PAD),
        ]
    )
    assert found(doc) == [("long_pause", False, None), ("device_offline", False, None)]


def test_a_system_outage_is_the_whole_halls_and_runs_forwards(run: Runner) -> None:
    bad = {**outage("09:20:00", "09:25:00"), "counter": "A01"}
    code, _, err = run.cli(
        "replay",
        str(write_timeline(run.tmp / "a.jsonl", [login("09:00:00"), bad])),
        "--config",
        str(run.config()),
        "--month",
        "2026-03",
    )
    assert code == 2 and "line 2" in err and '"counter" is "*"' in err
    backwards = outage("09:20:00", "09:10:00")
    code, _, err = run.cli(
        "replay",
        str(write_timeline(run.tmp / "b.jsonl", [login("09:00:00"), backwards])),
        "--config",
        str(run.config()),
        "--month",
        "2026-03",
    )
    assert code == 2 and "line 2" in err and '"until" must not be earlier' in err
    doc = run.replay([login("09:00:00"), outage("09:20:00", "09:25:00")])
    assert doc["report"]["counters"].keys() == {"A01"}  # no counter named "*"


def test_a_ticket_called_in_the_catch_up_after_a_restart_is_not_held_against_staff(
    run: Runner,
) -> None:
    # Found by the fault run: the queue system's report of a call made while the agent was
    # down came in after the restart (its retry), then at once the next call: the first
    # ticket had no invitation. The catch-up (outage_catch_up_s, inclusive) covers it.
    config = BASE_CONFIG + "[rules]\noutage_catch_up_s = 60\n"
    lines: list[dict[str, Any] | str] = [
        login("09:00:00"),
        outage("09:20:00", "09:25:00"),
        ev("09:26:00", "ticket_called", ticket="T1"),  # until + 60 s: in the catch-up
        ev("09:26:01", "ticket_called", ticket="T2"),  # a second later: judged as always
        ev("09:40:00", "ticket_called", ticket="T3"),
    ]
    doc = run.replay(lines, config)
    assert found(doc) == [("not_prompted", True, GAP), ("not_prompted", False, None)]
    late = [login("09:00:00"), outage("09:20:00", "09:25:00"),
            ev("09:26:01", "ticket_called", ticket="T1"), ev("09:30:00", "ticket_called",
                                                             ticket="T2")]
    assert found(run.replay(late, config)) == [("not_prompted", False, None)]


def test_a_press_unbound_in_the_catch_up_is_listed_with_the_outage(run: Runner) -> None:
    # The citizen's (or a self-rater's) press reached the agent before its ticket's call:
    # unbound (no points either way), and said to be the outage's.
    config = BASE_CONFIG + "[rules]\noutage_catch_up_s = 60\n"
    doc = run.replay([login("09:00:00"), outage("09:20:00", "09:25:00"),
                      ev("09:25:30", "rating", level="satisfied"),
                      ev("09:27:00", "rating", level="satisfied")], config)
    assert found(doc) == [("unbound_rating", True, GAP), ("unbound_rating", False, None)]
    assert [d["reason"] for d in doc["decisions"]] == ["no_service", "no_service"]
