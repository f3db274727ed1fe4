"""Working hours of a counter (RULES.md §4), on a timeline of integer microseconds.

Periods are half-open in local time: 08:30 is inside the morning, 12:00 is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from edge_agent.config import CalendarConfig

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
# A calendar with no working day at all must not make a search run forever.
MAX_SEARCH_DAYS = 800

Period = tuple[int, int]


def to_us(moment: datetime) -> int:
    """Exact microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // _ONE_US


def from_us(us: int, tz: ZoneInfo) -> datetime:
    return (EPOCH + timedelta(microseconds=us)).astimezone(tz)


class WorkCalendar:
    """Answers "is this instant working time?" and "when does working time add up to X?"."""

    def __init__(self, config: CalendarConfig, tz: ZoneInfo) -> None:
        self._cfg = config
        self._tz = tz
        self._periods: dict[date, tuple[Period, ...]] = {}

    def local_date(self, us: int) -> date:
        return from_us(us, self._tz).date()

    def is_working_day(self, day: date) -> bool:
        cfg = self._cfg
        if day in cfg.holidays:
            return False
        return day in cfg.workdays or day.weekday() in cfg.weekdays

    def is_summer(self, day: date) -> bool:
        first, last = self._cfg.summer
        md = (day.month, day.day)
        if first <= last:
            return first <= md <= last
        return md >= first or md <= last  # a summer that wraps the new year

    def periods_on(self, day: date) -> tuple[Period, ...]:
        cached = self._periods.get(day)
        if cached is None:
            cached = self._compute_periods(day)
            if len(self._periods) > 4096:
                self._periods.clear()
            self._periods[day] = cached
        return cached

    def _compute_periods(self, day: date) -> tuple[Period, ...]:
        if not self.is_working_day(day):
            return ()
        cfg = self._cfg
        afternoon = cfg.summer_afternoon if self.is_summer(day) else cfg.afternoon
        return tuple((self._at(day, a), self._at(day, b)) for a, b in (cfg.morning, afternoon))

    def _at(self, day: date, clock: time) -> int:
        return to_us(datetime.combine(day, clock, tzinfo=self._tz))

    def is_working(self, us: int) -> bool:
        return any(a <= us < b for a, b in self.periods_on(self.local_date(us)))

    def periods_from(self, us: int) -> Iterator[Period]:
        """Working periods that end after ``us``, clipped to start no earlier than ``us``."""
        day = self.local_date(us)
        for _ in range(MAX_SEARCH_DAYS):
            for a, b in self.periods_on(day):
                if b > us:
                    yield max(a, us), b
            day += timedelta(days=1)

    def next_opening(self, us: int) -> int | None:
        """Start of the first working period beginning strictly after ``us``."""
        for a, _b in self.periods_from(us + 1):
            return a
        return None

    def working_deadline(self, start: int, amount: int) -> int | None:
        """The last instant at which working time since ``start`` is still at most ``amount``.

        Any later instant has strictly more than ``amount`` of working time behind it; when the
        amount is used up exactly at the end of a period, that instant is the next opening.
        """
        remaining = amount
        for a, b in self.periods_from(start):
            if b - a > remaining:
                return a + remaining
            remaining -= b - a
        return None
