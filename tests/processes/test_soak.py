"""bench/soak.py, briefly: the Procfile's processes on a store and a Redis database no
other test uses, the API driven for a few seconds while the worker and the projector are
restarted twice each, and every check passing. Nothing about speed is asserted. Here
because it starts real workers and needs Redis running throughout.

On SQLite: the five processes hold about 90 PostgreSQL connections between them (a pool
per view in each), nearly the test server's max_connections, which the tests running
beside this one need too. The soak's default store is PostgreSQL (see bench/README.md)."""

from __future__ import annotations

import pytest

from bench import soak
from bench.commands import STORE_CHOOSING

#: The soak test's own Redis database (the others use 0 and 12 to 15).
REDIS_DB = "11"


def test_a_short_soak_passes_every_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    for name in STORE_CHOOSING:  # the soak clears them; put back whatever was there afterwards
        monkeypatch.delenv(name, raising=False)
    argv = [
        "--store", f"sqlite:{tmp_path / 'store' / 'events.sqlite'}", "--redis-db", REDIS_DB, "--minutes", "0.25", "--rate", "2",
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
