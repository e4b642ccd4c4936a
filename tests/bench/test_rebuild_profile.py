"""bench/rebuild_profile.py on a tiny SQLite store: it rebuilds the view, prints every
phase and the CPU figures, and leaves the projection classes as they were (it times
one projection by wrapping that instance's methods). Nothing about speed is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import rebuild_profile
from bench.commands import STORE_CHOOSING
from bench.generate import generate, store_from_argument
from projections.ledger import LedgerProjection
from projections.runner import PROJECTIONS, Follower
from projections.storage import open_application


def test_a_profile_prints_every_phase_and_rebuilds_the_view_as_a_rebuild_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in STORE_CHOOSING:  # the bench clears them; put back whatever was there afterwards
        monkeypatch.delenv(name, raising=False)
    store = f"sqlite:{tmp_path / 'events.sqlite'}"
    env = store_from_argument(store)
    generate(env, counties=1, target_events_per_county=1500, progress=False)
    prefetch = LedgerProjection.prefetch

    assert rebuild_profile.main(["--store", store, "--view", "ledger"]) == 0

    report = capsys.readouterr().out
    for phase in rebuild_profile.PHASES:
        assert f"\n{phase} " in report, report
    assert "CPU of this process:" in report and "ratio " in report
    assert LedgerProjection.prefetch is prefetch
    profiled = PROJECTIONS["ledger"](env)
    app = open_application(env)
    try:
        # What the profile left is a whole ledger: a follower finds nothing more to do.
        assert Follower(app, profiled).catch_up() == 0
        assert profiled.view.max_tracking_id(app.name) == app.recorder.max_notification_id()
    finally:
        profiled.view.datastore.close()
        app.close()

