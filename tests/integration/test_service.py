"""The Duban service on a real store: every test runs on SQLite and on PostgreSQL
(``store_env`` is parametrised over both backends; see tests/conftest.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.case import CaseAlreadyClosed, UnknownSanction
from domain.circular import (
    CircularAlreadyRevoked,
    CircularNotDraft,
    DocumentSeries,
    EmptyCircular,
    series_id,
)
from domain.errors import (
    ConcurrentChange,
    MissingField,
    NotPermitted,
    NotYourUnit,
    ReasonRequired,
    UnknownUnit,
    UnknownUser,
    WrongCounty,
)
from domain.events import SYSTEM_ACTOR
from domain.finding import (
    AlreadyEscalated,
    DeadlineAlreadyMissed,
    DeadlineNotPassed,
    DeductionAlreadyReversed,
    ExtensionNotLater,
    FindingAlreadyClosed,
    FindingWithdrawn,
    InvalidHouseholdNumber,
    NoExtensionPending,
    NoticeAlreadyIssued,
    NoticeNotIssued,
    NotAwaitingAcknowledgement,
    RectificationAlreadySubmitted,
    RectificationNotSubmitted,
    UnknownCategory,
    UnknownDeduction,
    UnknownSeverity,
    UnknownSource,
)
from domain.inspection import InspectionAlreadyCompleted
from domain.org import RoleNotHeld
from domain.rulebook import BackdatedRulebook, InvalidHolidayArrangement, RulebookAlreadyOpen
from domain.rules.rulebook import DEFAULT_RULES, Rules
from domain.service import (
    Duban,
    NotACadre,
    RetiredUnitCannotBeAccountable,
    UnknownCase,
    UnknownFinding,
    UnknownInspection,
)
from tests.integration.county import County, SaveSpy, build_county, local, opened, stream


# Helpers
def refused(app: Duban, error: type[Exception], command: Any, *args: Any, **kwargs: Any) -> Exception:
    """The command raises ``error`` and the store's position does not move."""
    before = app.position()
    with pytest.raises(error) as raised:
        command(*args, **kwargs)
    assert app.position() == before, f"{error.__name__} was raised but something was recorded"
    return raised.value


def assert_reloads_equal(app: Duban, spy: SaveSpy, store_env: dict[str, str]) -> None:
    """Every aggregate as the commands left it in memory equals its reload,
    from this application and from a fresh application object on the store."""
    assert spy.saved
    with opened(store_env) as fresh:
        for aggregate_id, in_memory in spy.saved.items():
            assert app.repository.get(aggregate_id) == in_memory
            assert fresh.repository.get(aggregate_id) == in_memory
            assert stream(fresh, aggregate_id) == list(range(1, in_memory.version + 1))


def kinds(app: Duban, aggregate_id: UUID) -> list[str]:
    return [type(event).__qualname__ for event in app.history(aggregate_id)]


def deductions(app: Duban, finding_id: UUID) -> list[tuple[int, str, Decimal, int, str, bool]]:
    finding = app.finding(finding_id)
    return [
        (d.number, d.rule_id, d.points, d.rulebook_version, d.period, d.reversed)
        for d in sorted(finding.deductions.values(), key=lambda d: d.number)
    ]


# A finding's whole life
def test_a_finding_whole_life(app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]) -> None:
    c = county
    clock = c.clock
    clock.set(local(2026, 4, 27))  # a Monday, just before the May Day holiday (1-5 May, 9 May worked)
    household = "612727199001011234"
    f = c.file(cadre_ids=[c.cadre_id], household_no=household)

    notice = app.issue_notice(f, c.inspector)
    # 10 working days for a general finding: 28-30 Apr, 6-8 May, Saturday 9 May (调休), 11-13 May.
    assert notice.value.due == date(2026, 5, 13)
    assert notice.value.basis == "chinese_calendar"
    issued = app.history(f)[-1]
    assert issued.deadline == "2026-05-13" and issued.working_days == 10
    assert issued.recipients == [c.village_a, c.cadre_id]

    clock.set(local(2026, 4, 28))
    app.acknowledge_notice(f, c.unit_a)

    clock.set(local(2026, 4, 29))
    app.request_extension(f, date(2026, 5, 20), "档案需到乡镇核对", c.unit_a)
    assert app.finding(f).pending_extension == "2026-05-20"
    clock.set(local(2026, 4, 30))
    app.grant_extension(f, c.command, note="同意")
    found = app.finding(f)
    assert (found.deadline, found.deadline_basis, found.pending_extension) == ("2026-05-20", "extension", None)

    clock.set(local(2026, 5, 18))
    app.submit_rectification(f, "已补录务工收入", c.unit_a, evidence=["收入核算表.jpg"])

    clock.set(local(2026, 5, 19))
    before, saves = app.position(), len(spy.calls)
    rejected = app.reject_rectification(f, "收入核算表未签字", c.inspector)
    assert spy.calls[saves:] == [["Finding.RectificationRejected", "Finding.PointsDeducted"]]  # one write
    assert rejected.value.due == date(2026, 6, 2)
    # The new deadline and the inadequate deduction are one atomic write.
    assert rejected.position == before + 2
    rejection, deduction = app.history(f)[-2:]
    assert type(rejection).__qualname__ == "Finding.RectificationRejected"
    assert type(deduction).__qualname__ == "Finding.PointsDeducted"
    assert rejection.timestamp == deduction.timestamp
    assert (rejection.deadline, rejection.deadline_basis) == ("2026-06-02", "chinese_calendar")
    assert (deduction.rule_id, deduction.points, deduction.rulebook_version) == ("inadequate", Decimal("0.5"), 1)
    notifications = app.recorder.select_notifications(start=before + 1, limit=10)
    assert [n.id for n in notifications] == [before + 1, before + 2]
    assert {n.originator_id for n in notifications} == {f}

    # The deadline runs out at the end of its day in Asia/Shanghai, not before.
    clock.set(local(2026, 6, 2, 23, 59))
    refused(app, DeadlineNotPassed, app.record_missed_deadline, f)
    clock.set(local(2026, 6, 3, 0, 0))
    app.record_missed_deadline(f)
    assert spy.calls[-1] == ["Finding.DeadlineMissed", "Finding.PointsDeducted"]
    missed = app.history(f)[-2]
    assert (missed.deadline, missed.deadline_number) == ("2026-06-02", 3)
    refused(app, DeadlineAlreadyMissed, app.record_missed_deadline, f)

    clock.set(local(2026, 6, 5))
    app.submit_rectification(f, "已签字并补录", c.unit_a, evidence=["签字页.jpg"])
    clock.set(local(2026, 6, 8))
    app.accept_rectification(f, c.inspector, note="验收合格")

    found = app.finding(f)
    assert found.status == "closed"
    assert found.closed_on == "2026-06-08"
    assert found.rejections == 1
    assert found.missed_deadlines == (3,)
    assert found.household_no == household
    assert found.points_deducted == Decimal("1.0")
    assert deductions(app, f) == [
        (1, "inadequate", Decimal("0.5"), 1, "2026Q2", False),
        (2, "overdue", Decimal("0.5"), 1, "2026Q2", False),
    ]
    assert kinds(app, f) == [
        "Finding.Filed",
        "Finding.NoticeIssued",
        "Finding.NoticeAcknowledged",
        "Finding.ExtensionRequested",
        "Finding.ExtensionGranted",
        "Finding.RectificationSubmitted",
        "Finding.RectificationRejected",
        "Finding.PointsDeducted",
        "Finding.DeadlineMissed",
        "Finding.PointsDeducted",
        "Finding.RectificationSubmitted",
        "Finding.RectificationAccepted",
    ]
    actors = [(e.actor_id, e.actor_role) for e in app.history(f)]
    assert actors[2] == (c.unit_a.user_id, "unit")
    assert actors[8] == ("system", "system")
    refused(app, FindingAlreadyClosed, app.accept_rectification, f, c.inspector)
    assert_reloads_equal(app, spy, store_env)


# The rulebook version in force on the day of each fact
def test_each_deduction_records_the_rulebook_version_in_force_that_day(
    app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]
) -> None:
    c = county
    clock = c.clock  # Monday 2 March 2026
    v2_rules = Rules(
        deadline_working_days={"general": 8, "serious": 4, "grave": 2},
        overdue_points=Decimal("1"),
        inadequate_points=Decimal("1.5"),
    )
    refused(app, BackdatedRulebook, app.adopt_rules, c.county_id, v2_rules, date(2026, 3, 1), c.command)
    refused(app, NotPermitted, app.adopt_rules, c.county_id, v2_rules, date(2026, 4, 1), c.inspector)
    adopted = app.adopt_rules(c.county_id, v2_rules, date(2026, 4, 1), c.command)
    assert adopted.value == 2
    assert app.rules_in_force(c.county_id, date(2026, 3, 31)).version == 1
    assert app.rules_in_force(c.county_id, date(2026, 4, 1)).version == 2

    f = c.file()
    assert app.issue_notice(f, c.inspector).value.working_days == 10  # v1 still in force
    clock.set(local(2026, 3, 10))
    app.submit_rectification(f, "已补录", c.unit_a)
    clock.set(local(2026, 3, 11))
    assert app.reject_rectification(f, "未补全", c.inspector).value.due == date(2026, 3, 25)
    clock.set(local(2026, 3, 26, 0, 10))
    app.record_missed_deadline(f)

    clock.set(local(2026, 4, 1))  # v2 in force from today
    app.submit_rectification(f, "再次补录", c.unit_a)
    rejected = app.reject_rectification(f, "仍未补全", c.inspector)
    # 8 working days under v2, around Qingming (4-6 April off): 2-3, 7-10, 13-14 April.
    assert (rejected.value.due, rejected.value.working_days) == (date(2026, 4, 14), 8)
    clock.set(local(2026, 4, 15, 8))
    app.record_missed_deadline(f, c.command)

    assert deductions(app, f) == [
        (1, "inadequate", Decimal("0.5"), 1, "2026Q1", False),
        (2, "overdue", Decimal("0.5"), 1, "2026Q1", False),
        (3, "inadequate", Decimal("1.5"), 2, "2026Q2", False),
        (4, "overdue", Decimal("1"), 2, "2026Q2", False),
    ]
    assert app.finding(f).points_deducted == Decimal("3.5")

    other = c.file(check_item="家庭成员信息")
    assert app.issue_notice(other, c.inspector).value.working_days == 8

    # An appeal upheld: the original stays in history, the points no longer count.
    refused(app, NotPermitted, app.reverse_deduction, f, 3, "申诉成立", c.inspector)
    refused(app, ReasonRequired, app.reverse_deduction, f, 3, "  ", c.command)
    refused(app, UnknownDeduction, app.reverse_deduction, f, 9, "申诉成立", c.command)
    app.reverse_deduction(f, 3, "申诉成立：材料已于期限内提交", c.command)
    refused(app, DeductionAlreadyReversed, app.reverse_deduction, f, 3, "再次申诉", c.command)
    assert app.finding(f).points_deducted == Decimal("2.0")
    assert deductions(app, f)[2] == (3, "inadequate", Decimal("1.5"), 2, "2026Q2", True)
    assert kinds(app, f).count("Finding.PointsDeducted") == 4
    assert_reloads_equal(app, spy, store_env)


# Working days, holiday arrangements and the weekday fallback
def test_holiday_arrangements_and_the_weekday_fallback(
    app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]
) -> None:
    c = county
    clock = c.clock
    # chinese_calendar 1.11.0 knows 2026 but not 2027.
    clock.set(local(2026, 12, 28))
    crossing = c.file(check_item="危房改造台账")
    notice = app.issue_notice(crossing, c.inspector)
    # 29-31 Dec from the package, then 1 Jan 2027 guessed a working day (Mon-Fri).
    assert (notice.value.due, notice.value.basis) == (date(2027, 1, 11), "weekday_fallback")

    clock.set(local(2027, 2, 1))  # a Monday
    a = c.file()
    app.issue_notice(a, c.inspector)
    event = app.history(a)[-1]
    assert type(event).__qualname__ == "Finding.NoticeIssued"
    assert (event.deadline, event.deadline_basis, event.working_days) == ("2027-02-15", "weekday_fallback", 10)

    spring_festival = [date(2027, 2, day) for day in range(8, 13)]
    refused(
        app, InvalidHolidayArrangement, app.record_holiday_arrangement,
        c.county_id, 2027, [date(2026, 12, 31)], [], c.command,
    )  # fmt: skip
    refused(
        app, InvalidHolidayArrangement, app.record_holiday_arrangement,
        c.county_id, 2027, spring_festival, [date(2027, 2, 8)], c.command,
    )  # fmt: skip
    refused(
        app, NotPermitted, app.record_holiday_arrangement,
        c.county_id, 2027, spring_festival, [date(2027, 2, 20)], c.unit_a,
    )  # fmt: skip
    app.record_holiday_arrangement(c.county_id, 2027, spring_festival, [date(2027, 2, 20)], c.command)

    b = c.file(unit_id=c.village_b)
    notice = app.issue_notice(b, c.inspector)
    # 2-5 Feb, 15-19 Feb, Saturday 20 Feb worked (调休).
    assert (notice.value.due, notice.value.basis) == (date(2027, 2, 20), "recorded")

    # Deadlines already set are not moved by the calendar recorded later.
    assert (app.finding(a).deadline, app.finding(a).deadline_basis) == ("2027-02-15", "weekday_fallback")
    assert app.finding(crossing).deadline == "2027-01-11"
    assert app.history(a)[-1].deadline == "2027-02-15"

    # A later deadline of the same finding is counted on the recorded calendar.
    clock.set(local(2027, 2, 2))
    app.submit_rectification(a, "已补录", c.unit_a)
    clock.set(local(2027, 2, 3))
    rejected = app.reject_rectification(a, "未签字", c.inspector)
    assert (rejected.value.due, rejected.value.basis) == (date(2027, 2, 23), "recorded")
    assert_reloads_equal(app, spy, store_env)


# Repeats: same unit, same check item, within the window
def test_repeat_detection_doubles_points_within_90_days(
    app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]
) -> None:
    c = county
    clock = c.clock
    item = "贫困户档案：收入核算表"
    first = c.file(check_item=item)
    assert app.finding(first).repeat_of is None

    clock.advance(days=90)
    second = c.file(check_item=f"  {item}  ")  # the same item, however it was typed
    other_unit = c.file(unit_id=c.village_b, check_item=item)
    other_item = c.file(check_item="家庭成员信息")
    assert app.finding(second).repeat_of == first
    assert app.finding(other_unit).repeat_of is None
    assert app.finding(other_item).repeat_of is None

    app.issue_notice(second, c.inspector)
    app.submit_rectification(second, "已补录", c.unit_a)
    app.reject_rectification(second, "未签字", c.inspector)
    deduction = app.history(second)[-1]
    assert (deduction.rule_id, deduction.points) == ("inadequate", Decimal("1.0"))
    assert "加倍" in deduction.reason

    clock.advance(days=91)  # 91 days after the latest filing: no longer a repeat
    third = c.file(check_item=item)
    assert app.finding(third).repeat_of is None
    app.issue_notice(third, c.inspector)
    app.submit_rectification(third, "已补录", c.unit_a)
    app.reject_rectification(third, "未签字", c.inspector)
    assert app.history(third)[-1].points == Decimal("0.5")

    # A fourth filing within 90 days of the third is a repeat of the third.
    clock.advance(days=1)
    fourth = c.file(check_item=item)
    assert app.finding(fourth).repeat_of == third
    assert_reloads_equal(app, spy, store_env)


# Refused commands record nothing
def test_refused_commands_record_nothing(app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]) -> None:
    c = county
    valid = {
        "unit_id": c.village_a,
        "category": "missing",
        "source": "inspection",
        "severity": "general",
        "check_item": "易地搬迁台账",
        "description": "搬迁户信息缺失",
        "actor": c.inspector,
    }

    def file(**changes: Any) -> Any:
        return app.file_finding(**{**valid, **changes})

    refused(app, UnknownUnit, file, unit_id=uuid4())
    refused(app, UnknownCategory, file, category="bogus")
    refused(app, UnknownSeverity, file, severity="fatal")
    refused(app, UnknownSource, file, source="rumour")
    refused(app, MissingField, file, description="   ")
    refused(app, InvalidHouseholdNumber, file, household_no="12-34")
    refused(app, NotACadre, file, cadre_ids=[c.non_cadre_id])
    refused(app, NotACadre, file, cadre_ids=[uuid4()])
    refused(app, NotPermitted, file, actor=c.unit_a)
    refused(app, NotPermitted, file, actor=c.discipline)
    refused(app, RoleNotHeld, app.actor, c.users["unit_a"], "inspector")

    retired = app.register_unit(name="已撤并村", kind="village", parent_id=c.town_id).id
    app.retire_unit(retired, "村组合并", c.command)
    refused(app, RetiredUnitCannotBeAccountable, file, unit_id=retired)

    inspection = app.plan_inspection(
        county_id=c.county_id, title="2026年第一季度数据质量督查", source="inspection",
        inspector_ids=[UUID(c.inspector.user_id)], starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 6),
        actor=c.command,
    ).id  # fmt: skip
    app.complete_inspection(inspection, "发现问题若干", c.inspector)
    refused(app, InspectionAlreadyCompleted, file, inspection_id=inspection)
    refused(app, UnknownInspection, file, inspection_id=uuid4())

    # None of the refused filings left a check-item record behind: the first real one is no repeat.
    f = file(cadre_ids=[c.cadre_id])
    assert app.finding(f.id).repeat_of is None
    f = f.id

    refused(app, UnknownFinding, app.issue_notice, uuid4(), c.inspector)
    refused(app, UnknownFinding, app.issue_notice, c.village_a, c.inspector)  # a unit's id is no finding
    refused(app, NotAwaitingAcknowledgement, app.acknowledge_notice, f, c.unit_a)
    refused(app, NoticeNotIssued, app.submit_rectification, f, "已补录", c.unit_a)
    refused(app, NotPermitted, app.issue_notice, f, c.unit_a)
    app.issue_notice(f, c.inspector)
    refused(app, NoticeAlreadyIssued, app.issue_notice, f, c.inspector)
    refused(app, NotYourUnit, app.acknowledge_notice, f, c.unit_b)
    refused(app, NotPermitted, app.acknowledge_notice, f, c.inspector)
    refused(app, NotYourUnit, app.submit_rectification, f, "代为整改", c.unit_b)
    refused(app, NotYourUnit, app.request_extension, f, date(2026, 4, 30), "理由", c.unit_b)
    app.acknowledge_notice(f, c.town_user)  # the town acts for its villages
    refused(app, NotAwaitingAcknowledgement, app.acknowledge_notice, f, c.unit_a)

    refused(app, NoExtensionPending, app.grant_extension, f, c.command)
    refused(app, ExtensionNotLater, app.request_extension, f, date(2026, 3, 16), "理由", c.unit_a)
    refused(app, ReasonRequired, app.request_extension, f, date(2026, 4, 30), " ", c.unit_a)
    app.request_extension(f, date(2026, 4, 30), "需要入户核实", c.unit_a)
    refused(app, NotPermitted, app.grant_extension, f, c.inspector)
    refused(app, NotPermitted, app.deny_extension, f, "不同意", c.unit_a)
    refused(app, ReasonRequired, app.deny_extension, f, "", c.command)
    app.deny_extension(f, "理由不充分", c.command)
    refused(app, NoExtensionPending, app.deny_extension, f, "不同意", c.command)

    refused(app, RectificationNotSubmitted, app.accept_rectification, f, c.inspector)
    refused(app, RectificationNotSubmitted, app.reject_rectification, f, "不到位", c.inspector)
    refused(app, DeadlineNotPassed, app.record_missed_deadline, f)
    refused(app, NotPermitted, app.record_missed_deadline, f, c.inspector)
    app.submit_rectification(f, "已补录", c.unit_a)
    refused(app, RectificationAlreadySubmitted, app.submit_rectification, f, "再次提交", c.unit_a)
    refused(app, ReasonRequired, app.reject_rectification, f, " ", c.inspector)
    refused(app, NotPermitted, app.accept_rectification, f, c.unit_a)
    refused(app, NotPermitted, app.escalate, f, "拒不整改", c.inspector)
    refused(app, ReasonRequired, app.withdraw_finding, f, "", c.inspector)
    app.accept_rectification(f, c.inspector)

    # Closed is the end: nothing more is recorded on it.
    refused(app, FindingAlreadyClosed, app.accept_rectification, f, c.inspector)
    refused(app, FindingAlreadyClosed, app.reject_rectification, f, "不到位", c.inspector)
    refused(app, FindingAlreadyClosed, app.submit_rectification, f, "再次提交", c.unit_a)
    refused(app, FindingAlreadyClosed, app.withdraw_finding, f, "误报", c.inspector)
    refused(app, FindingAlreadyClosed, app.escalate, f, "拒不整改", c.command)
    refused(app, FindingAlreadyClosed, app.record_missed_deadline, f)

    # So is withdrawn.
    w = c.file(check_item="危房改造台账")
    app.withdraw_finding(w, "误报：该户已于上月销户", c.inspector)
    refused(app, FindingWithdrawn, app.issue_notice, w, c.inspector)
    refused(app, FindingWithdrawn, app.withdraw_finding, w, "再次撤销", c.inspector)
    refused(app, FindingWithdrawn, app.escalate, w, "拒不整改", c.command)

    refused(app, UnknownCase, app.close_case, uuid4(), "结案", c.discipline)
    refused(app, UnknownUnit, app.rename_unit, uuid4(), "新名", c.command)
    refused(app, UnknownUser, app.grant_role, uuid4(), "cadre", c.command)
    assert_reloads_equal(app, spy, store_env)


# Two counties in one store
def test_two_counties_in_one_store_keep_apart(
    app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]
) -> None:
    a = county
    b = build_county(app, name="绥德县", prefix="绥德")
    assert a.county_id != b.county_id

    fb = b.file(cadre_ids=[b.cadre_id])
    assert app.finding(fb).county_id == b.county_id

    refused(app, WrongCounty, a.file, unit_id=b.village_a)
    refused(app, WrongCounty, a.file, unit_id=b.village_a, actor=a.command)
    refused(app, NotACadre, b.file, cadre_ids=[a.cadre_id])
    refused(app, WrongCounty, app.issue_notice, fb, a.inspector)
    app.issue_notice(fb, b.inspector)
    refused(app, WrongCounty, app.acknowledge_notice, fb, a.unit_a)
    app.acknowledge_notice(fb, b.unit_a)
    refused(app, WrongCounty, app.submit_rectification, fb, "代为整改", a.unit_a)
    app.request_extension(fb, date(2026, 4, 30), "需要入户核实", b.unit_a)
    refused(app, WrongCounty, app.grant_extension, fb, a.command)
    refused(app, WrongCounty, app.withdraw_finding, fb, "误报", a.inspector)
    refused(app, WrongCounty, app.escalate, fb, "拒不整改", a.command)

    # An inspection of county A cannot carry a finding of county B.
    inspection_a = app.plan_inspection(
        county_id=a.county_id, title="东战区交叉检查", source="mutual",
        inspector_ids=[UUID(a.inspector.user_id)], starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 13),
        actor=a.command,
    ).id  # fmt: skip
    refused(app, UnknownInspection, b.file, inspection_id=inspection_a)
    refused(
        app, UnknownUser, app.plan_inspection, county_id=a.county_id, title="借调督查", source="inspection",
        inspector_ids=[UUID(b.inspector.user_id)], starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 6),
        actor=a.command,
    )  # fmt: skip
    refused(app, WrongCounty, app.complete_inspection, inspection_a, "完成", b.inspector)

    # Circulars, cases and rulebooks stay in their county.
    refused(
        app, UnknownUnit, app.draft_circular, county_id=a.county_id, kind="criticism", title="通报",
        prefix="米脱指发", period="2026Q1", body="", finding_ids=[], unit_ids=[b.village_a], actor=a.command,
    )  # fmt: skip
    refused(
        app, WrongCounty, app.draft_circular, county_id=b.county_id, kind="criticism", title="通报",
        prefix="米脱指发", period="2026Q1", body="", finding_ids=[], unit_ids=[b.village_a], actor=a.command,
    )  # fmt: skip
    refused(app, UnknownFinding, app.open_case, county_id=a.county_id, summary="案由", actor=a.discipline,
            finding_ids=[fb])  # fmt: skip
    refused(app, WrongCounty, app.open_case, county_id=b.county_id, summary="案由", actor=a.discipline)
    refused(app, WrongCounty, app.adopt_rules, b.county_id, DEFAULT_RULES, date(2026, 4, 1), a.command)
    refused(app, WrongCounty, app.rename_unit, b.village_a, "改名", a.command)
    refused(app, WrongCounty, app.register_unit, name="新村", kind="village", parent_id=b.town_id, actor=a.command)

    app.adopt_rules(a.county_id, Rules(deadline_working_days={"general": 3, "serious": 2, "grave": 1}),
                    date(2026, 3, 2), a.command)  # fmt: skip
    fa = a.file()
    fb2 = b.file(check_item="家庭成员信息")
    assert app.issue_notice(fa, a.inspector).value.working_days == 3
    assert app.issue_notice(fb2, b.inspector).value.working_days == 10

    # Same unit name and check item in both counties: no repeat across counties.
    assert app.finding(fb2).repeat_of is None
    assert app.finding(fa).repeat_of is None
    assert_reloads_equal(app, spy, store_env)


# Circulars: numbering and criticism deductions
def test_circulars_are_numbered_per_series_and_year_and_deduct_for_criticism(
    app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]
) -> None:
    c = county
    f = c.file()

    def draft(kind: str = "criticism", prefix: str = "米脱指发", units: tuple[UUID, ...] = ()) -> UUID:
        return app.draft_circular(
            county_id=c.county_id, kind=kind, title="关于数据信息管理工作整改不力的通报", prefix=prefix,
            period="2026Q1", body="经督查……", finding_ids=[f], unit_ids=units, actor=c.command,
        ).id  # fmt: skip

    refused(
        app, NotPermitted, app.draft_circular, county_id=c.county_id, kind="criticism", title="通报",
        prefix="米脱指发", period="2026Q1", body="", finding_ids=[f], unit_ids=[c.village_a], actor=c.inspector,
    )  # fmt: skip
    empty = draft()
    refused(app, EmptyCircular, app.issue_circular, empty, c.command)  # and no number was taken

    first = draft(units=(c.village_a, c.village_b))
    issued = app.issue_circular(first, c.command)
    assert issued.value == "米脱指发〔2026〕1号"
    circular = app.circular(first)
    assert (circular.status, circular.document_number, circular.issued_on) == ("issued", issued.value, "2026-03-02")
    points = [e for e in app.history(first) if type(e).__qualname__ == "Circular.PointsDeducted"]
    assert [(e.unit_id, e.points, e.rule_id, e.rulebook_version, e.period) for e in points] == [
        (c.village_a, Decimal("2"), "circular", 1, "2026Q1"),
        (c.village_b, Decimal("2"), "circular", 1, "2026Q1"),
    ]
    assert all("米脱指发〔2026〕1号" in e.reason for e in points)
    refused(app, CircularNotDraft, app.issue_circular, first, c.command)
    refused(app, NotPermitted, app.issue_circular, empty, c.inspector)

    ranking = draft(kind="ranking")
    assert app.issue_circular(ranking, c.command).value == "米脱指发〔2026〕2号"
    assert not [e for e in app.history(ranking) if type(e).__qualname__ == "Circular.PointsDeducted"]
    assert app.issue_circular(draft(prefix="米脱指函", units=(c.village_a,)), c.command).value == "米脱指函〔2026〕1号"

    refused(app, ReasonRequired, app.revoke_circular, first, "", c.command)
    app.revoke_circular(first, "通报对象有误", c.command)
    refused(app, CircularAlreadyRevoked, app.revoke_circular, first, "再次撤销", c.command)
    refused(app, CircularNotDraft, app.issue_circular, first, c.command)

    series: DocumentSeries = app.repository.get(series_id(c.county_id, "米脱指发", 2026))
    assert series.last_sequence == 2
    assert [e.sequence for e in app.history(series.id)[1:]] == [1, 2]

    c.clock.set(local(2027, 1, 4))
    assert app.issue_circular(draft(units=(c.village_a,)), c.command).value == "米脱指发〔2027〕1号"
    assert_reloads_equal(app, spy, store_env)


# Escalation and discipline cases
def test_escalation_and_a_discipline_case(app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]) -> None:
    c = county
    f = c.file()
    app.issue_notice(f, c.inspector)
    assert app.escalation_due(f) is None
    for attempt in range(2):
        c.clock.advance(days=1)
        app.submit_rectification(f, f"第{attempt + 1}次整改", c.unit_a)
        app.reject_rectification(f, "仍不到位", c.inspector)
    assert app.escalation_due(f) == "整改2次被退回（规则：2次）"
    refused(app, ReasonRequired, app.escalate, f, "", c.command)
    app.escalate(f, "两次整改不到位，拒不整改", c.command)
    escalated = app.history(f)[-1]
    assert (type(escalated).__qualname__, escalated.rule_met) == ("Finding.EscalatedToDiscipline", "整改2次被退回（规则：2次）")
    refused(app, AlreadyEscalated, app.escalate, f, "再次移交", c.command)
    assert app.escalation_due(f) is None

    refused(app, NotPermitted, app.open_case, county_id=c.county_id, summary="拒不整改", actor=c.command)
    refused(app, UnknownFinding, app.open_case, county_id=c.county_id, summary="拒不整改", actor=c.discipline,
            finding_ids=[uuid4()])  # fmt: skip
    case = app.open_case(
        county_id=c.county_id, summary="高庙山村拒不整改", actor=c.discipline, finding_ids=[f, f],
        subject_unit_id=c.village_a,
    ).id  # fmt: skip
    assert app.case(case).finding_ids == (f,)
    refused(app, UnknownSanction, app.record_sanction, case, "fine", "王队长", "", c.discipline)
    refused(app, NotPermitted, app.record_sanction, case, "talk", "王队长", "", c.command)
    c.clock.advance(days=3)
    app.record_sanction(case, "talk", "王队长", "约谈驻村工作队队长", c.discipline)
    app.record_sanction(case, "admonition", "周干部", "", c.discipline)
    refused(app, MissingField, app.close_case, case, " ", c.discipline)
    app.close_case(case, "已整改到位，约谈诫勉", c.discipline)
    refused(app, CaseAlreadyClosed, app.record_sanction, case, "criticism", "王队长", "", c.discipline)
    refused(app, CaseAlreadyClosed, app.close_case, case, "再次结案", c.discipline)

    found = app.case(case)
    assert found.closed and found.sanctions == (("talk", "王队长"), ("admonition", "周干部"))
    assert kinds(app, case) == ["Case.Opened", "Case.SanctionRecorded", "Case.SanctionRecorded", "Case.Closed"]
    # Discipline changes nothing but its own cases.
    refused(app, NotPermitted, app.accept_rectification, f, c.discipline)
    refused(app, NotPermitted, app.withdraw_finding, f, "撤销", c.discipline)
    assert_reloads_equal(app, spy, store_env)


# The org chart is history too
def test_units_and_users_change_by_events(app: Duban, county: County, spy: SaveSpy, store_env: dict[str, str]) -> None:
    c = county
    town2 = app.register_unit(name="桃镇", kind="town", parent_id=c.zone_id, actor=c.command).id
    app.rename_unit(c.village_b, "孟岔新村", c.command)
    app.move_unit(c.village_b, town2, c.command)
    assert app.unit_path(c.village_b) == (c.village_b, town2, c.zone_id, c.county_id)
    moved = c.file(unit_id=c.village_b)
    assert app.finding(moved).unit_path == (c.village_b, town2, c.zone_id, c.county_id)
    # The old town no longer acts for the village that moved away.
    app.issue_notice(moved, c.inspector)
    refused(app, NotYourUnit, app.acknowledge_notice, moved, c.town_user)

    app.grant_role(c.non_cadre_id, "cadre", c.command)
    assert c.file(cadre_ids=[c.non_cadre_id], check_item="家庭成员信息")
    app.revoke_role(c.non_cadre_id, "cadre", c.command)
    refused(app, NotACadre, c.file, cadre_ids=[c.non_cadre_id])
    refused(app, NotPermitted, app.grant_role, c.non_cadre_id, "cadre", c.inspector)
    assert kinds(app, c.village_b) == ["Unit.Registered", "Unit.Renamed", "Unit.Moved"]
    assert_reloads_equal(app, spy, store_env)


def test_the_first_rulebook_and_a_fresh_store(store_env: dict[str, str]) -> None:
    """Before a rulebook is opened no finding can be filed; opening it is recorded once."""
    from domain.rulebook import NoRulebookInForce

    with opened(store_env) as app:
        assert app.position() == 0
        county_id = app.register_unit(name="佳县", kind="county", parent_id=None).id
        town = app.register_unit(name="佳芦镇", kind="town",
                                 parent_id=app.register_unit(name="西战区", kind="zone", parent_id=county_id).id).id
        inspector = app.register_user(unit_id=town, name="督查员", login="jx-i", roles=["inspector"]).id
        actor = app.actor(inspector, "inspector")
        refused(app, NoRulebookInForce, app.file_finding, unit_id=town, category="missing", source="inspection",
                severity="general", check_item="台账", description="缺失", actor=actor)  # fmt: skip
        app.open_rulebook(county_id, DEFAULT_RULES, date(2026, 3, 2), SYSTEM_ACTOR)
        assert app.file_finding(unit_id=town, category="missing", source="inspection", severity="general",
                                check_item="台账", description="缺失", actor=actor).position  # fmt: skip
        # A county has one rulebook; changing it is adopting a new version.
        refused(app, RulebookAlreadyOpen, app.open_rulebook, county_id, DEFAULT_RULES, date(2026, 3, 2), SYSTEM_ACTOR)


def test_findings_filed_at_once_on_one_check_item_are_all_recorded(store_env) -> None:
    """They meet on the check item's record (the repeat rule counts there): the one
    that loses the race is decided again, not refused."""
    import threading

    from domain.check_items import check_item_record_id
    from projections.storage import open_application

    app = open_application(store_env)
    try:
        county = app.register_unit(name="米脂县", kind="county", parent_id=None).id
        app.open_rulebook(county, DEFAULT_RULES, date(2020, 1, 1))
        zone = app.register_unit(name="东战区", kind="zone", parent_id=county).id
        town = app.register_unit(name="银州街道", kind="town", parent_id=zone).id
        village = app.register_unit(name="高庙山村", kind="village", parent_id=town).id
        office = app.register_unit(name="县指挥部办公室", kind="office", parent_id=county).id
        inspector = app.actor(app.register_user(unit_id=office, name="王督查", login="wang", roles=["inspector"]).id,
                              "inspector")  # fmt: skip
        filed, failures = [], []
        start = threading.Barrier(6)

        def file(number: int) -> None:
            start.wait()
            try:
                filed.append(app.file_finding(
                    unit_id=village, category="missing", source="inspection", severity="general",
                    check_item="帮扶手册收入测算", description=f"同时登记 {number}", actor=inspector,
                ).id)  # fmt: skip
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                failures.append(error)

        threads = [threading.Thread(target=file, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == [] and len(set(filed)) == 6
        record = app.repository.get(check_item_record_id(village, "帮扶手册收入测算"))
        assert sorted(str(f) for f, _ in record.filed_dates()) == sorted(str(f) for f in filed)
    finally:
        app.close()
