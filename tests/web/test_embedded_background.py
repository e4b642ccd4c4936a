"""The embedded mode runs the same policies and jobs in-process, without Redis:
an inspector files a finding on the web, and the notice is issued and lands in
the unit's inbox by itself; a deadline passing is recorded once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask

from app import create_app
from domain.message import message_id
from tests.web.conftest import START, act_as, text_of


@pytest.fixture
def app(store_env, clock) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DUBAN_STORE_ENV": store_env,
            "DUBAN_CLOCK": clock,
            "DUBAN_EMBEDDED_PROJECTOR": True,
            "DUBAN_EMBEDDED_POLICIES": True,
            "PROJECTION_WAIT_SECONDS": 10.0,
        }
    )
    yield app
    app.extensions["duban"].close()


def eventually(check, what: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_filed_finding_is_notified_by_itself_and_its_deadline_missed_once(client, county, clock):
    runtime = county.runtime
    act_as(client, county.inspector, "inspector")
    client.get("/")  # the first request starts the embedded threads
    finding = county.file(county.village_a1, notice=False, cadres=(county.cadre_1,))

    notice = message_id("notice", finding, 1)

    def delivered() -> bool:
        try:
            return runtime.duban.message(notice).was_delivered("inbox", f"unit:{county.village_a1}")
        except Exception:  # noqa: BLE001 - not sent yet
            return False

    eventually(delivered, "the notice in the unit's inbox")
    assert runtime.duban.finding(finding).status == "open"
    runtime.wait_for(runtime.duban.position())
    act_as(client, county.unit_a1, "unit")
    assert text_of(client.get("/inbox").text, "inbox-count") == "1"

    # Past the deadline: the timer fires once, the miss and its deduction are recorded.
    clock.set(START.replace(year=2026, month=12, day=1))
    eventually(lambda: runtime.duban.finding(finding).missed_deadlines == (1,), "the missed deadline")
    eventually(lambda: _exists(runtime.duban, message_id("deadline_missed", finding, 1)), "the notice of the miss")
    time.sleep(1.0)
    kinds = Counter(type(e).__name__ for e in runtime.duban.history(finding))
    assert kinds["DeadlineMissed"] == 1 and kinds["PointsDeducted"] == 1


def _exists(duban, key) -> bool:  # type: ignore[no-untyped-def]
    try:
        duban.message(key)
    except Exception:  # noqa: BLE001
        return False
    return True
