"""API fixtures: the web tests' app and county, and a key per role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.tokens import issue_token
from tests.web.conftest import County, app, clock, client, county  # noqa: F401 - fixtures reused

ROLE_USERS = {
    "inspector": "inspector",
    "command": "command",
    "discipline": "discipline",
    "unit": "unit_a1",
    "cadre": "cadre_1",
}


@dataclass
class Api:
    """The test client with a key for each role (the unit key is 高庙山村's)."""

    client: FlaskClient
    county: County
    keys: dict[str, str]

    def key_for(self, user: UUID, role: str) -> str:
        return issue_token(self.county.duban, user, role, "测试", self.county.actor(user, role)).plaintext

    def headers(self, role: str | None, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        headers.update(extra)
        return headers

    def get(self, url: str, role: str | None = "command", **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers(role, **kwargs.pop("headers", {})), **kwargs)

    def post(self, url: str, body: Any = None, role: str | None = "command", **kwargs: Any) -> Any:
        headers = self.headers(role, **kwargs.pop("headers", {}))
        if body is None and "data" not in kwargs:
            body = {}
        if body is not None:
            kwargs["json"] = body
        return self.client.post(url, headers=headers, **kwargs)

    @property
    def position(self) -> int:
        return self.county.duban.position()


@pytest.fixture(autouse=True)
def evidence_outside_the_checkout(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def api(app: Flask, county: County) -> Api:  # noqa: F811
    keys = {}
    for role, attribute in ROLE_USERS.items():
        user = getattr(county, attribute)
        keys[role] = issue_token(county.duban, user, role, "测试", county.actor(user, role)).plaintext
    county.settle()
    return Api(app.test_client(), county, keys)


def assert_problem(response: Any, status: int, detail_contains: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert body["status"] == status
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["detail"]), body["detail"]
    assert detail_contains in body["detail"]
    return body
