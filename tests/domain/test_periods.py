"""Scoring periods: quarters, months and years by name."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.rules import periods


@pytest.mark.parametrize(
    ("period", "first", "last", "before", "label"),
    [
        ("2026Q1", date(2026, 1, 1), date(2026, 3, 31), "2025Q4", "2026年第一季度"),
        ("2026Q4", date(2026, 10, 1), date(2026, 12, 31), "2026Q3", "2026年第四季度"),
        ("2026-02", date(2026, 2, 1), date(2026, 2, 28), "2026-01", "2026年2月"),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-01", "2024年2月"),
        ("2026-01", date(2026, 1, 1), date(2026, 1, 31), "2025-12", "2026年1月"),
        ("2026-12", date(2026, 12, 1), date(2026, 12, 31), "2026-11", "2026年12月"),
        ("2026", date(2026, 1, 1), date(2026, 12, 31), "2025", "2026年度"),
    ],
)
def test_a_period_has_bounds_a_predecessor_and_a_chinese_name(period, first, last, before, label):
    assert periods.bounds(period) == (first, last)
    assert periods.previous(period) == before
    assert periods.label(period) == label


@pytest.mark.parametrize("bad", ["2026Q0", "2026Q5", "2026-13", "2026-1", "26Q1", "", "2026 Q1", "二〇二六"])
def test_a_badly_written_period_is_refused_in_chinese(bad):
    with pytest.raises(periods.UnknownPeriod) as refused:
        periods.bounds(bad)
    assert "考评周期" in refused.value.message


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.sampled_from(periods.PERIOD_KINDS))
def test_every_day_lies_in_its_period_and_periods_tile_the_calendar(day, kind):
    period = periods.period_of(day, kind)
    first, last = periods.bounds(period)
    assert first <= day <= last
    assert periods.bounds(periods.previous(period))[1].toordinal() == first.toordinal() - 1
    assert periods.recent(period, 3)[-1] == period and len(periods.recent(period, 3)) == 3
