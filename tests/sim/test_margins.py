"""The rules' time thresholds a simulated hall runs with at speed, and the plan's gaps kept
clear of them by a margin that grows with the speed (tools/simhall/margins.py)."""

from __future__ import annotations

from datetime import date

import pytest

from edge_agent.config import HallConfig, RulesConfig, parse_config
from tools.simhall import check, margins, people
from tools.simhall.agent_config import changed_rules


@pytest.mark.parametrize("speed", [100.0, 200.0, 600.0])
def test_every_gap_of_the_plan_stays_a_margin_clear_of_its_threshold(speed: float) -> None:
    citizens, given = people.Citizens(), people.Habits()
    rules = margins.rules(speed, citizens, given)
    habits = margins.habits(speed, citizens, given)
    margin = margins.margin_s(speed)
    grace = rules.double_press_grace_ms / 1000
    assert grace >= 3.0  # never below the rules' own
    assert citizens.double_press_gap_s[1] + margin <= grace  # a nervous press stays one
    assert habits.pump_gap_s[0] >= grace + margin  # a pumper's second press is a rating
    assert habits.pump_gap_s[0] < habits.pump_gap_s[1]
    # ... and falls within the invitation, so it is 连续评价 and not an expired one's press
    assert citizens.rate_delay_s[1] + habits.pump_gap_s[1] + margin <= rules.invite_ttl_s
    assert rules.outage_catch_up_s >= margins.CATCH_UP_REAL_S * speed


def test_a_slow_run_keeps_the_rules_defaults() -> None:
    citizens, given = people.Citizens(), people.Habits()
    assert margins.rules(1.0, citizens, given) == RulesConfig()
    assert margins.habits(1.0, citizens, given) == given


def test_the_widened_rules_reach_the_hall_file_as_they_are() -> None:
    rules = margins.rules(200.0, people.Citizens(), people.Habits())
    text = "[hall]\nid = \"x\"\n[rules]\n" + "".join(
        f"{k} = {v!r}\n" for k, v in changed_rules(rules).items())
    assert parse_config(text).rules == rules


def test_at_speed_the_plan_still_raises_each_cheat_as_injected_and_nothing_else() -> None:
    speed = 200.0
    citizens, habits = people.Citizens(), margins.habits(200.0, people.Citizens(),
                                                          people.Habits())
    config = HallConfig("sim", rules=margins.rules(speed, citizens, people.Habits()))
    desks = people.make_desks(12, seed=5, salt="s")
    acts = list(people.plan(desks, [date(2026, 3, 2), date(2026, 3, 3)], citizens, habits))
    results = check.judge(desks, check.incidents(acts, config))
    assert all(r.ok for r in results), check.table(results)
    assert sum(r.injected.get("consecutive_rating", 0) for r in results) > 0
