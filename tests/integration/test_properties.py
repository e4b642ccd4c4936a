"""Random histories through the Duban service, on SQLite and on PostgreSQL.

A hypothesis state machine drives every Finding command with random actors
(most of them wrong for the command) over a small county while the clock moves
by hours to days. After every step it checks that

(a) the invariants hold: a known status; each deadline number missed at most
    once; points equal the sum of the deductions not reversed; closed and
    withdrawn are terminal; a refused command moved neither the store's
    position nor the finding's version;
(b) every finding reloaded from the store equals the object the last command
    left in memory, and what a second application object on the store loads;
(c) the ledger kept live (caught up after every step) says what the aggregates
    say, and, at the end, equals the ledger rebuilt from scratch.

Each example gets a store of its own (a temporary SQLite file or a fresh
PostgreSQL schema), created and dropped inside the test.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from domain.errors import DomainError
from domain.events import SYSTEM_ACTOR, local_date
from domain.finding import CLOSED, STATUSES, WITHDRAWN
from tests.integration.county import County, SaveSpy, build_county, ledger, opened
from tests.support import postgres_schema, sqlite_env

ACTORS = ("inspector", "command", "unit_a", "unit_b", "town_user", "discipline", "system")
UNITS = ("village_a", "village_b", "town_id", "department_id")
CHECK_ITEMS = ("贫困户档案：收入核算表", "家庭成员信息")
MAX_FINDINGS = 4
#: Stands for the unit user of the finding's own unit (the one who should act).
ACCOUNTABLE = "accountable"


def actors(*right: str) -> st.SearchStrategy[str]:
    """Mostly an actor who may run the command, sometimes anyone at all."""
    return st.sampled_from((*right * (6 // len(right)), *ACTORS, ACCOUNTABLE))


indexes = st.integers(min_value=0, max_value=MAX_FINDINGS - 1)
reasons = st.sampled_from(("理由充分的说明",) * 6 + ("", "  "))
supervisors = actors("inspector", "command")
units = actors(ACCOUNTABLE, ACCOUNTABLE, "town_user")
#: Hours that pass before a step: often none, sometimes a day, sometimes past a deadline.
waits = st.sampled_from((0, 0, 3, 20, 24 * 3, 24 * 8, 24 * 16))


class DubanHistories(RuleBasedStateMachine):
    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.stack = ExitStack()
        try:
            if self.backend == "sqlite":
                folder = self.stack.enter_context(tempfile.TemporaryDirectory(prefix="duban-prop-"))
                self.env = sqlite_env(Path(folder))
            else:
                self.env = self.stack.enter_context(postgres_schema())
            self.app = self.stack.enter_context(opened(self.env))
            self.reader = self.stack.enter_context(opened(self.env))  # a second application object
            self.county: County = build_county(self.app)
            self.spy = SaveSpy(self.app)
            self.follower, self.query = self.stack.enter_context(ledger(self.app, self.env))
            self.follower.catch_up()
        except BaseException:
            self.stack.close()
            raise
        self.findings: list[UUID] = []
        self.terminal: dict[UUID, tuple[str, int]] = {}
        self.accepted = 0
        self.refused = 0

    def teardown(self) -> None:
        try:
            if self.findings:
                # (c) the live ledger equals the ledger rebuilt from the events alone.
                self.follower.catch_up()
                live = self.query.all_rows()
                self.follower.projection.view.drop_view(self.app.name)
                self.follower.catch_up()
                assert self.query.all_rows() == live
        finally:
            self.stack.close()

    # Running a command
    def actor(self, name: str, finding_id: UUID | None = None) -> Any:
        c = self.county
        if name == "system":
            return SYSTEM_ACTOR
        if name == ACCOUNTABLE:
            unit_id = self.app.finding(finding_id).unit_id if finding_id else None
            return {c.village_a: c.unit_a, c.village_b: c.unit_b, c.town_id: c.town_user}.get(unit_id, c.unit_b)
        return getattr(c, name)

    def finding_at(self, index: int) -> UUID:
        return self.findings[index % len(self.findings)]

    def attempt(self, finding_id: UUID | None, command: Any, *args: Any, **kwargs: Any) -> None:
        """Run a command; a refusal must leave the store exactly as it was."""
        app = self.app
        position = app.position()
        version = app.finding(finding_id).version if finding_id else None
        try:
            recorded = command(*args, **kwargs)
        except DomainError:
            self.refused += 1
            assert app.position() == position, "a refused command recorded something"
            if finding_id:
                assert app.finding(finding_id).version == version
            return
        self.accepted += 1
        assert recorded.position is not None and recorded.position > position
        assert recorded.position == app.position()
        if finding_id:
            assert finding_id in self.spy.saved
        self.follower.catch_up()

    # Rules: every command of a finding
    @initialize(unit=st.sampled_from(UNITS[:2]), severity=st.sampled_from(("general", "serious", "grave")))
    def first_finding(self, unit: str, severity: str) -> None:
        self.file_it(unit, severity, CHECK_ITEMS[0], "inspector")

    @precondition(lambda self: len(self.findings) < MAX_FINDINGS)
    @rule(
        unit=st.sampled_from(UNITS),
        severity=st.sampled_from(("general", "serious", "grave", "general", "fatal")),
        check_item=st.sampled_from(CHECK_ITEMS),
        actor=supervisors,
    )
    def file(self, unit: str, severity: str, check_item: str, actor: str) -> None:
        self.file_it(unit, severity, check_item, actor)

    def file_it(self, unit: str, severity: str, check_item: str, actor: str) -> None:
        c = self.county
        before = self.app.position()
        try:
            recorded = self.app.file_finding(
                unit_id=getattr(c, unit), category="missing", source="inspection", severity=severity,
                check_item=check_item, description="随机生成的问题", actor=self.actor(actor),
                cadre_ids=[c.cadre_id] if unit == "village_a" else [],
            )  # fmt: skip
        except DomainError:
            assert self.app.position() == before
            self.refused += 1
            return
        self.accepted += 1
        self.findings.append(recorded.id)
        self.follower.catch_up()

    @rule(i=indexes, actor=actors("inspector", "command", "system"))
    def issue_notice(self, i: int, actor: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.issue_notice, f, self.actor(actor, f))

    @rule(i=indexes, actor=units)
    def acknowledge_notice(self, i: int, actor: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.acknowledge_notice, f, self.actor(actor, f))

    @rule(i=indexes, actor=units, days=st.integers(min_value=-3, max_value=20), reason=reasons)
    def request_extension(self, i: int, actor: str, days: int, reason: str) -> None:
        f = self.finding_at(i)
        deadline = self.app.finding(f).deadline
        base = date.fromisoformat(deadline) if deadline else local_date(self.app.clock())
        self.attempt(f, self.app.request_extension, f, base + timedelta(days=days), reason, self.actor(actor, f))

    @rule(i=indexes, actor=actors("command"), days=st.one_of(st.none(), st.integers(min_value=-2, max_value=10)))
    def grant_extension(self, i: int, actor: str, days: int | None) -> None:
        f = self.finding_at(i)
        deadline = self.app.finding(f).deadline
        until = None if days is None or deadline is None else date.fromisoformat(deadline) + timedelta(days=days)
        self.attempt(f, self.app.grant_extension, f, self.actor(actor, f), until=until)

    @rule(i=indexes, actor=actors("command"), reason=reasons)
    def deny_extension(self, i: int, actor: str, reason: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.deny_extension, f, reason, self.actor(actor, f))

    @rule(i=indexes, actor=units, description=st.sampled_from(("已整改并补录", " ")))
    def submit_rectification(self, i: int, actor: str, description: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.submit_rectification, f, description, self.actor(actor, f), evidence=["证明.jpg"])

    @rule(i=indexes, actor=supervisors)
    def accept_rectification(self, i: int, actor: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.accept_rectification, f, self.actor(actor, f))

    @rule(i=indexes, actor=supervisors, reason=reasons)
    def reject_rectification(self, i: int, actor: str, reason: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.reject_rectification, f, reason, self.actor(actor, f))

    @rule(i=indexes, actor=actors("system", "command"))
    def record_missed_deadline(self, i: int, actor: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.record_missed_deadline, f, self.actor(actor, f))

    @rule(i=indexes, actor=actors("command"), number=st.integers(min_value=0, max_value=4), reason=reasons)
    def reverse_deduction(self, i: int, actor: str, number: int, reason: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.reverse_deduction, f, number, reason, self.actor(actor, f))

    @rule(i=indexes, actor=actors("command"), reason=reasons)
    def escalate(self, i: int, actor: str, reason: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.escalate, f, reason, self.actor(actor, f))

    @rule(i=indexes, actor=st.sampled_from(ACTORS), reason=reasons)
    def withdraw_finding(self, i: int, actor: str, reason: str) -> None:
        f = self.finding_at(i)
        self.attempt(f, self.app.withdraw_finding, f, reason, self.actor(actor, f))

    @rule(i=indexes, choice=st.integers(min_value=0, max_value=5), wait=waits)
    def advance(self, i: int, choice: int, wait: int) -> None:
        """After ``wait`` hours, the next step a diligent office would take, so
        histories get deep; the service still decides (it may refuse)."""
        f = self.finding_at(i)
        app, c = self.app, self.county
        app.clock.advance(hours=wait)  # type: ignore[attr-defined]
        finding = app.finding(f)
        accountable = self.actor(ACCOUNTABLE, f)
        if finding.is_missable(app.clock()) and choice < 3:
            self.attempt(f, app.record_missed_deadline, f, SYSTEM_ACTOR)
        elif finding.status == "filed":
            self.attempt(f, app.issue_notice, f, c.inspector)
        elif finding.status == "open" and choice < 2:
            self.attempt(f, app.acknowledge_notice, f, accountable)
        elif finding.pending_extension and choice < 4:
            command = app.grant_extension if choice % 2 else app.deny_extension
            args = (f, c.command) if choice % 2 else (f, "理由不充分", c.command)
            self.attempt(f, command, *args)
        elif finding.status in ("open", "acknowledged") and choice == 5 and finding.deadline:
            until = date.fromisoformat(finding.deadline) + timedelta(days=7)
            self.attempt(f, app.request_extension, f, until, "需要入户核实", accountable)
        elif finding.status in ("open", "acknowledged"):
            self.attempt(f, app.submit_rectification, f, "已整改", accountable)
        elif finding.status == "submitted":
            if choice < 3:
                self.attempt(f, app.reject_rectification, f, "整改不到位", c.inspector)
            else:
                self.attempt(f, app.accept_rectification, f, c.inspector)
        elif finding.deductions and choice < 2:
            self.attempt(f, app.reverse_deduction, f, 1 + choice, "申诉成立", c.command)

    @rule(hours=st.integers(min_value=1, max_value=24 * 20))
    def time_passes(self, hours: int) -> None:
        self.app.clock.advance(hours=hours)  # type: ignore[attr-defined]

    # Invariants
    @invariant()
    def findings_keep_their_invariants(self) -> None:
        for f in self.findings:
            finding = self.app.finding(f)
            assert finding.status in STATUSES
            assert len(set(finding.missed_deadlines)) == len(finding.missed_deadlines)
            assert all(1 <= n <= finding.deadline_number for n in finding.missed_deadlines)
            history = self.app.history(f)
            missed = [e.deadline_number for e in history if type(e).__qualname__ == "Finding.DeadlineMissed"]
            assert len(missed) == len(set(missed))
            numbers = sorted(finding.deductions)
            assert numbers == list(range(1, len(numbers) + 1))
            assert finding.points_deducted == sum(
                (d.points for d in finding.deductions.values() if not d.reversed), Decimal(0)
            )
            assert finding.points_deducted >= 0
            assert finding.rejections == sum(
                type(e).__qualname__ == "Finding.RectificationRejected" for e in history
            )
            if f in self.terminal:
                # Closed and withdrawn are the end; only an appeal upheld may still reverse a deduction.
                status, version = self.terminal[f]
                assert finding.status == status, "an ended finding changed its status"
                later = {type(e).__qualname__ for e in history[version:]}
                assert later <= {"Finding.DeductionReversed"}, later
            elif finding.status in (CLOSED, WITHDRAWN):
                self.terminal[f] = (finding.status, finding.version)
            assert [e.originator_version for e in history] == list(range(1, finding.version + 1))

    @invariant()
    def reloads_equal_what_was_in_memory(self) -> None:
        for f in self.findings:
            reloaded = self.app.repository.get(f)
            assert reloaded == self.spy.saved[f]
            assert self.reader.repository.get(f) == reloaded

    @invariant()
    def the_live_ledger_says_what_the_aggregates_say(self) -> None:
        if not self.findings:
            return
        assert self.follower.position == self.app.position()
        rows = {r["finding_id"]: r for r in self.query.all_rows() if r["table"] == "ledger_findings"}
        assert set(rows) == {str(f) for f in self.findings}
        for f in self.findings:
            finding, r = self.app.finding(f), rows[str(f)]
            assert r["status"] == finding.status
            assert (r["deadline"], r["deadline_basis"]) == (finding.deadline, finding.deadline_basis)
            assert r["missed_count"] == len(finding.missed_deadlines)
            assert r["rejections"] == finding.rejections
            assert Decimal(r["points"]) == finding.points_deducted
            assert bool(r["escalated"]) == finding.escalated
            assert r["closed_on"] == finding.closed_on
            assert r["version"] == finding.version
            assert r["is_repeat"] == (finding.repeat_of is not None)


BUDGETS = {"sqlite": 60, "postgres": 20}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_random_histories_keep_the_invariants(backend: str) -> None:
    machine = type(f"DubanHistoriesOn{backend.title()}", (DubanHistories,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=BUDGETS[backend],
            stateful_step_count=50,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
