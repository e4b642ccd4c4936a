"""What the bench scripts share: logging, the environment they ignore, and the
machine facts printed beside every figure."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

from tests.support import POSTGRES_BASE, postgres_connection


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clear_environment(names: tuple[str, ...], why: str) -> None:
    """Drop variables that would point a bench's stores elsewhere than its own."""
    ignored = [k for k in names if k in os.environ]
    for key in ignored:
        del os.environ[key]
    if ignored:
        log(f"ignoring {', '.join(ignored)} from the environment: {why}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def postgres_version() -> str:
    try:
        with postgres_connection() as connection:
            row = connection.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "?"
    except Exception as error:  # the report still prints without it
        return f"unreachable ({error.__class__.__name__})"


def machine_facts(backends: list[str], *extra: tuple[str, str]) -> list[tuple[str, str]]:
    """CPU, OS, Python, library and database versions, plus ``extra`` rows."""
    lines = [
        ("cpu", f"{os.cpu_count()} × {cpu_model()}"),
        ("os", platform.platform()),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("eventsourcing", metadata.version("eventsourcing")),
        *extra,
        ("sqlite", sqlite3.sqlite_version),
    ]
    if "postgres" in backends:
        import psycopg

        lines.append(("postgresql", f"{postgres_version()} on {POSTGRES_BASE['POSTGRES_HOST']}:{POSTGRES_BASE['POSTGRES_PORT']}"))
        lines.append(("psycopg", f"{psycopg.__version__} ({psycopg.pq.__impl__})"))
    return lines
