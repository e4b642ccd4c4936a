"""How fast the score view rebuilds, and how long the ranking and as-of pages take,
on a generated county of about 100,000 events.

Run from the repository root::

    .venv/bin/python bench/scores.py [--events 100000] [--backends sqlite,postgres] [--repeats 7]

For each backend, on a fresh encrypted store (a SQLite file in a temporary
folder; a new PostgreSQL schema, dropped afterwards):

1. ``bench/generate.py`` writes one county (two zones, ~10 towns, ~200
   villages) living through a year, through the service.
2. The score view is built, dropped (``view.drop_view``) and rebuilt with
   ``Follower(app, projection, batch_size=500).catch_up()``, timed; then the
   same notifications are merely read (``select_notifications`` in batches of
   500 with the projection's topics, each mapped with ``to_domain_event``),
   timed. Both are given per event of the log and per event of interest.
3. The web app (embedded mode, Flask test client, the command office's
   identity, every view caught up first) answers each page once to warm up,
   then ``--repeats`` times: the ranking pages now (for the year's last
   quarter, the one just ended), and the ranking, unit score,
   ledger and dashboard pages as they stood at the end of a day in the middle
   of the year (``?as_of=``). Median and slowest are printed, in milliseconds.

Progress goes to stderr; the report goes to stdout.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.commands import BATCH, STORE_CHOOSING, fresh_store  # noqa: E402
from bench.common import clear_environment, log, machine_facts  # noqa: E402
from bench.generate import generate  # noqa: E402
from tests.support import cipher_env  # noqa: E402

from domain.events import CHINA  # noqa: E402
from domain.rules.deductions import period_of  # noqa: E402
from domain.service import TravellingClock  # noqa: E402
from projections.runner import Follower, scores_projection  # noqa: E402
from projections.storage import open_application  # noqa: E402

BACKENDS = ("sqlite", "postgres")


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def rebuild_figures(env: dict[str, str]) -> dict[str, float]:
    app = open_application(env)
    projection = scores_projection(env)
    try:
        Follower(app, projection, batch_size=BATCH).catch_up()
        projection.view.drop_view(app.name)
        head = app.recorder.max_notification_id() or 0
        seconds, processed = timed(Follower(app, projection, batch_size=BATCH).catch_up)

        def read_only() -> int:
            count, start = 0, 0
            while True:
                found = app.recorder.select_notifications(
                    start=start, limit=BATCH, topics=projection.topics, inclusive_of_start=False
                )
                for notification in found:
                    app.mapper.to_domain_event(notification)
                count += len(found)
                if len(found) < BATCH:
                    return count
                start = found[-1].id

        read_seconds, read = timed(read_only)
    finally:
        app.close()
        projection.view.datastore.close()
    return {
        "log events": head,
        "events of interest": read,
        "rebuild s": seconds,
        "read s": read_seconds,
        "rebuild log ev/s": head / seconds,
        "rebuild ev/s (of interest)": read / seconds,
        "read ev/s (of interest)": read / read_seconds,
        "rebuild / read": read_seconds / seconds,
    }


def page_figures(env: dict[str, str], last_day: Any, repeats: int) -> tuple[dict[str, list[float]], dict[str, str]]:
    from app import create_app

    now = datetime.combine(last_day + timedelta(days=1), datetime.min.time().replace(hour=10), tzinfo=CHINA)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "DUBAN_STORE_ENV": env,
            "DUBAN_CLOCK": TravellingClock(now),
            "DUBAN_EMBEDDED_PROJECTOR": True,
            "DUBAN_EMBEDDED_POLICIES": False,
            "PROJECTION_WAIT_SECONDS": 60.0,
        }
    )
    runtime = app.extensions["duban"]
    try:
        for name in runtime.views:
            with runtime.paused(name) as follower:
                follower.catch_up()
        county = next(u for u in runtime.query.units() if u["kind"] == "county")
        command = next(u for u in runtime.query.users(county["county_id"]) if "command" in u["roles"].split(","))
        client = app.test_client()
        with client.session_transaction() as session:
            # As signing in does: the user's credential version makes the session valid.
            session["user_id"], session["role"] = command["user_id"], "command"
            session["credential"] = runtime.duban.user(UUID(command["user_id"])).credential_version
        middle = (last_day - timedelta(days=180)).isoformat()
        ranking = client.get(f"/scores?as_of={middle}&period={period_of(last_day - timedelta(days=180))}")
        town = re.search(r"/scores/units/([0-9a-f-]{36})", ranking.get_data(as_text=True))
        assert ranking.status_code == 200 and town, "the as-of ranking page did not render"
        last_quarter = period_of(last_day)
        pages = {
            "ranking now": f"/scores?period={last_quarter}",
            "ranking of villages now": f"/scores?kind=village&period={last_quarter}",
            "ranking as of": f"/scores?as_of={middle}",
            "unit score as of": f"/scores/units/{town.group(1)}?as_of={middle}",
            "ledger as of": f"/?as_of={middle}",
            "dashboard as of": f"/dashboard?as_of={middle}",
        }
        timings: dict[str, list[float]] = {}
        for label, url in pages.items():
            response = client.get(url)
            assert response.status_code == 200, f"{url}: {response.status_code}"
            timings[label] = []
            for _ in range(repeats):
                seconds, response = timed(lambda url=url: client.get(url))
                assert response.status_code == 200
                timings[label].append(seconds * 1000)
        return timings, {"as_of": middle, **pages}
    finally:
        runtime.close()


def run(backend: str, events: int, repeats: int) -> None:
    with fresh_store(backend) as plain:
        env = {**plain, **cipher_env()}
        log(f"[{backend}] generating a county of about {events:,} events …")
        seconds, report = timed(lambda: generate(env, counties=1, target_events_per_county=events, progress=True))
        county = report.counties[0]
        log(f"[{backend}] generated {report.written:,} events in {seconds:.0f} s")
        log(f"[{backend}] rebuilding the score view …")
        rebuild = rebuild_figures(env)
        log(f"[{backend}] timing the pages …")
        timings, pages = page_figures(env, county.last_day, repeats)
    print(f"\n## {backend}: {county.name}, {report.written:,} events, {county.findings:,} findings, "
          f"{county.first_day} .. {county.last_day}")  # fmt: skip
    print("\nScore view rebuild (batch 500):")
    for key, value in rebuild.items():
        print(f"  {key:<28} {value:>12,.2f}" if isinstance(value, float) else f"  {key:<28} {value:>12,}")
    print(f"\nPages (milliseconds over {repeats} requests after one warm-up; as of {pages['as_of']}):")
    print(f"  {'page':<26} {'median':>8} {'slowest':>8}")
    for label, values in timings.items():
        print(f"  {label:<26} {statistics.median(values):>8.1f} {max(values):>8.1f}   {pages[label]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    clear_environment(STORE_CHOOSING, "each run makes its own store")
    print("# bench/scores.py")
    for name, value in machine_facts(backends):
        print(f"- {name}: {value}")
    for backend in backends:
        run(backend, args.events, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
