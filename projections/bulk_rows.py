"""Writing a batch's rows in few statements (the history, audit, documents and
cases views).

A view that inserts a row per statement pays, per row, the statement's Python
call, the database's parse/plan/execute and, on PostgreSQL, a message in the
pipeline; on a rebuild that was most of the time of the busiest views. Rows
collected while a batch is applied and written at its end as multi-row
``INSERT … VALUES (…), (…)`` statements cost one statement per chunk instead.
The rows stay in the batch's transaction, so tracking is as exactly-once as
before, and the memory is bounded by the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from projections.views import Rows

#: Parameters per statement: under SQLite's historical limit of 999 host parameters.
MAX_PARAMETERS = 900


def insert_rows(rows: Rows, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
    """Insert ``values`` (tuples in the order of ``columns``) into the view's
    ``table`` (its logical name), in as few statements as the parameter limit allows."""
    if not values:
        return
    width = len(columns)
    chunk = max(1, MAX_PARAMETERS // width)
    head = f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join("?" * width) + ")"
    full = head + ", ".join([one] * chunk)  # the same text every time: prepared once on PostgreSQL
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        statement = full if len(part) == chunk else head + ", ".join([one] * len(part))
        rows.execute(statement, list(chain.from_iterable(part)))


def in_chunks(values: Sequence[Any], size: int = 500) -> list[Sequence[Any]]:
    """``values`` cut into lists of at most ``size`` (for ``IN (…)`` look-ups)."""
    return [values[start : start + size] for start in range(0, len(values), size)]


def placeholders(count: int) -> str:
    return ", ".join("?" * count)
