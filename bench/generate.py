"""Synthetic counties, written through the Duban service, for benches at scale.

Run from the repository root::

    .venv/bin/python bench/generate.py --counties 1 --events-per-county 100000 \\
        [--store sqlite:PATH | --store postgres:SCHEMA] [--seed N] [--start 2025-01-01] [--days 365]

Each county is shaped like the seed's (``bench/county_shape.py``): a county unit,
the command office, the discipline commission, 2 war zones, 10 towns, ~200
villages, 8 departments, ~650 users (command, inspectors, discipline, one unit
user per town/village/department, cadres). Its year is then lived through the
service's commands, never raw events: the rulebook is opened with DEFAULT_RULES
and a second version (overdue and inadequate rectification cost 1 point
instead of 0.5) is adopted mid-year, so scores cross a rulebook change;
inspection rounds every three weeks file most findings, routine checks and
extractions file the rest; each finding follows a plan (on time, late,
rejected, extension granted or denied, appeal upheld, refusal escalated,
withdrawn, ...); the system records missed deadlines each morning after a
deadline (``record_missed_deadline`` with the SYSTEM actor); the command office
issues a circular of criticism every six weeks or so and confirms escalations
at its weekly review; the discipline commission opens cases on some of them.
The story stops at the end of the last day, so findings are left in every
state, some open and overdue.

**Time.** Every county has its own TravellingClock that only moves forward.
Counties generated together are interleaved on one timeline (a heap of
"next step at" instants), so the log's order follows simulated time across
counties too: views stamp each event with a "recorded day" that never goes
back along the log, and a county written after another's December would have
its whole year recorded on that day. (Counties added by a *later* run land after
the existing ones in the log: generate a province in one run.)

**Determinism.** Everything comes from ``random.Random(f"{seed}:{index}")`` and
the county's clock; ids are ``uuid5`` of the seed, the county's index and a key,
so the same seed and index give the same events (ids, versions, timestamps,
payloads) on any store, whatever other counties are generated beside them.
(The service's ``draft_circular`` and ``open_case`` take no id; their ``uuid4``
is replaced by a derived id for the length of the call.)

**Resuming.** The last command of a county is the completion of its year-end
inspection round (``county_marker_id``); a county whose marker inspection has
a Completed event is complete and is skipped. A county that exists without its
marker was interrupted: it is generated again from the start in memory (same
seed, same events) and only the events not yet stored are written (the stored
version of every aggregate is read once, with one GROUP BY over the events
table). Storage is in order and in batches, so what is stored is always a prefix
of the history. An interrupted county can only be resumed with the same
--seed/--start/--days/--events-per-county (and the same code): the replay must
be the same history, and nothing checks that it is.

**Speed.** The generator's application (``GeneratorDuban``) is a ``Duban`` whose
repository answers from the aggregates it has written (no reads: this process
is the only writer of its counties) and whose ``save`` collects the events of
consecutive commands and writes them ``--batch`` (1,000) events per save, in
order. Each command still runs the service's method and the aggregates' rules.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import os
import random
import sys
import time as wall
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import chinese_calendar  # noqa: E402
from eventsourcing.application import AggregateNotFoundError, Repository  # noqa: E402

import domain.case  # noqa: E402
import domain.circular  # noqa: E402
from app.demo import (  # noqa: E402
    ACCEPT_NOTES,
    APPEAL_REASONS,
    CHECK_ITEMS,
    DENIAL_REASONS,
    EVIDENCE,
    EXTENSION_REASONS,
    WITHDRAW_REASONS,
    CheckItem,
    fill_words,
)
from bench.county_shape import DISCIPLINE_NAME, OFFICE_NAME, Shape, make_shape  # noqa: E402
from domain.errors import DomainError  # noqa: E402
from domain.events import CADRE, CHINA, COMMAND, DISCIPLINE, INSPECTOR, SYSTEM_ACTOR, UNIT, Actor, local_date  # noqa: E402
from domain.finding import CLOSED, RECTIFYING, STATUSES, SUBMITTED, WITHDRAWN, Finding  # noqa: E402
from domain.rules.deductions import OVERDUE, period_of  # noqa: E402
from domain.rules.rulebook import DEFAULT_RULES  # noqa: E402
from domain.service import Duban, TravellingClock  # noqa: E402
from projections.storage import POSTGRES, POSTGRES_DEFAULTS, event_store_env, open_application, persistence_module  # noqa: E402

NAMESPACE = UUID("2b7d3c1e-4f60-5a8e-9d21-6c0b9e8a2026")
DEFAULT_SEED = 2026
DEFAULT_START = date(2025, 1, 1)
DEFAULT_DAYS = 365
DEFAULT_EVENTS = 100_000
BATCH_EVENTS = 1_000

#: Rulebook version 2, adopted mid-year: deductions under it are worth more.
MIDYEAR_RULES = replace(DEFAULT_RULES, overdue_points=Decimal("1"), inadequate_points=Decimal("1"))

#: Plans of a finding's life, and their weights.
PLANS = (
    ("on_time", 46),
    ("late", 12),
    ("rejected_once", 10),
    ("rejected_late", 3),
    ("extension_granted", 6),
    ("extension_denied", 4),
    ("appeal", 3),
    ("refuses", 2),
    ("never_rectified", 2),
    ("not_acknowledged", 2),
    ("withdrawn_before_notice", 1.5),
    ("withdrawn_after_notice", 1.5),
)
#: Filed in the last working days, so that every state is there at the end.
END_PLANS = (
    "awaiting_notice", "not_acknowledged", "never_rectified", "awaiting_verification",
    "withdrawn_after_notice", "on_time",
)  # fmt: skip

#: Mean events per finding over the plan mix (measured; includes circulars and cases).
EVENTS_PER_FINDING = 7.6

OPEN_MINUTE, CLOSE_MINUTE = 9 * 60, 17 * 60 + 30  # a person's working hours
SWEEP = time(8, 30)
SETUP = time(8, 0)
FINAL = time(18, 0)


def generated_id(seed: int, index: int, key: str) -> UUID:
    return uuid5(NAMESPACE, f"{seed}:{index}:{key}")


def county_marker_id(seed: int, index: int) -> UUID:
    """The year-end inspection round: its Completed event is the county's last event."""
    return generated_id(seed, index, "inspection:final")


@contextmanager
def _fixed_uuid4(module: Any, value: UUID) -> Iterator[None]:
    """The service's draft_circular/open_case take no id: give the domain's uuid4 a derived one."""
    original = module.uuid4
    module.uuid4 = lambda: value
    try:
        yield
    finally:
        module.uuid4 = original


@contextmanager
def _memoized_calendar() -> Iterator[None]:
    """``chinese_calendar.is_workday`` scans its holiday tables on every call (two
    thirds of the generator's time went there, through the domain's
    add_working_days); it is a pure function of the date, so cache it while
    generating, and put the original back afterwards."""
    original = chinese_calendar.is_workday
    chinese_calendar.is_workday = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        chinese_calendar.is_workday = original


# The writing application --------------------------------------------------------


class _MemoryRepository(Repository):
    """Answers from the aggregates this process wrote; unknown ids are unknown
    (the generator is the only writer of its counties)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.memory: dict[UUID, Any] = {}

    def get(self, aggregate_id: Any, *, version: int | None = None, **kwargs: Any) -> Any:
        if version is None:
            found = self.memory.get(aggregate_id)
            if found is None:
                raise AggregateNotFoundError(aggregate_id)
            return found
        return super().get(aggregate_id, version=version, **kwargs)


class GeneratorDuban(Duban):
    """The Duban service with batched, read-free persistence (see the module doc)."""

    name = "Duban"  # the library names tables and env prefixes after the class otherwise

    def __init__(self, env: dict[str, str] | None = None, batch_events: int = BATCH_EVENTS):
        self.active_clock: Callable[[], datetime] = lambda: datetime.now(CHINA)
        super().__init__(env, clock=lambda: self.active_clock())
        self.batch_events = batch_events
        self._buffer: list[Any] = []
        #: aggregate id -> highest version already stored (resuming only)
        self.stored_versions: dict[UUID, int] = {}
        self.counter: Callable[[int], None] = lambda n: None
        self.on_flush: Callable[[int, int], None] = lambda written, skipped: None
        self.written = 0
        self.skipped = 0

    def construct_repository(self) -> Repository:
        return _MemoryRepository(event_store=self.events, snapshot_store=self.snapshots)

    @property
    def memory(self) -> dict[UUID, Any]:
        return self.repository.memory  # type: ignore[attr-defined,no-any-return]

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        collected = 0
        for obj in objs:
            if obj is None:
                continue
            events = obj.collect_events()
            self.memory[obj.id] = obj
            self._buffer.extend(events)
            collected += len(events)
        self.counter(collected)
        if len(self._buffer) >= self.batch_events:
            self.flush()
        return []  # positions are not known until the batch is written

    def flush(self) -> None:
        events, self._buffer = self._buffer, []
        if self.stored_versions:
            fresh = [e for e in events if e.originator_version > self.stored_versions.get(e.originator_id, 0)]
        else:
            fresh = events
        if fresh:
            self.events.put(fresh)  # what Application.save does, without per-event protocol checks
        self.written += len(fresh)
        self.skipped += len(events) - len(fresh)
        self.on_flush(len(fresh), len(events) - len(fresh))

    def forget(self, aggregate_id: UUID) -> None:
        self.memory.pop(aggregate_id, None)

    def load_stored_versions(self) -> None:
        """Read the highest stored version of every aggregate (before resuming)."""
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if persistence_module(self.env) == POSTGRES or "postgres" in type(recorder).__module__:
            datastore = recorder.datastore
            sql = f'SELECT originator_id, MAX(originator_version) AS v FROM "{datastore.schema}"."{table}" GROUP BY originator_id'
            with datastore.get_connection() as connection:
                rows = connection.execute(sql).fetchall()
            self.stored_versions = {UUID(str(r["originator_id"])): int(r["v"]) for r in rows}
        else:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT originator_id, MAX(originator_version) FROM {table} GROUP BY originator_id")
                self.stored_versions = {UUID(str(r[0])): int(r[1]) for r in cursor.fetchall()}


def open_writer(store_env: dict[str, str] | None = None, batch_events: int = BATCH_EVENTS) -> GeneratorDuban:
    """The generator's application on a store; tables are created as open_application does."""
    open_application(store_env).close()  # creates the tables once (under the schema lock on PostgreSQL)
    env = event_store_env(store_env)
    if persistence_module(env) == POSTGRES:
        env = {**POSTGRES_DEFAULTS, **env, "CREATE_TABLE": "n"}
    return GeneratorDuban(env, batch_events=batch_events)


# One county's story -------------------------------------------------------------


@dataclass
class CountySummary:
    index: int
    county_id: UUID
    name: str
    status: str  # generated, resumed, skipped
    events: int = 0  # events of this county produced in this run (written or found stored)
    findings: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    overdue_at_end: int = 0
    escalated: int = 0
    circulars: int = 0
    cases: int = 0
    first_day: date | None = None
    last_day: date | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class _F:
    """A finding the story drives."""

    id: UUID
    unit: str
    check: CheckItem
    plan: str
    inspector: str  # person key
    words: dict[str, Any]


class _Story:
    def __init__(
        self,
        app: Duban,
        index: int,
        *,
        seed: int,
        target_events: int,
        start: date,
        days: int,
        clock: TravellingClock | None = None,
    ) -> None:
        self.app = app
        self.index = index
        self.seed = seed
        self.rng = random.Random(f"{seed}:{index}")
        self.shape: Shape = make_shape(index, random.Random(f"{seed}:{index}:shape"))
        self.county_id = self.gid("unit:county")
        self.target = target_events
        self.start = start
        self.end_day = start + timedelta(days=days - 1)
        self.end = datetime.combine(self.end_day, FINAL, tzinfo=CHINA)
        self.clock = clock or TravellingClock(datetime.combine(start, SETUP, tzinfo=CHINA))
        self.clock.set(datetime.combine(start, SETUP, tzinfo=CHINA))
        self.writer = app if isinstance(app, GeneratorDuban) else None
        self.events = 0
        self.spawn: Callable[[datetime, Iterator[datetime]], None] = lambda at, script: None
        self.units: dict[str, UUID] = {}
        self.unit_kind: dict[str, str] = {}
        self.unit_parent: dict[str, str] = {}
        self.actors: dict[str, Actor] = {}
        self.people_by_unit: dict[tuple[str, str], list[str]] = {}
        self.active: dict[UUID, _F] = {}
        self.ended: Counter[str] = Counter()
        self.kept: dict[UUID, _F] = {}  # escalated findings, kept in memory for their case
        self.findings = 0
        self.escalations = 0
        self.circulars = 0
        self.cases = 0
        self.problems: list[str] = []
        self.round_ids: dict[int, tuple[str, UUID]] = {}

        def count(n: int) -> None:
            self.events += n

        self.count = count

    def gid(self, key: str) -> UUID:
        return generated_id(self.seed, self.index, key)

    # Time --------------------------------------------------------------------
    def _calendar(self) -> None:
        calendar = self.app.rulebook(self.county_id).working_calendar()
        day, days = self.start, []
        while day <= self.end_day + timedelta(days=90):
            if calendar.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        self.wdays = days
        self.last_wd = bisect_left(days, self.end_day + timedelta(days=1)) - 1

    def now(self) -> datetime:
        return self.clock.now

    def _at(self, day: date, minute: int) -> datetime:
        return datetime.combine(day, time(minute // 60, minute % 60, self.rng.randint(0, 59)), tzinfo=CHINA)

    def on_wd(self, i: int, lo: int = OPEN_MINUTE, hi: int = CLOSE_MINUTE) -> datetime:
        if i >= len(self.wdays):
            return datetime.max.replace(tzinfo=CHINA)
        return self._at(self.wdays[max(0, i)], self.rng.randint(lo, hi))

    def wd_index(self, day: date) -> int:
        """Index of the day among working days (of the next working day, on a day off)."""
        return bisect_left(self.wdays, day)

    def later(self, k: int) -> datetime:
        """k working days from now (0: later today if there is time), at a working hour."""
        now = self.now()
        today = local_date(now)
        i = self.wd_index(today)
        is_wd = i < len(self.wdays) and self.wdays[i] == today
        if k <= 0 and is_wd:
            t = now + timedelta(minutes=self.rng.randint(3, 60))
            local = t.astimezone(CHINA)
            if local.date() == today and local.hour * 60 + local.minute <= CLOSE_MINUTE + 25:
                return t
            k = 1
        return self.on_wd(i + max(k, 1) - (0 if is_wd else 1))

    def before_deadline(self, deadline: date, k: int) -> datetime:
        """k working days before a deadline (negative: after it), never in the past."""
        target = self.on_wd(self.wd_index(deadline) - k)
        return max(target, self.later(0))

    def next_review(self) -> datetime:
        """The command office's weekly review: the first working day of next week."""
        today = local_date(self.now())
        monday = today + timedelta(days=7 - today.weekday())
        return self.on_wd(self.wd_index(monday), 14 * 60, 16 * 60)

    # People and acting ----------------------------------------------------------
    def actor(self, key: str, role: str) -> Actor:
        if key not in self.actors:
            self.actors[key] = self.app.actor(self.gid(f"user:{key}"), role)
        return self.actors[key]

    def command(self) -> Actor:
        return self.actor("command:0", COMMAND)

    def unit_actor(self, unit: str) -> Actor:
        """Usually the unit's own user; now and then the town acting for its village."""
        if self.unit_kind[unit] == "village" and self.rng.random() < 0.15:
            unit = self.unit_parent[unit]
        return self.actor(f"unit:{unit}", UNIT)

    def finding(self, f: _F) -> Finding:
        return self.app.finding(f.id)

    def step(self) -> None:
        """A person's next action happens a little later than the last one."""
        self.clock.advance(seconds=self.rng.randint(1, 20))

    # Setting up ----------------------------------------------------------------
    def setup(self) -> None:
        app, shape = self.app, self.shape

        def unit(key: str, name: str, kind: str, parent: str | None, actor: Actor, code: str = "") -> None:
            self.clock.advance(seconds=2)
            uid = self.county_id if kind == "county" else self.gid(f"unit:{key}")
            app.register_unit(
                name=name, kind=kind, parent_id=self.units[parent] if parent else None, actor=actor, code=code, unit_id=uid
            )
            self.units[key], self.unit_kind[key] = uid, kind
            if parent:
                self.unit_parent[key] = parent

        unit("county", shape.name, "county", None, SYSTEM_ACTOR, code=shape.code)
        unit(OFFICE_NAME, OFFICE_NAME, "office", "county", SYSTEM_ACTOR)
        people = shape.people
        for p in people:
            self.people_by_unit.setdefault((p.unit, p.role), []).append(p.key)

        def user(p: Any, actor: Actor) -> None:
            self.clock.advance(seconds=2)
            app.register_user(
                unit_id=self.units[p.unit], name=p.name, login=p.login, roles=[p.role], actor=actor, user_id=self.gid(f"user:{p.key}")
            )

        for p in people:
            if p.role == COMMAND:
                user(p, SYSTEM_ACTOR)
        admin = self.command()
        unit(DISCIPLINE_NAME, DISCIPLINE_NAME, "discipline", "county", admin)
        for zone, towns in shape.zones.items():
            unit(zone, zone, "zone", "county", admin)
            for town in towns:
                unit(town, town, "town", zone, admin)
                for village in shape.villages[town]:
                    unit(village, village, "village", town, admin)
        for department in shape.departments:
            unit(department, department, "department", "county", admin)
        for p in people:
            if p.role != COMMAND:
                user(p, admin)
        self.clock.advance(seconds=30)
        app.open_rulebook(self.county_id, DEFAULT_RULES, date(self.start.year, 1, 1), admin)
        self._calendar()
        self.inspectors = self.people_by_unit[(OFFICE_NAME, INSPECTOR)]
        self.villages = [v for vs in shape.villages.values() for v in vs]
        self.towns = [t for ts in shape.zones.values() for t in ts]
        self.items = {kind: [c for c in CHECK_ITEMS if c.target == kind] for kind in ("village", "town", "department")}
        self.dept_items = {
            d: [c for c in self.items["department"] if d in c.departments] for d in shape.departments
        }
        # Inspectors each look after some towns (对口指导) and departments.
        self.inspector_of = {t: self.inspectors[i % len(self.inspectors)] for i, t in enumerate(self.towns)}
        for i, d in enumerate(shape.departments):
            self.inspector_of[d] = self.inspectors[(i + 5) % len(self.inspectors)]

    # Planning the year ------------------------------------------------------------
    def plan_year(self) -> None:
        """How many findings, and on which working days they are filed."""
        # a person is two events: the user and the claim on their login
        setup_events = len(self.units) + 2 * len(self.shape.people) + 1
        wd_count = self.last_wd + 1
        self.rounds = [w for w in range(3, self.last_wd - 12, 15)]  # every 3 weeks
        overhead = setup_events + 2 * (len(self.rounds) + 1) + 2
        budget = max(0, self.target - overhead)
        self.total_findings = max(len(END_PLANS) * 2, round(budget / EVENTS_PER_FINDING))
        specials = len(END_PLANS) * max(1, self.total_findings // 400)
        regular = self.total_findings - specials
        in_rounds, ad_hoc = 0.7 * regular, 0.3 * regular
        filing_days = 4
        self.round_rate = in_rounds / max(1, len(self.rounds) * filing_days)
        self.adhoc_rate = ad_hoc / max(1, wd_count - 2)
        self.round_of_day: dict[int, int] = {}
        for r, w in enumerate(self.rounds):
            for d in range(filing_days):
                self.round_of_day[w + 1 + d] = r
        self.end_specials = [END_PLANS[i % len(END_PLANS)] for i in range(specials)]
        self.final_round_wd = max(1, self.last_wd - 9)

    def _count(self, rate: float) -> int:
        whole = int(rate)
        return whole + (1 if self.rng.random() < rate - whole else 0)

    # Scripts -----------------------------------------------------------------------
    def begin(self) -> Iterator[datetime]:
        """The county's main script: setup, then one step per working day."""
        self.setup()
        self.plan_year()
        # Rulebook version 2: adopted ten working days before it comes into force, mid-year.
        mid = self.wd_index(self.start + timedelta(days=(self.end_day - self.start).days // 2 + 14))
        self.spawn(self.on_wd(mid - 10, 10 * 60, 11 * 60), self.adopt_rules(self.wdays[mid]))
        for r, w in enumerate(self.rounds):
            self.spawn(self.on_wd(w - 2, 9 * 60, 10 * 60), self.inspection_round(r, w))
        self.spawn(self.on_wd(self.final_round_wd - 1, 9 * 60, 10 * 60), self.final_round())
        for w in range(40, self.last_wd, 30):
            self.spawn(self.on_wd(w, 10 * 60, 12 * 60), self.circular(w))
        for w in range(1, self.last_wd + 1):
            yield self.on_wd(w, 8 * 60 + 45, 8 * 60 + 50)
            self.file_ad_hoc(w)

    def adopt_rules(self, in_force_from: date) -> Iterator[datetime]:
        self.app.adopt_rules(self.county_id, MIDYEAR_RULES, in_force_from, self.command())
        return
        yield

    def file_ad_hoc(self, w: int) -> None:
        count = self._count(self.adhoc_rate)
        if w in self.round_of_day:
            count += self._count(self.round_rate)
        if w >= self.last_wd - 5 and self.end_specials:
            take = (len(self.end_specials) + 1) // 2 if w < self.last_wd else len(self.end_specials)
            for _ in range(take):
                plan = self.end_specials.pop()
                self.spawn(self.on_wd(w), self.life(self.new_finding(plan, None, self.rng.choice(("routine", "extraction")))))
        inspection = self.round_ids.get(self.round_of_day.get(w, -1))
        for _ in range(count):
            source, inspection_id = self.rng.choice(("routine", "extraction")), None
            if inspection is not None and self.rng.random() < 0.8:
                source, inspection_id = inspection
            self.spawn(self.on_wd(w), self.life(self.new_finding(self.pick_plan(), inspection_id, source)))

    def pick_plan(self) -> str:
        plans, weights = zip(*PLANS)
        return self.rng.choices(plans, weights)[0]

    def inspection_round(self, r: int, w: int) -> Iterator[datetime]:
        source = "mutual" if r % 4 == 3 else "inspection"
        day = self.wdays[w + 1]
        quarter = "一二三四"[(day.month - 1) // 3]
        kind = "街镇互查" if source == "mutual" else "扶贫信息数据质量督查"
        title = f"{day.year}年第{quarter}季度{kind}（第{r + 1}轮）"
        inspection_id = self.gid(f"inspection:{r}")
        inspectors = self.rng.sample(self.inspectors, 4)
        self.app.plan_inspection(
            county_id=self.county_id,
            title=title,
            source=source,
            inspector_ids=[self.gid(f"user:{k}") for k in inspectors],
            starts_on=day,
            ends_on=self.wdays[w + 4],
            actor=self.command(),
            inspection_id=inspection_id,
        )
        self.round_ids[r] = (source, inspection_id)
        yield self.on_wd(w + 6, 16 * 60, 17 * 60)
        summary = f"本轮{kind}已结束，发现的问题均已建立问题台账，下发整改通知，限期整改。"
        self.app.complete_inspection(inspection_id, summary, self.command())

    def final_round(self) -> Iterator[datetime]:
        """The year-end round: planned near the end, completed last (the county's marker)."""
        day = self.wdays[self.final_round_wd]
        self.final_title = f"{day.year}年度脱贫攻坚数据信息年终督查"
        self.app.plan_inspection(
            county_id=self.county_id,
            title=self.final_title,
            source="inspection",
            inspector_ids=[self.gid(f"user:{k}") for k in self.inspectors[:4]],
            starts_on=day,
            ends_on=self.end_day,
            actor=self.command(),
            inspection_id=county_marker_id(self.seed, self.index),
        )
        self.round_ids[-2] = ("inspection", county_marker_id(self.seed, self.index))
        for w in range(self.final_round_wd, self.final_round_wd + 3):
            self.round_of_day.setdefault(w, -2)
        yield datetime.max.replace(tzinfo=CHINA)  # completed by finish()

    def new_finding(self, plan: str, inspection_id: UUID | None, source: str) -> _F:
        """Choose the unit and the check item now; file when the script starts."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.8:
            unit = rng.choice(self.villages)
            check = rng.choice(self.items["village"])
        elif roll < 0.9:
            unit = rng.choice(self.towns)
            check = rng.choice(self.items["town"])
        else:
            unit = rng.choice(self.shape.departments)
            check = rng.choice(self.dept_items[unit] or self.items["department"])
        town = self.unit_parent[unit] if self.unit_kind[unit] == "village" else unit
        self.findings += 1
        f = _F(self.gid(f"finding:{self.findings}"), unit, check, plan, self.inspector_of[town], {})
        f.words = {"inspection_id": inspection_id, "source": source}
        return f

    def _words(self) -> dict[str, Any]:
        month = local_date(self.now()).month
        return fill_words(self.rng, (max(1, month - 3), month), self.start.year - 1)

    def _household(self) -> str:
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        while True:
            born = date(1940, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 50))
            body = f"{self.shape.code}{born:%Y%m%d}{self.rng.randint(1, 999):03d}"
            check = (12 - sum(int(d) * w for d, w in zip(body, weights)) % 11) % 11
            if check < 10:
                return body + str(check)

    def file(self, f: _F) -> None:
        rng = self.rng
        inspection_id, source = f.words["inspection_id"], f.words["source"]
        f.words = self._words()
        cadres: list[str] = []
        kind = self.unit_kind[f.unit]
        if kind == "village" and (f.check.household or rng.random() < 0.5):
            cadres = self.people_by_unit.get((f.unit, CADRE), [])[: rng.randint(1, 2)]
            if rng.random() < 0.2:
                cadres = cadres + self.people_by_unit.get((self.unit_parent[f.unit], CADRE), [])
        elif kind == "town":
            cadres = self.people_by_unit.get((f.unit, CADRE), [])
        self.app.file_finding(
            unit_id=self.units[f.unit],
            category=f.check.category,
            source=source,
            severity=rng.choice(f.check.severities),
            check_item=f.check.item,
            description=f.check.text.format(**f.words),
            actor=self.actor(f.inspector, INSPECTOR),
            inspection_id=inspection_id,
            household_no=self._household() if f.check.household else "",
            cadre_ids=[self.gid(f"user:{c}") for c in cadres],
            finding_id=f.id,
        )
        self.active[f.id] = f

    # A finding's life ----------------------------------------------------------------
    def _deadline(self, f: _F) -> date:
        deadline = self.finding(f).deadline
        assert deadline is not None
        return date.fromisoformat(deadline)

    def _watch_deadline(self, f: _F) -> None:
        """The morning sweep after the deadline runs out (the system's timer)."""
        deadline = self._deadline(f)
        self.spawn(datetime.combine(deadline + timedelta(days=1), SWEEP, tzinfo=CHINA), self.sweep(f))

    def sweep(self, f: _F) -> Iterator[datetime]:
        """Runs once, at its spawn instant: record the missed deadline if it still is one."""
        if f.id in self.active and self.finding(f).is_missable(self.now()):
            self.app.record_missed_deadline(f.id, SYSTEM_ACTOR)
        return
        yield  # a generator: its body runs when the engine reaches its instant

    def notice(self, f: _F) -> None:
        self.step()
        self.app.issue_notice(f.id, self.command())
        self._watch_deadline(f)

    def acknowledge(self, f: _F) -> None:
        self.step()
        self.app.acknowledge_notice(f.id, self.unit_actor(f.unit))

    def submit(self, f: _F) -> None:
        self.step()
        self.app.submit_rectification(
            f.id, f.check.fix.format(**f.words), self.unit_actor(f.unit), evidence=EVIDENCE[f.check.category]
        )

    def verify(self, f: _F, accept: bool) -> None:
        self.step()
        inspector = self.actor(f.inspector, INSPECTOR)
        if accept:
            self.app.accept_rectification(f.id, inspector, note=self.rng.choice(ACCEPT_NOTES))
        else:
            reason = "整改不到位：" + f.check.not_good_enough.format(**f.words)
            self.app.reject_rectification(f.id, reason, inspector)
            self._watch_deadline(f)

    def life(self, f: _F) -> Iterator[datetime]:
        """One finding, filed at the script's first instant, then by its plan."""
        rng = self.rng
        self.file(f)
        plan = f.plan
        if plan == "withdrawn_before_notice":
            yield self.later(rng.choice((0, 1)))
            self.step()
            self.app.withdraw_finding(f.id, WITHDRAW_REASONS[1], self.actor(f.inspector, INSPECTOR))
            return self.done(f)
        yield self.later(rng.choice((6, 7, 8)) if plan == "awaiting_notice" else rng.choice((0, 1, 1)))
        self.notice(f)
        if plan in ("not_acknowledged",):
            yield from self.escalate_when_due(f)
            return self.done(f)
        yield self.later(rng.choice((0, 1, 1, 2)))
        self.acknowledge(f)
        deadline = self._deadline(f)
        if plan == "withdrawn_after_notice":
            yield self.later(2)
            self.step()
            self.app.withdraw_finding(f.id, WITHDRAW_REASONS[0], self.actor(f.inspector, INSPECTOR))
        elif plan == "on_time":
            yield self.before_deadline(deadline, rng.randint(0, 4))
            self.submit(f)
            yield self.later(rng.choice((1, 1, 2, 3)))
            self.verify(f, True)
        elif plan == "late":
            yield self.before_deadline(deadline, -rng.randint(1, 6))
            self.submit(f)
            yield self.later(rng.choice((1, 2)))
            self.verify(f, True)
        elif plan in ("rejected_once", "rejected_late"):
            yield self.before_deadline(deadline, rng.randint(0, 3))
            self.submit(f)
            yield self.later(rng.choice((1, 2)))
            self.verify(f, False)
            yield self.later(rng.choice((0, 1)))
            self.acknowledge(f)
            late = -rng.randint(1, 4) if plan == "rejected_late" else rng.randint(0, 2)
            yield self.before_deadline(self._deadline(f), late)
            self.submit(f)
            yield self.later(rng.choice((1, 2)))
            self.verify(f, True)
        elif plan in ("extension_granted", "extension_denied"):
            yield self.before_deadline(deadline, 2)
            self.step()
            until = deadline + timedelta(days=rng.randint(7, 14))
            self.app.request_extension(f.id, until, rng.choice(EXTENSION_REASONS), self.unit_actor(f.unit))
            yield self.later(1)
            self.step()
            if plan == "extension_granted":
                self.app.grant_extension(f.id, self.command(), note="情况属实，同意延期。")
                self._watch_deadline(f)
                yield self.before_deadline(self._deadline(f), rng.randint(0, 3))
            else:
                self.app.deny_extension(f.id, rng.choice(DENIAL_REASONS), self.command())
                yield self.before_deadline(deadline, rng.choice((0, -1, -3)))
            self.submit(f)
            yield self.later(rng.choice((1, 2)))
            self.verify(f, True)
        elif plan == "appeal":
            yield self.before_deadline(deadline, -rng.randint(2, 4))
            self.submit(f)
            yield self.later(1)
            overdue = [d for d in self.finding(f).deductions.values() if d.rule_id == OVERDUE and not d.reversed]
            if overdue:
                self.step()
                self.app.reverse_deduction(f.id, overdue[0].number, rng.choice(APPEAL_REASONS), self.command())
            yield self.later(1)
            self.verify(f, True)
        elif plan == "refuses":
            for _ in range(2):
                yield self.before_deadline(self._deadline(f), rng.randint(0, 2))
                self.submit(f)
                yield self.later(1)
                self.verify(f, False)
                yield self.later(1)
                self.acknowledge(f)
            yield from self.escalate_when_due(f)
            if rng.random() < 0.5:
                yield self.later(rng.randint(3, 8))
                self.submit(f)
                yield self.later(1)
                self.verify(f, True)
        elif plan == "never_rectified":
            yield from self.escalate_when_due(f)
        elif plan == "awaiting_verification":
            yield self.later(1)
            self.submit(f)
        return self.done(f)

    def escalate_when_due(self, f: _F) -> Iterator[datetime]:
        while True:
            yield self.next_review()
            if self.app.escalation_due(f.id) is not None:
                break
        self.step()
        rule = self.app.escalation_due(f.id)
        reason = f"{f.unit}对“{f.check.item}”问题{rule}，属拒不整改情形，经指挥部研究，移交县纪委监委。"
        self.app.escalate(f.id, reason, self.command())
        self.escalations += 1
        self.kept[f.id] = f
        if self.rng.random() < 0.6:
            self.spawn(self.later(self.rng.randint(2, 4)), self.case(f))

    def done(self, f: _F) -> None:
        """The script has nothing more for this finding: forget it if it has ended."""
        status = self.finding(f).status
        if status in (CLOSED, WITHDRAWN):
            self.ended[status] += 1
            self.active.pop(f.id, None)
            if self.writer is not None and f.id not in self.kept:
                self.writer.forget(f.id)

    # County-wide scripts -------------------------------------------------------------
    def circular(self, w: int) -> Iterator[datetime]:
        overdue: dict[str, list[_F]] = {}
        for f in self.active.values():
            finding = self.finding(f)
            if finding.status in RECTIFYING and finding.deadline_number in finding.missed_deadlines:
                overdue.setdefault(f.unit, []).append(f)
        if not overdue:
            return
        listed = sorted(overdue, key=lambda u: -len(overdue[u]))[:3]
        findings = [f for u in listed for f in overdue[u]][:20]
        today = local_date(self.now())
        lines = "\n".join(
            f"    {i}. {unit}：{'；'.join(dict.fromkeys(f.check.item for f in overdue[unit]))}，逾期未整改。"
            for i, unit in enumerate(listed, start=1)
        )
        body = (
            "各街镇、县直各相关部门：\n"
            f"    截至{today.year}年{today.month}月{today.day}日，仍有部分单位对督查发现的问题整改不及时、不到位。"
            f"现将有关情况通报如下：\n{lines}\n"
            "    被通报单位要于5个工作日内完成整改，并将整改情况书面报县脱贫攻坚指挥部办公室。"
        )
        self.circulars += 1
        circular_id = self.gid(f"circular:{self.circulars}")
        rules = self.app.rules_in_force(self.county_id, today).rules
        with _fixed_uuid4(domain.circular, circular_id):
            self.app.draft_circular(
                county_id=self.county_id,
                kind="criticism",
                title=f"关于{today.year}年{today.month}月督查问题整改不力单位的通报",
                prefix=self.shape.document_prefix,
                period=period_of(today, rules.period),
                body=body,
                finding_ids=[f.id for f in findings],
                unit_ids=[self.units[u] for u in listed],
                actor=self.command(),
            )
        yield self.later(1)
        self.step()
        self.app.issue_circular(circular_id, self.command())

    def case(self, f: _F) -> Iterator[datetime]:
        actor = self.actor(self.people_by_unit[(DISCIPLINE_NAME, DISCIPLINE)][0], DISCIPLINE)
        self.cases += 1
        case_id = self.gid(f"case:{self.cases}")
        with _fixed_uuid4(domain.case, case_id):
            self.app.open_case(
                county_id=self.county_id,
                summary=f"县脱贫攻坚指挥部移交：{f.unit}对督查发现的“{f.check.item}”问题拒不整改。",
                actor=actor,
                finding_ids=[f.id],
                subject_unit_id=self.units[f.unit],
            )
        yield self.later(self.rng.randint(3, 6))
        self.step()
        sanction = self.rng.choice(("talk", "talk", "admonition", "criticism"))
        self.app.record_sanction(
            case_id, sanction, f"{f.unit}主要负责人", "指出其对督查问题整改敷衍应付，责令限期整改到位并作出书面说明。", actor
        )
        yield self.later(self.rng.randint(5, 15))
        self.step()
        self.app.close_case(case_id, "已按规定作出处理，责任单位已作出书面说明，结案。", actor)

    def finish(self) -> None:
        """After the last day: complete the year-end round (the county's marker)."""
        self.clock.set(max(self.now(), self.end))
        summary = f"{self.final_title}已结束。本年度共登记问题{self.findings}个，均已建立问题台账，下发整改通知，限期整改。"
        self.app.complete_inspection(county_marker_id(self.seed, self.index), summary, self.command())

    def summary(self, status: str) -> CountySummary:
        counts = Counter(self.ended)
        overdue = 0
        for f in self.active.values():
            finding = self.finding(f)
            counts[finding.status] += 1
            if finding.status in RECTIFYING and finding.deadline_number in finding.missed_deadlines:
                overdue += 1
        return CountySummary(
            index=self.index,
            county_id=self.county_id,
            name=self.shape.name,
            status=status,
            events=self.events,
            findings=self.findings,
            by_status={s: counts.get(s, 0) for s in STATUSES},
            overdue_at_end=overdue,
            escalated=self.escalations,
            circulars=self.circulars,
            cases=self.cases,
            first_day=self.start,
            last_day=self.end_day,
            problems=self.problems,
        )


# The engine: all counties on one timeline ----------------------------------------------


class _Engine:
    def __init__(self, app: Duban, stories: list[_Story], on_day: Callable[[date], None] = lambda day: None):
        self.app = app
        self.stories = stories
        self.heap: list[tuple[datetime, int, int, int, Iterator[datetime]]] = []
        self.seq = 0
        self.on_day = on_day
        for number, story in enumerate(stories):
            story.spawn = self._spawner(number)

    def _spawner(self, number: int) -> Callable[[datetime, Iterator[datetime]], None]:
        def spawn(at: datetime, script: Iterator[datetime]) -> None:
            self.seq += 1
            heapq.heappush(self.heap, (at, number, self.seq, number, script))

        return spawn

    def _activate(self, story: _Story) -> None:
        if isinstance(self.app, GeneratorDuban):
            self.app.active_clock = story.clock
            self.app.counter = story.count

    def run(self) -> None:
        for number, story in enumerate(self.stories):
            story.spawn(story.clock.now, story.begin())
        day = None
        while self.heap:
            at, _, _, number, script = heapq.heappop(self.heap)
            story = self.stories[number]
            if at > story.end:
                continue
            self._activate(story)
            if at > story.clock.now:
                story.clock.set(at)
            today = local_date(at)
            if today != day:
                day = today
                self.on_day(day)
            try:
                following = next(script)
            except StopIteration:
                continue
            except DomainError as error:  # a step the domain refused: report it, drop the script
                story.problems.append(f"{local_date(story.clock.now)}: {error.__class__.__name__}: {error.message}")
                continue
            self.seq += 1
            heapq.heappush(self.heap, (following, number, self.seq, number, script))
        for story in self.stories:
            self._activate(story)
            story.finish()
        if isinstance(self.app, GeneratorDuban):
            self.app.flush()


# Entry points -----------------------------------------------------------------------


def county_state(app: Duban, seed: int, index: int) -> str:
    """'absent', 'complete' or 'interrupted', from the store (two small reads)."""
    county_id = generated_id(seed, index, "unit:county")
    if not app.recorder.select_events(county_id, limit=1):
        return "absent"
    if len(app.recorder.select_events(county_marker_id(seed, index), limit=2)) >= 2:
        return "complete"
    return "interrupted"


class CountyInterrupted(Exception):
    """A county exists without its marker, and this application cannot resume it."""


def generate_county(
    duban: Duban,
    clock: TravellingClock,
    index: int,
    *,
    target_events: int = DEFAULT_EVENTS,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
) -> CountySummary:
    """Generate county ``index`` through ``duban`` (a plain Duban on ``clock``, or a
    GeneratorDuban, whose clock is switched to ``clock``). The clock is set to the
    start. A complete county is skipped; an interrupted one is resumed by a
    GeneratorDuban and refused (CountyInterrupted) by a plain Duban."""
    state = county_state(duban, seed, index)
    story = _Story(duban, index, seed=seed, target_events=target_events, start=start, days=days, clock=clock)
    if state == "complete":
        return CountySummary(index, story.county_id, story.shape.name, "skipped", first_day=start, last_day=story.end_day)
    if state == "interrupted":
        if not isinstance(duban, GeneratorDuban):
            raise CountyInterrupted(f"county {index} ({story.shape.name}) was interrupted; resume it with bench/generate.py")
        duban.load_stored_versions()
    before = duban.position()
    with _memoized_calendar():
        _Engine(duban, [story]).run()
    result = story.summary("resumed" if state == "interrupted" else "generated")
    if not isinstance(duban, GeneratorDuban):
        result.events = duban.position() - before
    return result


@dataclass
class Report:
    counties: list[CountySummary]
    written: int
    skipped_events: int
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.written / self.seconds if self.seconds else 0.0


def generate(
    store_env: dict[str, str] | None = None,
    counties: int = 1,
    target_events_per_county: int = DEFAULT_EVENTS,
    *,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    first_index: int = 1,
    batch_events: int = BATCH_EVENTS,
    progress: bool = False,
) -> Report:
    """Generate counties ``first_index`` .. ``first_index + counties - 1`` into a store,
    all on one timeline; complete ones are skipped, interrupted ones resumed."""
    app = open_writer(store_env, batch_events=batch_events)
    began = wall.perf_counter()
    try:
        indexes = list(range(first_index, first_index + counties))
        states = {i: county_state(app, seed, i) for i in indexes}
        if any(s == "interrupted" for s in states.values()):
            app.load_stored_versions()
        stories = [
            _Story(app, i, seed=seed, target_events=target_events_per_county, start=start, days=days)
            for i in indexes
            if states[i] != "complete"
        ]
        skipped = [
            CountySummary(i, generated_id(seed, i, "unit:county"), make_shape(i, random.Random(f"{seed}:{i}:shape")).name, "skipped")
            for i in indexes
            if states[i] == "complete"
        ]
        if stories:
            with _memoized_calendar(), _progress(progress, len(stories) * target_events_per_county, app) as on_day:
                _Engine(app, stories, on_day=on_day).run()
        if stories:
            analyse_events(app)
        summaries = {s.index: s for s in skipped}
        for story in stories:
            summaries[story.index] = story.summary("resumed" if states[story.index] == "interrupted" else "generated")
        return Report(
            counties=[summaries[i] for i in indexes],
            written=app.written,
            skipped_events=app.skipped,
            seconds=wall.perf_counter() - began,
        )
    finally:
        app.close()


def analyse_events(app: Any) -> None:
    """ANALYZE the events table (PostgreSQL) once it has been filled, as autovacuum would
    in time: a server without autovacuum (this machine's) otherwise plans each
    aggregate's load from the statistics of an empty table, a parallel scan with JIT
    that took 40-70 ms instead of 0.1 ms (seen in the sweep of a 10-million-event store)."""
    from eventsourcing.postgres import PostgresDatastore

    recorder = app.recorder
    datastore = recorder.datastore
    if not isinstance(datastore, PostgresDatastore):
        return
    with datastore.transaction(commit=True) as cursor:
        cursor.execute(f'ANALYZE "{datastore.schema}"."{recorder.events_table_name}"')


@contextmanager
def _progress(enabled: bool, total: int, app: GeneratorDuban) -> Iterator[Callable[[date], None]]:
    if not enabled:
        yield lambda day: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events · {task.fields[rate]} ev/s · day {task.fields[day]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    began = wall.perf_counter()
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("generating", total=total, rate="-", day="-")

        def flushed(written: int, skipped: int) -> None:
            elapsed = wall.perf_counter() - began
            rate = f"{app.written / elapsed:,.0f}" if elapsed else "-"
            bar.update(task, advance=written + skipped, rate=rate)

        app.on_flush = flushed
        yield lambda day: bar.update(task, day=day.isoformat())
        bar.update(task, completed=app.written + app.skipped, total=app.written + app.skipped)


# Command line -----------------------------------------------------------------------


def store_from_argument(value: str) -> dict[str, str]:
    """``sqlite:PATH`` or ``postgres:SCHEMA`` (server settings from tests/support.py)."""
    kind, _, where = value.partition(":")
    if kind == "sqlite" and where:
        path = Path(where).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    elif kind == "postgres" and where:
        from tests.support import POSTGRES_BASE

        env = {**POSTGRES_BASE, "POSTGRES_SCHEMA": where}
    else:
        raise argparse.ArgumentTypeError("expected sqlite:PATH or postgres:SCHEMA")
    return {**env, "DUBAN_PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate synthetic counties through the Duban service.")
    parser.add_argument("--counties", type=int, default=1)
    parser.add_argument("--events-per-county", type=int, default=DEFAULT_EVENTS)
    parser.add_argument("--store", type=store_from_argument, default="sqlite:var/generated/events.sqlite")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--first-index", type=int, default=1, help="number of the first county (default 1)")
    parser.add_argument("--batch", type=int, default=BATCH_EVENTS, help="events per save (default 1000)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from bench.commands import STORE_CHOOSING
    from bench.common import clear_environment

    clear_environment(STORE_CHOOSING, "--store chooses the store")
    report = generate(
        args.store,
        counties=args.counties,
        target_events_per_county=args.events_per_county,
        seed=args.seed,
        start=args.start,
        days=args.days,
        first_index=args.first_index,
        batch_events=args.batch,
        progress=not args.no_progress,
    )
    print_report(report, args)
    return 0 if not any(c.problems for c in report.counties) else 1


def print_report(report: Report, args: Any) -> None:
    store = args.store.get("SQLITE_DBNAME") or f"postgres schema {args.store.get('POSTGRES_SCHEMA')}"
    statuses: Counter[str] = Counter()
    for county in report.counties:
        statuses.update(county.by_status)
    done = Counter(c.status for c in report.counties)
    print(f"store         {store}")
    print(f"counties      {len(report.counties)} ({', '.join(f'{n} {s}' for s, n in done.items())})")
    for county in report.counties:
        if county.status == "skipped":
            print(f"  {county.index:>4} {county.name}  already complete, skipped")
            continue
        print(
            f"  {county.index:>4} {county.name}  {county.events:,} events, {county.findings:,} findings, "
            f"{county.first_day} → {county.last_day}, overdue at end {county.overdue_at_end}, "
            f"escalated {county.escalated}, circulars {county.circulars}, cases {county.cases}"
        )
        if county.problems:
            print(f"       {len(county.problems)} step(s) refused by the domain: " + "; ".join(county.problems[:3]))
    print(f"events        {report.written:,} written" + (f", {report.skipped_events:,} already stored" if report.skipped_events else ""))
    print("findings      " + " · ".join(f"{s} {statuses.get(s, 0):,}" for s in STATUSES))
    print(f"seconds       {report.seconds:,.1f}")
    print(f"events/s      {report.events_per_second:,.0f}")


if __name__ == "__main__":
    sys.exit(main())
