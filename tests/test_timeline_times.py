"""Event times: exact microseconds, as strict as datetime.fromisoformat, whatever the path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.timeline import TimelineError, parse_time


def reference(value: str) -> int | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def ours(value: str) -> int | None:
    try:
        return parse_time(value, 1)
    except TimelineError:
        return None


@settings(max_examples=1000)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(-14 * 60, 14 * 60),
       st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]))
def test_valid_times_are_exact(moment: datetime, offset_min: int, spec: str) -> None:
    text = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min))).isoformat(timespec=spec)
    assert ours(text) == reference(text)


@settings(max_examples=1000)
@given(st.from_regex(r"2026-0[0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9][:+ .,Z0-9-]{0,16}",
                     fullmatch=True) | st.text(max_size=40))
def test_anything_else_agrees_with_fromisoformat(text: str) -> None:
    assert ours(text) == reference(text)


@pytest.mark.parametrize("text", ["2026-03-02T09:15:00+01:00+08:00", "2026-03-02T09:15:61+08:00",
                                  "2026-03-02T09:15:60+08:00", "2026-03-02T09:15:5٣+08:00",
                                  "2026-03-02T09:15:05.1+08:00", "2026-03-02T09:15:05,123+08:00",
                                  "2026-03-02T09:15:05.-12+08:00", "2026-03-02T24:00:00+08:00",
                                  "2026-03-02T09:15:00", "2026-03-02 09:15:00.5+08:00"])
def test_edge_strings(text: str) -> None:
    assert ours(text) == reference(text)
