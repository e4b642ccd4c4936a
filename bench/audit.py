"""The audit chain's speed on a large store: building the chain view, a full
verification and an anchor check, in events per second, on SQLite and PostgreSQL.

    .venv/bin/python bench/audit.py                       # 1,000,000 events, both backends
    .venv/bin/python bench/audit.py --events 20000 --backends sqlite

The store is built once and kept (var/bench/audit-<N>/events.sqlite; PostgreSQL
schema ``bench_audit_<N>`` in the test database); ``--fresh`` builds it again.
Building it through the service would take hours at a million events, so its
events are written straight through the recorder in batches of 5,000: their
topics and state sizes are those of a county written through the service with
the cipher on (sampled first, on a temporary store), their states random bytes
of those sizes (what AES-GCM cipher text looks like to a hash), five events per
aggregate. The chain and the verifier hash the stored bytes only, so this is
the work they do on a real store of that size.

Measured, per backend: the chain view built from nothing (``Follower`` with the
projector's batch of 500, as deployed), a full ``verify_history`` against it, a
``check_anchor`` at the last position, and, to choose how the verifier reads
the store, a full read through ``select_notifications`` against the plain SQL
cursor it uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.common import clear_environment, log, machine_facts  # noqa: E402

STORE_VARIABLES = tuple(
    prefix + name
    for prefix in ("", "DUBAN_")
    for name in ("PERSISTENCE_MODULE", "SQLITE_DBNAME", "POSTGRES_SCHEMA", "CIPHER_TOPIC", "CIPHER_KEY", "CREATE_TABLE")
)
BATCH = 5000
PER_AGGREGATE = 5


def sample_events() -> list[tuple[str, int]]:
    """(topic, stored state size) of the events of a small county written through the
    service with the cipher on: units, users, the rulebook, findings with notices."""
    import tempfile

    from tests.integration.county import build_county, opened
    from tests.support import sqlite_env

    with tempfile.TemporaryDirectory() as folder, opened(sqlite_env(Path(folder), encrypted=True)) as app:
        county = build_county(app)
        for n in range(60):
            finding = county.file(check_item=f"检查项{n % 12}", household_no="612727201900123456" if n % 3 else "")
            if n % 2:
                app.issue_notice(finding, county.command)
            if n % 4 == 1:
                app.acknowledge_notice(finding, county.unit_a)
        return [(n.topic, len(n.state)) for n in app.recorder.select_notifications(start=1, limit=100_000)]


def store_env(backend: str, events: int) -> dict[str, str]:
    if backend == "sqlite":
        folder = REPO_ROOT / "var" / "bench" / f"audit-{events}"
        folder.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "events.sqlite")}
    from tests.support import POSTGRES_BASE

    return {**POSTGRES_BASE, "POSTGRES_SCHEMA": f"bench_audit_{events}", "POSTGRES_POOL_SIZE": "2"}


def drop(backend: str, env: dict[str, str]) -> None:
    if backend == "sqlite":
        folder = Path(env["SQLITE_DBNAME"]).parent
        for file in folder.glob("*.sqlite*"):
            file.unlink()
        return
    from tests.support import postgres_connection

    with postgres_connection() as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{env["POSTGRES_SCHEMA"]}" CASCADE')


def fill(app: Any, events: int, samples: list[tuple[str, int]]) -> None:
    """Write ``events`` events as stored, in batches, through the recorder."""
    from eventsourcing.persistence import StoredEvent

    written, started, index = app.position(), time.perf_counter(), 0
    while written < events:
        batch = []
        for _ in range(0, min(BATCH, events - written), PER_AGGREGATE):
            originator = uuid.uuid4()
            for version in range(1, PER_AGGREGATE + 1):
                topic, size = samples[index % len(samples)]
                index += 1
                batch.append(StoredEvent(originator, version, topic, os.urandom(size)))
        batch = batch[: events - written]
        app.recorder.insert_events(batch)
        written += len(batch)
        if written % 100_000 < BATCH:
            rate = written / max(time.perf_counter() - started, 1e-9)
            log(f"  written {written:,} of {events:,} ({rate:,.0f} events/s)")


def timed(label: str, run: Any, events: int) -> float:
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    rate = events / max(elapsed, 1e-9)
    log(f"  {label}: {elapsed:.1f} s, {rate:,.0f} events/s")
    return rate


def measure(backend: str, events: int, fresh: bool, samples: list[tuple[str, int]] | None) -> dict[str, Any]:
    from domain.audit import parse_anchor
    from projections.audit_chain import AuditChainQuery
    from projections.audit_verify import StoreReader, check_anchor, verify_history
    from projections.runner import Follower, audit_projection
    from projections.storage import open_application

    env = store_env(backend, events)
    if fresh:
        drop(backend, env)
    app = open_application(env)
    projection = audit_projection(env)
    try:
        if app.position() < events:
            log(f"{backend}: writing {events - app.position():,} events")
            fill(app, events, samples or sample_events())
        count = app.position()
        if count != events:
            raise SystemExit(f"{backend}: the cached store holds {count:,} events, not {events:,}; use --fresh")
        sizes = _sizes(app, backend)
        log(f"{backend}: {count:,} events, mean stored state {sizes:,.0f} bytes")
        figures: dict[str, Any] = {"events": count, "state_bytes": sizes}
        projection.view.drop_view(app.name)
        follower = Follower(app, projection)
        figures["chain_build"] = timed("chain view built (batches of 500)", follower.catch_up, count)
        chain = AuditChainQuery(projection.view)
        head = chain.head()
        reports: list[Any] = []
        figures["verify"] = timed("full verification", lambda: reports.append(verify_history(app, chain)), count)
        if not reports[0].intact or reports[0].head != head.chain:
            raise SystemExit(f"{backend}: verification disagrees with the chain: {reports[0].describe()}")
        anchor = parse_anchor(f"{head.chain}@{head.position}")
        checks: list[Any] = []
        figures["anchor"] = timed("anchor check", lambda: checks.append(check_anchor(app, anchor)), count)
        if not checks[0].holds:
            raise SystemExit(f"{backend}: the anchor does not hold: {checks[0].describe()}")

        def read_library() -> None:
            position = 0
            while True:
                page = app.recorder.select_notifications(start=position, limit=BATCH, inclusive_of_start=False)
                if not page:
                    return
                position = page[-1].id

        def read_cursor() -> None:
            for _ in StoreReader(app).pages(0, count, BATCH):
                pass

        figures["read_library"] = timed("read: select_notifications", read_library, count)
        figures["read_cursor"] = timed("read: SQL cursor", read_cursor, count)
        return figures
    finally:
        app.close()
        projection.view.datastore.close()


def _sizes(app: Any, backend: str) -> float:
    reader_table = app.recorder.events_table_name
    if backend == "sqlite":
        with app.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT AVG(LENGTH(state)) FROM {reader_table}")
            return float(cursor.fetchone()[0] or 0)
    with app.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute(f'SELECT AVG(LENGTH(state)) AS n FROM "{app.recorder.datastore.schema}"."{reader_table}"')
        return float(cursor.fetchone()["n"] or 0)


ROWS = (
    ("chain_build", "chain view built from nothing"),
    ("verify", "full verification (verify-history)"),
    ("anchor", "anchor check at the last position"),
    ("read_library", "read only: select_notifications"),
    ("read_cursor", "read only: SQL cursor (the verifier's)"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the store (default 1,000,000)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--fresh", action="store_true", help="build the store again even if one is cached")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    clear_environment(STORE_VARIABLES, "the bench uses its own cached stores")
    samples = None
    results = {}
    for backend in backends:
        if samples is None:
            samples = sample_events()
            log(f"sampled {len(samples)} events of a county written through the service (cipher on)")
        results[backend] = measure(backend, args.events, args.fresh, samples)
    print(f"Audit chain on a store of {args.events:,} events (events/s; higher is better)\n")
    header = f"{'figure':<42}" + "".join(f"{b:>14}" for b in backends)
    print(header)
    print("-" * len(header))
    for key, label in ROWS:
        print(f"{label:<42}" + "".join(f"{results[b][key]:>14,.0f}" for b in backends))
    print()
    for backend in backends:
        r = results[backend]
        print(f"{backend}: {r['events']:,} events, mean stored state {r['state_bytes']:,.0f} bytes; "
              f"cursor/select_notifications read speed {r['read_cursor'] / r['read_library']:.2f}×")  # fmt: skip
    print("\nmachine")
    for name, value in machine_facts(backends):
        print(f"  {name:<14} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
