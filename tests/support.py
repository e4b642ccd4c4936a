"""Backends for tests: a fresh SQLite file, or a fresh PostgreSQL schema on the
real server (127.0.0.1:5432, database ``test``, trust auth)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

POSTGRES_BASE = {
    "PERSISTENCE_MODULE": "eventsourcing.postgres",
    "POSTGRES_DBNAME": os.environ.get("TEST_POSTGRES_DBNAME", "test"),
    "POSTGRES_HOST": os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
    "POSTGRES_PORT": os.environ.get("TEST_POSTGRES_PORT", "5432"),
    "POSTGRES_USER": os.environ.get("TEST_POSTGRES_USER", "postgres"),
    "POSTGRES_PASSWORD": os.environ.get("TEST_POSTGRES_PASSWORD", ""),
    # A pool opens its minimum at once, per store and per view: at the library's 5, three
    # test processes side by side would hold more than the server's 100 connections.
    "POSTGRES_POOL_SIZE": "1",
}


def sqlite_env(folder: Path, encrypted: bool = False) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / "events.sqlite")}
    if encrypted:
        env.update(cipher_env())
    return env


def cipher_env() -> dict[str, str]:
    from eventsourcing.cipher import AESCipher

    return {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": AESCipher.create_key(32)}


def postgres_connection() -> psycopg.Connection:
    return psycopg.connect(
        host=POSTGRES_BASE["POSTGRES_HOST"],
        port=POSTGRES_BASE["POSTGRES_PORT"],
        dbname=POSTGRES_BASE["POSTGRES_DBNAME"],
        user=POSTGRES_BASE["POSTGRES_USER"],
        autocommit=True,
    )


@contextmanager
def postgres_schema(encrypted: bool = False) -> Iterator[dict[str, str]]:
    """A new schema for one test, dropped afterwards."""
    schema = "t_" + uuid.uuid4().hex[:12]
    env = {**POSTGRES_BASE, "POSTGRES_SCHEMA": schema}
    if encrypted:
        env.update(cipher_env())
    try:
        yield env
    finally:
        with postgres_connection() as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
