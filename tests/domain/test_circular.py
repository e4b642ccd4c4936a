"""Circulars (通报) and the numbering of official documents."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from domain.circular import (
    CircularAlreadyRevoked,
    CircularNotDraft,
    CircularNotIssued,
    Circular,
    DocumentSeries,
    EmptyCircular,
    UnknownCircularKind,
    format_document_number,
    series_id,
)
from domain.errors import MissingField, NotPermitted, ReasonRequired, WrongCounty
from domain.rules.rulebook import Rules
from tests.domain.helpers import T0, UTC, assert_event, at, emitted, refused

PREFIX = "米脱指发"


def _draft(world, kind="criticism", unit_ids=None, finding_ids=(), now=T0):
    circular = Circular.draft(
        county_id=world.county.id,
        kind=kind,
        title="关于数据信息管理工作整改不到位情况的通报",
        prefix=PREFIX,
        period="2026Q1",
        body="经查……",
        finding_ids=tuple(finding_ids),
        unit_ids=tuple((world.village.id, world.other_village.id) if unit_ids is None else unit_ids),
        actor=world.command,
        now=now,
    )
    circular.collect_events()
    return circular


def _series(world, last=0):
    series = DocumentSeries.open(county_id=world.county.id, prefix=PREFIX, year=2026, actor=world.command, now=T0)
    for _ in range(last):
        series.assign_next(world.zone.id, world.command, T0)
    series.collect_events()
    return series


# ------------------------------------------------------------------ numbering
@pytest.mark.parametrize(
    ("year", "sequence", "number"),
    [(2026, 12, "米脱指发〔2026〕12号"), (2026, 1, "米脱指发〔2026〕1号"), (2027, 105, "米脱指发〔2027〕105号")],
)
def test_document_numbers_follow_gb_t_9704(year, sequence, number):
    assert format_document_number(PREFIX, year, sequence) == number


def test_a_document_series_is_opened_per_authority_code_and_year(world):
    series = DocumentSeries.open(county_id=world.county.id, prefix=PREFIX, year=2026, actor=world.command, now=T0)
    [event] = emitted(series)
    assert_event(
        event,
        DocumentSeries.Opened,
        actor=world.command,
        now=T0,
        aggregate=series,
        county_id=world.county.id,
        prefix=PREFIX,
        year=2026,
    )
    assert series.id == series_id(world.county.id, PREFIX, 2026)
    assert series.id != series_id(world.county.id, PREFIX, 2027)
    assert series.id != series_id(world.county.id, "米脱指办发", 2026)
    assert series.last_sequence == 0


def test_numbers_are_assigned_one_after_another(world):
    series = _series(world)
    first, second = world.village.id, world.town.id
    assert series.assign_next(first, world.command, at(days=1)) == "米脱指发〔2026〕1号"
    assert series.assign_next(second, world.command, at(days=2)) == "米脱指发〔2026〕2号"
    e1, e2 = emitted(series)
    assert_event(e1, DocumentSeries.NumberAssigned, actor=world.command, now=at(days=1), sequence=1, document_id=first)
    assert_event(e2, DocumentSeries.NumberAssigned, actor=world.command, now=at(days=2), sequence=2, document_id=second)
    assert series.last_sequence == 2


# ------------------------------------------------------------------ drafting
def test_a_circular_is_drafted(world):
    finding_ids = (world.town.id, world.zone.id, world.town.id)  # opaque ids
    circular = Circular.draft(
        county_id=world.county.id,
        kind="criticism",
        title=" 关于整改不到位的通报 ",
        prefix=" 米脱指发 ",
        period="2026Q1",
        body="正文",
        finding_ids=finding_ids,
        unit_ids=(world.village.id, world.village.id, world.other_village.id),
        actor=world.command,
        now=T0,
    )
    [event] = emitted(circular)
    assert_event(
        event,
        Circular.Drafted,
        actor=world.command,
        now=T0,
        aggregate=circular,
        county_id=world.county.id,
        kind="criticism",
        title="关于整改不到位的通报",
        prefix=PREFIX,
        period="2026Q1",
        body="正文",
        finding_ids=[world.town.id, world.zone.id],
        unit_ids=[world.village.id, world.other_village.id],
    )
    assert circular.status == "draft"
    assert circular.document_number is None


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"kind": "praise"}, UnknownCircularKind),
        ({"title": "  "}, MissingField),
        ({"prefix": ""}, MissingField),
    ],
)
def test_drafting_refuses_bad_input(world, changes, error):
    values = dict(
        county_id=world.county.id,
        kind="ranking",
        title="2026年第一季度考评排名",
        prefix=PREFIX,
        period="2026Q1",
        body="",
        finding_ids=(),
        unit_ids=(),
        actor=world.command,
        now=T0,
    )
    values.update(changes)
    with pytest.raises(error):
        Circular.draft(**values)


@pytest.mark.parametrize(
    ("actor", "error"),
    [("inspector", NotPermitted), ("discipline", NotPermitted), ("foreign_command", WrongCounty)],
)
def test_only_the_county_command_office_drafts_circulars(world, actor, error):
    with pytest.raises(error):
        Circular.draft(
            county_id=world.county.id,
            kind="ranking",
            title="排名",
            prefix=PREFIX,
            period="2026Q1",
            body="",
            finding_ids=(),
            unit_ids=(),
            actor=getattr(world, actor),
            now=T0,
        )


def test_a_draft_is_edited(world):
    circular = _draft(world)
    now = at(days=1)
    circular.edit(
        title=" 新标题 ",
        body="新正文",
        finding_ids=(world.zone.id,),
        unit_ids=(world.department.id, world.department.id),
        actor=world.command,
        now=now,
    )
    [event] = emitted(circular)
    assert_event(
        event,
        Circular.Edited,
        actor=world.command,
        now=now,
        aggregate=circular,
        title="新标题",
        body="新正文",
        finding_ids=[world.zone.id],
        unit_ids=[world.department.id],
    )
    assert circular.title == "新标题"
    assert circular.unit_ids == (world.department.id,)


def test_editing_refusals(world):
    circular = _draft(world)
    values = dict(title="新标题", body="", finding_ids=(), unit_ids=())
    refused(circular, MissingField, lambda: circular.edit(**{**values, "title": ""}, actor=world.command, now=T0))
    refused(circular, NotPermitted, lambda: circular.edit(**values, actor=world.inspector, now=T0))
    refused(circular, WrongCounty, lambda: circular.edit(**values, actor=world.foreign_command, now=T0))
    circular.issue(_series(world), world.rules, world.command, at(days=1))
    circular.collect_events()
    refused(circular, CircularNotDraft, lambda: circular.edit(**values, actor=world.command, now=at(days=2)))


# ------------------------------------------------------------------ issuing
def test_issuing_a_criticism_numbers_it_and_deducts_for_every_listed_unit(world):
    circular = _draft(world)
    series = _series(world, last=11)
    now = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 1 April in Shanghai: 2026Q2
    number = circular.issue(series, world.rules, world.command, now)
    assert number == "米脱指发〔2026〕12号"
    [assigned] = emitted(series)
    assert_event(
        assigned,
        DocumentSeries.NumberAssigned,
        actor=world.command,
        now=now,
        aggregate=series,
        sequence=12,
        document_id=circular.id,
    )
    issued, first, second = emitted(circular)
    assert_event(
        issued,
        Circular.Issued,
        actor=world.command,
        now=now,
        aggregate=circular,
        document_number="米脱指发〔2026〕12号",
        issued_on="2026-04-01",
        finding_ids=[],
        unit_ids=[world.village.id, world.other_village.id],
        pdf_sha256="",
    )
    reason = "全县通报批评：米脱指发〔2026〕12号《关于数据信息管理工作整改不到位情况的通报》"
    for event, number_, unit in ((first, 1, world.village), (second, 2, world.other_village)):
        assert_event(
            event,
            Circular.PointsDeducted,
            actor=world.command,
            now=now,
            aggregate=circular,
            deduction_number=number_,
            unit_id=unit.id,
            points=Decimal("2"),
            rule_id="circular",
            rulebook_version=1,
            period="2026Q2",
            reason=reason,
        )
    assert circular.status == "issued"
    assert circular.document_number == "米脱指发〔2026〕12号"
    assert circular.issued_on == "2026-04-01"
    assert circular.deduction_count == 2


def test_a_criticism_deducts_the_circular_points_of_the_rulebook_version(world):
    world.rulebook.adopt(
        Rules.from_dict({"circular_points": "3", "period": "year"}), date(2026, 3, 3), world.command, T0
    )
    version = world.rulebook.in_force_on(date(2026, 3, 3))
    circular = _draft(world, unit_ids=(world.department.id,))
    circular.issue(_series(world), version, world.command, at(days=1))
    _, deducted = emitted(circular)
    assert (deducted.points, deducted.rulebook_version, deducted.period) == (Decimal("3"), 2, "2026")
    assert deducted.unit_id == world.department.id


def test_a_ranking_circular_deducts_nothing(world):
    circular = _draft(world, kind="ranking", unit_ids=())
    series = _series(world)
    now = at(days=1)
    assert circular.issue(series, world.rules, world.command, now) == "米脱指发〔2026〕1号"
    [issued] = emitted(circular)
    assert_event(
        issued,
        Circular.Issued,
        actor=world.command,
        now=now,
        document_number="米脱指发〔2026〕1号",
        issued_on="2026-03-03",
        finding_ids=[],
        unit_ids=[],
        pdf_sha256="",
    )
    assert circular.deduction_count == 0


def test_two_circulars_take_consecutive_numbers(world):
    series = _series(world)
    one, two = _draft(world), _draft(world, kind="ranking")
    assert one.issue(series, world.rules, world.command, at(days=1)) == "米脱指发〔2026〕1号"
    assert two.issue(series, world.rules, world.command, at(days=2)) == "米脱指发〔2026〕2号"
    assert [e.sequence for e in emitted(series)] == [1, 2]


def test_a_circular_is_issued_once_and_takes_no_second_number(world):
    circular = _draft(world)
    series = _series(world)
    circular.issue(series, world.rules, world.command, at(days=1))
    circular.collect_events()
    series.collect_events()
    refused(circular, CircularNotDraft, circular.issue, series, world.rules, world.command, at(days=2))
    assert series.pending_events == [] and series.last_sequence == 1


def test_a_criticism_must_list_a_unit(world):
    circular = _draft(world, unit_ids=())
    series = _series(world)
    refused(circular, EmptyCircular, circular.issue, series, world.rules, world.command, at(days=1))
    assert series.pending_events == [] and series.last_sequence == 0


@pytest.mark.parametrize(
    ("actor", "error"), [("inspector", NotPermitted), ("foreign_command", WrongCounty)]
)
def test_only_the_county_command_office_issues(world, actor, error):
    circular = _draft(world)
    series = _series(world)
    refused(circular, error, circular.issue, series, world.rules, getattr(world, actor), at(days=1))
    assert series.pending_events == []


# ------------------------------------------------------------------ revoking
def test_an_issued_circular_is_revoked(world):
    circular = _draft(world)
    circular.issue(_series(world), world.rules, world.command, at(days=1))
    circular.collect_events()
    now = at(days=3)
    circular.revoke(" 所列情况有误 ", world.command, now)
    [event] = emitted(circular)
    assert_event(event, Circular.Revoked, actor=world.command, now=now, aggregate=circular, reason="所列情况有误")
    assert circular.status == "revoked"
    assert circular.document_number == "米脱指发〔2026〕1号"  # the number is never reused


def test_revoking_refusals(world):
    circular = _draft(world)
    refused(circular, CircularNotIssued, circular.revoke, "有误", world.command, at(days=1))
    circular.issue(_series(world), world.rules, world.command, at(days=1))
    circular.collect_events()
    refused(circular, ReasonRequired, circular.revoke, " ", world.command, at(days=2))
    refused(circular, NotPermitted, circular.revoke, "有误", world.inspector, at(days=2))
    refused(circular, WrongCounty, circular.revoke, "有误", world.foreign_command, at(days=2))
    circular.revoke("有误", world.command, at(days=2))
    circular.collect_events()
    refused(circular, CircularAlreadyRevoked, circular.revoke, "再次", world.command, at(days=3))
    refused(circular, CircularNotDraft, circular.issue, _series(world), world.rules, world.command, at(days=3))
