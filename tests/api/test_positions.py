"""Filing answers at once, from the finding it saved, with the log position in the
``Duban-Position`` header; a read that sends the position back sees the filing
(read-your-writes on demand). In the services mode, as deployed: a projector
(here, followers in threads of the test) writes the views, not the web process."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app import create_app
from domain.service import TravellingClock
from projections.runner import PROJECTIONS, Follower
from projections.storage import open_application
from projections.wakeup import listen_for_writes
from tests.api.conftest import Api, assert_problem
from tests.web.conftest import act_as, post, token

HEADER = "Duban-Position"


class Projector:
    """What ``python -m projections.runner`` does, in threads of the test, to start and stop at will."""

    def __init__(self, store_env: dict[str, str]):
        self.store_env = store_env
        self.app = open_application(store_env)
        self.projections = [make(store_env) for make in PROJECTIONS.values()]
        self.followers: list[Follower] = []
        self.wakeup: Any = None

    def start(self) -> None:
        self.followers = [Follower(self.app, p, poll_interval=0.05).start() for p in self.projections]
        self.wakeup = listen_for_writes(self.app, self.followers)

    def stop(self) -> None:
        if self.wakeup is not None:
            self.wakeup.stop()
            self.wakeup = None
        for follower in self.followers:
            follower.stop()
        self.followers = []

    def close(self) -> None:
        self.stop()
        self.app.close()
        for projection in self.projections:
            projection.view.datastore.close()


@pytest.fixture
def projector(store_env: dict[str, str]) -> Iterator[Projector]:
    projector = Projector(store_env)
    projector.start()
    yield projector
    projector.close()


@pytest.fixture
def app(store_env: dict[str, str], clock: TravellingClock, projector: Projector) -> Iterator[Flask]:
    """The services mode: this process only waits for the views the projector writes."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DUBAN_STORE_ENV": store_env,
            "DUBAN_CLOCK": clock,
            "DUBAN_EMBEDDED_PROJECTOR": False,
            "DUBAN_EMBEDDED_POLICIES": False,
            "PROJECTION_WAIT_SECONDS": 10.0,
        }
    )
    yield app
    app.extensions["duban"].close()


def filing(api: Api) -> dict[str, Any]:
    county = api.county
    return {
        "unit_id": str(county.village_a1), "category": "missing", "source": "inspection", "severity": "general",
        "check_item": "帮扶手册收入测算", "description": "帮扶手册缺少年度收入测算", "household_no": "612727201900123456",
        "cadre_ids": [str(county.cadre_2), str(county.cadre_1)],
    }  # fmt: skip


def test_a_filing_answers_the_finding_as_the_views_will_show_it_and_its_position(api: Api) -> None:
    created = api.post("/api/v1/findings", filing(api), role="inspector")
    assert created.status_code == 201, created.text
    position = int(created.headers[HEADER])
    assert position == api.position  # nothing written since
    seen = api.get(f"/api/v1/findings/{created.json['finding_id']}", role="command", headers={HEADER: str(position)})
    assert seen.status_code == 200, seen.text
    shown = {k: v for k, v in seen.json.items() if k != "history"}
    assert created.json == shown  # made from the aggregate, equal to the ledger row
    assert created.json["household_masked"] != "612727201900123456"
    assert [c["name"] for c in created.json["cadres"]] == sorted(["张帮扶", "刘帮扶"])


def test_a_read_with_the_position_sees_the_new_finding(api: Api) -> None:
    for _ in range(3):
        created = api.post("/api/v1/findings", filing(api), role="inspector")
        position = created.headers[HEADER]
        ledger = api.get("/api/v1/findings?limit=200", role="command", headers={HEADER: position})
        assert ledger.status_code == 200, ledger.text
        assert created.json["finding_id"] in [f["finding_id"] for f in ledger.json["items"]]
    watcher = api.county.runtime.watcher
    if watcher is not None:  # PostgreSQL: the views announced their positions to the one watcher
        assert watcher.announcements > 0


def test_a_filing_does_not_wait_for_the_views(api: Api, projector: Projector) -> None:
    projector.stop()  # nobody writes the views any more
    api.county.runtime.wait_seconds = 30.0  # a filing that waited would take this long
    started = time.monotonic()
    created = api.post("/api/v1/findings", filing(api), role="inspector")
    assert created.status_code == 201
    assert time.monotonic() - started < 20
    assert created.json["status"] == "filed"


def test_views_that_do_not_reach_the_position_answer_503_after_the_bounded_wait(api: Api, projector: Projector) -> None:
    projector.stop()
    api.county.runtime.wait_seconds = 0.3
    created = api.post("/api/v1/findings", filing(api), role="inspector")
    answer = api.get(f"/api/v1/findings/{created.json['finding_id']}", headers={HEADER: created.headers[HEADER]})
    body = assert_problem(answer, 503, "尚未更新到位置")
    assert body["type"] == "urn:duban:problem:views-behind"
    assert answer.headers["Retry-After"] == "1"
    projector.start()
    answer = api.get(f"/api/v1/findings/{created.json['finding_id']}", headers={HEADER: created.headers[HEADER]})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", "１２"])
def test_a_bogus_position_is_a_400_problem(api: Api, value: str) -> None:
    answer = api.get("/api/v1/findings", headers={HEADER: value})
    body = assert_problem(answer, 400, "Duban-Position")
    assert body["type"] == "urn:duban:problem:bad-position"


def test_a_position_beyond_the_log_is_refused_at_once_not_waited_for(api: Api) -> None:
    api.county.runtime.wait_seconds = 60.0  # a wait would show as a hang
    started = time.monotonic()
    answer = api.get("/api/v1/findings", headers={HEADER: str(api.position + 1_000_000)})
    assert time.monotonic() - started < 30
    body = assert_problem(answer, 400, "超出了事件日志")
    assert body["type"] == "urn:duban:problem:position-ahead"


def test_without_a_key_the_position_is_not_looked_at(api: Api) -> None:
    answer = api.get("/api/v1/findings", role=None, headers={HEADER: "abc"})
    assert_problem(answer, 401)


def test_a_step_answers_its_position_too(api: Api) -> None:
    created = api.post("/api/v1/findings", filing(api), role="inspector")
    issued = api.post(f"/api/v1/findings/{created.json['finding_id']}/issue-notice", role="inspector",
                      headers={HEADER: "ignored on a POST"})  # fmt: skip
    assert issued.status_code == 200, issued.text
    assert int(issued.headers[HEADER]) == api.position > int(created.headers[HEADER])


def test_the_document_describes_the_header(api: Api) -> None:
    document = api.get("/api/v1/openapi.json", role=None).json
    ledger = document["paths"]["/api/v1/findings"]
    assert HEADER in [p["name"] for p in ledger["get"]["parameters"]]
    assert "503" in ledger["get"]["responses"]
    assert HEADER in ledger["post"]["responses"]["201"]["headers"]
    assert "503" not in ledger["post"]["responses"]


def new_finding_form(client: Any, api: Api, description: str) -> dict[str, str]:
    act_as(client, api.county.inspector, "inspector")
    return {
        "csrf_token": token(client), "unit_id": str(api.county.village_a1), "category": "missing",
        "source": "inspection", "severity": "general", "check_item": "帮扶手册收入测算", "description": description,
    }  # fmt: skip


def test_the_form_does_not_wait_and_the_finding_page_does(api: Api, client: Any) -> None:
    filed = post(client, "/findings/new", new_finding_form(client, api, "表单登记后立即可见"))
    assert filed.status_code == 303
    assert re.fullmatch(r"/findings/[0-9a-f-]{36}", filed.headers["Location"])
    page = client.get(filed.headers["Location"])
    assert page.status_code == 200
    assert "表单登记后立即可见" in page.text
    assert "问题台账正在更新" not in page.text


def test_the_finding_page_says_so_when_the_views_stay_behind(api: Api, client: Any, projector: Projector) -> None:
    projector.stop()
    api.county.runtime.wait_seconds = 0.3
    filed = post(client, "/findings/new", new_finding_form(client, api, "视图未更新"))
    assert filed.status_code == 303
    page = client.get(filed.headers["Location"])
    assert "正在更新" in page.text  # the bounded wait ran out; no hang, and the page says why
