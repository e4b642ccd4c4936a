"""Two writers, one finding: optimistic concurrency on SQLite and on PostgreSQL.

Each writer is its own Duban application object (its own connections) on the
same store, run in its own thread. A barrier inside ``save`` holds every writer
until all of them have loaded the aggregate and decided, so the race is real:
exactly one save wins, the others get ConcurrentChange and record nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from domain.errors import ConcurrentChange
from domain.finding import DeadlineAlreadyMissed, FindingWithdrawn
from domain.service import Duban, UnknownFinding
from tests.integration.county import County, build_county, local, opened, stream


@pytest.fixture
def writers(store_env: dict[str, str]) -> Iterator[list[Duban]]:
    """Four application objects on one store, sharing one travelling clock."""
    with ExitStack() as stack:
        first = stack.enter_context(opened(store_env))
        others = [stack.enter_context(opened(store_env, clock=first.clock)) for _ in range(3)]  # type: ignore[arg-type]
        yield [first, *others]


@pytest.fixture
def county(writers: list[Duban]) -> County:
    return build_county(writers[0])


@contextmanager
def held_at_save(apps: list[Duban]) -> Iterator[threading.Barrier]:
    """Every app's ``save`` waits until all of them are about to save."""
    barrier = threading.Barrier(len(apps), timeout=15)
    for app in apps:
        original = app.save

        def save(*objs: Any, _original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            barrier.wait()
            return _original(*objs, **kwargs)

        app.save = save  # type: ignore[method-assign]
    try:
        yield barrier
    finally:
        for app in apps:
            del app.save  # back to the class's method


def race(apps: list[Duban], commands: list[Callable[[Duban], Any]]) -> list[Any]:
    """Run ``commands[i](apps[i])`` in threads that all load before any saves.
    Returns each command's result, or the exception it raised."""
    results: list[Any] = [None] * len(apps)

    def run(index: int) -> None:
        try:
            results[index] = commands[index](apps[index])
        except BaseException as error:  # noqa: BLE001 - reported to the test
            results[index] = error

    with held_at_save(apps):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(apps))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return results


def winners_and_losers(results: list[Any]) -> tuple[list[int], list[int]]:
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, ConcurrentChange):
            raise result
    winners = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
    losers = [i for i, r in enumerate(results) if isinstance(r, ConcurrentChange)]
    for i in losers:
        assert isinstance(results[i].__cause__, IntegrityError)  # refused by the store itself
    return winners, losers


def kinds(app: Duban, aggregate_id: UUID) -> list[str]:
    return [type(e).__qualname__ for e in app.history(aggregate_id)]


def overdue_finding(county: County) -> UUID:
    app = county.app
    f = county.file()
    app.issue_notice(f, county.inspector)  # deadline 2026-03-16
    county.clock.set(local(2026, 3, 17))
    return f


@pytest.mark.parametrize("writer_count", [2, 4])
def test_record_missed_deadline_at_the_same_instant(writers: list[Duban], county: County, writer_count: int) -> None:
    f = overdue_finding(county)
    apps = writers[:writer_count]
    before = apps[0].position()

    results = race(apps, [lambda app: app.record_missed_deadline(f)] * writer_count)

    winners, losers = winners_and_losers(results)
    assert len(winners) == 1 and len(losers) == writer_count - 1
    assert apps[0].position() == before + 2  # one DeadlineMissed and its deduction, once
    for i in losers:  # retrying gives the domain's answer
        with pytest.raises(DeadlineAlreadyMissed):
            apps[i].record_missed_deadline(f)
    assert apps[0].position() == before + 2
    for app in apps:
        assert stream(app, f) == [1, 2, 3, 4]
        assert kinds(app, f)[-2:] == ["Finding.DeadlineMissed", "Finding.PointsDeducted"]
        assert app.finding(f).missed_deadlines == (1,)
        assert app.finding(f) == apps[0].finding(f)


def test_acknowledge_and_withdraw_race(writers: list[Duban], county: County) -> None:
    f = county.file()
    app_unit, app_inspector = writers[:2]
    app_unit.issue_notice(f, county.inspector)

    results = race(
        [app_unit, app_inspector],
        [
            lambda app: app.acknowledge_notice(f, county.unit_a),
            lambda app: app.withdraw_finding(f, "误报", county.inspector),
        ],
    )
    winners, losers = winners_and_losers(results)
    assert len(winners) == 1 and len(losers) == 1
    if winners == [0]:  # acknowledged first: the withdrawal, retried, still applies
        app_inspector.withdraw_finding(f, "误报", county.inspector)
        assert kinds(app_unit, f)[-2:] == ["Finding.NoticeAcknowledged", "Finding.Withdrawn"]
    else:  # withdrawn first: nothing is left to acknowledge
        with pytest.raises(FindingWithdrawn):
            app_unit.acknowledge_notice(f, county.unit_a)
        assert kinds(app_unit, f)[-1] == "Finding.Withdrawn"
    assert app_unit.finding(f).status == "withdrawn"
    assert stream(app_inspector, f) == list(range(1, app_unit.finding(f).version + 1))


def test_two_circulars_racing_for_the_first_number_of_the_year(writers: list[Duban], county: County) -> None:
    app = writers[0]

    def draft() -> UUID:
        return app.draft_circular(
            county_id=county.county_id, kind="criticism", title="通报", prefix="米脱指发", period="2026Q1",
            body="", finding_ids=[], unit_ids=[county.village_a], actor=county.command,
        ).id  # fmt: skip

    first, second = draft(), draft()
    results = race(
        writers[:2],
        [lambda a: a.issue_circular(first, county.command), lambda a: a.issue_circular(second, county.command)],
    )
    winners, losers = winners_and_losers(results)
    assert len(winners) == 1 and len(losers) == 1
    assert results[winners[0]].value == "米脱指发〔2026〕1号"
    loser = losers[0]
    retried = writers[loser].issue_circular((first, second)[loser], county.command)
    assert retried.value == "米脱指发〔2026〕2号"
    numbers = sorted(app.circular(c).document_number for c in (first, second))
    assert numbers == ["米脱指发〔2026〕1号", "米脱指发〔2026〕2号"]


def test_two_filings_on_the_same_check_item_race(writers: list[Duban], county: County) -> None:
    """The check-item record decides repeats under optimistic concurrency: a filing
    overtaken between its load and its save saves nothing at first, then is decided
    again on the record as the other left it, so both are recorded and it is the repeat.
    (Threads filing at once are in tests/integration/test_service.py.)"""
    first, second = writers[:2]
    overtaken, overtaking = uuid4(), uuid4()
    original = first.save

    def save_after_someone_else(*objs: Any, **kwargs: Any) -> Any:
        del first.save  # only the first attempt is overtaken
        county_file(second, county, overtaking)
        return original(*objs, **kwargs)

    first.save = save_after_someone_else  # type: ignore[method-assign]
    county_file(first, county, overtaken)
    assert first.finding(overtaking).repeat_of is None
    assert first.finding(overtaken).repeat_of == overtaking


def county_file(app: Duban, county: County, finding_id: UUID) -> Any:
    return app.file_finding(
        unit_id=county.village_a, category="missing", source="inspection", severity="general",
        check_item="贫困户档案：收入核算表", description="缺少收入核算", actor=county.inspector, finding_id=finding_id,
    )  # fmt: skip


def test_a_stale_writer_is_refused_deterministically(writers: list[Duban], county: County) -> None:
    """The same race without threads: the second writer saves between the first one's load and save."""
    f = county.file()
    first, second = writers[:2]
    first.issue_notice(f, county.inspector)
    original = first.save

    def save_after_someone_else(*objs: Any, **kwargs: Any) -> Any:
        del first.save
        second.withdraw_finding(f, "误报", county.inspector)
        return original(*objs, **kwargs)

    first.save = save_after_someone_else  # type: ignore[method-assign]
    before = first.position()
    with pytest.raises(ConcurrentChange):
        first.acknowledge_notice(f, county.unit_a)
    assert first.position() == before + 1  # only the withdrawal
    with pytest.raises(FindingWithdrawn):
        first.acknowledge_notice(f, county.unit_a)
    assert stream(first, f) == [1, 2, 3]
