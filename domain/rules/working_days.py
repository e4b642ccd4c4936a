"""Working days in China: the State Council's holidays and make-up days (调休).

Precedence, per year: an arrangement the command office recorded as an event,
then the `chinese_calendar` package's data, then plain Monday-Friday, in which
case the caller is told so it can record that the deadline rests on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

RECORDED = "recorded"
LIBRARY = "chinese_calendar"
WEEKDAY_FALLBACK = "weekday_fallback"

BASIS_LABELS = {
    RECORDED: "按县指挥部登记的当年放假安排",
    LIBRARY: "按国务院公布的节假日安排",
    WEEKDAY_FALLBACK: "当年放假安排未公布，暂按周一至周五计算",
    "extension": "批准延期",
}


@dataclass(frozen=True)
class HolidayArrangement:
    """One year's official arrangement: extra days off, and weekend make-up days."""

    year: int
    days_off: frozenset[date]
    make_up_workdays: frozenset[date]


# The package's tables are fixed for the life of the process, and is_workday
# rescans them on every call: a deadline asks about a dozen days, so remember.
@lru_cache(maxsize=4096)
def _library_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=8192)
def _library_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


class WorkingCalendar:
    def __init__(self, arrangements: Mapping[int, HolidayArrangement] | None = None):
        self._arrangements = dict(arrangements or {})

    def basis_for(self, year: int) -> str:
        if year in self._arrangements:
            return RECORDED
        if _library_knows(year):
            return LIBRARY
        return WEEKDAY_FALLBACK

    def is_working_day(self, day: date) -> bool:
        basis = self.basis_for(day.year)
        if basis == RECORDED:
            arrangement = self._arrangements[day.year]
            if day in arrangement.make_up_workdays:
                return True
            if day in arrangement.days_off:
                return False
            return day.weekday() < 5
        if basis == LIBRARY:
            return _library_workday(day)
        return day.weekday() < 5


@dataclass(frozen=True)
class ComputedDeadline:
    due: date
    basis: str
    working_days: int


def add_working_days(start: date, working_days: int, calendar: WorkingCalendar) -> ComputedDeadline:
    """The date of the n-th working day after ``start`` (the notice's day does not count).

    The basis is the weakest one used on the way: any day decided by the
    weekday fallback makes the whole deadline a fallback one.
    """
    if working_days < 1:
        raise ValueError("working_days must be at least 1")
    strength = {RECORDED: 2, LIBRARY: 1, WEEKDAY_FALLBACK: 0}
    weakest = RECORDED
    day = start
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        basis = calendar.basis_for(day.year)
        if strength[basis] < strength[weakest]:
            weakest = basis
        if calendar.is_working_day(day):
            counted += 1
    return ComputedDeadline(due=day, basis=weakest, working_days=working_days)
