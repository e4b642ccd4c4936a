"""The history verifications view: each recorded run is a row; a replayed
position is refused; a rebuild from the log gives exactly the live rows."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.errors import NotPermitted
from domain.events import SYSTEM_ACTOR
from domain.service import Duban
from projections.runner import Follower, verifications_projection
from projections.verifications import VerificationQuery
from tests.integration.county import County, build_county

View = tuple[Follower, VerificationQuery]


@pytest.fixture
def runs(app: Duban, store_env: dict[str, str]) -> Iterator[View]:
    projection = verifications_projection(store_env)
    follower = Follower(app, projection, batch_size=2, poll_interval=0.05)
    try:
        yield follower, VerificationQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def result(outcome: str = "intact", check: str = "full", **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "check": check, "outcome": outcome, "position": 40, "head": "ab" * 32, "events": 40, "chained_up_to": 40,
        "unchained": 0, "break_kind": "", "break_position": 0, "break_detail": {}, "anchor": "",
        "summary": "历史完整：已核验至第40号事件",
    }  # fmt: skip
    fields.update(extra)
    return fields


def _history(app: Duban, c: County) -> list[str]:
    """A system run, an office's broken run, an anchor check, and another county's run."""
    first = app.record_verification(run_id=uuid4(), actor=SYSTEM_ACTOR, **result()).id
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    detail = {"position": 12, "kind": "changed", "recorded": {"originator_id": "x", "version": 1, "topic": "t"}}
    broken = app.record_verification(
        run_id=uuid4(), actor=c.discipline,
        **result("broken", break_kind="changed", break_position=12, break_detail=detail, summary="第12号事件处发现篡改"),
    ).id  # fmt: skip
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    anchor = app.record_verification(
        run_id=uuid4(), actor=c.discipline, **result("holds", "anchor", anchor=f"{'cd' * 8}@30")
    ).id
    other = build_county(app, name="佳县", prefix="JX")
    app.clock.advance(minutes=5)  # type: ignore[attr-defined]
    elsewhere = app.record_verification(run_id=uuid4(), actor=other.discipline, **result()).id
    return [str(first), str(broken), str(anchor), str(elsewhere)]


def test_rows_follow_the_events(app: Duban, county: County, runs: View) -> None:
    follower, query = runs
    first, broken, anchor, elsewhere = _history(app, county)
    follower.catch_up()
    listed = query.listing(str(county.county_id))
    assert [r["run_id"] for r in listed] == [anchor, broken, first]  # newest first; not the other county's
    assert listed[1]["outcome"] == "broken" and listed[1]["break_position"] == 12
    assert listed[1]["break_detail"]["recorded"]["topic"] == "t"
    assert listed[1]["actor_id"] == county.discipline.user_id and listed[1]["actor_role"] == "discipline"
    assert listed[2]["actor_role"] == "system" and listed[2]["county_id"] is None
    latest = query.latest(str(county.county_id))
    assert latest is not None and latest["run_id"] == broken
    assert query.latest(str(county.county_id), check="anchor")["anchor"] == f"{'cd' * 8}@30"  # type: ignore[index]
    assert query.latest(check=None)["run_id"] == elsewhere  # type: ignore[index]
    assert query.run(first)["summary"].startswith("历史完整")  # type: ignore[index]


def test_a_run_is_recorded_once_and_only_for_the_discipline_office(app: Duban, county: County) -> None:
    run_id = uuid4()
    assert app.record_verification(run_id=run_id, actor=county.discipline, **result()).position is not None
    assert app.record_verification(run_id=run_id, actor=county.discipline, **result()).position is None
    with pytest.raises(NotPermitted):
        app.record_verification(run_id=uuid4(), actor=county.command, **result())


def test_a_replayed_position_is_refused(app: Duban, county: County, runs: View) -> None:
    follower, query = runs
    run_id = app.record_verification(run_id=uuid4(), actor=county.discipline, **result()).id
    follower.catch_up()
    before = query.all_rows()
    [event] = app.history(run_id)
    with pytest.raises(IntegrityError):
        follower.projection.process_event(event, Tracking(app.name, follower.position))
    assert query.all_rows() == before


def test_a_rebuild_gives_exactly_the_live_rows(app: Duban, county: County, runs: View) -> None:
    follower, query = runs
    _history(app, county)
    follower.catch_up()
    live = query.all_rows()
    assert len(live) == 4
    follower.projection.view.drop_view(app.name)
    assert query.all_rows() == []
    follower.catch_up()
    assert query.all_rows() == live
    for batch_size in (1, 1000):
        follower.projection.view.drop_view(app.name)
        Follower(app, follower.projection, batch_size=batch_size).catch_up()
        assert query.all_rows() == live
