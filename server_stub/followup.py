"""Bad-rating follow-up (差评回访): every accepted 不满意 / 非常不满意 rating is a case.

A case is named by the rating's journal record (its seq). Its due date is the
``followup_working_days``-th working day after the rating's day, by the counter's calendar
(``edge_agent.rules.calendar``: weekdays, holidays, make-up workdays). What a manager
recorded (contacted, outcome, note, closed) is kept per hall in ``hall:{H}:followups``
(a hash, seq -> JSON); the cases themselves are re-derived from the journal by the same
replay as the month's report, so a case can never be missed or made up.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import redis

from edge_agent.config import HallConfig
from edge_agent.journal import Record
from edge_agent.rules.calendar import MAX_SEARCH_DAYS, WorkCalendar, from_us
from edge_agent.rules.model import Decision, Level, Output
from edge_agent.scoring import month_bounds
from server_stub.export import case_number
from server_stub.reports import replay_month
from server_stub.store import followups_key

BAD_LEVELS: dict[str, tuple[str, str]] = {
    Level.UNSATISFIED: ("不满意", "unsatisfied"),
    Level.VERY_UNSATISFIED: ("非常不满意", "very unsatisfied")}
OUTCOMES = {"": ("未填", "not yet"), "resolved": ("已解决", "resolved"),
            "explained": ("已解释", "explained"), "unreachable": ("联系不上", "unreachable"),
            "disputed": ("有异议", "disputed"), "other": ("其他", "other")}
MAX_NOTE = 1000


class FollowUpError(ValueError):
    """A follow-up form that cannot be recorded as sent (the reason names the field)."""


@dataclass
class Case:
    seq: int
    t_us: int
    counter: str
    staff: str | None
    ticket: str  # 办件编号 as the 好差评 export gives it
    level: str
    due: date
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def closed(self) -> bool:
        return bool(self.state.get("closed"))

    def overdue(self, today: date) -> bool:
        return not self.closed and today > self.due


def due_date(config: HallConfig, counter: str, t_us: int, days: int) -> date:
    """The ``days``-th working day after the rating's local day (the day itself not counted)."""
    calendar = WorkCalendar(config.calendar_for(counter), config.tz)
    day = from_us(t_us, config.tz).date()
    left = days
    for _ in range(MAX_SEARCH_DAYS):
        if left <= 0:
            return day
        day += timedelta(days=1)
        left -= calendar.is_working_day(day)
    return day  # a calendar with no working day at all: give up after MAX_SEARCH_DAYS


def bad_ratings(records: Iterable[Record], config: HallConfig, month: str) -> list[Decision]:
    """The month's accepted 不满意 / 非常不满意 ratings, in journal order."""
    start, end = month_bounds(month, config.tz)
    found: list[Decision] = []

    def keep(outputs: list[Output]) -> None:
        found.extend(o for o in outputs if isinstance(o, Decision) and o.accepted
                     and o.level in BAD_LEVELS and start <= o.t < end)

    replay_month(records, config, month, keep)
    return found


def cases(decisions: Iterable[Decision], config: HallConfig, days: int,
          states: dict[int, dict[str, Any]]) -> list[Case]:
    return [Case(d.line, d.t, d.counter, d.staff, case_number(config.hall_id, d.ticket, d.line),
                 d.level, due_date(config, d.counter, d.t, days), states.get(d.line, {}))
            for d in decisions]


def parse_form(form: dict[str, str]) -> dict[str, Any]:
    """The fields of a follow-up form: contacted (yes/no), outcome, note, close."""
    contacted = form.get("contacted", "no")
    if contacted not in ("yes", "no"):
        raise FollowUpError(f"contacted: 'yes' or 'no', got {contacted[:20]!r}")
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise FollowUpError(f"outcome: one of {', '.join(o for o in OUTCOMES if o)}")
    note = form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        raise FollowUpError(f"note: at most {MAX_NOTE} characters, got {len(note)}")
    close = form.get("action") == "close"
    if close and not outcome:
        raise FollowUpError("outcome: choose one before closing the case")
    return {"contacted": contacted == "yes", "outcome": outcome, "note": note,
            "closed": close}


class FollowUps:
    def __init__(self, client: redis.Redis) -> None:
        self.redis: Any = client

    def states(self, hall: str) -> dict[int, dict[str, Any]]:
        rows: dict[bytes, bytes] = self.redis.hgetall(followups_key(hall))
        return {int(k): json.loads(v) for k, v in rows.items()}

    def record(self, hall: str, seq: int, fields: dict[str, Any], by: str, at: float) -> None:
        """Keep the form's fields; a closed case stays closed (its record is final)."""
        key = followups_key(hall)
        old: bytes | None = self.redis.hget(key, str(seq))
        if old is not None and json.loads(old).get("closed"):
            raise FollowUpError(f"case {seq} is closed already")
        self.redis.hset(key, str(seq), json.dumps({**fields, "by": by, "at": at},
                                                  ensure_ascii=False))


CSV_FIELDS = ("case", "time", "counter", "staff", "ticket", "level", "due", "overdue",
              "contacted", "outcome", "note", "closed", "by")


def render_csv(found: list[Case], config: HallConfig, today: date) -> str:
    """The cases for a spreadsheet: UTF-8 with a BOM (Excel), CRLF rows."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for c in found:
        w.writerow((c.seq, f"{from_us(c.t_us, config.tz):%Y-%m-%d %H:%M:%S}", c.counter,
                    c.staff or "", c.ticket, BAD_LEVELS[c.level][0], c.due.isoformat(),
                    "yes" if c.overdue(today) else "no",
                    "yes" if c.state.get("contacted") else "no",
                    OUTCOMES[c.state["outcome"]][0] if c.state.get("outcome") else "",
                    _cell(c.state.get("note", "")), "yes" if c.closed else "no",
                    c.state.get("by", "")))
    return buf.getvalue()


def _cell(text: str) -> str:
    """A note as a spreadsheet cell: never run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
