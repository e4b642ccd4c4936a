"""The cases view: events in, rows out; a replayed position is refused; a
rebuild from the log gives exactly the live rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.service import Duban
from projections.cases import CaseQuery
from projections.runner import Follower, cases_projection
from tests.integration.county import County

View = tuple[Follower, CaseQuery]


@pytest.fixture
def cases(app: Duban, store_env: dict[str, str]) -> Iterator[View]:
    projection = cases_projection(store_env)
    follower = Follower(app, projection, batch_size=3, poll_interval=0.05)
    try:
        yield follower, CaseQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def _history(app: Duban, c: County) -> tuple[str, str]:
    """Two cases: one from two findings, linked, heard, sanctioned twice and
    closed; one opened on the office's own initiative."""
    a, b, d = c.file(), c.file(check_item="家庭成员信息"), c.file(unit_id=c.village_b, check_item="危房改造")
    first = app.open_case(
        county_id=c.county_id, summary="拒不整改", actor=c.discipline, finding_ids=[a, b], subject_unit_id=c.village_a
    ).id
    second = app.open_case(county_id=c.county_id, summary="群众举报", actor=c.discipline).id
    app.link_case_findings(first, [d], c.discipline)
    app.record_hearing(first, date(2026, 3, 2), "村支书", "承认整改不力", c.discipline)
    app.record_sanction(first, "talk", "村支书", "约谈", c.discipline)
    app.record_sanction(first, "criticism", "高庙山村", "", c.discipline)
    app.close_case(first, "已处理", c.discipline)
    return str(first), str(second)


def test_rows_follow_the_events(app: Duban, county: County, cases: View) -> None:
    follower, query = cases
    first, second = _history(app, county)
    follower.catch_up()
    listed = query.listing(str(county.county_id))
    assert {row["case_id"] for row in listed} == {first, second}
    row = query.case(first)
    assert row is not None
    assert row["status"] == "closed" and row["conclusion"] == "已处理" and row["hearings"] == 1
    assert row["subject_unit_id"] == str(county.village_a)
    assert len(row["finding_ids"]) == 3
    assert [(s["number"], s["sanction"], s["subject"]) for s in row["sanctions"]] == [
        (1, "talk", "村支书"),
        (2, "criticism", "高庙山村"),
    ]
    assert query.case(second)["status"] == "open"  # type: ignore[index]
    assert query.case(second)["subject_unit_id"] is None  # type: ignore[index]
    assert [r["case_id"] for r in query.listing(str(county.county_id), status="open")] == [second]
    assert query.cases_of_findings(row["finding_ids"][:1]) == {row["finding_ids"][0]: [first]}
    assert query.listing("another-county") == []


def test_a_replayed_position_is_refused(app: Duban, county: County, cases: View) -> None:
    follower, query = cases
    case_id = app.open_case(county_id=county.county_id, summary="群众举报", actor=county.discipline).id
    follower.catch_up()
    before = query.all_rows()
    [event] = app.history(case_id)
    with pytest.raises(IntegrityError):
        follower.projection.process_event(event, Tracking(app.name, follower.position))
    assert query.all_rows() == before


def test_a_rebuild_gives_exactly_the_live_rows(app: Duban, county: County, cases: View) -> None:
    follower, query = cases
    _history(app, county)
    follower.catch_up()
    live = query.all_rows()
    assert {r["table"] for r in live} == {"cases", "case_findings", "case_sanctions"}

    follower.projection.view.drop_view(app.name)
    assert follower.position == 0
    assert query.all_rows() == []
    follower.catch_up()
    assert query.all_rows() == live

    for batch_size in (1, 1000):
        follower.projection.view.drop_view(app.name)
        Follower(app, follower.projection, batch_size=batch_size).catch_up()
        assert query.all_rows() == live
