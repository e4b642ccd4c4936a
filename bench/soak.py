"""Soak: findings filed, rectified and verified through the JSON API at a steady
rate for a bounded time, while the worker and the projector are restarted, then
a check that nothing was lost or recorded twice.

Run from the repository root::

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 4] [--store postgres:soak] [--redis-db 10]

What it does:

1. A fresh store of its own (``--store postgres:SCHEMA``, dropped and made again,
   or ``sqlite:PATH``, deleted with its view files first) gets a small county:
   a zone, two towns, ``--villages`` villages with one unit user each, an office
   with ``--inspectors`` inspectors, and a rulebook; each of those users gets an
   API key. Redis database ``--redis-db`` is flushed (it must be the soak's own).
2. It starts the Procfile's four processes itself, with the Procfile's own
   command lines (``web`` on a free loopback port, ``projector``, ``policies``,
   ``worker``), each with its output in a log file.
3. Client threads drive ``/api/v1`` at ``--rate`` commands a second for
   ``--minutes`` (or until ``--max-commands``): inspectors file findings (every
   filing carries an ``Idempotency-Key``; a lost answer is retried with the same
   key), the policies and the worker issue the notice, the village's user
   acknowledges it, uploads a photo and submits the rectification with it, and an
   inspector accepts or rejects it (a rejected one goes round again). A share
   (``--retry-share``) of the answered commands is deliberately sent a second
   time, as a client that lost the answer would: a filing with the same key must
   answer the first finding (200, ``Idempotent-Replayed``), a step must be
   refused (409). Meanwhile the worker and the projector are each stopped
   (SIGTERM) and started again twice, spread over the run.
4. At the end it waits for the background work and every view to catch up, stops
   the processes, and checks:
   - every acknowledged (2xx) command's events are in the store exactly once:
     each finding's own (non-system) events are exactly those of its answered
     commands, in order; deliberate retries recorded nothing; every Filed event
     in the store belongs to a key the clients sent, one per key; each finding's
     notice was issued exactly once;
   - the ledger view equals a from-scratch rebuild (its ``all_rows`` dumps);
   - ``flask --app app verify-history`` reports the history intact (历史完整);
   - no process printed a Traceback, and no job is in RQ's failed registry.
   It prints the commands sent, answered and failed by kind, the latency median
   and 95th percentile, and the restarts done. Exit status 0 only if every check
   passes.

The processes are stopped on any exit (the end, an exception, SIGTERM, SIGINT).
The store is kept for inspection unless ``--drop-store``; the logs stay in the
run folder printed at the start (``--run-dir``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4, uuid5

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import requests  # noqa: E402

from bench.common import clear_environment, log, machine_facts  # noqa: E402
from bench.commands import STORE_CHOOSING  # noqa: E402
from bench.generate import store_from_argument  # noqa: E402
from bench.web import free_port, percentile  # noqa: E402

BIN = Path(sys.executable).parent
PROCESSES = ("web", "projector", "policies", "worker")
#: Stopping order: the consumers first, as the Procfile test does (a job may still need the projector).
STOPPING_ORDER = ("web", "worker", "policies", "projector")
#: The events each answered command records in the finding's own stream.
EVENTS_OF = {
    "file": ("Filed",),
    "acknowledge": ("NoticeAcknowledged",),
    "submit": ("RectificationSubmitted",),
    "accept": ("RectificationAccepted",),
    "reject": ("RectificationRejected", "PointsDeducted"),
}
#: Seconds between two restarts at least.
MIN_RESTART_GAP = 2.0
STEP_PATH = {"acknowledge": "acknowledge", "submit": "submit-rectification", "accept": "accept", "reject": "reject"}
KINDS = ("file", "acknowledge", "upload", "submit", "accept", "reject")
CHECK_ITEMS = ("帮扶手册收入测算", "贫困户档案：收入核算表", "家庭成员信息", "教育资助名单", "危房改造验收资料", "产业奖补台账")
#: Refusing to drop these (the province generation and the library's own).
PROTECTED_SCHEMAS = {"province", "public", "bench_province"}


# Processes
def procfile() -> dict[str, str]:
    entries = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


class Processes:
    """The Procfile's processes, each in its own process group with its output in a
    log file per start; stopped by SIGTERM (the group killed after ``grace``, and
    whatever is left of it once the process has gone)."""

    def __init__(self, env: dict[str, str], logs: Path, grace: float = 30.0):
        self.env = env
        self.logs = logs
        self.grace = grace
        self.commands = procfile()
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()
        self.log_files: list[Path] = []
        self.killed: list[str] = []
        self.lock = threading.Lock()

    def start(self, name: str) -> None:
        with self.lock:
            self.starts[name] += 1
            path = self.logs / f"{name}-{self.starts[name]}.log"
            self.log_files.append(path)
            with path.open("wb") as output:
                self.running[name] = subprocess.Popen(
                    ["bash", "-c", "exec " + self.commands[name]], cwd=REPO_ROOT, env=self.env,
                    stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip

    def stop(self, name: str) -> float:
        """SIGTERM, wait, SIGKILL if it will not go; returns the seconds it took."""
        with self.lock:
            process = self.running.pop(name, None)
        if process is None:
            return 0.0
        started = time.perf_counter()
        if process.poll() is None:
            try:
                # To the process the Procfile line started only, which stops its own children
                # (gunicorn its workers, rq its work horse after the job): a SIGTERM to the
                # whole group can reach rq's work horse in the instant it is forked, still
                # holding the parent's handler, which then fails joining the scheduler.
                process.send_signal(signal.SIGTERM)
                process.wait(self.grace)
            except subprocess.TimeoutExpired:
                self.killed.append(name)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                process.wait()
        # The group's other members (gunicorn's workers, rq's work horse) go with it.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return time.perf_counter() - started

    def restart(self, name: str) -> float:
        took = self.stop(name)
        self.start(name)
        return took

    def died(self) -> list[str]:
        with self.lock:
            return [n for n, p in self.running.items() if p.poll() is not None]

    def stop_all(self) -> None:
        for name in STOPPING_ORDER:
            self.stop(name)
        for name in list(self.running):
            self.stop(name)

    def tracebacks(self) -> list[str]:
        found = []
        for path in self.log_files:
            text = path.read_text(errors="replace") if path.exists() else ""
            if "Traceback" in text:
                at = text.index("Traceback")
                found.append(f"{path.name}: {text[at:at + 600]}")
        return found


# The store and the county
def fresh_store(env: dict[str, str], names: list[str]) -> None:
    schema = env.get("POSTGRES_SCHEMA")
    if schema:
        if schema in PROTECTED_SCHEMAS or schema.startswith("pg_"):
            raise SystemExit(f"refusing to drop schema {schema}: choose a schema of the soak's own")
        from tests.support import postgres_connection

        with postgres_connection() as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        return
    path = Path(env["SQLITE_DBNAME"])
    for candidate in [path, *(path.parent / f"view-{n}.sqlite" for n in names)]:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(candidate) + suffix).unlink(missing_ok=True)


def drop_store(env: dict[str, str], names: list[str]) -> None:
    fresh_store(env, names)


@dataclass
class County:
    county_id: UUID
    villages: list[str]
    #: (user id, API key) of each inspector, and of each village's unit user (by village index).
    inspectors: list[tuple[UUID, str]]
    units: list[tuple[UUID, str]]


def build_county(env: dict[str, str], villages: int, inspectors: int) -> County:
    from app.tokens import issue_token
    from domain.events import INSPECTOR, UNIT
    from domain.rules.rulebook import DEFAULT_RULES
    from projections.storage import open_application

    app = open_application(env)
    try:
        county = app.register_unit(name="绥德县", kind="county", parent_id=None, code="绥德").id
        zone = app.register_unit(name="东战区", kind="zone", parent_id=county).id
        towns = [app.register_unit(name=n, kind="town", parent_id=zone).id for n in ("名州镇", "四十里铺镇")]
        office = app.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=county).id
        village_ids, units, inspecting = [], [], []
        for n in range(villages):
            village = app.register_unit(name=f"耐久{n + 1}村", kind="village", parent_id=towns[n % 2]).id
            user = app.register_user(unit_id=village, name=f"村干部{n + 1}", login=f"soak-unit-{n + 1}", roles=[UNIT]).id
            village_ids.append(str(village))
            units.append((user, issue_token(app, user, UNIT, "bench/soak.py", app.actor(user, UNIT)).plaintext))
        for n in range(inspectors):
            user = app.register_user(unit_id=office, name=f"督查员{n + 1}", login=f"soak-inspector-{n + 1}",
                                     roles=[INSPECTOR]).id  # fmt: skip
            inspecting.append((user, issue_token(app, user, INSPECTOR, "bench/soak.py", app.actor(user, INSPECTOR)).plaintext))
        app.open_rulebook(county, DEFAULT_RULES, app.clock().date())
    finally:
        app.close()
    return County(county, village_ids, inspecting, units)


def tiny_png(text: str) -> bytes:
    """A valid 1×1 PNG whose bytes (a text chunk) differ with ``text``, so each upload is a new file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"tEXt", b"Comment\x00" + text.encode())
            + chunk(b"IDAT", zlib.compress(b"\x00\x80")) + chunk(b"IEND", b""))  # fmt: skip


# The clients
@dataclass
class Track:
    """One finding as the clients know it."""

    key: str
    expected_id: UUID
    village: int
    inspector: int
    finding_id: str | None = None
    status: str = "filed"
    #: The kinds of its answered commands, in order.
    answered: list[str] = field(default_factory=list)
    #: Kinds of its commands that got no answer (they may or may not have been recorded).
    unanswered: list[str] = field(default_factory=list)
    rejections: int = 0
    busy: bool = False
    due: float = 0.0


@dataclass
class Figures:
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    samples: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)
    postponed: int = 0
    reads: int = 0
    ticks: int = 0
    late_ticks: int = 0
    restarts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, status: int | None, elapsed: float, ok: bool, detail: str = "") -> None:
        with self.lock:
            self.sent[kind] += 1
            if ok:
                self.answered[kind] += 1
                self.latencies[kind].append(elapsed)
            elif status == 409:
                self.refused[kind] += 1
                if len(self.samples) < 12:
                    self.samples.append(f"{kind}: refused {detail[:200]}")
            else:
                self.failed[kind] += 1
                if len(self.samples) < 12:
                    self.samples.append(f"{kind}: {status} {detail[:200]}")

    def anomaly(self, text: str) -> None:
        with self.lock:
            self.anomalies.append(text)


class Driver:
    def __init__(self, base: str, county: County, args: argparse.Namespace, figures: Figures):
        self.base = base
        self.county = county
        self.args = args
        self.figures = figures
        self.rng = random.Random(args.seed)
        self.tracks: list[Track] = []
        self.lock = threading.Lock()
        self.run_id = uuid4().hex[:8]
        self.local = threading.local()

    # HTTP
    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def request(self, kind: str, method: str, path: str, key: str, ok: tuple[int, ...], **kwargs: Any
                ) -> tuple[int | None, Any, requests.Response | None]:  # fmt: skip
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        started = time.perf_counter()
        try:
            answer = self.session().request(method, f"{self.base}/api/v1{path}", headers=headers, timeout=60, **kwargs)
        except requests.RequestException as error:
            self.figures.note(kind, None, time.perf_counter() - started, False, repr(error))
            return None, None, None
        elapsed = time.perf_counter() - started
        good = answer.status_code in ok
        self.figures.note(kind, answer.status_code, elapsed, good, answer.text)
        try:
            body = answer.json()
        except ValueError:
            body = None
        return answer.status_code, body, answer

    def read(self, track: Track, key: str) -> dict[str, Any] | None:
        with self.figures.lock:
            self.figures.reads += 1
        try:
            answer = self.session().get(f"{self.base}/api/v1/findings/{track.finding_id}",
                                        headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip
        except requests.RequestException:
            return None
        return answer.json() if answer.status_code == 200 else None

    # Choosing the next command
    def next_task(self, now: float) -> Any:
        with self.lock:
            ready = [t for t in self.tracks if not t.busy and t.finding_id and t.status != "closed" and t.due <= now]
            in_flight = sum(1 for t in self.tracks if t.status != "closed")
            if ready and (self.rng.random() >= self.args.file_share or in_flight >= self.args.max_open):
                track = min(ready, key=lambda t: t.due)
                track.busy = True
                return lambda: self.advance(track)
            if in_flight >= self.args.max_open:
                return None
            n = len(self.tracks)
            inspector = n % len(self.county.inspectors)
            key = f"soak-{self.run_id}-{n}"
            user_id = self.county.inspectors[inspector][0]
            from app.api.idempotency import NAMESPACE

            track = Track(key=key, expected_id=uuid5(NAMESPACE, f"{user_id}:findings.file:{key}"),
                          village=self.rng.randrange(len(self.county.villages)), inspector=inspector, busy=True)  # fmt: skip
            self.tracks.append(track)
            return lambda: self.file(track)

    def run(self, seconds: float, max_commands: int, stopping: threading.Event) -> float:
        interval = 1.0 / self.args.rate
        began = time.monotonic()
        deadline = began + seconds
        tick = began
        progress = began + 60.0
        with ThreadPoolExecutor(max_workers=self.args.clients, thread_name_prefix="client") as pool:
            while not stopping.is_set() and self.figures.ticks < max_commands:
                now = time.monotonic()
                if tick >= deadline:
                    break
                if now >= progress:
                    progress += 60.0
                    f = self.figures
                    log(f"  {now - began:4.0f} s: {sum(f.sent.values())} sent, {sum(f.answered.values())} ok, "
                        f"{sum(f.failed.values())} failed, {sum(1 for t in self.tracks if t.status != 'closed')} "
                        f"findings open, {f.postponed} acknowledgements postponed")  # fmt: skip
                if tick > now:
                    stopping.wait(tick - now)
                    continue
                if now - tick > interval:
                    self.figures.late_ticks += 1
                tick += interval
                task = self.next_task(now)
                if task is None:
                    continue
                self.figures.ticks += 1
                pool.submit(self.safely, task)
        return time.monotonic() - began

    def safely(self, task: Any) -> None:
        try:
            task()
        except Exception as error:  # a client bug must show, not vanish in the pool
            self.figures.anomaly(f"client error: {error!r}")

    # Commands
    def file(self, track: Track) -> None:
        _, key = self.county.inspectors[track.inspector]
        body = {
            "unit_id": self.county.villages[track.village], "category": "missing", "source": "inspection",
            "severity": "general", "check_item": CHECK_ITEMS[len(track.key) % len(CHECK_ITEMS)],
            "description": f"耐久测试登记的问题 {track.key}",
        }  # fmt: skip
        headers = {"Idempotency-Key": track.key}
        data = None
        for attempt in range(self.args.attempts):
            status, data, _ = self.request("file", "POST", "/findings", key, (200, 201), json=body, headers=headers)
            if status in (200, 201):
                break
            data = None
            time.sleep(min(2.0 * (attempt + 1), 10.0))  # a client backing off before retrying the same key
        with self.lock:
            if data is None:
                track.unanswered.append("file")
                track.status = "closed"  # given up: nothing more is sent for it
                track.busy = False
                return
            track.finding_id = data["finding_id"]
            track.answered.append("file")
            track.status = data["status"]
            # The notice comes from the policies and the worker (printing it too): give them a moment.
            track.due = time.monotonic() + 3.0
        if track.finding_id != str(track.expected_id):
            self.figures.anomaly(f"filing {track.key} answered {track.finding_id}, not the key's id {track.expected_id}")
        if self.rng.random() < self.args.retry_share:
            status, again, answer = self.request("file (same key again)", "POST", "/findings", key, (200,), json=body,
                                                 headers=headers)  # fmt: skip
            replayed = answer is not None and answer.headers.get("Idempotent-Replayed") == "true"
            if status == 200 and (not replayed or (again or {}).get("finding_id") != track.finding_id):
                self.figures.anomaly(f"retry of {track.key} answered {again} without replaying the first finding")
        with self.lock:
            track.busy = False

    def advance(self, track: Track) -> None:
        try:
            if track.status in ("filed", "open"):
                self.acknowledge(track)
            elif track.status == "acknowledged":
                self.submit(track)
            elif track.status == "submitted":
                reject = track.rejections < 1 and self.rng.random() < self.args.reject_share
                self.step(track, "reject" if reject else "accept", self.county.inspectors[track.inspector][1],
                          {"reason": "整改材料缺少签字，退回重新整改"} if reject else {"note": "现场核查属实，同意销号"})  # fmt: skip
        finally:
            with self.lock:
                track.busy = False

    def acknowledge(self, track: Track) -> None:
        key = self.county.units[track.village][1]
        if track.status == "filed":  # the notice comes from the policies and the worker: look first
            row = self.read(track, key)
            if row is None or row.get("status") == "filed":
                with self.figures.lock:
                    self.figures.postponed += 1
                track.due = time.monotonic() + 3.0
                return
            track.status = row["status"]
            if track.status != "open":
                return
        self.step(track, "acknowledge", key, {})

    def submit(self, track: Track) -> None:
        key = self.county.units[track.village][1]
        body: dict[str, Any] = {"description": f"已按要求整改完毕（{track.key}）", "evidence": ["照片：整改后的台账"]}
        photo = tiny_png(f"{track.key}-{len(track.answered)}")
        status, data, _ = self.request("upload", "POST", "/evidence", key, (201,),
                                       files=[("attachments", (f"整改照片-{track.key}.png", photo, "image/png"))])  # fmt: skip
        if status == 201 and data:
            body["attachments"] = [{"sha256": a["sha256"], "name": a["name"]} for a in data["attachments"]]
        self.step(track, "submit", key, body)

    def step(self, track: Track, kind: str, key: str, body: dict[str, Any]) -> None:
        path = f"/findings/{track.finding_id}/{STEP_PATH[kind]}"
        status, data, _ = self.request(kind, "POST", path, key, (200,), json=body)
        if status == 200 and data:
            with self.lock:
                track.answered.append(kind)
                track.status = data["status"]
                track.rejections += kind == "reject"
                track.due = time.monotonic() + 0.5
            if self.rng.random() < self.args.retry_share:
                again, answer, _ = self.request(f"{kind} (sent again)", "POST", path, key, (409,), json=body)
                if again != 409:
                    self.figures.anomaly(f"{kind} of {track.finding_id} sent again answered {again}, not 409: {answer}")
            return
        if status is None or status >= 500:
            track.unanswered.append(kind)
        # Refused or lost: learn where the finding is now, as a client would, and try later.
        row = self.read(track, key)
        with self.lock:
            if row is not None:
                track.status = row["status"]
            track.due = time.monotonic() + 2.0


# The restarts
def restarting(processes: Processes, seconds: float, figures: Figures, stopping: threading.Event, restarts: int) -> None:
    """Worker and projector, ``restarts`` times each, alternating, spread evenly over the run."""
    plan = [name for _ in range(restarts) for name in ("worker", "projector")]
    began = time.monotonic()
    last = began
    for number, name in enumerate(plan, start=1):
        # On time, but never sooner than a few seconds after the last one (a slow stop
        # must not make the next restart stop a process that has not even started).
        at = max(began + seconds * number / (len(plan) + 1), last + MIN_RESTART_GAP)
        if stopping.wait(max(0.0, at - time.monotonic())):
            return
        took = processes.restart(name)
        with figures.lock:
            figures.restarts.append(f"{name} at {time.monotonic() - began:5.1f} s (stopped in {took:.1f} s)")
        log(f"  restarted the {name} ({took:.1f} s to stop)")
        last = time.monotonic()


# Settling and checking
def view_positions(views: dict[str, Any], app: Any) -> dict[str, int]:
    return {name: projection.view.max_tracking_id(app.name) or 0 for name, projection in views.items()}


def rq_counts(redis_url: str) -> dict[str, int]:
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    connection = Redis.from_url(redis_url)
    try:
        queue = Queue("duban", connection=connection)
        return {
            "queued": queue.count,
            "started": StartedJobRegistry(queue=queue).count,
            "scheduled": ScheduledJobRegistry(queue=queue).count,
            "failed": FailedJobRegistry(queue=queue).count,
        }
    finally:
        connection.close()


def settle(env: dict[str, str], redis_url: str, tracks: list[Track], seconds: float, processes: Processes
           ) -> tuple[bool, str]:  # fmt: skip
    """Wait until every filed finding has its notice, no job is queued or running, and
    every view is at the log's head, the head unchanged over two looks; not at all once
    a process has exited (nothing would catch up)."""
    from projections.runner import PROJECTIONS
    from projections.storage import open_application

    app = open_application(env)
    views = {name: make(env) for name, make in PROJECTIONS.items()}
    try:
        deadline = time.monotonic() + seconds
        last_head, state = -1, ""
        progress = time.monotonic() + 15.0
        waiting = [t for t in tracks if t.finding_id and t.status == "filed"]
        while time.monotonic() < deadline:
            died = processes.died()
            if died:
                return False, f"{', '.join(died)} exited; {state}"
            waiting = [t for t in waiting if app.finding(UUID(t.finding_id)).status == "filed"]
            jobs = rq_counts(redis_url)
            head = app.position()
            positions = view_positions(views, app)
            behind = {n: p for n, p in positions.items() if p < head}
            state = (f"head {head}, {len(waiting)} findings without notice, jobs {jobs}, "
                     f"views behind: {behind or 'none'}")  # fmt: skip
            if not waiting and not jobs["queued"] and not jobs["started"] and not jobs["scheduled"] and not behind:
                if head == last_head:
                    return True, state
                last_head = head
            if time.monotonic() >= progress:
                progress += 15.0
                log(f"  settling: {state}")
            time.sleep(1.0)
        return False, state
    finally:
        for projection in views.values():
            projection.view.datastore.close()
        app.close()


def check_events(env: dict[str, str], tracks: list[Track], inspectors: set[UUID]) -> tuple[list[str], dict[str, int]]:
    """Every answered command's events in the store exactly once, nothing else."""
    from eventsourcing.utils import get_topic

    from domain.events import SYSTEM
    from domain.finding import Finding
    from projections.storage import open_application

    problems: list[str] = []
    counts: Counter[str] = Counter()
    app = open_application(env)
    try:
        by_id = {str(t.expected_id): t for t in tracks}
        filed = list(app.recorder.select_notifications(start=None, limit=10_000_000, topics=[get_topic(Finding.Filed)]))
        per_id = Counter(str(n.originator_id) for n in filed)
        for finding_id, times in per_id.items():
            if finding_id not in by_id:
                problems.append(f"a Filed event for {finding_id}, which no key the clients sent names")
            elif times != 1:
                problems.append(f"finding {finding_id} ({by_id[finding_id].key}) filed {times} times")
        for track in tracks:
            fid = str(track.expected_id)
            if "file" in track.answered and fid not in per_id:
                problems.append(f"the answered filing {track.key} ({fid}) is not in the store")
            if fid not in per_id:
                counts["unanswered filings not recorded"] += 1
                continue
            history = app.history(track.expected_id)
            own = [type(e).__name__ for e in history if str(e.actor_role) != SYSTEM]
            actors_ok = all(
                UUID(str(e.actor_id)) in inspectors for e in history if type(e).__name__ in ("Filed",)
            )  # fmt: skip
            if not actors_ok:
                problems.append(f"finding {fid} filed by someone other than the soak's inspectors")
            expected = [name for kind in track.answered for name in EVENTS_OF[kind]]
            notices = sum(1 for e in history if type(e).__name__ == "NoticeIssued")
            if notices != 1:
                problems.append(f"finding {fid}: its notice issued {notices} times")
            counts["findings"] += 1
            counts["events checked"] += len(history)
            counts["notices printed"] += sum(1 for e in history if type(e).__name__ == "NoticeDocumentRegistered")
            if own == expected:
                counts["exact"] += 1
                continue
            extra = Counter(own) - Counter(expected)
            missing = Counter(expected) - Counter(own)
            allowed = Counter(name for kind in track.unanswered for name in EVENTS_OF[kind])
            if not missing and not (extra - allowed) and _in_order(expected, own):
                counts["with an unanswered command recorded"] += 1
                continue
            problems.append(f"finding {fid} ({track.key}): answered {track.answered} → expected {expected}, "
                            f"the store has {own} (unanswered: {track.unanswered})")  # fmt: skip
    finally:
        app.close()
    return problems, dict(counts)


def _in_order(expected: list[str], actual: list[str]) -> bool:
    """``expected`` is a subsequence of ``actual``."""
    remaining = iter(actual)
    return all(name in remaining for name in expected)


def check_ledger(env: dict[str, str]) -> tuple[list[str], int]:
    """The live ledger view (at the head) against a rebuild from scratch, row by row."""
    from projections.ledger_query import LedgerQuery
    from projections.runner import Follower, ledger_projection
    from projections.storage import open_application

    app = open_application(env)
    projection = ledger_projection(env)
    try:
        query = LedgerQuery(projection.view)
        follower = Follower(app, projection)
        head = app.position()
        if follower.position != head:
            return [f"the ledger is at {follower.position}, the log's head at {head}"], 0
        live = query.all_rows()
        projection.view.drop_view(app.name)
        follower.catch_up()
        rebuilt = query.all_rows()
        if rebuilt == live:
            return [], len(live)
        live_set = {repr(sorted(r.items())) for r in live}
        rebuilt_set = {repr(sorted(r.items())) for r in rebuilt}
        only_live = sorted(live_set - rebuilt_set)[:3]
        only_rebuilt = sorted(rebuilt_set - live_set)[:3]
        return [f"the ledger differs from its rebuild ({len(live)} rows live, {len(rebuilt)} rebuilt); "
                f"only live: {only_live}; only rebuilt: {only_rebuilt}"], len(live)  # fmt: skip
    finally:
        projection.view.datastore.close()
        app.close()


def check_history(env: dict[str, str]) -> tuple[list[str], str]:
    from domain.verification import OUTCOMES

    done = subprocess.run([str(BIN / "flask"), "--app", "app", "verify-history"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    said = [line for line in done.stdout.splitlines() if line.strip() and "━" not in line]
    summary = " / ".join(said[-2:])
    if done.returncode != 0 or OUTCOMES["intact"] not in done.stdout:
        return [f"verify-history exit {done.returncode}: {done.stdout[-400:]} {done.stderr[-400:]}"], summary
    if "Traceback" in done.stderr:
        return [f"verify-history printed a Traceback: {done.stderr[-400:]}"], summary
    return [], summary


# Report
def ms(values: list[float]) -> tuple[str, str]:
    if not values:
        return "-", "-"
    return f"{statistics.median(values) * 1000:.0f}", f"{percentile(values, 0.95) * 1000:.0f}"


def report(args: argparse.Namespace, figures: Figures, elapsed: float, checks: dict[str, list[str]],
           notes: dict[str, str], counts: dict[str, int], backend: str) -> list[str]:  # fmt: skip
    lines = [
        f"# bench/soak.py: {elapsed / 60:.1f} min at {args.rate:g} commands/s ({figures.ticks} dispatched, "
        f"{figures.late_ticks} late; {sum(figures.sent.values()) / max(elapsed, 1e-9):.2f} requests/s sent), "
        f"{backend} store {args.store}, Redis db {args.redis_db}, "
        f"{args.villages} villages, {args.inspectors} inspectors, {args.clients} client threads",
    ]
    for name, value in machine_facts([backend], ("load average at end", " ".join(f"{x:.2f}" for x in os.getloadavg()))):
        lines.append(f"#   {name}: {value}")
    lines.append(f"{'command':<28} {'sent':>6} {'ok':>6} {'409':>5} {'failed':>7} {'median ms':>10} {'p95 ms':>7}")
    kinds = [k for k in KINDS if figures.sent[k]] + sorted(k for k in figures.sent if k not in KINDS)
    for kind in kinds:
        median, p95 = ms(figures.latencies[kind])
        lines.append(f"{kind:<28} {figures.sent[kind]:>6} {figures.answered[kind]:>6} {figures.refused[kind]:>5} "
                     f"{figures.failed[kind]:>7} {median:>10} {p95:>7}")  # fmt: skip
    total = sum(figures.sent.values())
    lines.append(f"{'all':<28} {total:>6} {sum(figures.answered.values()):>6} {sum(figures.refused.values()):>5} "
                 f"{sum(figures.failed.values()):>7}")  # fmt: skip
    lines.append(f"reads before acknowledging: {figures.reads}; acknowledgements postponed (notice not yet issued): "
                 f"{figures.postponed}")  # fmt: skip
    for sample in figures.samples:
        lines.append(f"#   not ok: {sample}")
    lines.append(f"restarts done: {len(figures.restarts)}")
    lines.extend(f"  {r}" for r in figures.restarts)
    for name, value in notes.items():
        lines.append(f"{name}: {value}")
    lines.append("store: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for name, problems in checks.items():
        lines.append(f"[{'ok' if not problems else 'FAILED'}] {name}")
        lines.extend(f"    {p}" for p in problems[:10])
        if len(problems) > 10:
            lines.append(f"    … and {len(problems) - 10} more")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgres:soak", help="postgres:SCHEMA or sqlite:PATH, made afresh "
                        "(default postgres:soak)")  # fmt: skip
    parser.add_argument("--redis-db", type=int, default=10, help="the soak's own Redis database, flushed (default 10)")
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to drive the API (default 10)")
    parser.add_argument("--rate", type=float, default=2.0, help="commands a second (default 2)")
    parser.add_argument("--max-commands", type=int, default=100_000, help="stop after this many commands")
    parser.add_argument("--restarts", type=int, default=2, help="restarts of the worker and of the projector, each")
    parser.add_argument("--villages", type=int, default=12)
    parser.add_argument("--inspectors", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="client threads sending the commands (default 8)")
    parser.add_argument("--retry-share", type=float, default=0.1, help="answered commands sent a second time")
    parser.add_argument("--reject-share", type=float, default=0.3, help="submissions rejected (once a finding)")
    parser.add_argument("--file-share", type=float, default=0.2, help="ticks that file a new finding")
    parser.add_argument("--max-open", type=int, default=200, help="unfinished findings at most")
    parser.add_argument("--attempts", type=int, default=5, help="tries of a filing with the same key")
    parser.add_argument("--settle-seconds", type=float, default=240, help="wait at most this long for the views")
    parser.add_argument("--run-dir", type=Path, help="logs and files (default a new folder under /tmp)")
    parser.add_argument("--drop-store", action="store_true", help="drop the store at the end")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    args.store_env = store_from_argument(args.store)
    if args.rate <= 0 or args.minutes <= 0:
        parser.error("--rate and --minutes must be positive")
    return args


def exclusive(names: list[str]) -> list[Any]:
    """Hold a lock file for each name (the Redis database, the store) for the whole run:
    a second soak on either would flush or drop the first one's."""
    import fcntl
    import hashlib

    held = []
    for name in names:
        path = Path(tempfile.gettempdir()) / f"duban-soak-{hashlib.sha1(name.encode()).hexdigest()[:12]}.lock"
        handle = path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            for other in held:
                other.close()
            raise SystemExit(f"another soak is using {name}: wait for it, or choose another") from None
        held.append(handle)
    return held


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    locks = exclusive([f"redis db {args.redis_db}", f"store {args.store}"])
    try:
        return soak(args)
    finally:
        for handle in locks:
            handle.close()


def soak(args: argparse.Namespace) -> int:
    clear_environment(STORE_CHOOSING, "--store chooses the store")
    from projections.runner import PROJECTIONS

    view_names = [*PROJECTIONS, "policies"]
    store_env = {k: v for k, v in args.store_env.items() if k != "DUBAN_PERSISTENCE_MODULE"}
    backend = "postgres" if "POSTGRES_SCHEMA" in store_env else "sqlite"
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="duban-soak-"))
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    port = free_port()
    env = {
        **os.environ, **store_env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO_ROOT), "PORT": str(port), "DUBAN_MODE": "services", "DUBAN_REDIS_URL": redis_url,
        "DUBAN_SECRET_KEY": uuid4().hex, "DUBAN_VAR_DIR": str(run_dir / "var"),
        "DUBAN_DOCUMENTS_DIR": str(run_dir / "documents"), "DUBAN_EVIDENCE_DIR": str(run_dir / "evidence"),
        "PYTHONUNBUFFERED": "1",
    }  # fmt: skip
    processes = Processes(env, logs)
    stopping = threading.Event()

    def stop_on_signal(signum: int, _frame: Any) -> None:
        if stopping.is_set():  # already leaving: let the cleanup finish
            return
        stopping.set()
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, stop_on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    from redis import Redis

    redis = Redis.from_url(redis_url)
    figures = Figures()
    checks: dict[str, list[str]] = {}
    notes: dict[str, str] = {"run folder": str(run_dir)}
    counts: dict[str, int] = {}
    elapsed = driving_began = 0.0
    try:
        log(f"soak: store {args.store}, Redis db {args.redis_db}, run folder {run_dir}")
        setup_at = time.perf_counter()
        redis.flushdb()
        fresh_store(store_env, view_names)
        county = build_county({**store_env, "DUBAN_VAR_DIR": env["DUBAN_VAR_DIR"]}, args.villages, args.inspectors)
        for name in ("projector", "policies", "worker", "web"):
            processes.start(name)
        base = f"http://127.0.0.1:{port}"
        wait_for_web(base, processes)
        notes["setting up (county, processes)"] = f"{time.perf_counter() - setup_at:.1f} s"
        seconds = min(args.minutes * 60, args.max_commands / args.rate)
        log(f"driving {base}/api/v1 at {args.rate:g} commands/s for {seconds:.0f} s …")
        driver = Driver(base, county, args, figures)
        chaos = threading.Thread(target=restarting, args=(processes, seconds, figures, stopping, args.restarts),
                                 name="restarts", daemon=True)  # fmt: skip
        chaos.start()
        driving_began = time.monotonic()
        elapsed = driver.run(seconds, args.max_commands, stopping)
        chaos.join()
        died = processes.died()
        log(f"driving done ({figures.ticks} commands); waiting for the background work and the views …")
        settled_at = time.perf_counter()
        settled, state = settle(store_env, redis_url, driver.tracks, args.settle_seconds, processes)
        notes["settling"] = f"{time.perf_counter() - settled_at:.1f} s, {state}"
        jobs = rq_counts(redis_url)
        stopped_at = time.perf_counter()
        processes.stop_all()
        notes["stopping the processes"] = f"{time.perf_counter() - stopped_at:.1f} s"
        checks["processes kept running, views and jobs settled"] = (
            [f"{n} had exited by itself" for n in died]
            + ([] if settled else [f"not settled within {args.settle_seconds:g} s: {state}"])
        )  # fmt: skip
        checks["answered commands recorded exactly once, retries nothing"] = list(figures.anomalies)
        log("checking the events …")
        checks_at = time.perf_counter()
        problems, counts = check_events(store_env, driver.tracks, {u for u, _ in county.inspectors})
        checks["answered commands recorded exactly once, retries nothing"] += problems
        log("rebuilding the ledger …")
        ledger_problems, rows = check_ledger(store_env)
        checks["ledger equals a rebuild"] = ledger_problems
        notes["ledger rows compared"] = str(rows)
        log("verifying the history …")
        history_problems, said = check_history({**env, **store_env})
        checks["verify-history: history intact"] = history_problems
        notes["verify-history"] = said
        notes["checking"] = f"{time.perf_counter() - checks_at:.1f} s"
        checks["no Traceback in any process's output, no failed job"] = processes.tracebacks() + (
            [f"{jobs['failed']} job(s) in the failed registry"] if jobs["failed"] else []
        )  # fmt: skip
        if processes.killed:
            notes["needed SIGKILL"] = ", ".join(processes.killed)
    except (Exception, KeyboardInterrupt, SystemExit) as error:  # still report what was done, and fail
        if isinstance(error, Exception):
            log(traceback.format_exc())
        checks["the run itself"] = [f"stopped by {error!r} (see the logs in {logs})"]
        if not elapsed and driving_began:
            elapsed = time.monotonic() - driving_began
    finally:
        stopping.set()
        processes.stop_all()
        left = left_behind(run_dir)
        patience = time.monotonic() + 15.0
        while left and time.monotonic() < patience:  # rq's work horse (a session of its own) finishing its job
            time.sleep(0.5)
            left = left_behind(run_dir)
        checks["no process left behind"] = [f"still running: pid {pid}" for pid in left]
        for pid in left:  # stopped after all, so that a failed run leaves nothing either
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        redis.flushdb()
        redis.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if args.drop_store:
            drop_store(store_env, view_names)
            shutil.rmtree(run_dir / "documents", ignore_errors=True)
            shutil.rmtree(run_dir / "evidence", ignore_errors=True)
    print("\n".join(report(args, figures, elapsed, checks, notes, counts, backend)), flush=True)
    passed = bool(checks) and not any(checks.values())
    print("soak: all checks passed" if passed else "soak: CHECKS FAILED", flush=True)
    return 0 if passed else 1


def left_behind(run_dir: Path) -> list[int]:
    """Processes started for this run (their environment names its folder) still alive."""
    marker = f"DUBAN_VAR_DIR={run_dir / 'var'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_for_web(base: str, processes: Processes, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/sign-in", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        if "web" in processes.died():
            break
        time.sleep(0.3)
    raise RuntimeError(f"the web process did not answer at {base} (see its log)")


if __name__ == "__main__":
    sys.exit(main())
