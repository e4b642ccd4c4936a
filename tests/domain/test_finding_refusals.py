"""Every illegal step on a finding raises its named error and records nothing:
no event is added and the finding's state is unchanged."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from domain.errors import MissingField, NotPermitted, NotYourUnit, ReasonRequired, WrongCounty
from domain.events import SYSTEM_ACTOR
from domain.finding import (
    ACKNOWLEDGED,
    CLOSED,
    FILED,
    OPEN,
    SUBMITTED,
    WITHDRAWN,
    AlreadyEscalated,
    DeadlineAlreadyMissed,
    DeadlineNotPassed,
    DeductionAlreadyReversed,
    ExtensionAlreadyPending,
    ExtensionNotLater,
    FindingAlreadyClosed,
    FindingWithdrawn,
    InvalidHouseholdNumber,
    NoExtensionPending,
    NotAwaitingAcknowledgement,
    NoticeAlreadyIssued,
    NoticeNotIssued,
    NotRectifying,
    RectificationAlreadySubmitted,
    RectificationNotSubmitted,
    UnknownCategory,
    UnknownDeduction,
    UnknownSeverity,
    UnknownSource,
)
from tests.domain.helpers import (
    DEADLINE,
    UTC,
    at,
    emitted,
    end_of_day_utc,
    file_finding,
    finding_in,
    make_deadline,
    refused,
)

LATER = date(2026, 3, 30)


# ------------------------------------------------------------------ filing
@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"category": "typo"}, UnknownCategory),
        ({"category": "缺项"}, UnknownCategory),  # labels are not keys
        ({"severity": "extreme"}, UnknownSeverity),
        ({"source": "rumour"}, UnknownSource),
        ({"description": "   "}, MissingField),
        ({"description": ""}, MissingField),
        ({"check_item": " "}, MissingField),
        ({"household_no": "1234567890123"}, InvalidHouseholdNumber),  # 13 characters: masking would hide too little
        ({"household_no": "1" * 31}, InvalidHouseholdNumber),
        ({"household_no": "610827-0001-002"}, InvalidHouseholdNumber),
        ({"household_no": "６１０８２７０００１"}, InvalidHouseholdNumber),  # full-width digits
    ],
)
def test_filing_refuses_bad_input(world, override, error):
    with pytest.raises(error) as info:
        file_finding(world, **override)
    assert type(info.value) is error


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("village_unit", NotPermitted),
        ("cadre", NotPermitted),
        ("discipline", NotPermitted),
        ("foreign_inspector", WrongCounty),
        ("foreign_command", WrongCounty),
    ],
)
def test_filing_refuses_the_wrong_actor(world, actor, error):
    with pytest.raises(error) as info:
        file_finding(world, actor=getattr(world, actor))
    assert type(info.value) is error


def test_the_system_does_not_file_findings(world):
    with pytest.raises(NotPermitted):
        file_finding(world, actor=SYSTEM_ACTOR)


def test_the_description_missing_message_names_the_field(world):
    with pytest.raises(MissingField, match="问题描述"):
        file_finding(world, description="")


# ------------------------------------------------------------------ notice
def test_a_notice_is_issued_only_once(world):
    finding = finding_in(world, OPEN)
    refused(finding, NoticeAlreadyIssued, finding.issue_notice, make_deadline(LATER), (), world.inspector, at(days=1))


@pytest.mark.parametrize(("actor", "error"), [("village_unit", NotPermitted), ("foreign_inspector", WrongCounty)])
def test_a_notice_is_issued_by_a_supervisor_of_the_county(world, actor, error):
    finding = finding_in(world, FILED)
    refused(finding, error, finding.issue_notice, make_deadline(LATER), (), getattr(world, actor), at(days=1))


# ------------------------------------------------------------------ acknowledgement
@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("other_village_unit", NotYourUnit),
        ("other_town_unit", NotYourUnit),
        ("inspector", NotPermitted),
        ("command", NotPermitted),
        ("cadre", NotPermitted),
        ("discipline", NotPermitted),
        ("foreign_unit", WrongCounty),
    ],
)
def test_only_the_accountable_unit_acknowledges(world, actor, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.acknowledge, getattr(world, actor), at(days=1))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (FILED, NotAwaitingAcknowledgement),
        (ACKNOWLEDGED, NotAwaitingAcknowledgement),
        (SUBMITTED, NotAwaitingAcknowledgement),
        (CLOSED, FindingAlreadyClosed),
        (WITHDRAWN, FindingWithdrawn),
    ],
)
def test_acknowledging_outside_the_open_state_is_refused(world, status, error):
    finding = finding_in(world, status)
    refused(finding, error, finding.acknowledge, world.village_unit, at(days=5))


# ------------------------------------------------------------------ extensions
@pytest.mark.parametrize("until", [DEADLINE, DEADLINE - timedelta(days=1), date(2026, 3, 1)])
def test_an_extension_must_be_to_a_later_date(world, until):
    finding = finding_in(world, ACKNOWLEDGED)
    refused(finding, ExtensionNotLater, finding.request_extension, until, "外出", world.village_unit, at(days=5))


def test_only_one_extension_may_be_pending(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=5))
    finding.collect_events()
    refused(
        finding, ExtensionAlreadyPending, finding.request_extension, LATER, "再延", world.village_unit, at(days=6)
    )


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_extension_needs_a_reason(world, reason):
    finding = finding_in(world, OPEN)
    refused(finding, ReasonRequired, finding.request_extension, LATER, reason, world.village_unit, at(days=5))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (FILED, NoticeNotIssued),
        (SUBMITTED, RectificationAlreadySubmitted),
        (CLOSED, FindingAlreadyClosed),
        (WITHDRAWN, FindingWithdrawn),
    ],
)
def test_an_extension_is_asked_only_while_rectifying(world, status, error):
    finding = finding_in(world, status)
    refused(finding, error, finding.request_extension, LATER, "外出", world.village_unit, at(days=5))


@pytest.mark.parametrize(
    ("actor", "error"),
    [("inspector", NotPermitted), ("command", NotPermitted), ("other_village_unit", NotYourUnit)],
)
def test_an_extension_is_asked_by_the_accountable_unit(world, actor, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.request_extension, LATER, "外出", getattr(world, actor), at(days=5))


def test_grant_and_deny_need_a_pending_request(world):
    finding = finding_in(world, ACKNOWLEDGED)
    refused(finding, NoExtensionPending, finding.grant_extension, world.command, at(days=5))
    refused(finding, NoExtensionPending, finding.grant_extension, world.command, at(days=5), until=LATER)
    refused(finding, NoExtensionPending, finding.deny_extension, "不同意", world.command, at(days=5))


def test_a_request_already_decided_cannot_be_decided_again(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=5))
    finding.grant_extension(world.command, at(days=6))
    finding.collect_events()
    refused(finding, NoExtensionPending, finding.grant_extension, world.command, at(days=7))
    refused(finding, NoExtensionPending, finding.deny_extension, "不同意", world.command, at(days=7))


@pytest.mark.parametrize("until", [DEADLINE, DEADLINE - timedelta(days=3)])
def test_a_grant_to_an_explicit_date_must_still_be_later(world, until):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=5))
    finding.collect_events()
    refused(finding, ExtensionNotLater, finding.grant_extension, world.command, at(days=6), until=until)
    assert finding.pending_extension == "2026-03-20"


@pytest.mark.parametrize(
    ("actor", "error"),
    [("inspector", NotPermitted), ("village_unit", NotPermitted), ("foreign_command", WrongCounty)],
)
def test_only_the_command_office_of_the_county_decides_extensions(world, actor, error):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=5))
    finding.collect_events()
    refused(finding, error, finding.grant_extension, getattr(world, actor), at(days=6))
    refused(finding, error, finding.deny_extension, "不同意", getattr(world, actor), at(days=6))


def test_a_denial_needs_a_reason(world):
    finding = finding_in(world, ACKNOWLEDGED)
    finding.request_extension(date(2026, 3, 20), "外出", world.village_unit, at(days=5))
    finding.collect_events()
    refused(finding, ReasonRequired, finding.deny_extension, "  ", world.command, at(days=6))


# ------------------------------------------------------------------ rectification
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (FILED, NoticeNotIssued),
        (SUBMITTED, RectificationAlreadySubmitted),
        (CLOSED, FindingAlreadyClosed),
        (WITHDRAWN, FindingWithdrawn),
    ],
)
def test_submitting_outside_the_rectifying_states_is_refused(world, status, error):
    finding = finding_in(world, status)
    refused(finding, error, finding.submit_rectification, "补", (), world.village_unit, at(days=5))


def test_submitting_needs_a_description(world):
    finding = finding_in(world, ACKNOWLEDGED)
    refused(finding, MissingField, finding.submit_rectification, " ", ("a.jpg",), world.village_unit, at(days=5))


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("inspector", NotPermitted),
        ("cadre", NotPermitted),
        ("other_village_unit", NotYourUnit),
        ("other_town_unit", NotYourUnit),
        ("foreign_unit", WrongCounty),
    ],
)
def test_submitting_is_for_the_accountable_unit(world, actor, error):
    finding = finding_in(world, ACKNOWLEDGED)
    refused(finding, error, finding.submit_rectification, "补", (), getattr(world, actor), at(days=5))


# ------------------------------------------------------------------ verification
def test_accepting_a_closed_finding_is_refused(world):
    finding = finding_in(world, CLOSED)
    refused(finding, FindingAlreadyClosed, finding.accept_rectification, "再次", world.inspector, at(days=6))


def test_rectifying_a_withdrawn_finding_is_refused(world):
    finding = finding_in(world, WITHDRAWN)
    refused(finding, FindingWithdrawn, finding.submit_rectification, "补", (), world.village_unit, at(days=6))
    refused(finding, FindingWithdrawn, finding.accept_rectification, "到位", world.inspector, at(days=6))


@pytest.mark.parametrize("status", [FILED, OPEN, ACKNOWLEDGED])
def test_verifying_a_rectification_never_submitted_is_refused(world, status):
    finding = finding_in(world, status)
    refused(finding, RectificationNotSubmitted, finding.accept_rectification, "到位", world.inspector, at(days=5))
    refused(
        finding,
        RectificationNotSubmitted,
        finding.reject_rectification,
        "不到位",
        make_deadline(LATER),
        world.rules,
        world.inspector,
        at(days=5),
    )


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("village_unit", NotPermitted),
        ("town_unit", NotPermitted),
        ("discipline", NotPermitted),
        ("foreign_inspector", WrongCounty),
    ],
)
def test_a_unit_cannot_verify_its_own_rectification(world, actor, error):
    finding = finding_in(world, SUBMITTED)
    refused(finding, error, finding.accept_rectification, "到位", getattr(world, actor), at(days=5))
    refused(
        finding,
        error,
        finding.reject_rectification,
        "不到位",
        make_deadline(LATER),
        world.rules,
        getattr(world, actor),
        at(days=5),
    )


def test_the_system_does_not_verify(world):
    finding = finding_in(world, SUBMITTED)
    refused(finding, NotPermitted, finding.accept_rectification, "到位", SYSTEM_ACTOR, at(days=5))


@pytest.mark.parametrize("reason", ["", "  "])
def test_a_rejection_needs_a_reason_and_deducts_nothing_without_one(world, reason):
    finding = finding_in(world, SUBMITTED)
    refused(
        finding,
        ReasonRequired,
        finding.reject_rectification,
        reason,
        make_deadline(LATER),
        world.rules,
        world.inspector,
        at(days=5),
    )
    assert finding.deductions == {} and finding.rejections == 0


# ------------------------------------------------------------------ deadlines
def test_a_deadline_is_not_missed_one_microsecond_before_its_day_ends(world):
    finding = finding_in(world, ACKNOWLEDGED)
    now = end_of_day_utc(DEADLINE) - timedelta(microseconds=1)  # 23:59:59.999999 on 16 March in Shanghai
    refused(finding, DeadlineNotPassed, finding.record_missed_deadline, world.rules, SYSTEM_ACTOR, now)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 15, 16, 0, tzinfo=UTC),  # 00:00 on 16 March in Shanghai
        datetime(2026, 3, 16, 1, 0, tzinfo=UTC),  # 09:00 on 16 March
        datetime(2026, 3, 16, 15, 0, tzinfo=UTC),  # 23:00 on 16 March
    ],
)
def test_a_deadline_is_not_missed_during_its_own_day(world, now):
    finding = finding_in(world, OPEN)
    refused(finding, DeadlineNotPassed, finding.record_missed_deadline, world.rules, SYSTEM_ACTOR, now)


def test_a_deadline_is_missed_only_once(world):
    finding = finding_in(world, OPEN)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    assert len(emitted(finding)) == 2
    refused(finding, DeadlineAlreadyMissed, finding.record_missed_deadline, world.rules, SYSTEM_ACTOR, at(days=20))
    refused(finding, DeadlineAlreadyMissed, finding.record_missed_deadline, world.rules, world.command, at(days=40))


def test_a_denied_extension_is_not_a_new_deadline(world):
    finding = finding_in(world, OPEN)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    finding.request_extension(LATER, "外出", world.village_unit, at(days=16))
    finding.deny_extension("不同意", world.command, at(days=17))
    finding.collect_events()
    refused(finding, DeadlineAlreadyMissed, finding.record_missed_deadline, world.rules, SYSTEM_ACTOR, at(days=40))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (FILED, NotRectifying),
        (SUBMITTED, NotRectifying),
        (CLOSED, FindingAlreadyClosed),
        (WITHDRAWN, FindingWithdrawn),
    ],
)
def test_a_deadline_is_missed_only_while_rectifying(world, status, error):
    finding = finding_in(world, status)
    refused(finding, error, finding.record_missed_deadline, world.rules, SYSTEM_ACTOR, at(days=40))


@pytest.mark.parametrize(
    ("actor", "error"),
    [("inspector", NotPermitted), ("village_unit", NotPermitted), ("foreign_command", WrongCounty)],
)
def test_missed_deadlines_are_recorded_by_the_system_or_the_command_office(world, actor, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.record_missed_deadline, world.rules, getattr(world, actor), at(days=40))


# ------------------------------------------------------------------ appeals
def _with_a_deduction(world):
    finding = finding_in(world, OPEN)
    finding.record_missed_deadline(world.rules, SYSTEM_ACTOR, end_of_day_utc(DEADLINE))
    finding.collect_events()
    return finding


def test_a_deduction_is_reversed_only_once(world):
    finding = _with_a_deduction(world)
    finding.reverse_deduction(1, "申诉成立", world.command, at(days=20))
    assert len(emitted(finding)) == 1
    refused(finding, DeductionAlreadyReversed, finding.reverse_deduction, 1, "再次申诉", world.command, at(days=21))


@pytest.mark.parametrize("number", [0, 2, -1, 99])
def test_an_unknown_deduction_cannot_be_reversed(world, number):
    finding = _with_a_deduction(world)
    refused(finding, UnknownDeduction, finding.reverse_deduction, number, "申诉成立", world.command, at(days=20))


def test_reversing_needs_a_reason(world):
    finding = _with_a_deduction(world)
    refused(finding, ReasonRequired, finding.reverse_deduction, 1, " ", world.command, at(days=20))


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("inspector", NotPermitted),
        ("village_unit", NotPermitted),
        ("discipline", NotPermitted),
        ("foreign_command", WrongCounty),
    ],
)
def test_only_the_command_office_reverses_deductions(world, actor, error):
    finding = _with_a_deduction(world)
    refused(finding, error, finding.reverse_deduction, 1, "申诉成立", getattr(world, actor), at(days=20))


def test_system_cannot_reverse_deductions(world):
    finding = _with_a_deduction(world)
    refused(finding, NotPermitted, finding.reverse_deduction, 1, "申诉成立", SYSTEM_ACTOR, at(days=20))


# ------------------------------------------------------------------ escalation
def test_a_finding_is_escalated_only_once(world):
    finding = finding_in(world, OPEN)
    finding.escalate("拒不整改", world.rules, world.command, at(days=5))
    finding.collect_events()
    refused(finding, AlreadyEscalated, finding.escalate, "再次", world.rules, world.command, at(days=6))


def test_escalation_needs_a_reason(world):
    finding = finding_in(world, OPEN)
    refused(finding, ReasonRequired, finding.escalate, "", world.rules, world.command, at(days=5))


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("inspector", NotPermitted),
        ("discipline", NotPermitted),
        ("village_unit", NotPermitted),
        ("foreign_command", WrongCounty),
    ],
)
def test_only_the_command_office_confirms_an_escalation(world, actor, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.escalate, "拒不整改", world.rules, getattr(world, actor), at(days=5))


@pytest.mark.parametrize(("status", "error"), [(CLOSED, FindingAlreadyClosed), (WITHDRAWN, FindingWithdrawn)])
def test_an_ended_finding_is_not_escalated(world, status, error):
    finding = finding_in(world, status)
    refused(finding, error, finding.escalate, "拒不整改", world.rules, world.command, at(days=40))


# ------------------------------------------------------------------ withdrawal
def test_a_closed_finding_cannot_be_withdrawn(world):
    finding = finding_in(world, CLOSED)
    refused(finding, FindingAlreadyClosed, finding.withdraw, "误登记", world.command, at(days=6))


def test_a_withdrawn_finding_cannot_be_withdrawn_again(world):
    finding = finding_in(world, WITHDRAWN)
    refused(finding, FindingWithdrawn, finding.withdraw, "误登记", world.command, at(days=6))


@pytest.mark.parametrize("reason", ["", "\t "])
def test_a_withdrawal_needs_a_reason(world, reason):
    finding = finding_in(world, ACKNOWLEDGED)
    refused(finding, ReasonRequired, finding.withdraw, reason, world.inspector, at(days=6))


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("village_unit", NotPermitted),
        ("cadre", NotPermitted),
        ("discipline", NotPermitted),
        ("foreign_inspector", WrongCounty),
    ],
)
def test_only_a_supervisor_of_the_county_withdraws(world, actor, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.withdraw, "误登记", getattr(world, actor), at(days=6))


# ------------------------------------------------------------------ terminal states
def _commands(world):
    """Every command except reversing a deduction, as (name, call)."""
    rules = world.rules
    return {
        "issue_notice": lambda f, now: f.issue_notice(make_deadline(LATER), (), world.inspector, now),
        "acknowledge": lambda f, now: f.acknowledge(world.village_unit, now),
        "request_extension": lambda f, now: f.request_extension(LATER, "外出", world.village_unit, now),
        "grant_extension": lambda f, now: f.grant_extension(world.command, now),
        "deny_extension": lambda f, now: f.deny_extension("不同意", world.command, now),
        "submit_rectification": lambda f, now: f.submit_rectification("补", (), world.village_unit, now),
        "accept_rectification": lambda f, now: f.accept_rectification("到位", world.inspector, now),
        "reject_rectification": lambda f, now: f.reject_rectification(
            "不到位", make_deadline(LATER), rules, world.inspector, now
        ),
        "record_missed_deadline": lambda f, now: f.record_missed_deadline(rules, SYSTEM_ACTOR, now),
        "escalate": lambda f, now: f.escalate("拒不整改", rules, world.command, now),
        "withdraw": lambda f, now: f.withdraw("误登记", world.command, now),
    }


COMMAND_NAMES = [
    "issue_notice",
    "acknowledge",
    "request_extension",
    "grant_extension",
    "deny_extension",
    "submit_rectification",
    "accept_rectification",
    "reject_rectification",
    "record_missed_deadline",
    "escalate",
    "withdraw",
]


@pytest.mark.parametrize("name", COMMAND_NAMES)
@pytest.mark.parametrize(("status", "error"), [(CLOSED, FindingAlreadyClosed), (WITHDRAWN, FindingWithdrawn)])
def test_closed_and_withdrawn_findings_accept_no_further_command(world, name, status, error):
    finding = finding_in(world, status)
    refused(finding, error, _commands(world)[name], finding, at(days=60))
