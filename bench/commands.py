"""How fast Duban's commands write, next to the bare library, and how fast the ledger rebuilds.

Run from the repository root::

    .venv/bin/python bench/commands.py [--findings N] [--backends sqlite,postgres] [--repeats 3]

For each backend, each repeat starts on a fresh store (a new SQLite file in a
temporary folder; a new PostgreSQL schema, dropped afterwards) and measures:

1. ``Duban.file_finding`` called N times one by one in a small county (county,
   zone, town, 20 villages, an inspector, DEFAULT_RULES). Each call reads the
   unit, its parents, the rulebook and the check-item record, and saves a
   Finding and its CheckItemRecord in one atomic write (2 aggregates, 2 events).
2. The bare library on the same backend in the same run: a plain
   ``eventsourcing.application.Application`` on its own fresh store saving N
   pairs of plain ``Aggregate`` objects, one created event each with a payload
   of 13 short string fields (Chinese text included, like a Finding.Filed), one
   ``save(a, b)`` per pair.
3. After some findings are driven through issue_notice/acknowledge_notice, the
   ledger is built once, dropped (``view.drop_view``) and rebuilt with
   ``Follower(app, projection, batch_size=500).catch_up()``, which is timed;
   then the same notifications are merely read (``select_notifications`` in
   batches of 500 with the projection's topics, each mapped with
   ``app.mapper.to_domain_event``), also timed.

It prints the median of each figure over the repeats, the spread (min..max),
the ratio of paired figures (median of the per-repeat ratios) and the machine.
Progress goes to stderr; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.common import clear_environment, log, machine_facts  # noqa: E402

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate  # noqa: E402

from domain.events import INSPECTOR, SYSTEM_ACTOR, UNIT, Actor, local_date  # noqa: E402
from domain.rules.rulebook import DEFAULT_RULES  # noqa: E402
from domain.service import Duban, TravellingClock  # noqa: E402
from projections.runner import Follower, ledger_projection  # noqa: E402
from projections.storage import POSTGRES_DEFAULTS, open_application  # noqa: E402
from tests.support import postgres_connection, postgres_schema, sqlite_env  # noqa: E402

BACKENDS = ("sqlite", "postgres")
BATCH = 500

#: Variables that would point the stores somewhere else than the fresh ones made
#: here (a prefixed key such as DUBAN_SQLITE_DBNAME wins over what we pass).
STORE_CHOOSING = (
    "PERSISTENCE_MODULE", "DUBAN_PERSISTENCE_MODULE", "SQLITE_DBNAME", "DUBAN_SQLITE_DBNAME",
    "LEDGER_SQLITE_DBNAME", "POSTGRES_SCHEMA", "DUBAN_POSTGRES_SCHEMA", "LEDGER_POSTGRES_SCHEMA",
    "CIPHER_TOPIC", "CIPHER_KEY", "DUBAN_CIPHER_TOPIC", "DUBAN_CIPHER_KEY", "CREATE_TABLE",
    "DUBAN_CREATE_TABLE", "APPLICATION_SQLITE_DBNAME", "APPLICATION_POSTGRES_SCHEMA",
)  # fmt: skip

VILLAGES = (
    "高庙山", "姜兴庄", "杨家沟", "刘家峁", "李家站", "杜家石沟", "印斗", "龙镇", "桃镇", "沙家店",
    "石沟", "十里铺", "官庄", "马家铺", "冯家沟", "郭兴庄", "孟岔", "庙峁", "艾好湾", "卧虎湾",
)  # fmt: skip

CHECK_ITEMS = (
    "贫困户档案", "一户一册", "帮扶手册", "收入台账", "产业发展台账", "危房改造档案", "饮水安全台账",
    "医疗报销凭证", "教育资助台账", "低保公示", "扶贫资金公示", "项目库", "驻村工作日志", "村级会议记录",
    "帮扶责任人走访记录", "动态调整台账", "脱贫退出程序", "户主身份信息", "家庭成员信息", "务工收入证明",
    "光伏收益分配", "小额信贷台账", "易地搬迁台账", "就业帮扶台账", "政策明白卡", "民主评议记录",
    "入户核查表", "村情简介", "项目验收资料", "资产台账", "三保障核查表", "问题整改台账",
    "信息系统录入", "公益岗位台账", "残疾人补贴台账", "养老保险台账", "健康帮扶档案", "消费帮扶台账",
    "防返贫监测台账", "村级光伏电站档案",
)  # fmt: skip

CATEGORIES = ("missing", "omitted", "nonstandard", "outdated", "inconsistent", "noncorresponding", "other")
SOURCES = ("inspection", "extraction", "mutual", "routine")
SEVERITIES = ("general", "serious", "grave")
DESCRIPTIONS = (
    "收入台账中务工收入与银行流水不一致，未附佐证材料",
    "帮扶手册未按季度更新，走访记录缺少签字",
    "一户一册家庭成员信息与系统不对应",
    "危房改造验收资料缺项，未见竣工照片",
    "饮水安全台账未填写水质检测结果",
)


# Stores ----------------------------------------------------------------------


@contextmanager
def fresh_store(backend: str) -> Iterator[dict[str, str]]:
    """The environment of a new, empty store: a SQLite file in a temporary
    folder, or a new PostgreSQL schema (dropped on exit, with its tables)."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="duban-bench-"))
        try:
            env = sqlite_env(folder)
            yield {**env, "DUBAN_PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"]}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        with postgres_schema() as env:
            yield {**env, "DUBAN_PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"]}


def bare_env(store: dict[str, str]) -> dict[str, str]:
    """The same backend and settings for the bare application, on its own store."""
    env = dict(store)
    env.pop("DUBAN_PERSISTENCE_MODULE", None)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        # SQLite tables are not namespaced per application: a file of its own.
        env["SQLITE_DBNAME"] = str(Path(env["SQLITE_DBNAME"]).with_name("bare.sqlite"))
    else:
        env = {**POSTGRES_DEFAULTS, **env}
        with postgres_connection() as connection:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{env["POSTGRES_SCHEMA"]}"')
    return env


def count_rows(view: Any, table: str) -> int:
    with view.reading() as rows:
        row = rows.one(f"SELECT COUNT(*) AS n FROM {{{table}}}")
    return int(row["n"] if not isinstance(row, tuple) else row[0])


# The county --------------------------------------------------------------------


@dataclass
class County:
    county_id: uuid.UUID
    villages: list[uuid.UUID]
    inspector: Actor
    town_unit: Actor


def build_county(app: Duban) -> County:
    county = app.register_unit(name="米脂县", kind="county", parent_id=None, code="610827").id
    app.open_rulebook(county, DEFAULT_RULES, local_date(app.clock()))
    office = app.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=county).id
    zone = app.register_unit(name="东战区", kind="zone", parent_id=county).id
    town = app.register_unit(name="银州街道", kind="town", parent_id=zone).id
    villages = [
        app.register_unit(name=f"{name}村", kind="village", parent_id=town, code=f"61082710{i:04d}").id
        for i, name in enumerate(VILLAGES)
    ]
    inspector = app.register_user(unit_id=office, name="李督查", login="inspector1", roles=[INSPECTOR], actor=SYSTEM_ACTOR)
    town_user = app.register_user(unit_id=town, name="王镇长", login="town1", roles=[UNIT], actor=SYSTEM_ACTOR)
    return County(county, villages, app.actor(inspector.id, INSPECTOR), app.actor(town_user.id, UNIT))


def finding_args(county: County, i: int) -> dict[str, Any]:
    return {
        "unit_id": county.villages[i % len(county.villages)],
        "category": CATEGORIES[i % len(CATEGORIES)],
        "source": SOURCES[i % len(SOURCES)],
        "severity": SEVERITIES[i % len(SEVERITIES)],
        "check_item": CHECK_ITEMS[(i // len(VILLAGES)) % len(CHECK_ITEMS)],
        "description": f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}（第{i + 1}条）",
        "household_no": f"6108271{i:09d}" if i % 2 == 0 else "",
        "actor": county.inspector,
    }


# The bare baseline ---------------------------------------------------------------


class BareRecord(Aggregate):
    """A plain aggregate whose created event carries one payload dict."""

    def __init__(self, payload: dict[str, str]):
        self.payload = payload


def bare_payload(i: int) -> dict[str, str]:
    """13 short string fields, about the size of a Finding.Filed."""
    unit = str(uuid.uuid4())
    return {
        "county_id": str(uuid.uuid4()),
        "inspection_id": "",
        "unit_id": unit,
        "unit_path": f"{unit},{uuid.uuid4()},{uuid.uuid4()},{uuid.uuid4()}",
        "category": CATEGORIES[i % len(CATEGORIES)],
        "source": SOURCES[i % len(SOURCES)],
        "severity": SEVERITIES[i % len(SEVERITIES)],
        "check_item": CHECK_ITEMS[(i // len(VILLAGES)) % len(CHECK_ITEMS)],
        "description": f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}（第{i + 1}条）",
        "household_no": f"6108271{i:09d}" if i % 2 == 0 else "",
        "cadre_ids": "",
        "repeat_of": "",
        "filed_on": "2026-10-09",
    }


# One repeat on one backend ----------------------------------------------------------


def state_sizes(app: Application, start: int, stop: int) -> float:
    """Mean stored size (bytes of the state column) of the events in (start, stop]."""
    total = count = 0
    position = start
    while position < stop:
        batch = app.recorder.select_notifications(start=position, limit=BATCH, stop=stop, inclusive_of_start=False)
        if not batch:
            break
        total += sum(len(n.state) for n in batch)
        count += len(batch)
        position = batch[-1].id
    return total / count if count else 0.0


def run_service(backend: str, n: int, figures: dict[str, float]) -> None:
    with fresh_store(backend) as env:
        clock = TravellingClock(datetime(2026, 10, 9, 1, 0, tzinfo=timezone.utc))
        app = open_application(env, clock)
        projection = None
        try:
            county = build_county(app)
            before = app.position()
            args = [finding_args(county, i) for i in range(n)]
            filed: list[uuid.UUID] = []
            started = time.perf_counter()
            for kwargs in args:
                clock.advance(minutes=1)
                filed.append(app.file_finding(**kwargs).id)
            elapsed = time.perf_counter() - started
            after = app.position()
            events = after - before
            if events != 2 * n:
                raise RuntimeError(f"expected {2 * n} events from {n} findings, the log grew by {events}")
            figures["file_findings"] = n / elapsed
            figures["file_events"] = events / elapsed
            figures["file_aggregates"] = 2 * n / elapsed
            figures["file_state_bytes"] = state_sizes(app, before, after)
            log(f"  {backend}: filed {n} findings in {elapsed:.2f} s")

            # More event types for the ledger: a quarter get a notice, half of those acknowledge it.
            for finding_id in filed[: n // 4]:
                clock.advance(minutes=1)
                app.issue_notice(finding_id, county.inspector)
            for finding_id in filed[: n // 8]:
                clock.advance(minutes=1)
                app.acknowledge_notice(finding_id, county.town_unit)

            projection = ledger_projection(env)
            follower = Follower(app, projection, batch_size=BATCH)
            follower.catch_up()  # the first build, untimed: the rebuild below replaces real rows
            projection.view.drop_view(app.name)
            if follower.position != 0 or count_rows(projection.view, "ledger_findings") != 0:
                raise RuntimeError("drop_view left rows or a tracking position behind")

            started = time.perf_counter()
            follower.catch_up()
            rebuild = time.perf_counter() - started
            rows = count_rows(projection.view, "ledger_findings")
            if rows != n:
                raise RuntimeError(f"the rebuilt ledger has {rows} findings, expected {n}")

            head = app.recorder.max_notification_id() or 0
            read = 0
            started = time.perf_counter()
            position = 0
            while True:
                batch = app.recorder.select_notifications(
                    start=position, limit=BATCH, stop=head, topics=projection.topics, inclusive_of_start=False
                )
                for notification in batch:
                    app.mapper.to_domain_event(notification)
                read += len(batch)
                if len(batch) < BATCH:
                    break
                position = batch[-1].id
            reading = time.perf_counter() - started

            figures["rebuild_events"] = read / rebuild
            figures["read_events"] = read / reading
            figures["rebuild_count"] = read
            figures["log_count"] = head
            log(f"  {backend}: rebuilt the ledger from {read} of {head} events in {rebuild:.2f} s, read them in {reading:.2f} s")
        finally:
            if projection is not None:
                projection.view.datastore.close()
            app.close()

        # The bare library, same backend, same run, its own fresh store.
        env2 = bare_env(env)
        payloads = [(bare_payload(i), bare_payload(i)) for i in range(n)]
        bare = Application(env=env2)
        try:
            before = bare.recorder.max_notification_id() or 0
            started = time.perf_counter()
            for a, b in payloads:
                bare.save(BareRecord(a), BareRecord(b))
            elapsed = time.perf_counter() - started
            after = bare.recorder.max_notification_id() or 0
            if after - before != 2 * n:
                raise RuntimeError(f"bare: expected {2 * n} events, the log grew by {after - before}")
            figures["bare_pairs"] = n / elapsed
            figures["bare_aggregates"] = 2 * n / elapsed
            figures["bare_events"] = 2 * n / elapsed
            figures["bare_state_bytes"] = state_sizes(bare, before, after)
            log(f"  {backend}: bare library saved {n} pairs in {elapsed:.2f} s")
        finally:
            bare.close()


# Machine and report -------------------------------------------------------------------


def machine(backends: list[str]) -> list[tuple[str, str]]:
    lines = machine_facts(backends)
    if "postgres" in backends:
        lines.append(("POSTGRES_ENABLE_DB_FUNCTIONS", os.environ.get("POSTGRES_ENABLE_DB_FUNCTIONS", "(unset)")))
    return lines


#: (figure key, label, unit, ratio (numerator, denominator, label) or None)
ROWS: tuple[tuple[str, str, str, tuple[str, str, str] | None], ...] = (
    ("file_findings", "file_finding, one by one", "findings/s", None),
    ("file_events", "  events written (2 per finding)", "events/s", ("file_events", "bare_events", "service/bare")),
    ("bare_aggregates", "bare save(a, b)", "aggregates/s", None),
    ("bare_events", "  events written", "events/s", None),
    ("rebuild_events", "ledger rebuild (Follower.catch_up)", "events/s", ("rebuild_events", "read_events", "rebuild/read")),
    ("read_events", "read + map the same notifications", "events/s", None),
)


def fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def report(results: dict[str, list[dict[str, float]]], n: int, repeats: int, backends: list[str], skipped: dict[str, str]) -> None:
    print()
    print(f"Duban commands bench: {n:,} findings, medians of {repeats} run(s), a fresh store per run")
    print()
    header = ("backend", "figure", "median", "unit", "min..max", "ratio")
    table: list[tuple[str, ...]] = []
    for backend in backends:
        runs = results.get(backend) or []
        if not runs:
            continue
        for key, label, unit, ratio in ROWS:
            values = [r[key] for r in runs]
            spread = f"{fmt(min(values))}..{fmt(max(values))}"
            ratio_text = ""
            if ratio:
                top, bottom, name = ratio
                ratio_text = f"{statistics.median(r[top] / r[bottom] for r in runs):.2f} {name}"
            table.append((backend, label, fmt(statistics.median(values)), unit, spread, ratio_text))
    widths = [max(len(row[i]) for row in (header, *table)) for i in range(len(header))]
    align = ("<", "<", ">", "<", ">", "<")

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(line(row))
    print()
    for backend in backends:
        runs = results.get(backend) or []
        if runs:
            r = runs[-1]
            print(
                f"{backend}: mean stored event state {r['file_state_bytes']:.0f} B (service filing)"
                f" vs {r['bare_state_bytes']:.0f} B (bare); ledger rebuilt from {int(r['rebuild_count']):,}"
                f" of {int(r['log_count']):,} events in the log (the ledger's topics only)"
            )
    for backend, reason in skipped.items():
        print(f"{backend}: SKIPPED: {reason}")
    print()
    print("ratio = median of the per-run ratios. Service events: Finding.Filed + CheckItemRecord event per")
    print("finding, after reading the unit, its parents, the rulebook and the check-item record.")
    print()
    print("machine")
    for name, value in machine(backends):
        print(f"  {name:<29} {value}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=2000, help="findings filed per run (default 2000)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite,postgres")
    parser.add_argument("--repeats", type=int, default=3, help="runs per backend; medians are printed (default 3)")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or not args.backends:
        parser.error(f"--backends takes sqlite and/or postgres, not {','.join(sorted(unknown)) or 'nothing'}")
    if args.findings < 8:
        parser.error("--findings must be at least 8")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clear_environment(STORE_CHOOSING, "the bench makes its own stores")
    results: dict[str, list[dict[str, float]]] = {}
    skipped: dict[str, str] = {}
    began = time.monotonic()
    for backend in args.backends:
        if backend == "postgres":
            try:
                postgres_connection().close()
            except Exception as error:
                skipped[backend] = f"cannot connect ({error})"
                log(f"postgres: skipped, cannot connect: {error}")
                continue
        for repeat in range(1, args.repeats + 1):
            log(f"{backend}: run {repeat}/{args.repeats}")
            figures: dict[str, float] = {}
            run_service(backend, args.findings, figures)
            results.setdefault(backend, []).append(figures)
    report(results, args.findings, args.repeats, args.backends, skipped)
    print(f"  {'wall time':<29} {time.monotonic() - began:.0f} s")
    return 2 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
