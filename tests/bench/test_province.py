"""bench/province.py end to end on a tiny SQLite store: every part but the gunicorn
filing runs, the report and the document carry every figure. Nothing about speed is
asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import province
from bench.commands import STORE_CHOOSING
from projections.runner import PROJECTIONS


def test_a_small_run_prints_every_figure_and_writes_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in STORE_CHOOSING:  # the bench clears them; put back whatever was there afterwards
        monkeypatch.delenv(name, raising=False)
    doc = tmp_path / "PERFORMANCE.md"
    argv = [
        "--store", f"sqlite:{tmp_path / 'events.sqlite'}", "--counties", "1", "--events-per-county", "1500",
        "--repeats", "2", "--lag-seconds", "1", "--skip", "filing", "--no-progress", "--write-doc", str(doc),
    ]  # fmt: skip

    assert province.main(argv) == 0

    report = capsys.readouterr().out
    for heading in ("1. rebuild", "2. pages", "3. sweep-overdue", "5. ledger lag"):
        assert heading in report
    assert "4. filing" not in report
    # The regional office's ranking of every county is timed beside the county's two pages.
    assert "region's ranking of counties" in report and "/region?period=" in report
    for name in PROJECTIONS:
        assert f"   {name} " in report
    text = doc.read_text()
    assert text.startswith("# Performance")
    assert "Scale of this run: 1 county of ~1,500 events" in text
    assert "--counties 100 --store postgres:province" in text
    for section in ("## 1. Rebuilding every view", "## 2. Pages", "## 3. The overdue sweep", "## 5. Ledger lag"):
        assert section in text

    assert "page: region's ranking of counties" in text

    # A second run on the same store generates nothing and measures again (finding the bench's region).
    assert province.main([*argv[:-2], "--skip", "filing,lag"]) == 0
    again = capsys.readouterr().out
    assert "1. rebuild" in again and "region's ranking of counties" in again
