"""A case's later steps: linking more findings and recording a hearing."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from domain.case import Case, CaseAlreadyClosed, FindingsAlreadyLinked, HearingInTheFuture
from domain.errors import MissingField, NotPermitted, WrongCounty
from domain.events import DISCIPLINE, Actor
from tests.domain.helpers import T0, assert_event, at, emitted, refused


def _case(world, finding_ids=()):
    case = Case.open(
        county_id=world.county.id,
        subject_unit_id=world.village.id,
        finding_ids=tuple(finding_ids),
        summary="拒不整改",
        actor=world.discipline,
        now=T0,
    )
    case.collect_events()
    return case


def test_more_findings_are_linked_once_each(world):
    first, second, third = uuid4(), uuid4(), uuid4()
    case = _case(world, [first])
    now = at(days=1)
    case.link_findings((second, first, third, second), world.discipline, now)
    [event] = emitted(case)
    assert_event(event, Case.FindingsLinked, actor=world.discipline, now=now, aggregate=case, finding_ids=[second, third])
    assert case.finding_ids == (first, second, third)


def test_linking_refusals(world):
    first = uuid4()
    case = _case(world, [first])
    refused(case, MissingField, case.link_findings, (), world.discipline, at(days=1))
    refused(case, FindingsAlreadyLinked, case.link_findings, (first,), world.discipline, at(days=1))
    refused(case, NotPermitted, case.link_findings, (uuid4(),), world.command, at(days=1))
    refused(case, WrongCounty, case.link_findings, (uuid4(),), Actor(user_id=str(uuid4()), role=DISCIPLINE, county_id=world.foreign_county.id), at(days=1))
    case.close("结案", world.discipline, at(days=2))
    case.collect_events()
    refused(case, CaseAlreadyClosed, case.link_findings, (uuid4(),), world.discipline, at(days=3))


def test_a_hearing_is_recorded(world):
    case = _case(world)
    now = at(days=2)
    case.record_hearing(date(2026, 3, 3), " 村支书、第一书记 ", " 承认整改不力 ", world.discipline, now)
    [event] = emitted(case)
    assert_event(
        event,
        Case.HearingRecorded,
        actor=world.discipline,
        now=now,
        aggregate=case,
        held_on="2026-03-03",
        participants="村支书、第一书记",
        note="承认整改不力",
    )
    assert case.hearings == 1


def test_hearing_refusals(world):
    case = _case(world)
    today = date(2026, 3, 4)  # at(days=2) is 4 March in Beijing
    later = at(days=2)
    refused(case, HearingInTheFuture, case.record_hearing, date(2026, 3, 5), "某某", "情况", world.discipline, later)
    refused(case, MissingField, case.record_hearing, today, " ", "情况", world.discipline, later)
    refused(case, MissingField, case.record_hearing, today, "某某", " ", world.discipline, later)
    refused(case, NotPermitted, case.record_hearing, today, "某某", "情况", world.command, later)
    case.close("结案", world.discipline, later)
    case.collect_events()
    refused(case, CaseAlreadyClosed, case.record_hearing, today, "某某", "情况", world.discipline, later)
