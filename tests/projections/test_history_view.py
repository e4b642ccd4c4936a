"""The full-history index and the history-access list: events in, rows out per
subject kind; a replayed position is refused; a rebuild from the log gives
exactly the live rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.errors import NotPermitted
from domain.service import Duban
from projections.history import HistoryQuery
from projections.history_access import HistoryAccessQuery
from projections.runner import Follower, history_access_projection, history_projection
from tests.integration.county import County

View = tuple[Follower, HistoryQuery]


@pytest.fixture
def history(app: Duban, store_env: dict[str, str]) -> Iterator[View]:
    projection = history_projection(store_env)
    follower = Follower(app, projection, batch_size=5, poll_interval=0.05)
    try:
        yield follower, HistoryQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


@pytest.fixture
def access(app: Duban, store_env: dict[str, str]) -> Iterator[tuple[Follower, HistoryAccessQuery]]:
    projection = history_access_projection(store_env)
    follower = Follower(app, projection, batch_size=2, poll_interval=0.05)
    try:
        yield follower, HistoryAccessQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def _world(app: Duban, c: County) -> dict[str, Any]:
    """A finding naming the cadre carried to a deduction and a circular, a
    finding of another village, a unit notice, a case."""
    a = c.file(cadre_ids=(c.cadre_id,))
    app.issue_notice(a, c.inspector)
    app.acknowledge_notice(a, c.unit_a)
    c.clock.advance(days=20)
    app.record_missed_deadline(a)
    other = c.file(unit_id=c.village_b, check_item="危房改造")
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q1",
        body="通报批评。", finding_ids=[a], unit_ids=[c.village_a], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    notice = app.issue_unit_notice(c.village_a, [a], c.inspector).id
    case = app.open_case(county_id=c.county_id, summary="整改不力", actor=c.discipline, finding_ids=[a],
                         subject_unit_id=c.village_a).id  # fmt: skip
    app.rename_unit(c.village_b, "孟岔新村", c.command)
    return {"a": a, "other": other, "circular": circular, "notice": notice, "case": case}


def _originators(query: HistoryQuery, kind: str, subject: UUID | str) -> list[tuple[str, int]]:
    return [(r["originator_id"], r["originator_version"]) for r in query.rows(kind, str(subject), limit=10_000)]


def test_each_kind_of_subject_gets_the_events_that_concern_it(app: Duban, county: County, history: View) -> None:
    follower, query = history
    w = _world(app, county)
    follower.catch_up()
    a, other, circular, notice, case = (str(w[k]) for k in ("a", "other", "circular", "notice", "case"))

    # A finding: its own events, in log order, with who and when.
    finding_rows = query.rows("finding", a, limit=100)
    assert [(r["originator_id"], r["originator_version"]) for r in finding_rows] == [
        (a, e.originator_version) for e in app.history(w["a"])
    ]
    positions = [r["position"] for r in finding_rows]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert finding_rows[0]["actor_id"] == county.inspector.user_id and finding_rows[0]["actor_role"] == "inspector"
    assert finding_rows[0]["topic"].endswith("Finding.Filed")

    # A unit: its own events, its findings', its deductions, its notice, the circular, the case.
    village = {o for o, _ in _originators(query, "unit", county.village_a)}
    assert {str(county.village_a), a, circular, notice, case} <= village
    assert other not in village
    assert other in {o for o, _ in _originators(query, "unit", county.village_b)}
    assert str(county.village_b) in {o for o, _ in _originators(query, "unit", county.village_b)}
    topics = [r["topic"] for r in query.rows("unit", str(county.village_a), limit=1000)]
    assert any(t.endswith("Finding.PointsDeducted") for t in topics)
    assert any(t.endswith("Circular.PointsDeducted") for t in topics)
    assert any(t.endswith("User.Registered") for t in topics)  # its people were registered there

    # A person: the cadre named on the finding sees it; the inspector sees what they did.
    assert a in {o for o, _ in _originators(query, "person", county.cadre_id)}
    assert str(county.cadre_id) in {o for o, _ in _originators(query, "person", county.cadre_id)}
    inspector = {o for o, _ in _originators(query, "person", county.inspector.user_id)}
    assert {a, other, notice} <= inspector and circular not in inspector
    assert {circular, str(county.village_b)} <= {o for o, _ in _originators(query, "person", county.command.user_id)}
    assert case in {o for o, _ in _originators(query, "person", county.discipline.user_id)}
    assert query.count("person", county.non_cadre_id) == 1  # registered, nothing since

    # A circular: its own events only.
    assert {o for o, _ in _originators(query, "circular", circular)} == {circular}
    assert query.count("circular", circular) == len(app.history(w["circular"]))

    # The system's own steps are nobody's person history, and list as "system".
    assert "system" in query.actors("finding", a)
    assert query.count("person", "system") == 0


def test_filters_by_period_and_actor(app: Duban, county: County, history: View) -> None:
    follower, query = history
    w = _world(app, county)
    follower.catch_up()
    a = str(w["a"])
    everything = query.rows("finding", a, limit=100)
    missed = [r for r in everything if r["topic"].endswith("DeadlineMissed")][0]
    since = datetime.fromisoformat(missed["recorded_at"])
    later = query.rows("finding", a, since=since, limit=100)
    assert later and all(r["recorded_at"] >= missed["recorded_at"] for r in later)
    earlier = query.rows("finding", a, before=since, limit=100)
    assert len(earlier) + len(later) == len(everything)
    by_unit = query.rows("finding", a, actor_id=county.unit_a.user_id, limit=100)
    assert [r["topic"].rsplit(".", 1)[1] for r in by_unit] == ["NoticeAcknowledged"]
    assert set(query.actors("finding", a)) == {county.inspector.user_id, county.unit_a.user_id, "system"}
    assert query.count("finding", a, since=datetime(2030, 1, 1, tzinfo=timezone.utc)) == 0
    paged = query.page("finding", a, page=2, per_page=2)
    assert paged.total == len(everything) and paged.rows == everything[2:4]


def test_a_replayed_position_is_refused(app: Duban, county: County, history: View) -> None:
    follower, query = history
    finding = county.file()
    follower.catch_up()
    before = query.all_rows()
    [event] = app.history(finding)
    with pytest.raises(IntegrityError):
        follower.projection.process_event(event, Tracking(app.name, follower.position))
    assert query.all_rows() == before


def test_a_rebuild_gives_exactly_the_live_rows(app: Duban, county: County, history: View) -> None:
    follower, query = history
    w = _world(app, county)
    draft = app.draft_circular(
        county_id=county.county_id, kind="criticism", title="草稿", prefix="米脱指发", period="2026Q1", body="草稿。",
        finding_ids=[w["other"]], unit_ids=[county.village_b], actor=county.command,
    ).id  # fmt: skip
    app.edit_circular(draft, title="草稿二", body="草稿。", finding_ids=[w["a"]], unit_ids=[county.village_a],
                      actor=county.command)  # fmt: skip
    follower.catch_up()
    live = query.all_rows()
    assert {r["table"] for r in live} == {"history_rows", "history_links"}
    # The unit taken off the draft still sees the edit that took it off, not what follows.
    assert (str(draft), 2) in _originators(query, "unit", county.village_b)
    assert (str(draft), 2) in _originators(query, "unit", county.village_a)

    for batch_size in (1, 1000):
        follower.projection.view.drop_view(app.name)
        assert query.all_rows() == []
        Follower(app, follower.projection, batch_size=batch_size).catch_up()
        assert query.all_rows() == live


def test_history_access_is_listed_and_rebuilt(app: Duban, county: County, access: tuple[Follower, HistoryAccessQuery]) -> None:
    follower, query = access
    finding = county.file()
    app.record_history_viewed(county_id=county.county_id, subject_kind="finding", subject_id=finding,
                              subject_name="高庙山村：收入核算表", filters={"from": "2026-03-01", "actor": ""},
                              actor=county.discipline)  # fmt: skip
    county.clock.advance(days=1)
    app.record_history_exported(county_id=county.county_id, subject_kind="unit", subject_id=county.village_a,
                                subject_name="高庙山村", filters={}, events=12, sha256="ab" * 32,
                                actor=county.command)  # fmt: skip
    with pytest.raises(NotPermitted):
        app.record_history_viewed(county_id=county.county_id, subject_kind="unit", subject_id=county.village_a,
                                  subject_name="高庙山村", filters={}, actor=county.inspector)  # fmt: skip
    follower.catch_up()
    listed = query.page(str(county.county_id)).rows
    assert [(r["action"], r["actor_id"], r["subject_kind"]) for r in listed] == [
        ("exported", county.command.user_id, "unit"),
        ("viewed", county.discipline.user_id, "finding"),
    ]
    assert listed[1]["filters"] == {"from": "2026-03-01"} and listed[0]["events"] == 12
    assert [r["actor_id"] for r in query.page(str(county.county_id), actor_id=county.discipline.user_id).rows] == [
        county.discipline.user_id
    ]
    day2 = datetime.combine(date(2026, 3, 3), datetime.min.time(), tzinfo=timezone(timedelta(hours=8)))
    assert [r["action"] for r in query.page(str(county.county_id), since=day2).rows] == ["exported"]
    assert [r["action"] for r in query.page(str(county.county_id), before=day2).rows] == ["viewed"]
    assert set(query.actors(str(county.county_id))) == {county.discipline.user_id, county.command.user_id}
    assert query.page("another-county").total == 0

    live = query.all_rows()
    before = follower.position
    with pytest.raises(IntegrityError):
        follower.projection.process_event(app.history(finding)[0], Tracking(app.name, before))
    follower.projection.view.drop_view(app.name)
    Follower(app, follower.projection, batch_size=1).catch_up()
    assert query.all_rows() == live
