"""The fault run's verdicts on the agent's month reports: penalised incidents as the plan
injected them, a shortfall accepted only where a system outage excused it."""

from __future__ import annotations

from typing import Any

from edge_agent.config import HallConfig
from tools.simhall import check, people

CONFIG = HallConfig("sim")


def verdicts(profile_injected: dict[str, tuple[str, dict[str, int]]],
             deductions: dict[str, list[dict[str, Any]]]) -> dict[str, bool]:
    desks = people.make_desks(len(profile_injected), seed=3, salt="s")
    for desk, (counter, (profile, injected)) in zip(desks, profile_injected.items(),
                                                    strict=True):
        desk.counter.id, desk.counter.profile = counter, profile
        desk.counter.injected = dict(injected)
    report = {"counters": {c: {"deductions": d} for c, d in deductions.items()}}
    return {r.counter: r.ok for r in check.judge_report(desks, [report], CONFIG)}


def deduction(kind: str, lines: list[int], exempt: list[int] | None = None,
              outage: list[int] | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": kind, "lines": lines, "exempt_lines": exempt or []}
    if outage:
        d["system_outage_lines"] = outage
    return d


def test_an_honest_counter_with_a_penalised_incident_fails_and_an_excused_one_passes() -> None:
    plan = {"A01": ("honest", {}), "A02": ("honest", {})}
    got = verdicts(plan, {"A01": [deduction("not_prompted", [7])],
                          "A02": [deduction("not_prompted", [], [7], [7])]})
    assert got == {"A01": False, "A02": True}


def test_a_cheat_short_only_by_excused_incidents_passes() -> None:
    plan = {"A01": ("skipper", {"not_prompted": 3}), "A02": ("skipper", {"not_prompted": 3}),
            "A03": ("skipper", {"not_prompted": 3})}
    got = verdicts(plan, {
        "A01": [deduction("not_prompted", [1, 2], [3], [3])],  # one excused: as injected
        "A02": [deduction("not_prompted", [1, 2], [3])],  # exempt without a reason: short
        "A03": [deduction("not_prompted", [1, 2, 3, 4])],  # one more than injected
    })
    assert got == {"A01": True, "A02": False, "A03": False}


def test_a_rating_cheat_short_only_by_presses_unbound_in_an_outages_catch_up_passes() -> None:
    # The self-rater's press came before its ticket's call (around a restart): unbound,
    # listed with the outage; a shortfall without such a press is still a mismatch.
    plan = {"A01": ("self_rater", {"self_rating": 3}), "A02": ("self_rater", {"self_rating": 3}),
            "A03": ("skipper", {"not_prompted": 3})}
    got = verdicts(plan, {
        "A01": [deduction("self_rating", [1, 2]), deduction("unbound_rating", [], [3], [3])],
        "A02": [deduction("self_rating", [1, 2]), deduction("unbound_rating", [3])],
        "A03": [deduction("not_prompted", [1, 2]), deduction("unbound_rating", [], [3], [3])],
    })
    assert got == {"A01": True, "A02": False, "A03": False}
