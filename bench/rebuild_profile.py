"""Where one view's rebuild spends its time: wall time by phase of its batches,
and the CPU time of this process against the whole machine's.

Run from the repository root, on a store made by ``bench/generate.py``::

    .venv/bin/python bench/rebuild_profile.py --store postgres:prov10 --view ledger

The view is dropped (and, on PostgreSQL, its tables vacuumed, untimed, as
``bench/province.py`` does) and caught up from nothing by ``Follower`` exactly as a
rebuild is. Each batch's wall time is split into the projection's phases, timed
by wrapping this one projection's methods (nothing is changed for other objects):

- ``prefetch``: the rows the batch will change, read in a few queries;
- ``start_batch`` and ``before_commit``: the view's own reads and writes at the
  batch's ends (COPY of new rows, staged updates, end-of-day copies);
- ``commit``: leaving the view's transaction (on PostgreSQL the pipeline's
  results, then COMMIT);
- ``apply``: the rest of the batch, the events applied in memory;
- ``between batches``: waiting for the read-ahead thread's next batch, and the
  planner statistics refreshed as the tables double.

Then the CPU seconds of this process (both threads: reading and decoding, and
applying) and of the whole machine over the catch-up, from ``/proc/stat``: what
the machine spent beyond this process is, on a quiet machine, the database's
share. A rebuild that leaves the machine half idle is waiting on round trips
(Python and the database taking turns), not short of CPU.

Last, the same events merely read and decoded (``read_of_interest``): the
rebuild's rate as a share of that is the ratio issue 8 sets at 0.5.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.commands import STORE_CHOOSING  # noqa: E402
from bench.common import clear_environment, log, machine_facts  # noqa: E402
from bench.generate import store_from_argument  # noqa: E402
from bench.province import peak_rss_mb, read_of_interest, vacuum  # noqa: E402
from projections.runner import CATCH_UP_BATCH, PROJECTIONS, Follower  # noqa: E402
from projections.storage import POSTGRES, open_application, persistence_module  # noqa: E402

PHASES = ("prefetch", "start_batch", "apply", "before_commit", "commit", "between batches")


def machine_busy_seconds() -> tuple[float, float] | None:
    """(busy, all) CPU seconds of every core since boot, from /proc/stat; None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    ticks = 100.0  # USER_HZ: 100 on Linux
    busy = user + nice + system + irq + softirq + steal
    return busy / ticks, (busy + idle + iowait) / ticks


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class PhaseClock:
    """Wall time by phase of one projection's batches (see the module's docstring)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self.batches = 0
        self._last_batch_end: float | None = None

    def timed(self, phase: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started

        return wrapper

    def batch(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            if self._last_batch_end is not None:
                self.seconds["between batches"] += started - self._last_batch_end
            inner_before = sum(self.seconds[p] for p in ("prefetch", "start_batch", "before_commit", "commit"))
            try:
                return method(*args, **kwargs)
            finally:
                ended = time.perf_counter()
                inner = sum(self.seconds[p] for p in ("prefetch", "start_batch", "before_commit", "commit")) - inner_before
                self.seconds["apply"] += (ended - started) - inner
                self.batches += 1
                self._last_batch_end = ended

        return wrapper

    def writing(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """The view's transaction, timing only its end (results and COMMIT)."""
        clock = self

        @contextmanager
        def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
            manager = method(*args, **kwargs)
            rows = manager.__enter__()
            try:
                yield rows
            except BaseException:
                if not manager.__exit__(*sys.exc_info()):
                    raise
                return
            started = time.perf_counter()
            try:
                manager.__exit__(None, None, None)
            finally:
                clock.seconds["commit"] += time.perf_counter() - started

        return wrapper


def instrument(projection: Any, clock: PhaseClock) -> None:
    """Wrap this projection's (and its view's) methods, on the instances only."""
    for phase in ("prefetch", "start_batch", "before_commit"):
        setattr(projection, phase, clock.timed(phase, getattr(projection, phase)))
    projection.process_batch = clock.batch(projection.process_batch)
    projection.view.writing = clock.writing(projection.view.writing)


def profile(env: dict[str, str], name: str, stop: int | None = None) -> dict[str, Any]:
    app = open_application(env)
    projection = PROJECTIONS[name](env)
    try:
        head = app.recorder.max_notification_id() or 0
        head = min(head, stop) if stop else head
        projection.view.drop_view(app.name)
        vacuum(projection.view)
        clock = PhaseClock()
        instrument(projection, clock)
        follower = Follower(app, projection, batch_size=500, catch_up_batch_size=CATCH_UP_BATCH)
        machine_before, cpu_before, rss_before = machine_busy_seconds(), process_cpu_seconds(), peak_rss_mb()
        started = time.perf_counter()
        events = follower.catch_up(stop=head)
        seconds = time.perf_counter() - started
        cpu, machine_after, rss_after = process_cpu_seconds() - cpu_before, machine_busy_seconds(), peak_rss_mb()
        read_count, read_seconds = read_of_interest(app, projection, head)
    finally:
        projection.view.datastore.close()
        app.close()
    machine = None
    if machine_before and machine_after:
        machine = (machine_after[0] - machine_before[0], machine_after[1] - machine_before[1])
    return {
        "view": name, "head": head, "events": events, "seconds": seconds, "batches": clock.batches,
        "phases": {phase: clock.seconds[phase] for phase in PHASES}, "process_cpu": cpu, "machine": machine,
        "read_events": read_count, "read_seconds": read_seconds, "peak_rss": (rss_before, rss_after),
    }  # fmt: skip


def report_lines(figures: dict[str, Any]) -> list[str]:
    seconds = figures["seconds"]
    events = figures["events"]
    lines = [
        f"{figures['view']}: {events:,} events of interest up to position {figures['head']:,} in {seconds:.1f} s "
        f"({events / seconds:,.0f}/s), {figures['batches']:,} batches",
        "phase               seconds   share",
    ]
    for phase, spent in figures["phases"].items():
        lines.append(f"{phase:<18} {spent:8.1f}  {spent / seconds * 100:5.1f} %")
    cpu = figures["process_cpu"]
    lines.append(f"CPU of this process: {cpu:.1f} s ({cpu / seconds * 100:.0f} % of one core over the catch-up)")
    if figures["machine"] is not None:
        busy, available = figures["machine"]
        lines.append(
            f"CPU of the machine: {busy:.1f} s busy of {available:.1f} s available ({busy / available * 100:.0f} %);"
            f" beyond this process (the database, on a quiet machine): {busy - cpu:.1f} s"
        )
    before, after = figures["peak_rss"]
    lines.append(f"peak RSS of this process: {before:.0f} MB before the rebuild, {after:.0f} MB after it")
    read_rate = figures["read_events"] / figures["read_seconds"] if figures["read_seconds"] else float("nan")
    lines.append(
        f"the same {figures['read_events']:,} events read and decoded: {figures['read_seconds']:.1f} s "
        f"({read_rate:,.0f}/s); ratio {figures['read_seconds'] / seconds:.2f}"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=store_from_argument, required=True, help="postgres:SCHEMA or sqlite:PATH")
    parser.add_argument("--view", default="ledger", choices=sorted(PROJECTIONS))
    parser.add_argument("--stop", type=int, help="rebuild only up to this log position")
    args = parser.parse_args(argv)
    clear_environment(STORE_CHOOSING, "--store chooses the store")
    backend = "postgres" if persistence_module(args.store) == POSTGRES else "sqlite"
    for key, value in machine_facts([backend]):
        print(f"# {key}: {value}")
    log(f"rebuilding {args.view} …")
    print("\n".join(report_lines(profile(args.store, args.view, args.stop))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
