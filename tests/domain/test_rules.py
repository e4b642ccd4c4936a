"""The pure rule tables: working days, deductions, escalation, rules values,
and the masking of household numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import chinese_calendar
import pytest

from domain.events import local_date
from domain.finding import mask_household_number
from domain.rules.deductions import (
    CIRCULAR,
    INADEQUATE,
    OVERDUE,
    days_overdue,
    deadline_has_passed,
    end_of_deadline,
    is_repeat,
    period_of,
    points_for,
)
from domain.rules.escalation import escalation_reason
from domain.rules.rulebook import DEFAULT_RULES, InvalidRules, Rules
from domain.rules.working_days import (
    LIBRARY,
    RECORDED,
    WEEKDAY_FALLBACK,
    ComputedDeadline,
    HolidayArrangement,
    WorkingCalendar,
    add_working_days,
)
from tests.domain.helpers import UTC

D = date.fromisoformat


# ------------------------------------------------------------------ working days
LIBRARY_CASES = [
    # start, working days, due -- 2026 National Day: 1-7 Oct off, Sat 10 Oct a make-up working day;
    # Mid-Autumn 25-27 Sep off, Sun 20 Sep a make-up working day.
    ("2026-09-30", 1, "2026-10-08"),
    ("2026-09-30", 2, "2026-10-09"),
    ("2026-09-30", 3, "2026-10-10"),  # the make-up Saturday counts
    ("2026-09-30", 4, "2026-10-12"),  # Sunday 11 Oct does not
    ("2026-09-30", 10, "2026-10-20"),
    ("2026-10-03", 1, "2026-10-08"),  # a notice issued during the holiday
    ("2026-10-10", 1, "2026-10-12"),  # a notice issued on the make-up day: that day does not count
    ("2026-09-24", 1, "2026-09-28"),  # over the Mid-Autumn Festival
    ("2026-09-18", 1, "2026-09-20"),  # the make-up Sunday counts
    ("2026-03-02", 10, "2026-03-16"),  # an ordinary fortnight
    ("2026-03-02", 5, "2026-03-09"),
    ("2026-03-02", 3, "2026-03-05"),
    ("2025-09-30", 1, "2025-10-09"),  # 2025: 1-8 Oct off
    ("2025-09-30", 3, "2025-10-11"),  # Saturday 11 Oct 2025 a make-up working day
    ("2026-12-29", 2, "2026-12-31"),  # stays within the known year
]


@pytest.mark.parametrize(("start", "days", "due"), LIBRARY_CASES)
def test_working_days_follow_the_chinese_holiday_calendar(start, days, due):
    assert add_working_days(D(start), days, WorkingCalendar()) == ComputedDeadline(D(due), LIBRARY, days)


@pytest.mark.parametrize(("start", "days", "due"), LIBRARY_CASES)
def test_the_expected_dates_agree_with_chinese_calendar_itself(start, days, due):
    """The table above, checked day by day against the package."""
    span = [D(start) + timedelta(days=i) for i in range(1, (D(due) - D(start)).days + 1)]
    assert chinese_calendar.is_workday(D(due))
    assert sum(chinese_calendar.is_workday(day) for day in span) == days


def test_the_calendar_facts_the_table_relies_on():
    assert not any(chinese_calendar.is_workday(D(f"2026-10-0{d}")) for d in range(1, 8))
    assert chinese_calendar.is_workday(D("2026-10-10")) and D("2026-10-10").weekday() == 5
    assert chinese_calendar.is_workday(D("2026-09-20")) and D("2026-09-20").weekday() == 6
    assert not chinese_calendar.is_workday(D("2026-10-11"))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D("2027-06-01"))


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        ("2027-03-05", 3, "2027-03-10"),  # Fri + 3: Mon, Tue, Wed
        ("2027-03-05", 1, "2027-03-08"),
        ("2027-09-30", 1, "2027-10-01"),  # the fallback cannot know 2027's National Day
        ("2026-12-30", 3, "2027-01-04"),  # from a known year into an unknown one
        ("2026-12-31", 1, "2027-01-01"),
    ],
)
def test_a_deadline_in_an_unknown_year_falls_back_to_monday_to_friday(start, days, due):
    assert add_working_days(D(start), days, WorkingCalendar()) == ComputedDeadline(D(due), WEEKDAY_FALLBACK, days)


def test_a_recorded_arrangement_takes_precedence_over_the_library():
    # A (fictional) arrangement for 2026: 1-7 Oct off, Sunday 11 Oct worked instead of Saturday 10 Oct.
    arrangement = HolidayArrangement(
        2026,
        frozenset(D("2026-10-01") + timedelta(days=i) for i in range(7)),
        frozenset({D("2026-10-11")}),
    )
    calendar = WorkingCalendar({2026: arrangement})
    assert calendar.basis_for(2026) == RECORDED
    assert calendar.basis_for(2025) == LIBRARY
    assert add_working_days(D("2026-09-30"), 3, calendar) == ComputedDeadline(D("2026-10-11"), RECORDED, 3)
    assert not calendar.is_working_day(D("2026-10-10"))


def test_a_recorded_arrangement_without_holidays_counts_plain_weekdays():
    calendar = WorkingCalendar({2026: HolidayArrangement(2026, frozenset(), frozenset())})
    assert add_working_days(D("2026-09-30"), 3, calendar) == ComputedDeadline(D("2026-10-05"), RECORDED, 3)


def test_a_recorded_arrangement_for_an_unknown_year_replaces_the_fallback():
    arrangement = HolidayArrangement(2027, frozenset({D("2027-01-01")}), frozenset())
    calendar = WorkingCalendar({2027: arrangement})
    assert add_working_days(D("2027-03-05"), 3, calendar) == ComputedDeadline(D("2027-03-10"), RECORDED, 3)
    # Crossing from the library's year into the recorded one: the weaker basis is reported.
    assert add_working_days(D("2026-12-30"), 3, calendar) == ComputedDeadline(D("2027-01-05"), LIBRARY, 3)


def test_at_least_one_working_day_is_required():
    with pytest.raises(ValueError):
        add_working_days(D("2026-03-02"), 0, WorkingCalendar())


# ------------------------------------------------------------------ periods and repeats
@pytest.mark.parametrize(
    ("day", "kind", "period"),
    [
        ("2026-01-01", "quarter", "2026Q1"),
        ("2026-03-31", "quarter", "2026Q1"),
        ("2026-04-01", "quarter", "2026Q2"),
        ("2026-06-30", "quarter", "2026Q2"),
        ("2026-07-01", "quarter", "2026Q3"),
        ("2026-09-30", "quarter", "2026Q3"),
        ("2026-10-01", "quarter", "2026Q4"),
        ("2026-12-31", "quarter", "2026Q4"),
        ("2026-01-31", "month", "2026-01"),
        ("2026-11-15", "month", "2026-11"),
        ("2026-12-31", "year", "2026"),
        ("2027-01-01", "year", "2027"),
    ],
)
def test_period_of(day, kind, period):
    assert period_of(D(day), kind) == period


def test_period_of_defaults_to_quarter_and_refuses_unknown_kinds():
    assert period_of(D("2026-05-05")) == "2026Q2"
    with pytest.raises(ValueError):
        period_of(D("2026-05-05"), "week")


@pytest.mark.parametrize(
    ("earlier", "repeat"),
    [
        (["2026-06-30"], True),  # 0 days: the same day
        (["2026-06-29"], True),
        (["2026-04-01"], True),  # exactly 90 days
        (["2026-03-31"], False),  # 91 days
        (["2026-01-01", "2026-03-31"], False),
        (["2026-01-01", "2026-04-01"], True),
        (["2026-07-01"], False),  # later than the new filing
        ([], False),
    ],
)
def test_is_repeat_within_the_window(earlier, repeat):
    assert is_repeat([D(d) for d in earlier], D("2026-06-30"), DEFAULT_RULES) is repeat


def test_is_repeat_uses_the_window_of_the_rules():
    rules = Rules.from_dict({"repeat_window_days": 30})
    assert is_repeat([D("2026-05-31")], D("2026-06-30"), rules)
    assert not is_repeat([D("2026-05-30")], D("2026-06-30"), rules)
    zero = Rules.from_dict({"repeat_window_days": 0})
    assert is_repeat([D("2026-06-30")], D("2026-06-30"), zero)
    assert not is_repeat([D("2026-06-29")], D("2026-06-30"), zero)


@pytest.mark.parametrize(
    ("rule", "repeat", "points"),
    [
        (OVERDUE, False, "0.5"),
        (OVERDUE, True, "1.0"),
        (INADEQUATE, False, "0.5"),
        (INADEQUATE, True, "1.0"),
        (CIRCULAR, False, "2"),
        (CIRCULAR, True, "2"),  # a circular's points are never doubled
    ],
)
def test_points_for(rule, repeat, points):
    assert points_for(rule, DEFAULT_RULES, repeat=repeat) == Decimal(points)


def test_points_for_follows_the_rules_values():
    rules = Rules.from_dict({"overdue_points": "0.25", "inadequate_points": "1", "repeat_multiplier": 3})
    assert points_for(OVERDUE, rules, repeat=True) == Decimal("0.75")
    assert points_for(INADEQUATE, rules) == Decimal("1")
    with pytest.raises(KeyError):
        points_for("unknown", rules)


# ------------------------------------------------------------------ deadlines
@pytest.mark.parametrize(
    ("now", "passed"),
    [
        (datetime(2026, 3, 16, 15, 59, 59, 999999, tzinfo=UTC), False),  # 23:59:59.999999 +08:00
        (datetime(2026, 3, 16, 16, 0, tzinfo=UTC), True),  # 00:00 on 17 March +08:00
        (datetime(2026, 3, 15, 16, 0, tzinfo=UTC), False),  # 00:00 on the deadline day
        (datetime(2026, 3, 16, 23, 0, tzinfo=UTC), True),
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), False),
    ],
)
def test_deadline_has_passed_at_the_end_of_its_day_in_shanghai(now, passed):
    assert deadline_has_passed(D("2026-03-16"), now) is passed


def test_end_of_deadline_is_midnight_after_it_in_shanghai():
    assert end_of_deadline(D("2026-03-16")) == datetime(2026, 3, 16, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("deadline", "today", "days"),
    [
        (None, "2026-03-20", 0),
        ("2026-03-16", "2026-03-10", 0),
        ("2026-03-16", "2026-03-16", 0),
        ("2026-03-16", "2026-03-17", 1),
        ("2026-03-16", "2026-04-15", 30),
        ("2026-12-31", "2027-01-01", 1),
    ],
)
def test_days_overdue(deadline, today, days):
    assert days_overdue(D(deadline) if deadline else None, D(today)) == days


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2026, 3, 1, 15, 59, tzinfo=UTC), "2026-03-01"),
        (datetime(2026, 3, 1, 16, 0, tzinfo=UTC), "2026-03-02"),
        (datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027-01-01"),
    ],
)
def test_local_date_is_the_date_in_shanghai(instant, day):
    assert local_date(instant) == D(day)


# ------------------------------------------------------------------ escalation
@pytest.mark.parametrize(
    ("rejections", "overdue", "reason"),
    [
        (0, 0, None),
        (1, 29, None),
        (2, 0, "整改2次被退回（规则：2次）"),
        (3, 0, "整改3次被退回（规则：2次）"),
        (0, 30, "逾期30天未整改（规则：30天）"),
        (1, 45, "逾期45天未整改（规则：30天）"),
        (2, 30, "整改2次被退回（规则：2次）"),  # rejections are named first
    ],
)
def test_escalation_reason(rejections, overdue, reason):
    assert escalation_reason(rejections, overdue, DEFAULT_RULES) == reason


def test_escalation_reason_follows_the_rules():
    rules = Rules.from_dict({"escalate_after_rejections": 3, "escalate_after_days_overdue": 10})
    assert escalation_reason(2, 9, rules) is None
    assert escalation_reason(3, 0, rules) == "整改3次被退回（规则：3次）"
    assert escalation_reason(0, 10, rules) == "逾期10天未整改（规则：10天）"


# ------------------------------------------------------------------ rules values
def test_from_dict_of_nothing_is_the_default_and_to_dict_round_trips():
    assert Rules.from_dict({}) == DEFAULT_RULES
    assert Rules.from_dict(DEFAULT_RULES.to_dict()) == DEFAULT_RULES
    custom = Rules.from_dict(
        {
            "deadline_working_days": {"general": 7, "serious": 4, "grave": 2},
            "reminder_days_before": [1, 3, 3, 2],
            "overdue_points": 1,
            "circular_points": "2.5",
            "period": "month",
        }
    )
    assert custom.deadline_working_days == {"general": 7, "serious": 4, "grave": 2}
    assert custom.reminder_days_before == (3, 2, 1)
    assert custom.overdue_points == Decimal("1")
    assert custom.circular_points == Decimal("2.5")
    assert Rules.from_dict(custom.to_dict()) == custom


@pytest.mark.parametrize("data", [{"overdue_point": "1"}, {"colour": "red", "period": "year"}])
def test_from_dict_refuses_unknown_keys(data):
    with pytest.raises(InvalidRules, match="未知的规则项"):
        Rules.from_dict(data)


@pytest.mark.parametrize(
    "data",
    [
        {"deadline_working_days": {"general": 10, "serious": 5}},
        {"deadline_working_days": {"general": 10, "serious": 5, "grave": 3, "trivial": 20}},
        {"deadline_working_days": {"general": 0, "serious": 5, "grave": 3}},
        {"deadline_working_days": {"general": "ten", "serious": 5, "grave": 3}},
        {"deadline_working_days": [10, 5, 3]},
        {"reminder_days_before": [3, -1]},
        {"reminder_days_before": 3},
        {"reminder_days_before": ["soon"]},
        {"overdue_points": "-0.5"},
        {"overdue_points": "half"},
        {"overdue_points": None},
        {"inadequate_points": "-1"},
        {"circular_points": "-2"},
        {"base_score": "0"},
        {"repeat_window_days": -1},
        {"repeat_window_days": "ninety"},
        {"repeat_multiplier": 0},
        {"escalate_after_rejections": 0},
        {"escalate_after_days_overdue": 0},
        {"period": "week"},
        {"period": "Quarter"},
        # Values that are not finite numbers are not points.
        {"overdue_points": "NaN"},
        {"overdue_points": float("nan")},
        {"inadequate_points": "Infinity"},
        {"circular_points": "sNaN"},
        {"base_score": "Infinity"},
        # A count is a whole number: a fraction is refused, not silently truncated.
        {"repeat_multiplier": 2.5},
        {"repeat_window_days": 90.5},
        {"escalate_after_rejections": 1.9},
        {"deadline_working_days": {"general": 10.5, "serious": 5, "grave": 3}},
        {"escalate_after_days_overdue": True},
    ],
)
def test_from_dict_refuses_bad_values(data):
    with pytest.raises(InvalidRules):
        Rules.from_dict(data)


def test_whole_numbers_given_as_text_or_floats_are_accepted():
    rules = Rules.from_dict({"repeat_multiplier": "3", "repeat_window_days": 60.0})
    assert rules.repeat_multiplier == 3 and rules.repeat_window_days == 60


@pytest.mark.parametrize(
    "rules",
    [
        Rules(overdue_points=Decimal("NaN")),
        Rules(circular_points=Decimal("Infinity")),
        Rules(period="fortnight"),
        Rules(deadline_working_days={"general": 10}),
        Rules(repeat_multiplier=2.5),  # would be stored as 2.5 and read back as something else
        Rules(escalate_after_rejections=True),
        Rules(reminder_days_before=(3.5, 1)),
        Rules(deadline_working_days={"general": 10, "serious": "5", "grave": 3}),
    ],
)
def test_check_refuses_bad_rules_built_directly(rules):
    with pytest.raises(InvalidRules):
        rules.check()


# ------------------------------------------------------------------ household numbers
@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("", ""),
        ("610827198501011234", "610827********1234"),
        ("61082719850101123X", "610827********123X"),
        ("1234567890", "12********"),
        ("AB12", "AB**"),
        ("6" * 30, "666666" + "*" * 20 + "6666"),
    ],
)
def test_mask_household_number(number, masked):
    assert mask_household_number(number) == masked
    assert len(mask_household_number(number)) == len(number)
