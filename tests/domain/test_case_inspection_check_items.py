"""Discipline cases, inspection rounds and the check-item record of repeats."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain.case import Case, CaseAlreadyClosed, UnknownSanction
from domain.check_items import CheckItemRecord, check_item_record_id, normalise_check_item
from domain.errors import InvalidInput, MissingField, NotPermitted, WrongCounty
from domain.events import DISCIPLINE, SYSTEM_ACTOR, Actor
from domain.finding import UnknownSource
from domain.inspection import Inspection, InspectionAlreadyCompleted
from domain.rules.deductions import is_repeat
from domain.rules.rulebook import DEFAULT_RULES
from tests.domain.helpers import T0, assert_event, at, emitted, refused


# ------------------------------------------------------------------ cases
def _case(world):
    case = Case.open(
        county_id=world.county.id,
        subject_unit_id=world.village.id,
        finding_ids=(),
        summary="拒不整改",
        actor=world.discipline,
        now=T0,
    )
    case.collect_events()
    return case


def test_the_discipline_office_opens_a_case(world):
    f1, f2 = uuid4(), uuid4()
    case = Case.open(
        county_id=world.county.id,
        subject_unit_id=world.village.id,
        finding_ids=(f1, f2, f1),
        summary=" 高西沟村拒不整改 ",
        actor=world.discipline,
        now=T0,
    )
    [event] = emitted(case)
    assert_event(
        event,
        Case.Opened,
        actor=world.discipline,
        now=T0,
        aggregate=case,
        county_id=world.county.id,
        subject_unit_id=world.village.id,
        finding_ids=[f1, f2],
        summary="高西沟村拒不整改",
    )
    assert case.closed is False and case.sanctions == ()


@pytest.mark.parametrize(
    ("actor", "error"),
    [("command", NotPermitted), ("inspector", NotPermitted), ("village_unit", NotPermitted)],
)
def test_only_the_discipline_office_opens_cases(world, actor, error):
    with pytest.raises(error):
        Case.open(
            county_id=world.county.id,
            subject_unit_id=None,
            finding_ids=(),
            summary="案由",
            actor=getattr(world, actor),
            now=T0,
        )


def test_opening_a_case_needs_a_summary_and_the_right_county(world):
    with pytest.raises(MissingField):
        Case.open(county_id=world.county.id, subject_unit_id=None, finding_ids=(), summary=" ", actor=world.discipline, now=T0)
    with pytest.raises(NotPermitted):
        Case.open(county_id=world.county.id, subject_unit_id=None, finding_ids=(), summary="案由", actor=SYSTEM_ACTOR, now=T0)
    foreign = Actor(user_id="jiaxian-discipline", role=DISCIPLINE, county_id=world.foreign_county.id)
    with pytest.raises(WrongCounty):
        Case.open(county_id=world.county.id, subject_unit_id=None, finding_ids=(), summary="案由", actor=foreign, now=T0)


@pytest.mark.parametrize("sanction", ["talk", "admonition", "criticism", "organisational", "party_discipline"])
def test_a_sanction_is_recorded(world, sanction):
    case = _case(world)
    now = at(days=3)
    case.record_sanction(sanction, " 村第一书记 ", " 约谈记录见附件 ", world.discipline, now)
    [event] = emitted(case)
    assert_event(
        event,
        Case.SanctionRecorded,
        actor=world.discipline,
        now=now,
        aggregate=case,
        sanction=sanction,
        subject="村第一书记",
        note="约谈记录见附件",
    )
    assert case.sanctions == ((sanction, "村第一书记"),)


def test_sanction_refusals(world):
    case = _case(world)
    refused(case, UnknownSanction, case.record_sanction, "fine", "某某", "", world.discipline, at(days=1))
    refused(case, UnknownSanction, case.record_sanction, "约谈", "某某", "", world.discipline, at(days=1))
    refused(case, MissingField, case.record_sanction, "talk", " ", "", world.discipline, at(days=1))
    refused(case, NotPermitted, case.record_sanction, "talk", "某某", "", world.command, at(days=1))


def test_a_case_is_closed_once_and_then_takes_no_sanction(world):
    case = _case(world)
    now = at(days=5)
    case.close(" 已处理完毕 ", world.discipline, now)
    [event] = emitted(case)
    assert_event(event, Case.Closed, actor=world.discipline, now=now, aggregate=case, conclusion="已处理完毕")
    assert case.closed is True
    refused(case, CaseAlreadyClosed, case.close, "再次", world.discipline, at(days=6))
    refused(case, CaseAlreadyClosed, case.record_sanction, "talk", "某某", "", world.discipline, at(days=6))


def test_closing_refusals(world):
    case = _case(world)
    refused(case, MissingField, case.close, "", world.discipline, at(days=1))
    refused(case, NotPermitted, case.close, "结案", world.command, at(days=1))


# ------------------------------------------------------------------ inspections
def _plan(world, **changes):
    values = dict(
        county_id=world.county.id,
        title="2026年第一季度数据信息督查",
        source="inspection",
        inspector_ids=(),
        starts_on=date(2026, 3, 2),
        ends_on=date(2026, 3, 6),
        actor=world.command,
        now=T0,
    )
    values.update(changes)
    return Inspection.plan(**values)


def test_an_inspection_is_planned(world):
    i1, i2 = uuid4(), uuid4()
    inspection = _plan(world, title=" 街镇互查 ", source="mutual", inspector_ids=(i1, i2, i1), actor=world.inspector)
    [event] = emitted(inspection)
    assert_event(
        event,
        Inspection.Planned,
        actor=world.inspector,
        now=T0,
        aggregate=inspection,
        county_id=world.county.id,
        title="街镇互查",
        source="mutual",
        inspector_ids=[i1, i2],
        starts_on="2026-03-02",
        ends_on="2026-03-06",
    )
    assert inspection.completed is False


def test_an_inspection_may_last_one_day(world):
    inspection = _plan(world, starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 2))
    assert inspection.ends_on == "2026-03-02"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"ends_on": date(2026, 3, 1)}, InvalidInput),
        ({"title": ""}, MissingField),
        ({"source": "rumour"}, UnknownSource),
        ({"actor": "village_unit"}, NotPermitted),
        ({"actor": "discipline"}, NotPermitted),
        ({"actor": "foreign_inspector"}, WrongCounty),
    ],
)
def test_planning_refusals(world, changes, error):
    if "actor" in changes:
        changes = {"actor": getattr(world, changes["actor"])}
    with pytest.raises(error) as info:
        _plan(world, **changes)
    assert type(info.value) is error


def test_an_inspection_is_completed_once(world):
    inspection = _plan(world)
    inspection.collect_events()
    now = at(days=4)
    inspection.complete(" 发现问题12个 ", world.inspector, now)
    [event] = emitted(inspection)
    assert_event(event, Inspection.Completed, actor=world.inspector, now=now, aggregate=inspection, summary="发现问题12个")
    assert inspection.completed is True
    with pytest.raises(InspectionAlreadyCompleted):
        inspection.require_open()
    refused(inspection, InspectionAlreadyCompleted, inspection.complete, "再次", world.command, at(days=5))


def test_completing_refusals(world):
    inspection = _plan(world)
    inspection.collect_events()
    inspection.require_open()  # an open inspection takes findings
    refused(inspection, NotPermitted, inspection.complete, "结束", world.village_unit, at(days=4))
    refused(inspection, WrongCounty, inspection.complete, "结束", world.foreign_inspector, at(days=4))


# ------------------------------------------------------------------ check items
def test_the_first_finding_on_a_check_item_starts_its_record(world):
    finding_id = uuid4()
    record = CheckItemRecord.start(
        county_id=world.county.id,
        unit_id=world.village.id,
        check_item="  两不愁  三保障 ",
        finding_id=finding_id,
        actor=world.inspector,
        now=T0,
        filed_on=date(2026, 3, 2),
    )
    [event] = emitted(record)
    assert_event(
        event,
        CheckItemRecord.FirstFindingRecorded,
        actor=world.inspector,
        now=T0,
        aggregate=record,
        county_id=world.county.id,
        unit_id=world.village.id,
        check_item="两不愁 三保障",
        finding_id=finding_id,
        filed_on="2026-03-02",
    )
    assert record.id == check_item_record_id(world.village.id, "两不愁 三保障")
    assert record.id == check_item_record_id(world.village.id, "两不愁\t三保障  ")
    assert record.id != check_item_record_id(world.other_village.id, "两不愁 三保障")
    assert record.filed_dates() == [(finding_id, date(2026, 3, 2))]


def test_later_findings_are_recorded_and_decide_repeats(world):
    first, second = uuid4(), uuid4()
    record = CheckItemRecord.start(
        county_id=world.county.id,
        unit_id=world.village.id,
        check_item="两不愁三保障",
        finding_id=first,
        actor=world.inspector,
        now=T0,
        filed_on=date(2026, 3, 2),
    )
    record.collect_events()
    now = at(days=90)
    record.record(second, date(2026, 5, 31), world.command, now)
    [event] = emitted(record)
    assert_event(
        event,
        CheckItemRecord.FindingRecorded,
        actor=world.command,
        now=now,
        aggregate=record,
        finding_id=second,
        filed_on="2026-05-31",
    )
    assert record.filed_dates() == [(first, date(2026, 3, 2)), (second, date(2026, 5, 31))]
    earlier = [day for _, day in record.filed_dates()[:1]]
    assert is_repeat(earlier, date(2026, 5, 31), DEFAULT_RULES)  # 90 days after
    assert not is_repeat(earlier, date(2026, 6, 1), DEFAULT_RULES)  # 91 days after


def test_normalise_check_item():
    assert normalise_check_item("  a \n b\t c ") == "a b c"
