"""Browser tests: the app served on a loopback port, driven by Playwright in
Debian's Chromium (``/usr/bin/chromium``, installed by the test set-up; no
browser is downloaded).

Screenshots are test artefacts: written under ``DUBAN_ARTIFACTS_DIR`` (default
``var/test-artifacts/browser``, ignored by git), one folder per test.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from domain.service import TravellingClock
from tests.support import sqlite_env
from tests.web.conftest import START, County, county  # noqa: F401  (fixture)

CHROMIUM = os.environ.get("DUBAN_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "browser-test-2026"


@pytest.fixture
def clock() -> TravellingClock:
    return TravellingClock(START)


@pytest.fixture
def app(tmp_path: Path, clock: TravellingClock) -> Iterator[Flask]:
    """The embedded mode as a newcomer runs it: SQLite, projector and policies in-process."""
    app = create_app(
        {
            "SECRET_KEY": "browser-test",
            "DUBAN_STORE_ENV": sqlite_env(tmp_path),
            "DUBAN_CLOCK": clock,
            "DUBAN_EMBEDDED_PROJECTOR": True,
            "DUBAN_EMBEDDED_POLICIES": True,
            "PROJECTION_WAIT_SECONDS": 10.0,
        }
    )
    yield app
    app.extensions["duban"].close()


@pytest.fixture
def server(app: Flask, county: County) -> Iterator[str]:
    from app.auth.passwords import hash_password

    password_hash = hash_password(PASSWORD)
    for user in (county.inspector, county.unit_a1, county.discipline, county.command):
        role = county.duban.user(user).roles[0]
        county.duban.set_password(user, password_hash, county.actor(user, role))
    county.settle()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()
    thread.join(10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


class Screenshots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def take(self, page: object, step: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    base = Path(os.environ.get("DUBAN_ARTIFACTS_DIR", REPO / "var" / "test-artifacts" / "browser"))
    folder = base / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return Screenshots(folder)
