"""Monthly score (RULES.md §5; 004 §17(一)1-3 服务质量电子评价考核办法)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from edge_agent.scoring import round2, shortfall_deduction, standard
from tests.helpers import Runner, ev, login, press


@pytest.mark.parametrize(("volume", "expected"), [
    (0, 0), (1, 1), (10, 7), (50, 35),          # ≤ 50: ⌈0.7·V⌉ ("50件以下…70%以上")
    (51, 31), (100, 60),                        # 51-100: ⌈0.6·V⌉
    (101, 51), (200, 100),                      # 101-200: ⌈0.5·V⌉
    (201, 100), (5000, 100),                    # over 200: 100 ("不少于100件")
])
def test_standard_tiers(volume: int, expected: int) -> None:
    assert standard(volume) == expected


@pytest.mark.parametrize(("shortfall", "points"), [
    (0, 0), (1, 1), (10, 1), (11, 2), (20, 2), (21, 3), (30, 3), (31, 4), (40, 4), (41, 5),
    (500, 5),
])
def test_shortfall_deduction_tiers(shortfall: int, points: int) -> None:
    """"评价数小于等于10件,扣1分 … 超过40件,扣5分" read as ratings missing (§5)."""
    assert shortfall_deduction(shortfall) == points


def test_rounding_is_half_up() -> None:
    assert round2(Fraction(5, 8)) == 0.63  # 0.625: banker's rounding would give 0.62
    assert round2(Fraction(10, 3)) == 3.33
    assert round2(Fraction(1, 200)) == 0.01


def _month(lines: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    """Tickets called, invited and rated 1 minute apart, 20 s apart rating to rating."""
    return [login("08:40:00"), *lines]


def _ticket(i: int, level: str | None) -> list[dict]:  # type: ignore[type-arg]
    minute = f"09:{i:02d}"
    out = [ev(f"{minute}:00", "ticket_called", ticket=f"T{i}"),
           ev(f"{minute}:10", "service_done")]
    if level is not None:
        out.append(press(f"{minute}:20", level))
    return out


def test_binary_score_with_shortfall_and_penalty(run: Runner) -> None:
    lines = []
    for i, level in enumerate(["satisfied", "satisfied", "unsatisfied", None, None]):
        lines += _ticket(i, level)
    lines.append(ev("09:30:00", "ticket_called", ticket="T30"))
    lines.append(ev("09:31:00", "ticket_called", ticket="T31"))  # T30 not prompted: −1
    doc = run.replay(_month(lines))
    row = doc["report"]["counters"]["A01"]
    assert row == {"volume": 7, "ratings": 3, "satisfied": 2, "base": 3.33, "standard": 5,
                   "shortfall": 2, "shortfall_deduction": 1, "penalties": 1.0, "score": 1.33}


def test_score_never_below_zero(run: Runner) -> None:
    lines = [*_ticket(0, "unsatisfied"), ev("09:40:00", "ticket_called", ticket="X"),
             ev("09:41:00", "ticket_called", ticket="Y")]
    doc = run.replay(_month(lines))
    assert doc["report"]["counters"]["A01"]["score"] == 0.0


def test_no_ratings_means_base_zero(run: Runner) -> None:
    doc = run.replay(_month([]))
    assert doc["report"]["counters"]["A01"] == {
        "volume": 0, "ratings": 0, "satisfied": 0, "base": 0.0, "standard": 0, "shortfall": 0,
        "shortfall_deduction": 0, "penalties": 0.0, "score": 0.0}


def test_five_level_scale_points_and_satisfied(run: Runner) -> None:
    """Five levels (national 好差评): 5, 4, 3, 1, 0; the first three count as satisfied."""
    levels = ["very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied"]
    lines = []
    for i, level in enumerate(levels):
        lines += _ticket(i, level)
    doc = run.replay(_month(lines), config='[hall]\nid = "t"\n[scale]\nkind = "five"\n')
    row = doc["report"]["counters"]["A01"]
    assert (row["ratings"], row["satisfied"], row["base"]) == (5, 3, 2.6)
    assert doc["report"]["staff"]["S1"]["base"] == 2.6


def test_configured_penalties_apply(run: Runner) -> None:
    lines = [*_ticket(0, None), ev("09:30:00", "ticket_called", ticket="T9"),
             ev("09:31:00", "ticket_called", ticket="T10")]
    doc = run.replay(_month(lines), config='[hall]\nid = "t"\n[penalties]\nnot_prompted = 0.25\n')
    assert doc["incidents"][0]["penalty"] == 0.25
    assert doc["report"]["counters"]["A01"]["penalties"] == 0.25


def test_month_is_by_local_time(run: Runner) -> None:
    """A rating at 00:30 local on April 1st is 16:30 UTC on March 31st: it belongs to April."""
    lines = [login("23:50:00", day="2026-03-31"),
             ev("23:55:00", "ticket_called", day="2026-03-31", ticket="T1"),
             ev("00:30:00", "rating", day="2026-04-01", level="satisfied")]
    doc = run.replay(lines, month="2026-04")
    row = doc["report"]["counters"]["A01"]
    assert (row["volume"], row["ratings"]) == (0, 1)
    doc = run.replay(lines, month="2026-03")
    row = doc["report"]["counters"]["A01"]
    assert (row["volume"], row["ratings"]) == (1, 0)


def test_configured_counters_are_reported_even_when_silent(run: Runner) -> None:
    config = '[hall]\nid = "t"\n[counters.B07]\nname = "公积金"\n'
    doc = run.replay([login("09:00:00")], config=config)
    assert set(doc["report"]["counters"]) == {"A01", "B07"}
    assert doc["report"]["counters"]["B07"]["volume"] == 0
