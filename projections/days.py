"""Days in a view's life: what makes "as it stood at the end of a day" answerable.

Every event a view applies is given a *recorded day*: the local (Asia/Shanghai)
date of its timestamp, but never earlier than the recorded day of the event
before it in the log. Recorded days therefore never go backwards along the log,
so "everything recorded up to the end of day D" is always a prefix of the log:
exactly the events the live view had applied when day D ended. A clock that
steps back (a second server, a corrected clock) cannot change a past day's
picture after the fact.

``DayStamped`` gives a projection ``self.day`` and ``self.position`` for the
event being applied, and keeps ``<view>_days`` (day → last position recorded
that day). ``HistoryTable`` and ``DayHistory`` keep, for one live table, a copy of each row as it
stood at the end of every day on which it changed; a past day's table is then
one indexed query away (``as_of_source``), however long the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from domain.events import local_date
from projections.views import BatchProjection, BufferedTable, Rows


def days_table_schema(table: str) -> str:
    return f"CREATE TABLE IF NOT EXISTS {{{table}}} (day TEXT PRIMARY KEY, last_position INTEGER NOT NULL)"


class DayStamped(BatchProjection):
    #: The logical name of this view's days table (see ``days_table_schema``).
    days_table = ""
    day = ""
    position = 0

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        row = rows.one(f"SELECT MAX(day) AS day FROM {{{self.days_table}}}")
        self._latest_day: str = (row["day"] if row else None) or ""
        self._batch_days: dict[str, int] = {}

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        super().before_apply(event, tracking, rows)
        self.day = self._latest_day = max(local_date(event.timestamp).isoformat(), self._latest_day)
        self.position = tracking.notification_id
        self._batch_days[self.day] = self.position

    def before_commit(self, rows: Rows) -> None:
        super().before_commit(rows)
        for day, position in self._batch_days.items():
            rows.execute(
                f"INSERT INTO {{{self.days_table}}} (day, last_position) VALUES (?, ?)"
                " ON CONFLICT (day) DO UPDATE SET last_position = excluded.last_position",
                (day, position),
            )


@dataclass(frozen=True)
class HistoryTable:
    """A live table whose rows are also kept as they stood at the end of every
    day on which they changed (in ``<live>_days``)."""

    live: str
    key: str
    definitions: tuple[tuple[str, str], ...]

    @property
    def history(self) -> str:
        return f"{self.live}_days"

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.definitions)

    def schema(self) -> tuple[str, ...]:
        """The live table and its history, from one list of column definitions."""
        definitions = ", ".join(f"{name} {kind}" for name, kind in self.definitions)
        return (
            f"CREATE TABLE IF NOT EXISTS {{{self.live}}} ({definitions}, PRIMARY KEY ({self.key}))",
            f"CREATE TABLE IF NOT EXISTS {{{self.history}}} ({definitions}, day TEXT NOT NULL, until_day TEXT,"
            f" PRIMARY KEY ({self.key}, day))",
            f"CREATE INDEX IF NOT EXISTS {self.history}_span ON {{{self.history}}} (day, until_day)",
        )

    def as_of_source(self) -> str:
        """A SELECT giving the live table's columns as they stood at the end of
        a day; it takes that day (ISO) twice as parameters."""
        return (
            f"SELECT {', '.join(self.columns)} FROM {{{self.history}}}"
            " WHERE day <= ? AND (until_day IS NULL OR until_day > ?)"
        )


class DayHistory:
    """Writes a HistoryTable's end-of-day copies while a batch is applied, from
    the live table's rows as the batch holds them (a ``BufferedTable``).

    Call ``touching(key, day)`` before (or right after adding) a change to a
    live row, and ``flush(rows)`` before the batch commits. A row changed many
    times in a day is copied once, when its day is over within the batch or at
    the batch's end, not once per event; the copies are written together."""

    def __init__(self, table: HistoryTable, live: BufferedTable):
        self.table = table
        self.live = live
        self._pending: dict[str, str] = {}
        self._copies: list[tuple[str, str, dict[str, Any]]] = []
        self._columns = (*table.columns, "day", "until_day")
        self._conflict = (
            f" ON CONFLICT ({table.key}, day) DO UPDATE SET"
            f" {', '.join(f'{c} = excluded.{c}' for c in self._columns if c not in (table.key, 'day'))}"
        )

    def reset(self) -> None:
        """Forget copies owed by a batch that did not commit."""
        self._pending.clear()
        self._copies.clear()

    def touching(self, key: str, day: str) -> None:
        owed = self._pending.get(key)
        if owed is not None and owed != day:
            self._copy(key, owed)
        self._pending[key] = day

    def _copy(self, key: str, day: str) -> None:
        row = self.live.get(key)
        if row is not None:  # a change to a row that is not there copies nothing
            self._copies.append((key, day, {**row, "day": day, "until_day": None}))

    def flush(self, rows: Rows) -> None:
        for key, day in self._pending.items():
            self._copy(key, day)
        self._pending.clear()
        # Each copy stands until the next copy of its row; the first copy of a row in
        # this batch closes the copy stored before it (a row first stored in this
        # batch has none).
        following: dict[str, str] = {}
        for key, day, copy in reversed(self._copies):
            copy["until_day"] = following.get(key)
            following[key] = day
        new = set(self.live.added())
        closing = [copy for key, day, copy in self._copies if key not in new and following.get(key) == day]
        t = self.table
        if rows.bulk_json:
            if closing:
                rows.execute(
                    f"UPDATE {{{t.history}}} AS h SET until_day = v.day"
                    f" FROM json_populate_recordset(NULL::{{{t.history}}}, ?::json) AS v"
                    f" WHERE h.{t.key} = v.{t.key} AND h.until_day IS NULL AND h.day < v.day",
                    (json.dumps([{t.key: c[t.key], "day": c["day"]} for c in closing]),),
                )
        else:
            rows.execute_many(
                f"UPDATE {{{t.history}}} SET until_day = ? WHERE {t.key} = ? AND until_day IS NULL AND day < ?",
                [(c["day"], c[t.key], c["day"]) for c in closing],
            )
        rows.insert_rows(t.history, self._columns, [copy for _, _, copy in self._copies], self._conflict)
        self._copies.clear()
