"""Reading ``?as_of=2026-03-31`` (as it stood at the end of that day) and
``?period=2026Q1`` from a page's address."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from domain.errors import InvalidInput
from domain.rules import periods


class BadAsOfDate(InvalidInput):
    message = "查询日期格式不正确，请按 2026-03-31 的格式填写"


class FutureAsOfDate(InvalidInput):
    message = "查询日期不能晚于今天"


def as_of_from(args: Mapping[str, str], today: date) -> date | None:
    """None for "now"; a past day otherwise. Today itself is "now" too: its end has not come."""
    value = (args.get("as_of") or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise BadAsOfDate() from error
    if day > today:
        raise FutureAsOfDate()
    return None if day == today else day


def period_from(args: Mapping[str, str], day: date, default_kind: str = "quarter") -> str:
    """The period asked for, or the one ``day`` falls in (a bad name is refused with 400)."""
    value = (args.get("period") or "").strip()
    if not value:
        return periods.period_of(day, default_kind)
    periods.kind_of(value)
    return value


def period_choices(day: date, count: int = 8) -> list[tuple[str, str]]:
    """Recent quarters, months and years up to ``day``, for a select box."""
    choices: list[tuple[str, str]] = []
    for kind, how_many in (("quarter", count), ("month", 12), ("year", 3)):
        for period in reversed(periods.recent(periods.period_of(day, kind), how_many)):
            choices.append((period, periods.label(period)))
    return choices
