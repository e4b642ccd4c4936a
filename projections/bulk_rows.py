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

import json
from collections.abc import Sequence
from itertools import chain
from typing import Any

from projections.views import Rows

#: Parameters per statement: under SQLite's historical limit of 999 host parameters.
MAX_PARAMETERS = 900


def insert_rows(rows: Rows, table: str, columns: Sequence[tuple[str, str]], values: Sequence[Sequence[Any]]) -> None:
    """Insert ``values`` (tuples in the order of ``columns``, each a (name,
    PostgreSQL type) pair) into the view's ``table`` (its logical name).

    PostgreSQL: many rows (``Rows.copies``) go in with COPY; fewer in one
    statement queued in the batch's pipeline, the rows handed over as one JSON array (``json.dumps`` is C; ``bytea`` columns go as hex). Tried
    and slower: a placeholder per value (psycopg parses such a long statement
    anew each time: its statement cache keeps short ones only) and a column per
    array parameter (psycopg dumps arrays element by element in Python).
    SQLite: multi-row ``VALUES`` lists under the parameter limit."""
    if not values:
        return
    if rows.copies(len(values)):
        rows.copy_rows(table, [name for name, _ in columns], values)
        return
    names = ", ".join(name for name, _ in columns)
    if _postgres(rows):
        binary = [i for i, (_, kind) in enumerate(columns) if kind == "bytea"]
        if binary:
            values = [[v.hex() if i in binary and v is not None else v for i, v in enumerate(row)] for row in values]
        fields = ", ".join(
            f"decode(e->>{i}, 'hex')" if kind == "bytea" else f"(e->>{i})::{kind}" for i, (_, kind) in enumerate(columns)
        )
        rows.execute(f"INSERT INTO {{{table}}} ({names}) SELECT {fields} FROM json_array_elements(?::json) AS e",
                     (json.dumps(values),))  # fmt: skip
        return
    width = len(columns)
    chunk = max(1, MAX_PARAMETERS // width)
    head = f"INSERT INTO {{{table}}} ({names}) VALUES "
    one = "(" + ", ".join("?" * width) + ")"
    full = head + ", ".join([one] * chunk)
    for start in range(0, len(values), chunk):
        part = values[start : start + chunk]
        statement = full if len(part) == chunk else head + ", ".join([one] * len(part))
        rows.execute(statement, list(chain.from_iterable(part)))


def _postgres(rows: Rows) -> bool:
    return rows._view.placeholder == "%s"  # noqa: SLF001 (Rows says no more of its dialect)
