"""The web fixtures (a county on SQLite and PostgreSQL) for the spreadsheet tests."""

from tests.web.conftest import app, client, clock, county  # noqa: F401
