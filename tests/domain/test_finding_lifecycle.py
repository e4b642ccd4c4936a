"""A finding's life, command by command: each test calls one command and
asserts exactly the events it produced (DOMAIN.md, "A finding's life")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from domain.events import SYSTEM_ACTOR
from domain.finding import (
    ACKNOWLEDGED,
    CLOSED,
    FILED,
    OPEN,
    SUBMITTED,
    WITHDRAWN,
    Deduction,
    Finding,
)
from domain.rulebook import Rulebook
from domain.rules.rulebook import Rules
from tests.domain.helpers import (
    ACK_AT,
    DEADLINE,
    FILED_AT,
    NOTICE_AT,
    SUBMIT_AT,
    UTC,
    at,
    assert_event,
    emitted,
    end_of_day_utc,
    file_finding,
    finding_in,
    make_deadline,
)

REPEAT_NOTE = "（90日内同一事项重复发生，加倍扣分）"


# ------------------------------------------------------------------ filing
def test_an_inspector_files_a_finding(world):
    cadre_a, cadre_b = world.village.id, world.town.id  # any ids will do for cadres
    now = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # already 2 March in Shanghai
    finding = Finding.file(
        county_id=world.county.id,
        unit_id=world.village.id,
        unit_path=world.path,
        category="inconsistent",
        source="extraction",
        severity="serious",
        check_item="  三个一致 ",
        description=" 系统数据与户档案不一致 ",
        household_no=" 6108270001002003 ",
        cadre_ids=(cadre_a, cadre_b, cadre_a),
        actor=world.inspector,
        now=now,
    )
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.Filed,
        actor=world.inspector,
        now=now,
        aggregate=finding,
        county_id=world.county.id,
        inspection_id=None,
        unit_id=world.village.id,
        unit_path=list(world.path),
        category="inconsistent",
        source="extraction",
        severity="serious",
        check_item="三个一致",
        description="系统数据与户档案不一致",
        household_no="6108270001002003",
        cadre_ids=[cadre_a, cadre_b],
        repeat_of=None,
        filed_on="2026-03-02",
        attachments=[],
    )
    assert finding.status == FILED
    assert finding.deadline is None and finding.deadline_number == 0
    assert finding.unit_path == world.path
    assert finding.points_deducted == Decimal(0)


def test_the_command_office_may_file_a_repeat_finding_in_an_inspection(world):
    earlier = file_finding(world)
    inspection_id = world.zone.id  # an opaque id here
    finding = file_finding(world, actor=world.command, inspection_id=inspection_id, repeat_of=earlier.id)
    [event] = emitted(finding)
    assert type(event) is Finding.Filed
    assert event.actor_id == world.command.user_id and event.actor_role == "command"
    assert event.inspection_id == inspection_id
    assert event.repeat_of == earlier.id
    assert event.household_no == ""
    assert finding.repeat_of == earlier.id


@pytest.mark.parametrize("number", ["A" * 14, "6" * 30, "61082719850101123X"])
def test_household_numbers_of_fourteen_to_thirty_letters_or_digits_are_accepted(world, number):
    finding = file_finding(world, household_no=number)
    [event] = emitted(finding)
    assert event.household_no == number


# ------------------------------------------------------------------ notice
def test_issuing_the_notice_opens_the_finding_with_its_first_deadline(world):
    finding = finding_in(world, FILED)
    recipients = (world.village.id, world.town.id, world.village.id)
    finding.issue_notice(make_deadline(DEADLINE, working_days=10), recipients, world.inspector, NOTICE_AT)
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.NoticeIssued,
        actor=world.inspector,
        now=NOTICE_AT,
        aggregate=finding,
        deadline="2026-03-16",
        deadline_basis="chinese_calendar",
        working_days=10,
        recipients=[world.village.id, world.town.id],
    )
    assert finding.status == OPEN
    assert finding.deadline == "2026-03-16"
    assert finding.deadline_basis == "chinese_calendar"
    assert finding.deadline_number == 1


def test_the_system_may_issue_a_notice_on_a_fallback_deadline(world):
    finding = finding_in(world, FILED)
    finding.issue_notice(
        make_deadline(date(2027, 1, 4), basis="weekday_fallback", working_days=3), (), SYSTEM_ACTOR, NOTICE_AT
    )
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.NoticeIssued,
        actor=SYSTEM_ACTOR,
        now=NOTICE_AT,
        deadline="2027-01-04",
        deadline_basis="weekday_fallback",
        working_days=3,
        recipients=[],
    )


# ------------------------------------------------------------------ acknowledgement
def test_the_accountable_village_acknowledges_the_notice(world):
    finding = finding_in(world, OPEN)
    finding.acknowledge(world.village_unit, ACK_AT)
    [event] = emitted(finding)
    assert_event(event, Finding.NoticeAcknowledged, actor=world.village_unit, now=ACK_AT, aggregate=finding)
    assert finding.status == ACKNOWLEDGED


def test_a_user_of_the_town_above_the_village_may_act_for_it(world):
    finding = finding_in(world, OPEN)
    finding.acknowledge(world.town_unit, ACK_AT)
    finding.submit_rectification("街道代为整改", (), world.town_unit, SUBMIT_AT)
    first, second = emitted(finding)
    assert_event(first, Finding.NoticeAcknowledged, actor=world.town_unit, now=ACK_AT)
    assert_event(
        second, Finding.RectificationSubmitted, actor=world.town_unit, now=SUBMIT_AT, description="街道代为整改", evidence=[],
        attachments=[],
    )
    assert finding.status == SUBMITTED


# ------------------------------------------------------------------ extensions
@pytest.mark.parametrize("status", [OPEN, ACKNOWLEDGED])
def test_the_unit_requests_an_extension(world, status):
    finding = finding_in(world, status)
    now = at(days=5)
    finding.request_extension(date(2026, 3, 23), "  农户外出务工，需等待返乡核实 ", world.village_unit, now)
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.ExtensionRequested,
        actor=world.village_unit,
        now=now,
        aggregate=finding,
        requested_deadline="2026-03-23",
        reason="农户外出务工，需等待返乡核实",
    )
    assert finding.pending_extension == "2026-03-23"
    assert finding.deadline == "2026-03-16" and finding.deadline_number == 1
    assert finding.status == status


def _with_pending_extension(world, until=date(2026, 3, 23)):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(until, "需等待返乡核实", world.village_unit, at(days=5))
    finding.collect_events()
    return finding


def test_the_command_office_grants_the_requested_date(world):
    finding = _with_pending_extension(world)
    now = at(days=6)
    finding.grant_extension(world.command, now)
    [event] = emitted(finding)
    assert_event(
        event, Finding.ExtensionGranted, actor=world.command, now=now, aggregate=finding, deadline="2026-03-23", note=""
    )
    assert finding.deadline == "2026-03-23"
    assert finding.deadline_basis == "extension"
    assert finding.deadline_number == 2
    assert finding.pending_extension is None
    assert finding.status == ACKNOWLEDGED


def test_the_command_office_grants_an_extension_to_a_date_of_its_own(world):
    finding = _with_pending_extension(world)
    now = at(days=6)
    finding.grant_extension(world.command, now, until=date(2026, 3, 20), note=" 批准延期至20日 ")
    [event] = emitted(finding)
    assert_event(
        event, Finding.ExtensionGranted, actor=world.command, now=now, deadline="2026-03-20", note="批准延期至20日"
    )
    assert finding.deadline == "2026-03-20"
    assert finding.deadline_number == 2


def test_the_command_office_denies_an_extension(world):
    finding = _with_pending_extension(world)
    now = at(days=6)
    finding.deny_extension(" 理由不充分 ", world.command, now)
    [event] = emitted(finding)
    assert_event(event, Finding.ExtensionDenied, actor=world.command, now=now, aggregate=finding, reason="理由不充分")
    assert finding.pending_extension is None
    assert finding.deadline == "2026-03-16" and finding.deadline_number == 1


def test_after_a_denial_the_unit_may_ask_again(world):
    finding = _with_pending_extension(world)
    finding.deny_extension("理由不充分", world.command, at(days=6))
    finding.collect_events()
    finding.request_extension(date(2026, 3, 18), "补充说明", world.village_unit, at(days=7))
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.ExtensionRequested,
        actor=world.village_unit,
        now=at(days=7),
        requested_deadline="2026-03-18",
        reason="补充说明",
    )


# ------------------------------------------------------------------ rectification
@pytest.mark.parametrize("status", [OPEN, ACKNOWLEDGED])
def test_the_unit_submits_its_rectification_from_open_or_acknowledged(world, status):
    finding = finding_in(world, status)
    finding.submit_rectification(" 已补齐鉴定表 ", ("a.jpg", "b.pdf"), world.village_unit, SUBMIT_AT)
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.RectificationSubmitted,
        actor=world.village_unit,
        now=SUBMIT_AT,
        aggregate=finding,
        description="已补齐鉴定表",
        evidence=["a.jpg", "b.pdf"],
        attachments=[],
    )
    assert finding.status == SUBMITTED


@pytest.mark.parametrize("verifier", ["inspector", "command"])
def test_accepting_the_rectification_closes_the_finding_on_the_local_date(world, verifier):
    finding = finding_in(world, SUBMITTED)
    actor = getattr(world, verifier)
    now = datetime(2026, 3, 5, 16, 30, tzinfo=UTC)  # 00:30 on 6 March in Shanghai
    finding.accept_rectification(" 整改到位，同意销号 ", actor, now)
    [event] = emitted(finding)
    assert_event(
        event, Finding.RectificationAccepted, actor=actor, now=now, aggregate=finding, note="整改到位，同意销号"
    )
    assert finding.status == CLOSED
    assert finding.closed_on == "2026-03-06"


def test_rejecting_reopens_with_a_new_deadline_and_deducts_in_the_same_command(world):
    finding = finding_in(world, SUBMITTED)
    now = at(days=4)
    finding.reject_rectification(
        " 鉴定表未签字 ", make_deadline(date(2026, 3, 11), working_days=5), world.rules, world.inspector, now
    )
    rejected, deducted = emitted(finding)
    assert_event(
        rejected,
        Finding.RectificationRejected,
        actor=world.inspector,
        now=now,
        aggregate=finding,
        reason="鉴定表未签字",
        deadline="2026-03-11",
        deadline_basis="chinese_calendar",
        working_days=5,
    )
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=world.inspector,
        now=now,
        aggregate=finding,
        deduction_number=1,
        unit_id=world.village.id,
        points=Decimal("0.5"),
        rule_id="inadequate",
        rulebook_version=1,
        period="2026Q1",
        reason="整改不到位：鉴定表未签字",
    )
    assert finding.status == OPEN
    assert finding.rejections == 1
    assert finding.deadline == "2026-03-11" and finding.deadline_number == 2
    assert finding.deductions == {
        1: Deduction(1, world.village.id, Decimal("0.5"), "inadequate", 1, "2026Q1", "整改不到位：鉴定表未签字")
    }
    assert finding.points_deducted == Decimal("0.5")


def test_a_rejection_is_scored_under_the_rulebook_version_given(world):
    world.rulebook.adopt(
        Rules.from_dict({"inadequate_points": "1.5", "period": "month"}), date(2026, 3, 5), world.command, at(days=1)
    )
    version = world.rulebook.in_force_on(date(2026, 3, 6))
    assert version.version == 2
    finding = finding_in(world, SUBMITTED)
    now = at(days=4)
    finding.reject_rectification("未签字", make_deadline(date(2026, 3, 13)), version, world.command, now)
    _, deducted = emitted(finding)
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=world.command,
        now=now,
        deduction_number=1,
        unit_id=world.village.id,
        points=Decimal("1.5"),
        rule_id="inadequate",
        rulebook_version=2,
        period="2026-03",
        reason="整改不到位：未签字",
    )


def test_a_second_rejection_counts_and_numbers_the_next_deduction(world):
    finding = finding_in(world, SUBMITTED)
    finding.reject_rectification("未签字", make_deadline(date(2026, 3, 11)), world.rules, world.inspector, at(days=4))
    finding.submit_rectification("已签字", (), world.village_unit, at(days=5))
    finding.collect_events()
    now = at(days=6)
    finding.reject_rectification("仍不完整", make_deadline(date(2026, 3, 13)), world.rules, world.inspector, now)
    rejected, deducted = emitted(finding)
    assert type(rejected) is Finding.RectificationRejected
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=world.inspector,
        now=now,
        deduction_number=2,
        unit_id=world.village.id,
        points=Decimal("0.5"),
        rule_id="inadequate",
        rulebook_version=1,
        period="2026Q1",
        reason="整改不到位：仍不完整",
    )
    assert finding.rejections == 2
    assert finding.deadline_number == 3
    assert finding.points_deducted == Decimal("1.0")


# ------------------------------------------------------------------ deadlines
def test_a_deadline_is_missed_at_the_end_of_its_day_in_shanghai(world):
    finding = finding_in(world, ACKNOWLEDGED)
    now = end_of_day_utc(DEADLINE)  # 2026-03-16T16:00Z == 2026-03-17 00:00 +08:00
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, now)
    missed, deducted = emitted(finding)
    assert_event(
        missed,
        Finding.DeadlineMissed,
        actor=SYSTEM_ACTOR,
        now=now,
        aggregate=finding,
        deadline="2026-03-16",
        deadline_number=1,
    )
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=SYSTEM_ACTOR,
        now=now,
        aggregate=finding,
        deduction_number=1,
        unit_id=world.village.id,
        points=Decimal("0.5"),
        rule_id="overdue",
        rulebook_version=1,
        period="2026Q1",
        reason="逾期未整改：超过整改期限2026-03-16未完成整改",
    )
    assert finding.missed_deadlines == (1,)
    assert finding.status == ACKNOWLEDGED
    assert finding.points_deducted == Decimal("0.5")


def test_the_command_office_may_record_a_missed_deadline_on_an_open_finding(world):
    finding = finding_in(world, OPEN)
    now = at(days=20)
    finding.record_missed_deadline(world.rules, world.command, now)
    missed, deducted = emitted(finding)
    assert_event(missed, Finding.DeadlineMissed, actor=world.command, now=now, deadline="2026-03-16", deadline_number=1)
    assert deducted.actor_id == world.command.user_id and deducted.rule_id == "overdue"


def test_the_deduction_period_is_that_of_the_local_date(world):
    # 31 March ends at 16:00Z on 31 March; it is already 1 April (2026Q2) in Shanghai.
    finding = finding_in(world, OPEN, deadline=date(2026, 3, 31))
    now = end_of_day_utc(date(2026, 3, 31))
    assert now.date() == date(2026, 3, 31)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, now)
    _, deducted = emitted(finding)
    assert deducted.period == "2026Q2"


def test_a_new_deadline_from_a_rejection_may_be_missed_again(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    finding.submit_rectification("补报", (), world.village_unit, at(days=16))
    finding.reject_rectification("不到位", make_deadline(date(2026, 3, 20)), world.rules, world.inspector, at(days=17))
    finding.collect_events()
    now = end_of_day_utc(date(2026, 3, 20))
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, now)
    missed, deducted = emitted(finding)
    assert_event(missed, Finding.DeadlineMissed, actor=SYSTEM_ACTOR, now=now, deadline="2026-03-20", deadline_number=2)
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=SYSTEM_ACTOR,
        now=now,
        deduction_number=3,
        unit_id=world.village.id,
        points=Decimal("0.5"),
        rule_id="overdue",
        rulebook_version=1,
        period="2026Q1",
        reason="逾期未整改：超过整改期限2026-03-20未完成整改",
    )
    assert finding.missed_deadlines == (1, 2)
    assert finding.points_deducted == Decimal("1.5")


def test_a_granted_extension_is_a_new_deadline_that_may_be_missed(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    finding.request_extension(date(2026, 3, 25), "外出", world.village_unit, at(days=16))
    finding.grant_extension(world.command, at(days=16, hours=2))
    finding.collect_events()
    now = end_of_day_utc(date(2026, 3, 25))
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, now)
    missed, deducted = emitted(finding)
    assert_event(missed, Finding.DeadlineMissed, actor=SYSTEM_ACTOR, now=now, deadline="2026-03-25", deadline_number=2)
    assert deducted.deduction_number == 2


# ------------------------------------------------------------------ repeat findings
def test_a_repeat_finding_costs_double_for_an_inadequate_rectification(world):
    earlier = file_finding(world)
    finding = finding_in(world, SUBMITTED, repeat_of=earlier.id)
    now = at(days=4)
    finding.reject_rectification("未签字", make_deadline(date(2026, 3, 11)), world.rules, world.inspector, now)
    _, deducted = emitted(finding)
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=world.inspector,
        now=now,
        deduction_number=1,
        unit_id=world.village.id,
        points=Decimal("1.0"),
        rule_id="inadequate",
        rulebook_version=1,
        period="2026Q1",
        reason="整改不到位：未签字" + REPEAT_NOTE,
    )


def test_a_repeat_finding_costs_double_when_overdue(world):
    earlier = file_finding(world)
    finding = finding_in(world, OPEN, repeat_of=earlier.id)
    now = end_of_day_utc(DEADLINE)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, now)
    _, deducted = emitted(finding)
    assert_event(
        deducted,
        Finding.PointsDeducted,
        actor=SYSTEM_ACTOR,
        now=now,
        deduction_number=1,
        unit_id=world.village.id,
        points=Decimal("1.0"),
        rule_id="overdue",
        rulebook_version=1,
        period="2026Q1",
        reason="逾期未整改：超过整改期限2026-03-16未完成整改" + REPEAT_NOTE,
    )


def test_the_repeat_multiplier_comes_from_the_rulebook(world):
    rulebook = Rulebook.open(
        county_id=world.county.id,
        rules=Rules.from_dict({"repeat_multiplier": 3, "repeat_window_days": 60}),
        in_force_from=date(2026, 1, 1),
        actor=SYSTEM_ACTOR,
        now=FILED_AT,
    )
    earlier = file_finding(world)
    finding = finding_in(world, OPEN, repeat_of=earlier.id)
    finding.record_missed_deadline(rulebook.in_force_on(date(2026, 3, 17)), SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    _, deducted = emitted(finding)
    assert deducted.points == Decimal("1.5")
    assert deducted.reason.endswith("（60日内同一事项重复发生，加倍扣分）")


# ------------------------------------------------------------------ appeals
def _with_deductions(world):
    finding = finding_in(world, SUBMITTED)
    finding.reject_rectification("未签字", make_deadline(date(2026, 3, 11)), world.rules, world.inspector, at(days=4))
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(date(2026, 3, 11)))
    finding.collect_events()
    assert finding.points_deducted == Decimal("1.0")
    return finding


def test_an_upheld_appeal_reverses_a_deduction_and_keeps_the_original(world):
    finding = _with_deductions(world)
    now = at(days=12)
    finding.reverse_deduction(2, " 系统故障导致无法上传，申诉成立 ", world.command, now)
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.DeductionReversed,
        actor=world.command,
        now=now,
        aggregate=finding,
        deduction_number=2,
        reason="系统故障导致无法上传，申诉成立",
    )
    assert finding.deductions[2].reversed is True
    assert finding.deductions[2].points == Decimal("0.5")  # the original stays
    assert finding.deductions[1].reversed is False
    assert finding.points_deducted == Decimal("0.5")


@pytest.mark.parametrize("status", [CLOSED, WITHDRAWN])
def test_a_deduction_may_be_reversed_after_the_finding_ended(world, status):
    finding = _with_deductions(world)
    finding.submit_rectification("补正", (), world.village_unit, at(days=13))
    if status == CLOSED:
        finding.accept_rectification("到位", world.inspector, at(days=14))
    else:
        finding.withdraw("误登记", world.command, at(days=14))
    finding.collect_events()
    now = at(days=20)
    finding.reverse_deduction(1, "申诉成立", world.command, now)
    [event] = emitted(finding)
    assert_event(event, Finding.DeductionReversed, actor=world.command, now=now, deduction_number=1, reason="申诉成立")
    assert finding.status == status


# ------------------------------------------------------------------ escalation
def test_escalation_after_two_rejections_names_the_rule_met(world):
    finding = finding_in(world, SUBMITTED)
    finding.reject_rectification("一", make_deadline(date(2026, 3, 11)), world.rules, world.inspector, at(days=4))
    finding.submit_rectification("补", (), world.village_unit, at(days=5))
    finding.reject_rectification("二", make_deadline(date(2026, 3, 13)), world.rules, world.inspector, at(days=6))
    finding.collect_events()
    now = at(days=7)
    finding.escalate(" 拒不整改 ", world.rules, world.command, now)
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.EscalatedToDiscipline,
        actor=world.command,
        now=now,
        aggregate=finding,
        reason="拒不整改",
        rule_met="整改2次被退回（规则：2次）",
    )
    assert finding.escalated is True
    assert finding.status == OPEN  # escalation does not end the finding


@pytest.mark.parametrize(
    ("local_day", "rule_met"),
    [
        (date(2026, 4, 14), ""),  # 29 days overdue
        (date(2026, 4, 15), "逾期30天未整改（规则：30天）"),
        (date(2026, 4, 20), "逾期35天未整改（规则：30天）"),
    ],
)
def test_escalation_after_thirty_days_overdue(world, local_day, rule_met):
    finding = finding_in(world, ACKNOWLEDGED)
    now = datetime(local_day.year, local_day.month, local_day.day, 2, 0, tzinfo=UTC)
    finding.escalate("长期逾期", world.rules, world.command, now)
    [event] = emitted(finding)
    assert_event(
        event, Finding.EscalatedToDiscipline, actor=world.command, now=now, reason="长期逾期", rule_met=rule_met
    )


def test_escalation_uses_the_local_date_for_days_overdue(world):
    finding = finding_in(world, OPEN)
    # 16:00Z on 14 April is 00:00 on 15 April in Shanghai: 30 days after 16 March.
    now = datetime(2026, 4, 14, 16, 0, tzinfo=UTC)
    finding.escalate("长期逾期", world.rules, world.command, now)
    [event] = emitted(finding)
    assert event.rule_met == "逾期30天未整改（规则：30天）"


@pytest.mark.parametrize("status", [FILED, OPEN, SUBMITTED])
def test_escalation_when_no_rule_is_met_records_an_empty_rule(world, status):
    finding = finding_in(world, status)
    now = at(days=5)
    finding.escalate("性质恶劣", world.rules, world.command, now)
    [event] = emitted(finding)
    assert_event(event, Finding.EscalatedToDiscipline, actor=world.command, now=now, reason="性质恶劣", rule_met="")


def test_a_submitted_finding_is_not_overdue_for_escalation(world):
    finding = finding_in(world, SUBMITTED)
    now = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # long after the deadline, but waiting for verification
    finding.escalate("拖延", world.rules, world.command, now)
    [event] = emitted(finding)
    assert event.rule_met == ""


def test_an_escalated_finding_can_still_be_rectified_and_closed(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.escalate("拒不整改", world.rules, world.command, at(days=5))
    finding.submit_rectification("整改完毕", (), world.village_unit, at(days=6))
    finding.accept_rectification("到位", world.inspector, at(days=7))
    escalated, submitted, accepted = emitted(finding)
    assert [type(e) for e in (escalated, submitted, accepted)] == [
        Finding.EscalatedToDiscipline,
        Finding.RectificationSubmitted,
        Finding.RectificationAccepted,
    ]
    assert finding.status == CLOSED and finding.escalated


# ------------------------------------------------------------------ withdrawal
@pytest.mark.parametrize("status", [FILED, OPEN, ACKNOWLEDGED, SUBMITTED])
@pytest.mark.parametrize("who", ["inspector", "command"])
def test_a_finding_is_withdrawn_from_every_state_but_closed(world, status, who):
    finding = finding_in(world, status)
    actor = getattr(world, who)
    now = at(days=5)
    finding.withdraw(" 误登记，非该村问题 ", actor, now)
    [event] = emitted(finding)
    assert_event(event, Finding.Withdrawn, actor=actor, now=now, aggregate=finding, reason="误登记，非该村问题")
    assert finding.status == WITHDRAWN


def test_a_withdrawn_finding_with_a_pending_extension_and_deductions_keeps_its_history(world):
    finding = _with_deductions(world)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=10))
    finding.collect_events()
    finding.withdraw("误登记", world.command, at(days=11))
    [event] = emitted(finding)
    assert type(event) is Finding.Withdrawn
    assert finding.points_deducted == Decimal("1.0")  # withdrawal reverses nothing by itself
    assert len(finding.deductions) == 2


# ------------------------------------------------------------------ replay
def test_replaying_the_events_rebuilds_the_same_finding(world):
    finding = file_finding(world)
    finding.issue_notice(make_deadline(DEADLINE), (world.village.id,), world.inspector, NOTICE_AT)
    finding.acknowledge(world.village_unit, ACK_AT)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=2))
    finding.grant_extension(world.command, at(days=2, hours=1))
    finding.submit_rectification("补", ("x",), world.village_unit, SUBMIT_AT)
    finding.reject_rectification("不到位", make_deadline(date(2026, 3, 25)), world.rules, world.inspector, at(days=4))
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(date(2026, 3, 25)))
    finding.reverse_deduction(1, "申诉成立", world.command, at(days=30))
    finding.escalate("逾期", world.rules, world.command, at(days=31))
    finding.submit_rectification("补", (), world.village_unit, at(days=32))
    finding.accept_rectification("到位", world.inspector, at(days=33))
    events = finding.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    state = {k: v for k, v in vars(finding).items() if k != "_pending_events"}
    assert {k: v for k, v in vars(replayed).items() if k != "_pending_events"} == state
    assert replayed.points_deducted == Decimal("0.5")
    assert replayed.closed_on == "2026-04-04"
    assert replayed.deadline_number == 3
