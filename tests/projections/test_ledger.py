"""The live problem ledger (问题台账): events in, rows out; a replayed position is
rejected; a rebuild equals the live view; the follower's waiting and its thread.
Every test runs on SQLite and on PostgreSQL (``store_env``)."""

from __future__ import annotations

import json
import time
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.events import local_date
from domain.rules.rulebook import Rules
from domain.service import Duban
from projections.ledger_query import LedgerFilter, LedgerQuery
from projections import runner
from projections.runner import Follower
from tests.integration.county import County, local

View = tuple[Follower, LedgerQuery]


def rows_of(query: LedgerQuery, table: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "table"} for r in query.all_rows() if r["table"] == table]


def row(query: LedgerQuery, finding_id: UUID) -> dict[str, Any]:
    found = [r for r in rows_of(query, "ledger_findings") if r["finding_id"] == str(finding_id)]
    assert len(found) == 1, found
    return found[0]


def deductions(query: LedgerQuery, finding_id: UUID) -> list[tuple[int, str, Decimal, int, int]]:
    return [
        (r["number"], r["rule_id"], Decimal(r["points"]), r["rulebook_version"], r["reversed"])
        for r in rows_of(query, "ledger_deductions")
        if r["finding_id"] == str(finding_id)
    ]


def caught_up(follower: Follower, query: LedgerQuery, finding_id: UUID) -> dict[str, Any]:
    follower.catch_up()
    assert follower.position == follower.app.position()
    return row(query, finding_id)


def matches_aggregate(app: Duban, query: LedgerQuery) -> None:
    """Each ledger row says what its finding aggregate says."""
    for r in rows_of(query, "ledger_findings"):
        f = app.finding(UUID(r["finding_id"]))
        assert r["status"] == f.status
        assert r["deadline"] == f.deadline
        assert r["deadline_basis"] == f.deadline_basis
        assert r["missed_count"] == len(f.missed_deadlines)
        assert r["rejections"] == f.rejections
        assert Decimal(r["points"]) == f.points_deducted
        # A withdrawn finding's pending request is moot; the ledger clears it.
        assert r["pending_extension"] == (None if f.status == "withdrawn" else f.pending_extension)
        assert bool(r["escalated"]) == f.escalated
        assert r["closed_on"] == f.closed_on
        assert r["version"] == f.version


# Events in, rows out
def test_each_finding_event_changes_its_row(app: Duban, county: County, view: View) -> None:
    follower, query = view
    c = county
    f = c.file(cadre_ids=[c.cadre_id], household_no="612727199001011234")
    r = caught_up(follower, query, f)
    assert r["status"] == "filed"
    assert (r["unit_id"], r["town_id"], r["zone_id"], r["county_id"]) == (
        str(c.village_a), str(c.town_id), str(c.zone_id), str(c.county_id),
    )  # fmt: skip
    assert (r["category"], r["severity"], r["source"]) == ("missing", "general", "inspection")
    assert json.loads(r["cadre_ids"]) == [str(c.cadre_id)]
    links = rows_of(query, "ledger_finding_cadres")
    assert [(x["user_id"], x["finding_id"]) for x in links] == [(str(c.cadre_id), str(f))]
    assert query.findings_naming(str(c.cadre_id)) == (str(f),)
    assert [x["finding_id"] for x in query.page(LedgerFilter(cadre_id=str(c.cadre_id)), date(2026, 3, 2)).rows] == [
        str(f)
    ]
    assert r["household_masked"] == "612727********1234"
    assert (r["is_repeat"], r["filed_on"], r["version"], Decimal(r["points"])) == (0, "2026-03-02", 1, 0)
    assert (r["deadline"], r["missed_count"], r["rejections"], r["escalated"]) == (None, 0, 0, 0)

    app.issue_notice(f, c.inspector)
    r = caught_up(follower, query, f)
    assert (r["status"], r["deadline"], r["deadline_basis"], r["version"]) == ("open", "2026-03-16", "chinese_calendar", 2)

    c.clock.advance(days=1)
    app.acknowledge_notice(f, c.unit_a)
    r = caught_up(follower, query, f)
    assert r["status"] == "acknowledged"
    assert r["updated_at"] == c.clock().isoformat()

    app.request_extension(f, date(2026, 3, 20), "需要入户核实", c.unit_a)
    assert caught_up(follower, query, f)["pending_extension"] == "2026-03-20"
    app.grant_extension(f, c.command)
    r = caught_up(follower, query, f)
    assert (r["pending_extension"], r["deadline"], r["deadline_basis"]) == (None, "2026-03-20", "extension")
    app.request_extension(f, date(2026, 3, 27), "仍需核实", c.unit_a)
    app.deny_extension(f, "理由不充分", c.command)
    r = caught_up(follower, query, f)
    assert (r["pending_extension"], r["deadline"]) == (None, "2026-03-20")

    app.submit_rectification(f, "已补录", c.unit_a)
    assert caught_up(follower, query, f)["status"] == "submitted"

    c.clock.set(local(2026, 3, 5))
    app.reject_rectification(f, "未签字", c.inspector)
    r = caught_up(follower, query, f)
    assert (r["status"], r["rejections"], r["deadline"], r["deadline_basis"]) == (
        "open", 1, "2026-03-19", "chinese_calendar",
    )  # fmt: skip
    assert Decimal(r["points"]) == Decimal("0.5")
    assert deductions(query, f) == [(1, "inadequate", Decimal("0.5"), 1, 0)]

    c.clock.set(local(2026, 3, 20))
    app.record_missed_deadline(f)
    r = caught_up(follower, query, f)
    assert (r["missed_count"], Decimal(r["points"])) == (1, Decimal("1.0"))
    assert deductions(query, f)[1] == (2, "overdue", Decimal("0.5"), 1, 0)
    assert query.finding(str(f), date(2026, 3, 20))["days_overdue"] == 1

    # A new deadline can be missed again: counted once per deadline.
    app.request_extension(f, date(2026, 3, 24), "需要入户核实", c.unit_a)
    app.grant_extension(f, c.command)
    c.clock.set(local(2026, 3, 25))
    app.record_missed_deadline(f)
    r = caught_up(follower, query, f)
    assert (r["missed_count"], r["deadline"], Decimal(r["points"])) == (2, "2026-03-24", Decimal("1.5"))

    app.reverse_deduction(f, 1, "申诉成立", c.command)
    r = caught_up(follower, query, f)
    assert Decimal(r["points"]) == Decimal("1.0")
    assert deductions(query, f)[0] == (1, "inadequate", Decimal("0.5"), 1, 1)
    assert [d[4] for d in deductions(query, f)] == [1, 0, 0]

    app.escalate(f, "拒不整改", c.command)
    assert caught_up(follower, query, f)["escalated"] == 1

    app.submit_rectification(f, "已整改", c.unit_a)
    c.clock.set(local(2026, 3, 27))
    app.accept_rectification(f, c.inspector)
    r = caught_up(follower, query, f)
    assert (r["status"], r["closed_on"]) == ("closed", "2026-03-27")
    assert query.finding(str(f), date(2026, 4, 30))["days_overdue"] == 0

    w = c.file(unit_id=c.village_b, check_item="危房改造台账")
    app.issue_notice(w, c.inspector)
    app.request_extension(w, date(2026, 4, 30), "需要入户核实", c.unit_b)
    assert caught_up(follower, query, w)["pending_extension"] == "2026-04-30"
    app.withdraw_finding(w, "误报", c.inspector)
    r = caught_up(follower, query, w)
    assert (r["status"], r["pending_extension"]) == ("withdrawn", None)

    repeat = c.file(check_item="贫困户档案：收入核算表")
    assert caught_up(follower, query, repeat)["is_repeat"] == 1
    matches_aggregate(app, query)


def test_org_events_and_derived_places(app: Duban, county: County, view: View) -> None:
    follower, query = view
    c = county
    department_finding = c.file(unit_id=c.department_id)
    village_finding = c.file(unit_id=c.village_b)
    follower.catch_up()
    r = row(query, department_finding)
    assert (r["zone_id"], r["town_id"]) == (None, None)

    units = {u["unit_id"]: u for u in rows_of(query, "ledger_units")}
    assert len(units) == 8
    assert units[str(c.village_a)]["parent_id"] == str(c.town_id)
    assert units[str(c.county_id)]["parent_id"] is None
    users = {u["user_id"]: u for u in rows_of(query, "ledger_users")}
    assert users[str(c.cadre_id)]["roles"] == "cadre"

    # A rename shows up wherever the unit's name is shown.
    app.rename_unit(c.town_id, "银州街道办事处", c.command)
    app.grant_role(c.non_cadre_id, "cadre", c.command)
    app.grant_role(c.non_cadre_id, "inspector", c.command)
    app.revoke_role(c.non_cadre_id, "unit", c.command)
    town2 = app.register_unit(name="桃镇", kind="town", parent_id=c.zone_id, actor=c.command).id
    app.move_unit(c.village_b, town2, c.command)
    app.retire_unit(c.department_id, "机构改革", c.command)
    follower.catch_up()
    today = local_date(c.clock())
    page = query.page(LedgerFilter(county_id=str(c.county_id), town_id=str(c.town_id)), today)
    assert page.total == 1
    assert page.rows[0]["town_name"] == "银州街道办事处"
    assert page.rows[0]["zone_name"] == "东战区"
    assert page.rows[0]["unit_name"] == "孟岔村"
    units = {u["unit_id"]: u for u in rows_of(query, "ledger_units")}
    assert units[str(c.town_id)]["name"] == "银州街道办事处"
    assert units[str(c.village_b)]["parent_id"] == str(town2)
    assert units[str(c.department_id)]["retired"] == 1
    assert set(query.subtree(str(c.town_id))) == {str(c.town_id), str(c.village_a)}
    assert set(query.subtree(str(c.zone_id))) == {str(c.zone_id), str(c.town_id), str(c.village_a), str(town2), str(c.village_b)}
    assert len(query.subtree(str(c.county_id))) == 9  # the 8 units and the new town
    users = {u["user_id"]: u for u in rows_of(query, "ledger_users")}
    assert users[str(c.non_cadre_id)]["roles"] == "cadre,inspector"
    # The town a finding was filed under is the one recorded then; later filings follow the move.
    assert row(query, village_finding)["town_id"] == str(c.town_id)
    moved = c.file(unit_id=c.village_b, check_item="家庭成员信息")
    assert caught_up(follower, query, moved)["town_id"] == str(town2)


# Replays are rejected
def test_a_replayed_position_is_rejected_and_changes_nothing(app: Duban, county: County, view: View) -> None:
    follower, query = view
    c = county
    f = c.file()
    app.issue_notice(f, c.inspector)
    c.clock.set(local(2026, 3, 17))
    app.record_missed_deadline(f)
    app.adopt_rules(c.county_id, Rules(overdue_points=Decimal("1")), date(2026, 4, 1), c.command)
    follower.catch_up()
    head = follower.position
    assert head == app.position()
    before = query.all_rows()

    projection = follower.projection
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    by_kind = {type(app.mapper.to_domain_event(n)).__qualname__: n for n in notifications}
    missed = by_kind["Finding.DeadlineMissed"]  # would add 1 to missed_count if applied again
    missed_event = app.mapper.to_domain_event(missed)
    filed = by_kind["Finding.Filed"]  # would insert a second row if applied again
    filed_event = app.mapper.to_domain_event(filed)

    for event, position in ((missed_event, missed.id), (filed_event, filed.id), (missed_event, head)):
        with pytest.raises(IntegrityError):
            projection.process_event(event, Tracking(app.name, position))
        with pytest.raises(IntegrityError):
            projection.process_batch([(event, Tracking(app.name, position))])
    with pytest.raises(IntegrityError):
        projection.process_batch([], caught_up_to=Tracking(app.name, head))
    # A batch that starts beyond the head but ends on a replayed position is refused whole.
    with pytest.raises(IntegrityError):
        projection.process_batch(
            [(missed_event, Tracking(app.name, head + 1)), (missed_event, Tracking(app.name, missed.id))]
        )
    assert query.all_rows() == before
    assert follower.position == head
    assert row(query, f)["missed_count"] == 1

    # The follower itself never replays: catching up again does nothing.
    assert follower.catch_up() == 0
    assert query.all_rows() == before


# Rebuild equals live
def test_rebuild_equals_live(
    app: Duban, county: County, view: View, store_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    follower, query = view
    c = county
    clock = c.clock
    follower.step()  # part of the org chart only: batches of 7

    a = c.file(cadre_ids=[c.cadre_id], household_no="612727199001011234")
    b = c.file(unit_id=c.village_b, severity="serious", category="outdated")
    d = c.file(unit_id=c.department_id, severity="grave", check_item="教育资助名单")
    follower.step()
    for f in (a, b, d):
        app.issue_notice(f, c.inspector)
    follower.step()
    app.rename_unit(c.town_id, "银州街道办事处", c.command)
    clock.advance(days=1)
    app.acknowledge_notice(a, c.unit_a)
    app.request_extension(b, date(2026, 3, 31), "需要入户核实", c.unit_b)
    follower.catch_up()
    app.grant_extension(b, c.command)
    app.adopt_rules(c.county_id, Rules(inadequate_points=Decimal("1.5")), date(2026, 3, 10), c.command)
    app.submit_rectification(a, "已补录", c.unit_a)
    follower.step()
    clock.set(local(2026, 3, 10))
    app.reject_rectification(a, "未签字", c.inspector)  # v2: 1.5
    clock.set(local(2026, 3, 11))
    app.record_missed_deadline(d)
    town2 = app.register_unit(name="桃镇", kind="town", parent_id=c.zone_id, actor=c.command).id
    app.move_unit(c.village_b, town2, c.command)
    follower.step()
    e = c.file(unit_id=c.village_b, check_item="家庭成员信息")
    repeat = c.file(check_item="贫困户档案：收入核算表")
    app.withdraw_finding(e, "误报", c.inspector)
    app.reverse_deduction(d, 1, "申诉成立", c.command)
    app.escalate(d, "拒不整改", c.command)
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="通报", prefix="米脱指发", period="2026Q1", body="",
        finding_ids=[a], unit_ids=[c.village_a], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    follower.catch_up()
    clock.set(local(2026, 4, 1))
    app.record_missed_deadline(a)
    app.submit_rectification(a, "已整改", c.unit_a)
    app.accept_rectification(a, c.inspector)
    app.issue_notice(repeat, c.inspector)
    app.grant_role(c.non_cadre_id, "cadre", c.command)
    app.retire_unit(c.department_id, "机构改革", c.command)
    follower.step()
    follower.catch_up()
    assert follower.position == app.position()

    live = query.all_rows()
    assert len([r for r in live if r["table"] == "ledger_findings"]) == 5
    matches_aggregate(app, query)

    follower.projection.view.drop_view(app.name)
    assert follower.position == 0
    assert query.all_rows() == []
    follower.catch_up()
    assert query.all_rows() == live

    # And with other batch sizes, through a new follower on the same view.
    for batch_size in (1, 1000):
        follower.projection.view.drop_view(app.name)
        Follower(app, follower.projection, batch_size=batch_size).catch_up()
        assert query.all_rows() == live

    # A rebuild from nothing over a long log: bigger batches, no secondary indexes
    # until the end (here "long" is any log), and the same rows, the indexes back.
    view = follower.projection.view
    indexes = _index_names(view)
    assert {name for name, _ in view.secondary_indexes()} <= indexes
    monkeypatch.setattr(runner, "INDEXLESS_REBUILD_FROM", 1)
    view.drop_view(app.name)
    dropped: list[set[str]] = []
    Follower(app, follower.projection, batch_size=3, catch_up_batch_size=10).catch_up(
        progress=lambda *_: dropped.append(_index_names(view))
    )
    assert query.all_rows() == live
    assert dropped and all(not (names & {n for n, _ in view.secondary_indexes()}) for names in dropped)
    assert _index_names(view) == indexes
    if view.placeholder == "%s":  # and the planner has seen the filled tables
        with view.reading() as rows:
            analysed = rows.all(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = ? AND last_analyze IS NOT NULL",
                (view.datastore.schema,),
            )
        assert set(view.table_names) <= {r["relname"] for r in analysed}


def _index_names(view: Any) -> set[str]:
    with view.reading() as rows:
        if view.placeholder == "?":
            found = rows.all("SELECT name FROM sqlite_master WHERE type = 'index'")
            return {r["name"] for r in found}
        found = rows.all("SELECT indexname FROM pg_indexes WHERE schemaname = ?", (view.datastore.schema,))
        return {r["indexname"] for r in found}


# Waiting for a position
def test_wait_for_a_position(app: Duban, county: County, view: View) -> None:
    follower, _ = view
    follower.catch_up()
    assert follower.wait_for(None) is True
    assert follower.wait_for(follower.position, timeout=0.1) is True
    position = app.issue_notice(county.file(), county.inspector).position
    assert position == app.position()
    started = time.monotonic()
    assert follower.wait_for(position, timeout=0.3) is False  # nobody is processing
    assert time.monotonic() - started >= 0.3
    follower.catch_up()
    assert follower.wait_for(position, timeout=0.1) is True


def test_the_follower_records_the_head_past_events_of_no_interest(app: Duban, county: County, view: View) -> None:
    follower, query = view
    c = county
    follower.catch_up()
    before = query.all_rows()
    # Rulebook, circular and series events: none of them is a ledger topic.
    position = app.adopt_rules(c.county_id, Rules(overdue_points=Decimal("1")), date(2026, 4, 1), c.command).position
    assert position is not None
    assert follower.wait_for(position, timeout=0.1) is False
    follower.catch_up()
    assert follower.position == position
    assert follower.wait_for(position, timeout=0.5) is True
    assert query.all_rows() == before

    # A ledger event followed by events of no interest: the head is still reached.
    f = c.file()
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="通报", prefix="米脱指发", period="2026Q1", body="",
        finding_ids=[f], unit_ids=[c.village_a], actor=c.command,
    ).id  # fmt: skip
    position = app.issue_circular(circular, c.command).position
    follower.catch_up()
    assert follower.position == position == app.position()
    assert follower.wait_for(position, timeout=0.5) is True
    assert row(query, f)["status"] == "filed"


def test_embedded_thread_mode_reaches_a_new_command_within_a_second(
    app: Duban, county: County, store_env: dict[str, str]
) -> None:
    from tests.integration.county import ledger

    with ledger(app, store_env) as (background, query):
        background.catch_up()
        # A poll interval far beyond the test: only the wake-up can make it in time.
        background.poll_interval = 30.0
        background.start()
        app.on_recorded(background.wake)
        time.sleep(0.1)  # let the thread settle into its wait

        for check_item in ("家庭成员信息", "危房改造台账"):
            started = time.monotonic()
            recorded = app.file_finding(
                unit_id=county.village_a, category="missing", source="inspection", severity="general",
                check_item=check_item, description="缺失", actor=county.inspector,
            )  # fmt: skip
            while background.position < recorded.position and time.monotonic() - started < 1.0:
                time.sleep(0.005)  # watching only: no wake from here
            assert background.position >= recorded.position, "the follower thread was not woken"
            assert time.monotonic() - started < 1.0
            assert row(query, recorded.id)["check_item"] == check_item
        assert background.wait_for(app.position(), timeout=1.0) is True
        assert background.error is None
