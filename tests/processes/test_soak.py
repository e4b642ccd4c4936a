"""bench/soak.py, briefly: the Procfile's processes on a store and a Redis database no
other test uses, the API driven for a few seconds while the worker and the projector are
restarted twice each, and every check passing. Nothing about speed is asserted. Here
because it starts real workers and needs Redis running throughout.

On both backends. On PostgreSQL it shows the processes fit beside the other tests on the
server's 100 connections: they once held about 90 between them (a pool per view in each
process, before the views shared one), and the soak failed to get connections."""

from __future__ import annotations

import uuid

import pytest

from bench import soak
from bench.commands import STORE_CHOOSING

#: The soak tests' own Redis databases, one per backend so both may run at once (the others use 0 and 12 to 15).
REDIS_DB = {"sqlite": "11", "postgres": "10"}


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_short_soak_passes_every_check(
    backend: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    for name in STORE_CHOOSING:  # the soak clears them; put back whatever was there afterwards
        monkeypatch.delenv(name, raising=False)
    store = f"sqlite:{tmp_path / 'store' / 'events.sqlite'}" if backend == "sqlite" else f"postgres:t_soak_{uuid.uuid4().hex[:10]}"
    argv = [
        "--store", store, "--redis-db", REDIS_DB[backend], "--minutes", "0.25", "--rate", "2",
        "--villages", "4", "--clients", "4", "--retry-share", "0.3", "--max-open", "5", "--settle-seconds", "120",
        "--run-dir", str(tmp_path / "run"), "--drop-store",
    ]  # fmt: skip
    code = soak.main(argv)

    report = capsys.readouterr().out
    assert code == 0, report
    assert "soak: all checks passed" in report
    assert "[FAILED]" not in report
    assert "restarts done: 4" in report
    for kind in ("file", "acknowledge", "upload", "submit"):
        assert f"\n{kind} " in report, report
    assert "[ok] no process left behind" in report
    assert soak.left_behind(tmp_path / "run") == []
