"""The full-history index (履历): for every subject the discipline office may
ask about — a finding, a unit, a person, a circular — which events of the log
concern it, in log order.

One row per (subject kind, subject id, event): the event's log position, time,
actor and role, originator id and version and topic. The rows say nothing of
what happened: the pages read the events themselves from the store by
originator and version (``app/history_text.py`` describes them in Chinese), so
the index holds no personal data and cannot disagree with the events.

Which events concern which subject:

* a finding: its own events;
* a unit: its own events; every event of the findings filed against it (the
  accountable unit, not its parent units); deductions charged to it (by a
  finding or a circular); the unit notices issued to it; the circulars listing
  it (their events from the draft that lists it on); the cases opened against
  it; messages sent to it; the registration of its users;
* a person (a user): their own events (registration, roles, sign-ins, keys);
  every event of the findings naming them as a responsible cadre; the
  inspections naming them as an inspector; messages sent to them; and every
  event they performed as the actor;
* a circular: its own events.

Bookkeeping aggregates (check-item records, document number series, login
claims) and the record of history access itself (``domain/history_access.py``,
listed by ``projections/history_access.py``) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.case import Case
from domain.check_items import CheckItemRecord
from domain.circular import Circular, DocumentSeries
from domain.finding import Finding
from domain.history_access import HistoryAccess
from domain.inspection import Inspection
from domain.message import Message
from domain.org import LoginClaim, Unit, User
from domain.unit_notice import UnitNotice
from projections.bulk_rows import insert_rows
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Page, Rows, SqlView

FINDING, UNIT, PERSON, CIRCULAR = "finding", "unit", "person", "circular"
KINDS = (FINDING, UNIT, PERSON, CIRCULAR)

#: Aggregates whose events are no subject's history.
LEFT_OUT = (CheckItemRecord, DocumentSeries, LoginClaim, HistoryAccess)
#: The subject kind of an aggregate's own events.
OWN = ((Finding, FINDING), (Unit, UNIT), (User, PERSON), (Circular, CIRCULAR))


def instant_text(instant: datetime) -> str:
    """A UTC instant in one fixed-width form, so that text order is time order."""
    # isoformat with the microseconds always written is that form (for years from 1000),
    # at half the cost of strftime: it is computed for every event of a rebuild.
    return instant.astimezone(timezone.utc).isoformat(timespec="microseconds")


@lru_cache(maxsize=None)  # a few dozen event classes; asked for every event of a rebuild
def _kind_of(event_type: type) -> str | None:
    """The subject kind of an event class's own aggregate ("" for an aggregate that is
    no subject, like a case); None for the bookkeeping aggregates left out."""
    for aggregate in (Finding, Unit, User, Circular, UnitNotice, Case, Inspection, Message, *LEFT_OUT):
        if issubclass(event_type, aggregate.Event):
            if aggregate in LEFT_OUT:
                return None
            return next((kind for kind_of, kind in OWN if kind_of is aggregate), "")
    return ""


class HistorySchema(SqlView):
    schema_version = 1
    table_names = ("history_rows", "history_links")
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {history_rows} ("
        " subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, position BIGINT NOT NULL,"
        " recorded_at TEXT NOT NULL, actor_id TEXT NOT NULL, actor_role TEXT NOT NULL,"
        " originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, topic TEXT NOT NULL,"
        " PRIMARY KEY (subject_kind, subject_id, position))",
        "CREATE INDEX IF NOT EXISTS history_rows_actor ON {history_rows} (subject_kind, subject_id, actor_id, position)",
        # Which other subjects an aggregate's later events concern (a finding's unit and
        # cadres, a circular's listed units, a notice's unit, a case's unit).
        "CREATE TABLE IF NOT EXISTS {history_links} ("
        " originator_id TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,"
        " PRIMARY KEY (originator_id, subject_kind, subject_id))",
    )


class HistorySQLiteView(HistorySchema, SQLiteView):
    pass


class HistoryPostgresView(HistorySchema, PostgresView):
    pass


Subject = tuple[str, str]

ROW_COLUMNS = (("subject_kind", "text"), ("subject_id", "text"), ("position", "bigint"), ("recorded_at", "text"),
               ("actor_id", "text"), ("actor_role", "text"), ("originator_id", "text"),
               ("originator_version", "bigint"), ("topic", "text"))  # fmt: skip
LINK_COLUMNS = (("originator_id", "text"), ("subject_kind", "text"), ("subject_id", "text"))

#: The topic of an event class (a few dozen classes: computed once each).
_topic = lru_cache(maxsize=None)(get_topic)


class HistoryProjection(BatchProjection):
    """Rows are collected while a batch is applied and written at its end in a
    few multi-row statements (``projections/bulk_rows.py``); the links of the
    batch's aggregates are read once, before the batch, and kept in memory for
    it. On a rebuild a look-up and several inserts per event had made this the
    slowest view (on PostgreSQL each look-up was a round trip)."""

    name = "history"
    topics: tuple[str, ...] = ()  # every event; what concerns whom is decided per event

    def process_batch(self, items: Sequence[tuple[Any, Tracking]], caught_up_to: Tracking | None = None) -> None:
        self._originators = list(dict.fromkeys(str(event.originator_id) for event, _ in items))
        super().process_batch(items, caught_up_to)

    def start_batch(self, rows: Rows) -> None:
        originators = getattr(self, "_originators", [])
        self._originators = []
        #: originator -> the subjects its events concern, for every aggregate of the batch
        self._known: dict[str, list[Subject]] = {o: [] for o in originators}
        for r in rows.all_where_in(
            "SELECT originator_id, subject_kind, subject_id FROM {history_links}", "originator_id", originators
        ):
            self._known[r["originator_id"]].append((r["subject_kind"], r["subject_id"]))
        self._stored_links = {o for o, links in self._known.items() if links}
        self._relinked: dict[str, list[Subject]] = {}
        self._history_rows: list[tuple[Any, ...]] = []

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        self._position = int(tracking.notification_id)

    def apply(self, event: Any, rows: Rows) -> None:
        kind = _kind_of(type(event))
        if kind is None:
            return
        originator = str(event.originator_id)
        subjects: dict[Subject, None] = {}
        if kind:
            subjects[(kind, originator)] = None
        before = self._known.get(originator)
        if before is None:  # applied outside process_batch: read from the table
            before = self._known[originator] = self._links(rows, originator)
            if before:
                self._stored_links.add(originator)
        links = self._new_links(event)
        if links is not None:  # the event says anew whom its aggregate concerns
            subjects.update(dict.fromkeys(before))
            fresh = list(dict.fromkeys(links))
            self._known[originator] = self._relinked[originator] = fresh
            subjects.update(dict.fromkeys(fresh))
        else:
            subjects.update(dict.fromkeys(before))
        subjects.update(dict.fromkeys(self._extra(event)))
        actor = str(getattr(event, "actor_id", "") or "")
        if _is_uuid(actor):
            subjects[(PERSON, actor)] = None
        common = (self._position, instant_text(event.timestamp), actor or "system",
                  str(getattr(event, "actor_role", "") or ""), originator, int(event.originator_version),
                  _topic(type(event)))  # fmt: skip
        self._history_rows.extend((kind, subject_id, *common) for kind, subject_id in subjects)

    def before_commit(self, rows: Rows) -> None:
        if self._relinked:
            relinked = list(self._relinked)
            # A new aggregate (a finding just filed, most of them) has no links to delete.
            rows.execute_where_in("DELETE FROM {history_links}", "originator_id",
                                  [o for o in relinked if o in self._stored_links])  # fmt: skip
            insert_rows(rows, "history_links", LINK_COLUMNS,
                        [(o, kind, subject_id) for o in relinked for kind, subject_id in self._relinked[o]])  # fmt: skip
        # In key order: neighbouring rows land on the same index pages.
        self._history_rows.sort()
        insert_rows(rows, "history_rows", ROW_COLUMNS, self._history_rows)
        self._relinked, self._history_rows = {}, []

    @staticmethod
    def _new_links(event: Any) -> list[Subject] | None:
        """The subjects an aggregate's events concern from this event on; None
        if this event does not change them."""
        if isinstance(event, Finding.Filed):
            return [(UNIT, str(event.unit_id)), *((PERSON, str(c)) for c in event.cadre_ids)]
        if isinstance(event, (Circular.Drafted, Circular.Edited, Circular.Issued)):
            return [(UNIT, str(u)) for u in event.unit_ids]
        if isinstance(event, UnitNotice.Issued):
            return [(UNIT, str(event.unit_id))]
        if isinstance(event, Case.Opened):
            return [(UNIT, str(event.subject_unit_id))] if event.subject_unit_id else []
        return None

    @staticmethod
    def _extra(event: Any) -> list[Subject]:
        """Subjects this one event concerns beyond its aggregate's."""
        if isinstance(event, (Finding.PointsDeducted, Circular.PointsDeducted)):
            return [(UNIT, str(event.unit_id))]
        if isinstance(event, User.Registered):
            return [(UNIT, str(event.unit_id))]
        if isinstance(event, Inspection.Planned):
            return [(PERSON, str(i)) for i in event.inspector_ids]
        if isinstance(event, Message.Sent):
            return [*((UNIT, str(u)) for u in event.unit_ids), *((PERSON, str(u)) for u in event.user_ids)]
        return []

    @staticmethod
    def _links(rows: Rows, originator: str) -> list[Subject]:
        found = rows.all(
            "SELECT subject_kind, subject_id FROM {history_links} WHERE originator_id = ?"
            " ORDER BY subject_kind, subject_id",
            (originator,),
        )
        return [(r["subject_kind"], r["subject_id"]) for r in found]


@lru_cache(maxsize=4096)  # the actors: the same few users again and again
def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


class HistoryQuery:
    """Reading a subject's history rows, filtered by period and actor."""

    def __init__(self, view: SqlView):
        self.view = view

    @staticmethod
    def _where(kind: str, subject_id: str, since: datetime | None, before: datetime | None,
               actor_id: str | None) -> tuple[str, list[Any]]:  # fmt: skip
        where, params = " WHERE subject_kind = ? AND subject_id = ?", [kind, str(subject_id)]
        if since is not None:
            where += " AND recorded_at >= ?"
            params.append(instant_text(since))
        if before is not None:
            where += " AND recorded_at < ?"
            params.append(instant_text(before))
        if actor_id:
            where += " AND actor_id = ?"
            params.append(actor_id)
        return where, params

    def count(self, kind: str, subject_id: str, *, since: datetime | None = None, before: datetime | None = None,
              actor_id: str | None = None) -> int:  # fmt: skip
        where, params = self._where(kind, subject_id, since, before, actor_id)
        with self.view.reading() as rows:
            found = rows.one(f"SELECT COUNT(*) AS n FROM {{history_rows}}{where}", params)
        return int(found["n"])

    def rows(self, kind: str, subject_id: str, *, since: datetime | None = None, before: datetime | None = None,
             actor_id: str | None = None, offset: int = 0, limit: int = 50) -> list[dict[str, Any]]:  # fmt: skip
        """The subject's rows in log order, ``limit`` of them after skipping ``offset``."""
        where, params = self._where(kind, subject_id, since, before, actor_id)
        with self.view.reading() as rows:
            found = rows.all(
                f"SELECT position, recorded_at, actor_id, actor_role, originator_id, originator_version, topic"
                f" FROM {{history_rows}}{where} ORDER BY position LIMIT ? OFFSET ?",
                [*params, int(limit), int(offset)],
            )
        return [dict(r) for r in found]

    def page(self, kind: str, subject_id: str, *, since: datetime | None = None, before: datetime | None = None,
             actor_id: str | None = None, page: int = 1, per_page: int = 50) -> Page:  # fmt: skip
        total = self.count(kind, subject_id, since=since, before=before, actor_id=actor_id)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        found = self.rows(kind, subject_id, since=since, before=before, actor_id=actor_id,
                          offset=(page - 1) * per_page, limit=per_page)  # fmt: skip
        return Page(found, total, page, per_page)

    def actors(self, kind: str, subject_id: str) -> list[str]:
        """Everyone who acted in this subject's history (``system`` included)."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT DISTINCT actor_id FROM {history_rows} WHERE subject_kind = ? AND subject_id = ? ORDER BY actor_id",
                (kind, str(subject_id)),
            )
        return [r["actor_id"] for r in found]

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {
            "history_rows": "subject_kind, subject_id, position",
            "history_links": "originator_id, subject_kind, subject_id",
        }
        return self.view.dump_tables(keys)
