"""Household registry numbers are personal data: encrypted at rest in the event
store, masked in the ledger. Read back with plain SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from eventsourcing.persistence import MapperDeserialisationError

from domain.finding import mask_household_number
from tests.integration.county import build_county, ledger, opened
from tests.support import cipher_env, postgres_connection, postgres_schema, sqlite_env

HOUSEHOLD = "612727199001011234"
MASKED = "612727********1234"
DESCRIPTION = "户主王某某2025年务工收入未录入"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def encrypted_store_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh store with a cipher configured (CIPHER_TOPIC and a new CIPHER_KEY)."""
    if request.param == "sqlite":
        yield sqlite_env(tmp_path, encrypted=True)
    else:
        with postgres_schema(encrypted=True) as env:
            yield env


def is_postgres(env: dict[str, str]) -> bool:
    return env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"


def stored_event_states(env: dict[str, str]) -> list[bytes]:
    """The ``state`` column of every stored event, read with the plain driver."""
    if is_postgres(env):
        schema = env["POSTGRES_SCHEMA"]
        with postgres_connection() as connection:
            tables = {
                row[0]
                for row in connection.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
                )
            }
            assert "duban_events" in tables, tables
            return [bytes(row[0]) for row in connection.execute(f'SELECT state FROM "{schema}".duban_events')]
    connection = sqlite3.connect(env["SQLITE_DBNAME"])
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "stored_events" in tables, tables
        return [bytes(row[0]) for row in connection.execute("SELECT state FROM stored_events")]
    finally:
        connection.close()


def raw_files(path: str) -> bytes:
    """An SQLite database's bytes on disk, with its write-ahead log if any."""
    return b"".join(p.read_bytes() for p in (Path(path), Path(path + "-wal")) if p.exists())


def view_dump(env: dict[str, str]) -> str:
    """Every value in every ledger table, as text, read with the plain driver."""
    if is_postgres(env):
        schema = env["POSTGRES_SCHEMA"]
        with postgres_connection() as connection:
            tables = [
                row[0]
                for row in connection.execute(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = %s AND table_name LIKE 'ledger%%'",
                    (schema,),
                )
            ]
            assert "ledger_findings" in tables, tables
            return "\n".join(
                str(row[0])
                for table in tables
                for row in connection.execute(f'SELECT row_to_json(t)::text FROM "{schema}"."{table}" t')
            )
    path = Path(env["SQLITE_DBNAME"]).parent / "view-ledger.sqlite"
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "ledger_findings" in tables, tables
        return "\n".join(
            json.dumps(list(row), ensure_ascii=False, default=str)
            for table in tables
            for row in connection.execute(f'SELECT * FROM "{table}"')
        )
    finally:
        connection.close()


def file_with_household(env: dict[str, str]) -> tuple[object, object]:
    with opened(env) as app:
        county = build_county(app)
        finding_id = county.file(household_no=HOUSEHOLD, description=DESCRIPTION)
        app.issue_notice(finding_id, county.inspector)
        return finding_id, county.county_id


def test_household_number_is_encrypted_at_rest(encrypted_store_env: dict[str, str]) -> None:
    env = encrypted_store_env
    finding_id, _ = file_with_household(env)

    states = stored_event_states(env)
    assert len(states) >= 20
    for state in states:
        assert HOUSEHOLD.encode() not in state
        assert DESCRIPTION.encode() not in state
        assert b"household_no" not in state  # not even the field names are readable
    if not is_postgres(env):
        on_disk = raw_files(env["SQLITE_DBNAME"])
        assert HOUSEHOLD.encode() not in on_disk
        assert DESCRIPTION.encode() not in on_disk

    # Through the application, with the key, it is all there.
    with opened(env) as app:
        finding = app.finding(finding_id)
        assert finding.household_no == HOUSEHOLD
        assert finding.description == DESCRIPTION
        assert app.history(finding_id)[0].household_no == HOUSEHOLD


def test_a_wrong_key_is_an_error_not_a_missing_record(encrypted_store_env: dict[str, str]) -> None:
    env = encrypted_store_env
    finding_id, _ = file_with_household(env)
    with opened({**env, **cipher_env()}) as app:  # same store, another key
        with pytest.raises(MapperDeserialisationError):
            app.finding(finding_id)


def test_without_a_cipher_the_number_would_be_readable(store_env: dict[str, str]) -> None:
    """The control: the check above would see the number if it were stored in clear."""
    assert "CIPHER_KEY" not in store_env
    finding_id, _ = file_with_household(store_env)
    states = stored_event_states(store_env)
    assert sum(HOUSEHOLD.encode() in state for state in states) == 1  # the Filed event only
    assert any(DESCRIPTION.encode() in state for state in states)
    with opened(store_env) as app:
        assert app.finding(finding_id).household_no == HOUSEHOLD


def test_the_ledger_keeps_only_the_masked_number(encrypted_store_env: dict[str, str]) -> None:
    env = encrypted_store_env
    finding_id, _ = file_with_household(env)
    assert mask_household_number(HOUSEHOLD) == MASKED
    with opened(env) as app, ledger(app, env) as (follower, query):
        follower.catch_up()
        rows = [r for r in query.all_rows() if r["table"] == "ledger_findings"]
        assert [r["household_masked"] for r in rows] == [MASKED]
        assert rows[0]["finding_id"] == str(finding_id)
        dump = view_dump(env)
    assert MASKED in dump
    assert HOUSEHOLD not in dump
    assert HOUSEHOLD[6:-4] not in dump  # not even the hidden middle part
    if not is_postgres(env):
        view_bytes = raw_files(str(Path(env["SQLITE_DBNAME"]).parent / "view-ledger.sqlite"))
        assert MASKED.encode() in view_bytes
        assert HOUSEHOLD.encode() not in view_bytes
