"""The web app under load: concurrent users on loopback against gunicorn and the
PostgreSQL store, as a deployment runs it.

Run from the repository root::

    .venv/bin/python bench/web.py [--users 50] [--seconds 20] [--think 1] [--workers 4] [--threads 4]

What it does:

1. A PostgreSQL schema of its own (``--schema``, in the database ``test``,
   dropped afterwards) gets the demo county (``load_demo``: units, users with
   the demo password, a year of findings). An API key is issued to the demo
   inspector. Every view's tables are created once, here, before any process
   starts; the processes then run with ``CREATE_TABLE=n`` (a gunicorn worker
   creating a view's index while the projector writes it deadlocked).
2. It starts the projector (``python -m projections.runner``) and gunicorn
   (``--workers``, gthread with ``--threads``) with ``DUBAN_MODE=services``,
   as the Procfile does, each pool capped at ``--threads`` connections, and
   waits until every gunicorn worker has loaded the app (a ``post_worker_init``
   hook writes each worker's pid to a file).
3. ``--users`` threads, each a separate person's browser session signed in
   through the sign-in form (or holding the API key), run one scenario at a
   time for ``--seconds``. Each user waits a think time between two requests
   (exponential, mean ``--think`` seconds): 50 clerks, not 50 request loops.
   - the ledger page (问题台账, ``GET /``) as the command office;
   - filing a finding through the page form (``POST /findings/new``) and
     following its redirect to the finding's page, timed together: what the
     clerk waits for;
   - filing a finding through the API (``POST /api/v1/findings``);
   - the ledger through the API (``GET /api/v1/findings?limit=50``);
   - and, unless ``--saturation-seconds 0``, filing through the API with no
     think time: the most the server files per second.
4. Bare ``Application.save(a, b)`` of the library on the same server
   (``--bare-saves``, one after another), for the ratio API filings/s
   (saturated) ÷ bare saves/s.
5. It prints, per scenario: requests, requests per second, median and
   95th-percentile latency in milliseconds, and errors (any answer other than
   the expected status, or a connection failure); the most connections the
   server had open during the run; the bare saves and the ratio.

Progress goes to stderr; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import uuid4

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402

from bench.common import clear_environment, log, machine_facts  # noqa: E402
from tests.support import POSTGRES_BASE, postgres_connection  # noqa: E402

BIN = Path(sys.executable).parent


@dataclass
class Tally:
    name: str
    expected: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, status: int | None, detail: str = "") -> None:
        elapsed = time.perf_counter() - started
        with self.lock:
            if status == self.expected:
                self.latencies.append(elapsed)
            else:
                self.errors += 1
                if len(self.error_samples) < 3:
                    self.error_samples.append(f"{status}: {detail[:160]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/sign-in", timeout=10).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still starting up
            pass
        time.sleep(0.3)
    raise SystemExit(f"the web app at {base} did not answer within {seconds} s")


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not match:
        raise RuntimeError("no form token on the page")
    return match.group(1)


def signed_in_session(base: str, login: str, password: str) -> requests.Session:
    session = requests.Session()
    token = form_token(session.get(f"{base}/sign-in", timeout=30).text)
    answer = session.post(
        f"{base}/sign-in", data={"csrf_token": token, "login": login, "password": password}, timeout=30,
        allow_redirects=False,
    )  # fmt: skip
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in as {login} answered {answer.status_code}")
    return session


def run_scenario(
    tally: Tally, users: int, seconds: float, make_user: Callable[[int], Callable[[], None]], think: float = 0.0
) -> float:
    """Each of ``users`` threads repeats its request until the time is up, waiting
    a think time between two (exponential, mean ``think`` seconds; none at 0).
    Each user starts after a random part of one think time, so they do not
    arrive in step."""
    workers = [make_user(number) for number in range(users)]
    stop = time.monotonic() + seconds

    def loop(request_once: Callable[[], None], number: int) -> None:
        pause = random.Random(number)
        if think > 0:
            time.sleep(pause.uniform(0, think))
        while time.monotonic() < stop:
            request_once()
            if think > 0:
                time.sleep(min(pause.expovariate(1 / think), max(0.0, stop - time.monotonic())))

    threads = [threading.Thread(target=loop, args=(w, n)) for n, w in enumerate(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


#: Written as gunicorn's config: each worker appends its pid once it has loaded the app.
GUNICORN_HOOK = """
def post_worker_init(worker):
    with open({path!r}, "a") as booted:
        booted.write(f"{{worker.pid}}\\n")
"""


def create_tables(store_env: dict[str, str]) -> None:
    """The store's and every view's tables, once, before any process starts (the
    processes then run with ``CREATE_TABLE=n``: a gunicorn worker creating a
    view's index while the projector wrote it deadlocked, and the failed boot
    stopped gunicorn)."""
    from projections.runner import PROJECTIONS
    from projections.storage import open_application

    open_application(store_env).close()
    for make in PROJECTIONS.values():
        make(store_env).view.datastore.close()


@contextmanager
def serving(store_env: dict[str, str], workers: int, threads: int, only: list[str] | None = None) -> Iterator[str]:
    """The projector process and gunicorn (``workers`` gthread workers × ``threads``,
    services mode, as the Procfile runs them) on ``store_env``; yields the base URL
    once every worker has loaded the app, and stops both (their process groups) on
    exit: SIGTERM, then SIGKILL for whatever still runs after 30 s."""
    create_tables(store_env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    scratch = Path(f"/tmp/duban-bench-web-{port}")
    scratch.mkdir(parents=True, exist_ok=True)
    booted = scratch / "booted"
    booted.write_text("")
    config = scratch / "gunicorn.conf.py"
    config.write_text(GUNICORN_HOOK.format(path=str(booted)))
    # A request holds at most one connection of a pool at a time, so a pool of
    # ``threads`` connections never makes a thread wait. A process has two pools
    # (the store's, and the one its views share); the projector keeps the
    # library's overflow, since each of its followers writes on a connection of
    # the views' pool at once.
    pools = {"POSTGRES_MAX_OVERFLOW": str(max(0, threads - int(store_env.get("POSTGRES_POOL_SIZE", "1"))))}
    env = {**os.environ, **store_env, **pools, "CREATE_TABLE": "n", "DUBAN_MODE": "services",
           "DUBAN_SECRET_KEY": uuid4().hex, "DUBAN_DOCUMENTS_DIR": str(scratch / "documents"),
           "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    processes = [
        subprocess.Popen([str(BIN / "python"), "-m", "projections.runner", *(["--only", ",".join(only)] if only else [])],
                         cwd=REPO_ROOT,
                         env={**env, "POSTGRES_MAX_OVERFLOW": store_env.get("POSTGRES_MAX_OVERFLOW", "10")},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen([str(BIN / "gunicorn"), "--config", str(config), "--bind", f"127.0.0.1:{port}",
                          "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
                          "--log-level", "warning", "app:create_app()"], cwd=REPO_ROOT, env=env,
                         start_new_session=True),
    ]  # fmt: skip
    try:
        wait_until_up(base)
        deadline = time.monotonic() + 120
        while len(booted.read_text().split()) < workers:
            if time.monotonic() > deadline or processes[1].poll() is not None:
                raise SystemExit(f"only {len(booted.read_text().split())} of {workers} gunicorn workers booted")
            time.sleep(0.2)
        yield base
    finally:
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                log(f"process {process.pid} did not stop within 30 s of SIGTERM: killing it")
                _signal_group(process, signal.SIGKILL)
                process.wait(10)


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


@contextmanager
def bench_schema(name: str) -> Iterator[dict[str, str]]:
    """The store's environment on PostgreSQL schema ``name``, created empty and dropped afterwards."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", name) or name in ("public", "province"):
        raise SystemExit(f"--schema {name!r}: give a new lower-case schema name of the bench's own")
    with postgres_connection() as connection:
        if connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone():
            raise SystemExit(f"schema {name} exists already; drop it first (the bench drops its schema at the end)")
        connection.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield {**POSTGRES_BASE, "POSTGRES_SCHEMA": name}
    finally:
        with postgres_connection() as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class ConnectionWatch:
    """Samples how many connections the server has open, every 0.5 s, and keeps the most."""

    def __init__(self) -> None:
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with postgres_connection() as connection:
            while not self._stop.wait(0.5):
                row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
                self.most = max(self.most, int(row[0]) if row else 0)

    def __enter__(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(5)


def bare_saves(store_env: dict[str, str], count: int) -> tuple[float, list[float]]:
    """``count`` bare ``Application.save(a, b)`` one after another on the same server
    (the bench's schema, the library's own tables): saves per second and each save's seconds."""
    from eventsourcing.application import Application

    from bench.commands import BareRecord, bare_env, bare_payload

    bare = Application(env=bare_env({**store_env, "CREATE_TABLE": "y"}))
    try:
        payloads = [(bare_payload(i), bare_payload(i)) for i in range(count)]
        seconds: list[float] = []
        began = time.perf_counter()
        for a, b in payloads:
            started = time.perf_counter()
            bare.save(BareRecord(a), BareRecord(b))
            seconds.append(time.perf_counter() - started)
        return count / (time.perf_counter() - began), seconds
    finally:
        bare.close()


def api_filing_user(base: str, key: str, villages: list[str], tally: Tally) -> Callable[[int], Callable[[], None]]:
    """A user who files findings through ``POST /api/v1/findings`` with ``key``, one village after another."""
    headers = {"Authorization": f"Bearer {key}"}

    def make(number: int) -> Callable[[], None]:
        session = requests.Session()
        counter = iter(range(10**9))

        def once() -> None:
            n = next(counter)
            body = {
                "unit_id": villages[(number * 11 + n) % len(villages)], "category": "missing", "source": "inspection",
                "severity": "general", "check_item": "帮扶手册收入测算", "description": f"接口压测 {number}-{n}",
            }  # fmt: skip
            started = time.perf_counter()
            try:
                answer = session.post(f"{base}/api/v1/findings", json=body, headers=headers, timeout=60)
                tally.record(started, answer.status_code, answer.text)
            except requests.RequestException as error:
                tally.record(started, None, repr(error))

        return once

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time of a user between two requests, s")
    parser.add_argument("--saturation-seconds", type=float, default=20,
                        help="API filing with no think time, for the most filings per second (0: skip)")
    parser.add_argument("--bare-saves", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--schema", default="bench_filing", help="PostgreSQL schema of the bench's own (dropped at the end)")
    args = parser.parse_args()
    clear_environment(("PERSISTENCE_MODULE", "SQLITE_DBNAME", "POSTGRES_SCHEMA", "CIPHER_TOPIC", "CIPHER_KEY",
                       "CREATE_TABLE", "POSTGRES_MAX_OVERFLOW"),
                      "the bench makes its own PostgreSQL schema")  # fmt: skip

    from app.demo import DEMO_PASSWORD, load_demo
    from app.tokens import issue_token
    from domain.events import COMMAND, INSPECTOR
    from projections.storage import open_application

    began = time.monotonic()
    load_before = os.getloadavg()
    with bench_schema(args.schema) as store_env:
        log(f"loading the demo county into PostgreSQL schema {args.schema} …")
        summary = load_demo(store_env, datetime.now(timezone.utc))
        assert summary is not None
        inspector_login = summary.users_by_role[INSPECTOR][1]
        command_login = summary.users_by_role[COMMAND][1]
        duban = open_application(store_env)
        inspector = next(u for u in _users(duban) if u.login == inspector_login)
        key = issue_token(duban, inspector.id, INSPECTOR, "bench/web.py", inspector.acting_as(INSPECTOR)).plaintext
        villages = [str(u.id) for u in _units(duban, summary.county_id) if u.kind == "village" and not u.retired]
        duban.close()

        with ConnectionWatch() as connections, serving(store_env, args.workers, args.threads) as base:
            log(f"gunicorn up at {base} ({args.workers} workers × {args.threads} threads); signing in {args.users} users …")
            tallies = scenarios(base, args, command_login, inspector_login, DEMO_PASSWORD, key, villages)
        log(f"bare library: {args.bare_saves:,} saves …")
        bare_rate, bare_seconds = bare_saves(store_env, args.bare_saves)

    print(f"# bench/web.py: {args.users} users, {args.seconds:g} s a scenario, think time {args.think:g} s "
          f"(exponential mean), gunicorn {args.workers} workers × {args.threads} threads, PostgreSQL store, demo "
          f"county ({len(summary.finding_ids)} findings, {summary.events_written} events); {time.monotonic() - began:.0f} s")  # fmt: skip
    loads = ("load average (1, 5, 15 min) at start / end",
             f"{' '.join(f'{x:.2f}' for x in load_before)} / {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name, value in machine_facts(["postgres"], loads):
        print(f"#   {name}: {value}")
    print(f"{'scenario':<44} {'requests':>9} {'req/s':>8} {'median ms':>10} {'p95 ms':>8} {'errors':>7}")
    saturated = None
    for tally, elapsed in tallies:
        ok = tally.latencies
        median = statistics.median(ok) * 1000 if ok else float("nan")
        p95 = percentile(ok, 0.95) * 1000 if ok else float("nan")
        rate = len(ok) / elapsed
        if tally.name.startswith("file a finding POST /api/v1/findings, no think"):
            saturated = rate
        print(f"{tally.name:<44} {len(ok) + tally.errors:>9} {rate:>8.1f} {median:>10.1f} {p95:>8.1f} "
              f"{tally.errors:>7}")  # fmt: skip
        for sample in tally.error_samples:
            print(f"#   error: {sample}")
    print(f"# bare save(a, b), one after another: {bare_rate:,.0f} saves/s, median "
          f"{statistics.median(bare_seconds) * 1000:.1f} ms, p95 {percentile(bare_seconds, 0.95) * 1000:.1f} ms")
    if saturated is not None:
        print(f"# ratio API filings/s (no think time) / bare saves/s: {saturated:.1f} / {bare_rate:,.0f} = "
              f"{saturated / bare_rate:.2f}")
    print(f"# most server connections seen during the load (all clients of the server): {connections.most}")


def _users(duban: Any) -> list[Any]:
    from domain.org import User

    return [duban.user(n.originator_id) for n in _created(duban, User.Registered)]


def _units(duban: Any, county_id: Any) -> list[Any]:
    from domain.org import Unit

    units = [duban.unit(n.originator_id) for n in _created(duban, Unit.Registered)]
    return [u for u in units if u.county_id == county_id]


def _created(duban: Any, event_class: type) -> list[Any]:
    from eventsourcing.utils import get_topic

    return list(duban.recorder.select_notifications(start=None, limit=10_000_000, topics=[get_topic(event_class)]))


def scenarios(base: str, args: Any, command_login: str, inspector_login: str, password: str, key: str,
              villages: list[str]) -> list[tuple[Tally, float]]:  # fmt: skip
    results: list[tuple[Tally, float]] = []
    commands = [signed_in_session(base, command_login, password) for _ in range(args.users)]
    inspectors = [signed_in_session(base, inspector_login, password) for _ in range(args.users)]

    ledger = Tally("ledger page GET /", 200)

    def ledger_user(number: int) -> Callable[[], None]:
        session = commands[number]

        def once() -> None:
            started = time.perf_counter()
            try:
                answer = session.get(f"{base}/", timeout=60)
                ledger.record(started, answer.status_code, answer.text)
            except requests.RequestException as error:
                ledger.record(started, None, repr(error))

        return once

    log("scenario: ledger page …")
    results.append((ledger, run_scenario(ledger, args.users, args.seconds, ledger_user, args.think)))

    filing = Tally("file a finding, page form + its redirect", 200)

    def filing_user(number: int) -> Callable[[], None]:
        session = inspectors[number]
        token = form_token(session.get(f"{base}/findings/new", timeout=60).text)
        counter = iter(range(10**9))

        def once() -> None:
            n = next(counter)
            form = {
                "csrf_token": token, "finding_id": str(uuid4()), "unit_id": villages[(number * 7 + n) % len(villages)],
                "category": "missing", "source": "inspection", "severity": "general",
                "check_item": "帮扶手册收入测算", "description": f"压测登记的问题 {number}-{n}",
            }  # fmt: skip
            started = time.perf_counter()
            try:
                answer = session.post(f"{base}/findings/new", data=form, timeout=60, allow_redirects=False)
                if answer.status_code == 303:  # the clerk's browser follows it to the finding's page
                    answer = session.get(requests.compat.urljoin(base, answer.headers["Location"]), timeout=60)
                    if form["description"] not in answer.text:
                        filing.record(started, None, "the finding's page does not show the new finding")
                        return
                filing.record(started, answer.status_code, answer.text)
            except requests.RequestException as error:
                filing.record(started, None, repr(error))

        return once

    log("scenario: filing through the page form …")
    results.append((filing, run_scenario(filing, args.users, args.seconds, filing_user, args.think)))

    api_filing = Tally("file a finding POST /api/v1/findings", 201)
    saturated = Tally("file a finding POST /api/v1/findings, no think", 201)
    api_reading = Tally("ledger GET /api/v1/findings", 200)
    headers = {"Authorization": f"Bearer {key}"}

    def api_reading_user(number: int) -> Callable[[], None]:
        session = requests.Session()

        def once() -> None:
            started = time.perf_counter()
            try:
                answer = session.get(f"{base}/api/v1/findings?limit=50", headers=headers, timeout=60)
                api_reading.record(started, answer.status_code, answer.text)
            except requests.RequestException as error:
                api_reading.record(started, None, repr(error))

        return once

    log("scenario: filing through the API …")
    results.append((api_filing, run_scenario(api_filing, args.users, args.seconds,
                                              api_filing_user(base, key, villages, api_filing), args.think)))
    log("scenario: reading the ledger through the API …")
    results.append((api_reading, run_scenario(api_reading, args.users, args.seconds, api_reading_user, args.think)))
    if args.saturation_seconds > 0:
        log("scenario: filing through the API with no think time …")
        results.append((saturated, run_scenario(saturated, args.users, args.saturation_seconds,
                                                api_filing_user(base, key, villages, saturated))))
    return results


if __name__ == "__main__":
    main()
