"""Scoring periods (考评周期): quarters by default, months and years too.

A period is named the way ``deductions.period_of`` names it: ``2026Q4``,
``2026-11`` or ``2026``. These functions turn a name into its first and last
day, step back to the period before, and say it in Chinese.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from domain.errors import InvalidInput
from domain.rules.deductions import period_of
from domain.rules.rulebook import PERIOD_KINDS

__all__ = ["PERIOD_KINDS", "UnknownPeriod", "kind_of", "bounds", "previous", "recent", "label", "period_of"]

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")


class UnknownPeriod(InvalidInput):
    message = "考评周期的写法不正确，应为 2026Q4（季度）、2026-11（月）或 2026（年）"


def kind_of(period: str) -> str:
    if _QUARTER.match(period):
        return "quarter"
    if _MONTH.match(period):
        return "month"
    if _YEAR.match(period):
        return "year"
    raise UnknownPeriod()


def bounds(period: str) -> tuple[date, date]:
    """The first and the last day of a period."""
    kind = kind_of(period)
    year = int(period[:4])
    if kind == "year":
        return date(year, 1, 1), date(year, 12, 31)
    if kind == "quarter":
        first_month = (int(period[5]) - 1) * 3 + 1
        months = 3
    else:
        first_month, months = int(period[5:7]), 1
    start = date(year, first_month, 1)
    after = date(year + (first_month + months - 1) // 12, (first_month + months - 1) % 12 + 1, 1)
    return start, after - timedelta(days=1)


def previous(period: str) -> str:
    start, _ = bounds(period)
    return period_of(start - timedelta(days=1), kind_of(period))


def recent(period: str, count: int) -> list[str]:
    """``count`` periods ending with ``period``, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(previous(periods[-1]))
    return periods[::-1]


def label(period: str) -> str:
    kind = kind_of(period)
    if kind == "quarter":
        return f"{period[:4]}年第{'一二三四'[int(period[5]) - 1]}季度"
    if kind == "month":
        return f"{period[:4]}年{int(period[5:7])}月"
    return f"{period}年度"
