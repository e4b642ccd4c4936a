"""The web app under load: concurrent users on loopback against gunicorn and the
PostgreSQL store, as a deployment runs it.

Run from the repository root::

    .venv/bin/python bench/web.py [--users 20] [--seconds 20] [--workers 4] [--threads 4]

What it does:

1. A fresh PostgreSQL schema (in the database ``test``, dropped afterwards)
   gets the demo county (``load_demo``: units, users with the demo password,
   a year of findings). An API key is issued to the demo inspector.
2. It starts the projector (``python -m projections.runner``) and gunicorn
   (``--workers``, gthread with ``--threads``) with ``DUBAN_MODE=services``,
   exactly as the Procfile does, and waits until the sign-in page answers.
3. ``--users`` threads, each a separate person's browser session signed in
   through the sign-in form (or holding the API key), run one scenario at a
   time for ``--seconds``:
   - the ledger page (问题台账, ``GET /``) as the command office;
   - filing a finding through the page form (``POST /findings/new``, which
     waits for the ledger view before redirecting), as the inspector;
   - filing a finding through the API (``POST /api/v1/findings``), as the
     inspector's key;
   - the ledger through the API (``GET /api/v1/findings?limit=50``).
4. It prints, per scenario: requests, requests per second, median and
   95th-percentile latency in milliseconds, and errors (any answer other than
   the expected status, or a connection failure).

Progress goes to stderr; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import os
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
from tests.support import postgres_schema  # noqa: E402

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


def run_scenario(tally: Tally, users: int, seconds: float, make_user: Callable[[int], Callable[[], None]]) -> float:
    """Each of ``users`` threads repeats its request until the time is up."""
    workers = [make_user(number) for number in range(users)]
    stop = time.monotonic() + seconds

    def loop(request_once: Callable[[], None]) -> None:
        while time.monotonic() < stop:
            request_once()

    threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


@contextmanager
def serving(store_env: dict[str, str], workers: int, threads: int) -> Iterator[str]:
    """The projector process and gunicorn (``workers`` gthread workers × ``threads``,
    services mode, as the Procfile runs them) on ``store_env``; yields the base URL
    once the sign-in page answers, and stops both (their process groups) on exit."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, **store_env, "DUBAN_MODE": "services", "DUBAN_SECRET_KEY": uuid4().hex,
           "DUBAN_DOCUMENTS_DIR": f"/tmp/duban-bench-web-{port}", "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
    processes = [
        subprocess.Popen([str(BIN / "python"), "-m", "projections.runner"], cwd=REPO_ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen([str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                          "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
                          "app:create_app()"], cwd=REPO_ROOT, env=env, start_new_session=True),
    ]  # fmt: skip
    try:
        wait_until_up(base)
        yield base
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)


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
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    clear_environment(("PERSISTENCE_MODULE", "SQLITE_DBNAME", "POSTGRES_SCHEMA", "CIPHER_TOPIC", "CIPHER_KEY"),
                      "the bench makes its own PostgreSQL schema")  # fmt: skip

    from app.demo import DEMO_PASSWORD, load_demo
    from app.tokens import issue_token
    from domain.events import COMMAND, INSPECTOR
    from projections.storage import open_application

    with postgres_schema() as store_env:
        log("loading the demo county into a fresh PostgreSQL schema …")
        summary = load_demo(store_env, datetime.now(timezone.utc))
        assert summary is not None
        inspector_login = summary.users_by_role[INSPECTOR][1]
        command_login = summary.users_by_role[COMMAND][1]
        duban = open_application(store_env)
        inspector = next(u for u in _users(duban) if u.login == inspector_login)
        key = issue_token(duban, inspector.id, INSPECTOR, "bench/web.py", inspector.acting_as(INSPECTOR)).plaintext
        villages = [str(u.id) for u in _units(duban, summary.county_id) if u.kind == "village" and not u.retired]
        duban.close()

        with serving(store_env, args.workers, args.threads) as base:
            log(f"gunicorn up at {base} ({args.workers} workers × {args.threads} threads); signing in {args.users} users …")
            tallies = scenarios(base, args, command_login, inspector_login, DEMO_PASSWORD, key, villages)

    print(f"# bench/web.py: {args.users} concurrent users, {args.seconds:g} s a scenario, "
          f"gunicorn {args.workers} workers × {args.threads} threads, PostgreSQL store, demo county "
          f"({len(summary.finding_ids)} findings, {summary.events_written} events)")  # fmt: skip
    for name, value in machine_facts(["postgres"]):
        print(f"#   {name}: {value}")
    print(f"{'scenario':<34} {'requests':>9} {'req/s':>8} {'median ms':>10} {'p95 ms':>8} {'errors':>7}")
    for tally, elapsed in tallies:
        ok = tally.latencies
        median = statistics.median(ok) * 1000 if ok else float("nan")
        p95 = percentile(ok, 0.95) * 1000 if ok else float("nan")
        print(f"{tally.name:<34} {len(ok) + tally.errors:>9} {len(ok) / elapsed:>8.1f} {median:>10.1f} {p95:>8.1f} "
              f"{tally.errors:>7}")  # fmt: skip
        for sample in tally.error_samples:
            print(f"#   error: {sample}")


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
    results.append((ledger, run_scenario(ledger, args.users, args.seconds, ledger_user)))

    filing = Tally("file a finding POST /findings/new", 303)

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
                filing.record(started, answer.status_code, answer.text)
            except requests.RequestException as error:
                filing.record(started, None, repr(error))

        return once

    log("scenario: filing through the page form …")
    results.append((filing, run_scenario(filing, args.users, args.seconds, filing_user)))

    api_filing = Tally("file a finding POST /api/v1/findings", 201)
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
                                              api_filing_user(base, key, villages, api_filing))))
    log("scenario: reading the ledger through the API …")
    results.append((api_reading, run_scenario(api_reading, args.users, args.seconds, api_reading_user)))
    return results


if __name__ == "__main__":
    main()
