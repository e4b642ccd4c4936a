"""bench/generate.py: a small generated county, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bench.generate import (
    GeneratorDuban,
    county_marker_id,
    county_state,
    generate,
    generate_county,
    generated_id,
)
from domain.finding import STATUSES
from domain.service import TravellingClock
from projections.storage import open_application
from tests.support import sqlite_env

TARGET = 3_000


def read_log(env: dict[str, str]) -> list[tuple[Any, ...]]:
    """(originator id, version, topic, timestamp) of every event, in notification order."""
    app = open_application(env)
    try:
        rows: list[tuple[Any, ...]] = []
        start = 1
        while True:
            batch = app.recorder.select_notifications(start, 1000)
            if not batch:
                return rows
            for n in batch:
                event = app.mapper.to_domain_event(n)
                rows.append((n.originator_id, n.originator_version, n.topic, event.timestamp))
            start = batch[-1].id + 1
    finally:
        app.close()


def sqlite_store(tmp_path: Path, name: str) -> dict[str, str]:
    folder = tmp_path / name
    folder.mkdir()
    return sqlite_env(folder)


def position(env: dict[str, str]) -> int:
    app = open_application(env)
    try:
        return app.position()
    finally:
        app.close()


def events_table_rows_estimated(store_env: dict[str, str]) -> int:
    """What PostgreSQL's statistics say the events table holds (-1: never analysed)."""
    app = open_application(store_env)
    try:
        datastore = app.recorder.datastore
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s",
                (datastore.schema, app.recorder.events_table_name),
            )
            return int(cursor.fetchone()["reltuples"])
    finally:
        app.close()


def test_a_generated_county_is_complete_deterministic_and_skipped_on_rerun(store_env, tmp_path) -> None:
    report = generate(store_env, counties=1, target_events_per_county=TARGET, batch_events=500)
    (county,) = report.counties
    assert county.status == "generated"
    assert not county.problems
    assert county.county_id == generated_id(2026, 1, "unit:county")
    # the target is roughly honoured, and every event was written
    assert abs(county.events - TARGET) <= TARGET * 0.1
    assert report.written == county.events == position(store_env)
    if "POSTGRES_SCHEMA" in store_env:  # the planner has seen the filled events table
        assert events_table_rows_estimated(store_env) == county.events
    # findings end in every state, some open and overdue
    assert all(county.by_status[s] > 0 for s in STATUSES), county.by_status
    assert sum(county.by_status.values()) == county.findings
    assert county.overdue_at_end > 0 and county.escalated > 0 and county.circulars > 0

    log = read_log(store_env)
    timestamps = [row[3] for row in log]
    assert timestamps == sorted(timestamps)
    assert (timestamps[-1] - timestamps[0]).days >= 360
    topics = {row[2].split(":", 1)[-1] for row in log}
    for name in ("Finding.Filed", "Finding.DeadlineMissed", "Finding.DeductionReversed", "Finding.EscalatedToDiscipline",
                 "Finding.ExtensionGranted", "Finding.ExtensionDenied", "Finding.RectificationRejected", "Finding.Withdrawn",
                 "Rulebook.Adopted", "Circular.Issued", "Case.Opened", "Inspection.Completed"):  # fmt: skip
        assert name in topics, name
    # the last event is the county's marker: its year-end round completed
    assert log[-1][0] == county_marker_id(2026, 1) and log[-1][2].endswith("Inspection.Completed")

    # resumable: a second run finds the county complete and records nothing
    again = generate(store_env, counties=1, target_events_per_county=TARGET)
    assert [c.status for c in again.counties] == ["skipped"]
    assert again.written == 0 and position(store_env) == len(log)

    # deterministic: the same history on another store
    other = sqlite_store(tmp_path, "other")
    generate(other, counties=1, target_events_per_county=TARGET)
    assert [row[:3] for row in read_log(other)] == [(row[0], row[1], row[2]) for row in log]


def test_an_interrupted_county_is_completed_with_the_same_history(tmp_path, monkeypatch) -> None:
    clean = sqlite_store(tmp_path, "clean")
    generate(clean, counties=1, target_events_per_county=TARGET, batch_events=300)

    interrupted = sqlite_store(tmp_path, "interrupted")
    real_flush = GeneratorDuban.flush
    stored_when_interrupted = []

    def failing_flush(self: GeneratorDuban) -> None:
        if self.written >= 900:  # a batch may run over its size by one save's events
            stored_when_interrupted.append(self.written)
            raise KeyboardInterrupt
        real_flush(self)

    monkeypatch.setattr(GeneratorDuban, "flush", failing_flush)
    with pytest.raises(KeyboardInterrupt):
        generate(interrupted, counties=1, target_events_per_county=TARGET, batch_events=300)
    monkeypatch.setattr(GeneratorDuban, "flush", real_flush)
    app = open_application(interrupted)
    try:
        assert county_state(app, 2026, 1) == "interrupted"
        assert app.position() == stored_when_interrupted[0] >= 900
    finally:
        app.close()

    resumed = generate(interrupted, counties=1, target_events_per_county=TARGET, batch_events=300)
    assert [c.status for c in resumed.counties] == ["resumed"]
    assert resumed.skipped_events == stored_when_interrupted[0]
    assert read_log(interrupted) == read_log(clean)


def test_a_plain_duban_writes_the_same_history_as_the_generator(tmp_path) -> None:
    """The generator's batching and in-memory reads change nothing in what the service decides."""
    batched = sqlite_store(tmp_path, "batched")
    generate(batched, counties=1, target_events_per_county=1_500)

    plain_env = sqlite_store(tmp_path, "plain")
    clock = TravellingClock(datetime.fromisoformat("2000-01-01T00:00:00+00:00"))
    app = open_application(plain_env, clock=clock)
    try:
        summary = generate_county(app, clock, 1, target_events=1_500)
        assert summary.status == "generated" and not summary.problems
        assert summary.events == app.position()
    finally:
        app.close()
    assert read_log(plain_env) == read_log(batched)
