"""Fixtures for the audit tests: a Duban application with a small county on a
real SQLite file and a real PostgreSQL schema, the audit chain view beside it,
and plain SQL on the store's table to tamper with it as an intruder would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from domain import audit
from domain.service import Duban
from projections.audit_chain import AuditChainQuery
from projections.runner import Follower, audit_projection
from tests.integration.county import County, build_county, opened
from tests.support import postgres_connection

#: Small blocks, so a history of a few dozen events has several checkpoints.
SMALL_BLOCKS = 8


@pytest.fixture
def duban(store_env: dict[str, str]) -> Iterator[Duban]:
    with opened(store_env) as application:
        yield application


@pytest.fixture
def county(duban: Duban) -> County:
    return build_county(duban)


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY", SMALL_BLOCKS)


@pytest.fixture
def chain(duban: Duban, store_env: dict[str, str], small_blocks: None) -> Iterator[tuple[Follower, AuditChainQuery]]:
    projection = audit_projection(store_env)
    follower = Follower(duban, projection, batch_size=13, poll_interval=0.05)
    try:
        yield follower, AuditChainQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


class Intruder:
    """Someone with the database password, editing the store's table with plain SQL."""

    def __init__(self, duban: Duban, store_env: dict[str, str]):
        self.postgres = store_env["PERSISTENCE_MODULE"].endswith("postgres")
        if self.postgres:
            schema = store_env["POSTGRES_SCHEMA"]
            self.table = f'"{schema}"."{duban.recorder.events_table_name}"'
            self.position = "notification_id"
        else:
            self.file = store_env["SQLITE_DBNAME"]
            self.table = "stored_events"
            self.position = "rowid"

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        statement = statement.format(table=self.table, pos=self.position)
        if self.postgres:
            with postgres_connection() as connection:
                cursor = connection.execute(statement.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        connection = sqlite3.connect(self.file)
        try:
            with connection:
                cursor = connection.execute(statement, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def row(self, position: int) -> tuple[Any, ...]:
        [found] = self.sql("SELECT originator_id, originator_version, topic, state FROM {table} WHERE {pos} = ?",
                           (position,))  # fmt: skip
        return tuple(found)

    def change_state(self, position: int) -> None:
        """Flip one byte of the event's state."""
        state = bytearray(self.row(position)[3])
        state[len(state) // 2] ^= 0x01
        self.sql("UPDATE {table} SET state = ? WHERE {pos} = ?", (bytes(state), position))

    def delete(self, position: int) -> None:
        self.sql("DELETE FROM {table} WHERE {pos} = ?", (position,))

    def insert_at(self, position: int, like: int) -> None:
        """Make room at ``position`` (every later row one further on) and put a
        plausible event there: a copy of the event at ``like`` under a new originator."""
        import uuid

        _, _, topic, state = self.row(like)
        self.shift(position, 1)
        originator = uuid.uuid4()
        self.sql(
            "INSERT INTO {table} ({pos}, originator_id, originator_version, topic, state) VALUES (?, ?, 1, ?, ?)",
            (position, originator if self.postgres else originator.hex, topic, state),
        )

    def shift(self, start: int, by: int) -> None:
        """Renumber every row from ``start`` on by ``by`` (in two steps: positions are unique)."""
        self.sql("UPDATE {table} SET {pos} = {pos} + 1000000 WHERE {pos} >= ?", (start,))
        self.sql("UPDATE {table} SET {pos} = {pos} - ? WHERE {pos} >= ?", (1000000 - by, 1000000 + start))

    def swap(self, first: int, second: int) -> None:
        self.sql("UPDATE {table} SET {pos} = -1 WHERE {pos} = ?", (first,))
        self.sql("UPDATE {table} SET {pos} = ? WHERE {pos} = ?", (first, second))
        self.sql("UPDATE {table} SET {pos} = ? WHERE {pos} = -1", (second,))

    def last(self) -> int:
        [(last,)] = self.sql("SELECT MAX({pos}) FROM {table}")
        return int(last)


@pytest.fixture
def intruder(duban: Duban, store_env: dict[str, str]) -> Intruder:
    return Intruder(duban, store_env)
