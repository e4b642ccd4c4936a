"""The overdue sweep's many-at-once recording (``Duban.record_missed_deadlines``):
each passed deadline is recorded once, in one save for the batch; a finding not
(or no longer) missable is skipped; if another process changed one of the batch
meanwhile, nothing of the batch was saved and each is recorded on its own."""

from __future__ import annotations

from uuid import UUID

from domain.events import SYSTEM_ACTOR
from domain.service import Duban
from tests.integration.county import County, SaveSpy, local


def noticed(app: Duban, county: County, unit_id: UUID) -> UUID:
    finding = county.file(unit_id)
    app.issue_notice(finding, county.inspector)
    return finding


def test_a_batch_records_each_passed_deadline_once_in_one_save(app: Duban, county: County, spy: SaveSpy) -> None:
    late = [noticed(app, county, county.village_a), noticed(app, county, county.village_b)]
    county.clock.set(local(2026, 4, 30))
    not_due = noticed(app, county, county.village_a)
    saves = len(spy.calls)

    done = app.record_missed_deadlines([app.finding(f) for f in (*late, not_due)], SYSTEM_ACTOR)

    assert (done.recorded, done.skipped) == (2, 1)
    assert len(spy.calls) == saves + 1  # one transaction for the batch
    assert spy.calls[-1] == ["Finding.DeadlineMissed", "Finding.PointsDeducted"] * 2
    assert done.position == app.position()
    assert [len(app.finding(f).missed_deadlines) for f in late] == [1, 1]
    assert app.finding(not_due).missed_deadlines == ()

    again = app.record_missed_deadlines([app.finding(f) for f in late], SYSTEM_ACTOR)
    assert (again.recorded, again.skipped, again.position) == (0, 2, None)
    assert len(spy.calls) == saves + 1


def test_a_batch_that_meets_a_concurrent_change_is_recorded_one_by_one(app: Duban, county: County) -> None:
    first, second = noticed(app, county, county.village_a), noticed(app, county, county.village_b)
    county.clock.set(local(2026, 4, 30))
    stale = [app.finding(first), app.finding(second)]
    app.record_missed_deadline(first)  # another process got there first

    done = app.record_missed_deadlines(stale, SYSTEM_ACTOR)

    assert (done.recorded, done.skipped) == (1, 1)
    assert [len(app.finding(f).missed_deadlines) for f in (first, second)] == [1, 1]
