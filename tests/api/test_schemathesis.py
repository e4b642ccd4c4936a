"""schemathesis, driven by the served OpenAPI document, finds no server error:
every operation with generated parameters and bodies (valid ones and invalid
ones), with a command-office key and with a unit's key. On the SQLite store
only: the point is the app's handling of what it is sent, not the store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.support import sqlite_env

#: Examples per operation and generation mode: the whole run stays under about two minutes.
EXAMPLES = 10


@pytest.fixture
def store_env(tmp_path: Any) -> Iterator[dict[str, str]]:
    yield sqlite_env(tmp_path)


def test_no_operation_answers_a_server_error(app: Flask, api: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def run(case: Any) -> None:
                for role in ("command", "unit"):
                    response = case.call(headers={"Authorization": f"Bearer {api.keys[role]}"})
                    where = f"{role} {case.method} {case.formatted_path} {mode.value}"
                    if response.status_code >= 500:
                        failures.append(f"{where}: {response.status_code} {response.text[:300]}")
                    elif response.status_code >= 400 and "application/problem+json" not in str(
                        response.headers.get("content-type")
                    ):
                        failures.append(f"{where}: {response.status_code} not a problem: {response.text[:200]}")
                    else:
                        # What it answers matches what the document says it answers.
                        try:
                            case.validate_response(response, checks=[response_schema_conformance])
                        except (AssertionError, BaseExceptionGroup) as error:  # one failure, or several
                            failures.append(f"{where}: {response.status_code} off its schema: {str(error)[:300]}")

            try:
                run()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
    assert not failures, "\n".join(failures[:20])
