"""Deduction rules (扣分): how many points a fact costs under a rules version."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.events import CHINA
from domain.rules.rulebook import Rules

OVERDUE = "overdue"
INADEQUATE = "inadequate"
CIRCULAR = "circular"

RULE_LABELS = {
    OVERDUE: "逾期未整改",
    INADEQUATE: "整改不到位",
    CIRCULAR: "全县通报批评",
}


def period_of(day: date, kind: str = "quarter") -> str:
    """The scoring period a local date falls in: 2026Q4, 2026-11 or 2026."""
    if kind == "quarter":
        return f"{day.year}Q{(day.month - 1) // 3 + 1}"
    if kind == "month":
        return f"{day.year}-{day.month:02d}"
    if kind == "year":
        return str(day.year)
    raise ValueError(f"unknown period kind {kind!r}")


def is_repeat(earlier_filings: Iterable[date], filed_on: date, rules: Rules) -> bool:
    """Same unit, same check item, again within the rulebook's window."""
    window = timedelta(days=rules.repeat_window_days)
    return any(filed_on - window <= earlier <= filed_on for earlier in earlier_filings)


def points_for(rule_id: str, rules: Rules, repeat: bool = False) -> Decimal:
    base = {
        OVERDUE: rules.overdue_points,
        INADEQUATE: rules.inadequate_points,
        CIRCULAR: rules.circular_points,
    }[rule_id]
    if repeat and rule_id in (OVERDUE, INADEQUATE):
        return base * rules.repeat_multiplier
    return base


def end_of_deadline(deadline: date) -> datetime:
    """The instant a deadline runs out: the end of its day in Asia/Shanghai."""
    return datetime.combine(deadline + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)


def deadline_has_passed(deadline: date, now: datetime) -> bool:
    return now >= end_of_deadline(deadline)


def days_overdue(deadline: date | None, today: date) -> int:
    if deadline is None:
        return 0
    return max(0, (today - deadline).days)
