"""Secrets kept in var/ are made once, even when several processes start together
(gunicorn workers): a second cipher key would make the events unreadable."""

from __future__ import annotations

import multiprocessing
import secrets

from projections.storage import read_or_create_secret


def _read(path: str, start: multiprocessing.synchronize.Event, results: multiprocessing.Queue) -> None:
    from pathlib import Path

    start.wait()
    results.put(read_or_create_secret(Path(path), lambda: secrets.token_hex(32)))


def test_processes_starting_together_share_one_secret(tmp_path):
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    path = tmp_path / "cipher.key"
    workers = [context.Process(target=_read, args=(str(path), start, results)) for _ in range(8)]
    for worker in workers:
        worker.start()
    start.set()
    values = {results.get(timeout=20) for _ in workers}
    for worker in workers:
        worker.join(timeout=20)
    results.close()
    results.join_thread()
    assert values == {path.read_text().strip()}
    assert len(values) == 1 and len(values.pop()) == 64
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert list(tmp_path.iterdir()) == [path]
