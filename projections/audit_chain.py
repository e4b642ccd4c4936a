"""The audit chain (审计哈希链): what every stored event looked like when it was
first read, and the hash chain over them in log order.

Unlike the other views it reads the stored events **as stored** (the follower
hands it the notifications, not decoded domain events): the digest covers the
encrypted state, so the chain can be kept and checked without the cipher key.
See ``domain/audit.py`` for the arithmetic.

Kept per event: its position, originator id, version, topic and digest (what
the verifier compares the store against, and tells a changed event from a
removed, inserted or moved one by). Kept per block of ``CHECKPOINT_EVERY``
positions: the chain head after the block's first event (a checkpoint), so the
head at any position is a short walk away. And the head itself.

Like every view it can be dropped and rebuilt from the log; but a rebuild reads
the store as it is now, so a chain rebuilt after a tampering would bless it.
That is why anchors are printed on paper, and why ``verify-history`` recomputes
the chain from the store instead of trusting this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from domain.audit import GENESIS, is_checkpoint, link
from projections.audit_verify import _hasher, _link
from projections.bulk_rows import insert_rows
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView


def _schema(binary: str) -> tuple[str, ...]:
    """The tables, with ``binary`` the backend's type for bytes (BLOB, BYTEA)."""
    return (
        "CREATE TABLE IF NOT EXISTS {audit_events} ("
        " position BIGINT PRIMARY KEY, originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL,"
        f" topic TEXT NOT NULL, digest {binary} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS audit_events_originator ON {audit_events} (originator_id, originator_version)",
        "CREATE TABLE IF NOT EXISTS {audit_checkpoints} (position BIGINT PRIMARY KEY, chain TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS {audit_head} ("
        " id INTEGER PRIMARY KEY, position BIGINT NOT NULL, chain TEXT NOT NULL, events BIGINT NOT NULL)",
    )


class AuditChainSchema(SqlView):
    #: 2: digests stored as their 32 bytes, not 64 hex characters (the view was
    #: 225 MB per million events); read back as hex, as before.
    schema_version = 2
    table_names = ("audit_events", "audit_checkpoints", "audit_head")


class AuditChainSQLiteView(AuditChainSchema, SQLiteView):
    schema_statements = _schema("BLOB")


class AuditChainPostgresView(AuditChainSchema, PostgresView):
    schema_statements = _schema("BYTEA")


@dataclass(frozen=True)
class ChainHead:
    """The chain after the last event read: its position, head (hex) and how many events it covers."""

    position: int
    chain: str
    events: int


EMPTY_HEAD = ChainHead(0, GENESIS.hex(), 0)


@dataclass(frozen=True)
class RecordedEvent:
    """One event as the chain first read it."""

    position: int
    originator_id: str
    originator_version: int
    topic: str
    digest: str


class AuditChainProjection(BatchProjection):
    name = "audit"
    topics: tuple[str, ...] = ()  # every event
    #: The follower hands this projection the stored notifications, not decoded events.
    reads_stored_events = True

    def start_batch(self, rows: Rows) -> None:
        head = _head(rows)
        self._position, self._chain, self._events = head.position, bytes.fromhex(head.chain), head.events
        # The batch's rows, written at its end in a few statements (projections/bulk_rows.py).
        self._recorded: list[tuple[int, str, int, str, bytes]] = []
        self._checkpoints: list[tuple[int, str]] = []

    def apply(self, notification: Any, rows: Rows) -> None:  # type: ignore[override]
        position = int(notification.id)
        originator = str(notification.originator_id)
        version = int(notification.originator_version)
        # The verifier's hashing: domain.audit's arithmetic, at a fraction of the calls (tests/audit/test_hashing.py).
        digest = _digest(notification.topic, originator, version, notification.state)
        chain = _link(self._chain, position, digest)
        self._recorded.append((position, originator, version, notification.topic, digest))
        if is_checkpoint(self._position, position):
            self._checkpoints.append((position, chain.hex()))
        self._position, self._chain, self._events = position, chain, self._events + 1

    def before_commit(self, rows: Rows) -> None:
        insert_rows(rows, "audit_events", EVENT_COLUMNS, self._recorded)
        insert_rows(rows, "audit_checkpoints", CHECKPOINT_COLUMNS, self._checkpoints)
        self._recorded, self._checkpoints = [], []
        rows.execute("DELETE FROM {audit_head}")
        rows.execute(
            "INSERT INTO {audit_head} (id, position, chain, events) VALUES (1, ?, ?, ?)",
            (self._position, self._chain.hex(), self._events),
        )

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        """Nothing: the position is the notification's own id."""


EVENT_COLUMNS = (("position", "bigint"), ("originator_id", "text"), ("originator_version", "bigint"), ("topic", "text"),
                 ("digest", "bytea"))  # fmt: skip
CHECKPOINT_COLUMNS = (("position", "bigint"), ("chain", "text"))
_digest = _hasher()


def _head(rows: Rows) -> ChainHead:
    row = rows.one("SELECT position, chain, events FROM {audit_head} WHERE id = 1")
    if row is None:
        return EMPTY_HEAD
    return ChainHead(int(row["position"]), row["chain"], int(row["events"]))


def _recorded(row: Any) -> RecordedEvent:
    return RecordedEvent(int(row["position"]), row["originator_id"], int(row["originator_version"]), row["topic"],
                         bytes(row["digest"]).hex())  # fmt: skip


class AuditChainQuery:
    """Reading the chain as recorded."""

    def __init__(self, view: SqlView):
        self.view = view

    def head(self) -> ChainHead:
        with self.view.reading() as rows:
            return _head(rows)

    def head_at(self, position: int) -> ChainHead | None:
        """The chain after the last recorded event at or before ``position``;
        None if the chain has not yet read that far."""
        with self.view.reading() as rows:
            head = _head(rows)
            if head.position < position:
                return None
            checkpoint = rows.one(
                "SELECT position, chain FROM {audit_checkpoints} WHERE position <= ? ORDER BY position DESC LIMIT 1",
                (position,),
            )
            start, chain = (int(checkpoint["position"]), bytes.fromhex(checkpoint["chain"])) if checkpoint else (0, GENESIS)
            events = rows.all(
                "SELECT position, digest FROM {audit_events} WHERE position > ? AND position <= ? ORDER BY position",
                (start, position),
            )
            counted = rows.one("SELECT COUNT(*) AS n FROM {audit_events} WHERE position <= ?", (position,))
        last = start
        for row in events:
            last = int(row["position"])
            chain = link(chain, last, bytes(row["digest"]))
        return ChainHead(last, chain.hex(), int(counted["n"]))

    def checkpoints(self, limit: int = 20) -> list[ChainHead]:
        """The latest checkpoints, newest first (``events`` is left 0)."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT position, chain FROM {audit_checkpoints} ORDER BY position DESC LIMIT ?", (limit,)
            )
        return [ChainHead(int(r["position"]), r["chain"], 0) for r in found]

    def recorded(self, after: int, limit: int) -> list[RecordedEvent]:
        """Recorded events after position ``after``, in order, at most ``limit``."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT position, originator_id, originator_version, topic, digest FROM {audit_events}"
                " WHERE position > ? ORDER BY position LIMIT ?",
                (after, limit),
            )
        return [_recorded(r) for r in found]

    def iter_recorded(self, after: int = 0, page: int = 5000) -> Iterator[RecordedEvent]:
        while True:
            batch = self.recorded(after, page)
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].position

    def recorded_at(self, position: int) -> RecordedEvent | None:
        with self.view.reading() as rows:
            row = rows.one(
                "SELECT position, originator_id, originator_version, topic, digest FROM {audit_events}"
                " WHERE position = ?",
                (position,),
            )
        return _recorded(row) if row else None

    def position_of(self, originator_id: str, originator_version: int) -> int | None:
        """Where the chain recorded this event (None if it never read it)."""
        with self.view.reading() as rows:
            row = rows.one(
                "SELECT position FROM {audit_events} WHERE originator_id = ? AND originator_version = ?",
                (str(originator_id), int(originator_version)),
            )
        return int(row["position"]) if row else None

    def digests(self, positions: list[int]) -> dict[int, str]:
        """The recorded digest (hex) of each of these positions that the chain has read."""
        found: dict[int, str] = {}
        with self.view.reading() as rows:
            for start in range(0, len(positions), 500):
                chunk = positions[start : start + 500]
                for row in rows.all(
                    f"SELECT position, digest FROM {{audit_events}} WHERE position IN ({', '.join('?' for _ in chunk)})",
                    chunk,
                ):
                    found[int(row["position"])] = bytes(row["digest"]).hex()
        return found

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {"audit_events": "position", "audit_checkpoints": "position", "audit_head": "id"}
        return self.view.dump_tables(keys)
