"""The rulebook: versions adopted in force from a date, and holiday arrangements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from domain.errors import NotPermitted, WrongCounty
from domain.events import SYSTEM_ACTOR
from domain.rulebook import (
    BackdatedRulebook,
    InvalidHolidayArrangement,
    NoRulebookInForce,
    Rulebook,
    rulebook_id,
)
from domain.rules.rulebook import DEFAULT_RULES, InvalidRules, Rules
from domain.rules.working_days import HolidayArrangement, add_working_days
from tests.domain.helpers import T0, UTC, assert_event, at, emitted, refused

DEFAULT_DICT = {
    "deadline_working_days": {"general": 10, "serious": 5, "grave": 3},
    "reminder_days_before": [3, 1],
    "overdue_points": "0.5",
    "inadequate_points": "0.5",
    "repeat_window_days": 90,
    "repeat_multiplier": 2,
    "circular_points": "2",
    "escalate_after_rejections": 2,
    "escalate_after_days_overdue": 30,
    "base_score": "100",
    "period": "quarter",
}


def _open(world, in_force_from=date(2026, 1, 1), actor=None, rules=DEFAULT_RULES):
    return Rulebook.open(
        county_id=world.county.id, rules=rules, in_force_from=in_force_from, actor=actor or world.command, now=T0
    )


def test_opening_the_rulebook_adopts_version_one(world):
    rulebook = _open(world)
    [event] = emitted(rulebook)
    assert_event(
        event,
        Rulebook.FirstAdopted,
        actor=world.command,
        now=T0,
        aggregate=rulebook,
        county_id=world.county.id,
        version=1,
        in_force_from="2026-01-01",
        rules=DEFAULT_DICT,
    )
    assert rulebook.id == rulebook_id(world.county.id)
    assert [v.version for v in rulebook.versions] == [1]
    assert rulebook.versions[0].rules == DEFAULT_RULES
    assert rulebook.holiday_arrangements == {}


def test_the_first_version_may_be_in_force_from_the_past(world):
    rulebook = _open(world, in_force_from=date(2025, 1, 1))
    assert rulebook.in_force_on(date(2025, 6, 1)).version == 1


def test_opening_refusals(world):
    with pytest.raises(NotPermitted):
        _open(world, actor=world.inspector)
    with pytest.raises(WrongCounty):
        _open(world, actor=world.foreign_command)
    with pytest.raises(InvalidRules):
        _open(world, rules=Rules(overdue_points=Decimal("-1")))


def test_adopting_a_new_version_increments_the_version(world):
    rulebook = _open(world)
    rulebook.collect_events()
    stricter = Rules.from_dict({"overdue_points": "1", "escalate_after_rejections": 3})
    now = at(days=1)
    assert rulebook.adopt(stricter, date(2026, 4, 1), world.command, now) == 2
    [event] = emitted(rulebook)
    assert_event(
        event,
        Rulebook.Adopted,
        actor=world.command,
        now=now,
        aggregate=rulebook,
        version=2,
        in_force_from="2026-04-01",
        rules={**DEFAULT_DICT, "overdue_points": "1", "escalate_after_rejections": 3},
    )
    assert rulebook.adopt(DEFAULT_RULES, date(2026, 5, 1), SYSTEM_ACTOR, now) == 3
    assert [v.version for v in rulebook.versions] == [1, 2, 3]
    assert rulebook.versions[1].rules == stricter


def test_a_version_may_come_into_force_on_the_local_day_of_adoption(world):
    rulebook = _open(world)
    rulebook.collect_events()
    now = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 00:00 on 2 March in Shanghai
    assert rulebook.adopt(DEFAULT_RULES, date(2026, 3, 2), world.command, now) == 2


def test_a_backdated_version_is_refused(world):
    rulebook = _open(world)
    rulebook.collect_events()
    now = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2 March in Shanghai, 1 March in UTC
    refused(rulebook, BackdatedRulebook, rulebook.adopt, DEFAULT_RULES, date(2026, 3, 1), world.command, now)


def test_adopting_refusals(world):
    rulebook = _open(world)
    rulebook.collect_events()
    refused(rulebook, NotPermitted, rulebook.adopt, DEFAULT_RULES, date(2026, 4, 1), world.inspector, T0)
    refused(rulebook, WrongCounty, rulebook.adopt, DEFAULT_RULES, date(2026, 4, 1), world.foreign_command, T0)
    refused(rulebook, InvalidRules, rulebook.adopt, Rules(period="week"), date(2026, 4, 1), world.command, T0)
    refused(rulebook, InvalidRules, rulebook.adopt, Rules(repeat_multiplier=2.5), date(2026, 4, 1), world.command, T0)
    refused(
        rulebook, InvalidRules, rulebook.adopt, Rules(overdue_points=Decimal("NaN")), date(2026, 4, 1), world.command, T0
    )


def test_the_version_in_force_is_the_latest_one_by_date(world):
    rulebook = _open(world)
    rulebook.adopt(Rules.from_dict({"overdue_points": "1"}), date(2026, 4, 1), world.command, T0)
    rulebook.adopt(Rules.from_dict({"overdue_points": "2"}), date(2026, 7, 1), world.command, T0)
    # Adopted later, but in force earlier than version 3.
    rulebook.adopt(Rules.from_dict({"overdue_points": "3"}), date(2026, 5, 1), world.command, T0)
    assert rulebook.in_force_on(date(2026, 3, 31)).version == 1
    assert rulebook.in_force_on(date(2026, 4, 1)).version == 2
    assert rulebook.in_force_on(date(2026, 4, 30)).version == 2
    assert rulebook.in_force_on(date(2026, 5, 1)).version == 4
    assert rulebook.in_force_on(date(2026, 6, 30)).version == 4
    assert rulebook.in_force_on(date(2026, 7, 1)).version == 3
    assert rulebook.in_force_on(date(2026, 7, 1)).rules.overdue_points == Decimal("2")


def test_of_two_versions_in_force_from_the_same_day_the_later_wins(world):
    rulebook = _open(world)
    rulebook.adopt(Rules.from_dict({"overdue_points": "1"}), date(2026, 4, 1), world.command, T0)
    rulebook.adopt(Rules.from_dict({"overdue_points": "1.5"}), date(2026, 4, 1), world.command, at(days=1))
    assert rulebook.in_force_on(date(2026, 4, 1)).version == 3
    assert rulebook.in_force_on(date(2026, 4, 1)).rules.overdue_points == Decimal("1.5")


def test_no_rulebook_is_in_force_before_the_first_version(world):
    rulebook = _open(world, in_force_from=date(2026, 1, 1))
    with pytest.raises(NoRulebookInForce):
        rulebook.in_force_on(date(2025, 12, 31))


# ------------------------------------------------------------------ holidays
def test_a_holiday_arrangement_is_recorded(world):
    rulebook = _open(world)
    rulebook.collect_events()
    now = at(days=1)
    rulebook.record_holiday_arrangement(
        2027,
        [date(2027, 1, 2), date(2027, 1, 1), date(2027, 1, 1)],
        [date(2027, 1, 9)],
        world.command,
        now,
    )
    [event] = emitted(rulebook)
    assert_event(
        event,
        Rulebook.HolidayArrangementRecorded,
        actor=world.command,
        now=now,
        aggregate=rulebook,
        year=2027,
        days_off=["2027-01-01", "2027-01-02"],
        make_up_workdays=["2027-01-09"],
    )
    assert rulebook.holiday_arrangements == {
        2027: HolidayArrangement(
            2027, frozenset({date(2027, 1, 1), date(2027, 1, 2)}), frozenset({date(2027, 1, 9)})
        )
    }
    calendar = rulebook.working_calendar()
    assert calendar.basis_for(2027) == "recorded"
    assert not calendar.is_working_day(date(2027, 1, 1))  # a Friday made a holiday
    assert calendar.is_working_day(date(2027, 1, 9))  # a Saturday made a working day
    assert add_working_days(date(2027, 1, 8), 1, calendar).due == date(2027, 1, 9)


def test_a_later_arrangement_for_the_same_year_replaces_the_earlier(world):
    rulebook = _open(world)
    rulebook.record_holiday_arrangement(2027, [date(2027, 1, 1)], [], world.command, T0)
    rulebook.record_holiday_arrangement(2027, [date(2027, 1, 4)], [], world.command, at(days=1))
    arrangement = rulebook.holiday_arrangements[2027]
    assert arrangement.days_off == frozenset({date(2027, 1, 4)})


@pytest.mark.parametrize(
    ("year", "days_off", "make_up"),
    [
        (2027, [date(2027, 1, 1)], [date(2027, 1, 1)]),  # the same day both off and working
        (2027, [date(2026, 12, 31)], []),  # a day of another year
        (2027, [], [date(2028, 1, 2)]),
    ],
)
def test_an_inconsistent_arrangement_is_refused(world, year, days_off, make_up):
    rulebook = _open(world)
    rulebook.collect_events()
    refused(
        rulebook, InvalidHolidayArrangement, rulebook.record_holiday_arrangement, year, days_off, make_up, world.command, T0
    )


def test_holiday_arrangements_are_recorded_by_the_county_command_office(world):
    rulebook = _open(world)
    rulebook.collect_events()
    off = [date(2027, 1, 1)]
    refused(rulebook, NotPermitted, rulebook.record_holiday_arrangement, 2027, off, [], world.inspector, T0)
    refused(rulebook, WrongCounty, rulebook.record_holiday_arrangement, 2027, off, [], world.foreign_command, T0)
