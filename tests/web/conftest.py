"""Web fixtures: a Flask app on a fresh store (SQLite and PostgreSQL, through the
shared ``store_env`` fixture), a travelling clock, and a small county built
through the service."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from domain.events import local_date
from domain.rules.rulebook import DEFAULT_RULES
from domain.service import Duban, TravellingClock

#: Friday 9 October 2026, 10:00 in Beijing.
START = datetime(2026, 10, 9, 2, 0, tzinfo=timezone.utc)
HOUSEHOLD = "612727201900123456"


@pytest.fixture
def clock() -> TravellingClock:
    return TravellingClock(START)


@pytest.fixture
def app(store_env: dict[str, str], clock: TravellingClock) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DUBAN_STORE_ENV": store_env,
            "DUBAN_CLOCK": clock,
            "DUBAN_EMBEDDED_PROJECTOR": True,
            "DUBAN_EMBEDDED_POLICIES": False,
            "PROJECTION_WAIT_SECONDS": 10.0,
        }
    )
    yield app
    app.extensions["duban"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class County:
    """Ids of the small county, and helpers that act through the service."""

    app: Flask
    county: UUID
    office: UUID
    discipline_office: UUID
    zone_east: UUID
    zone_west: UUID
    town_a: UUID
    town_b: UUID
    village_a1: UUID
    village_a2: UUID
    inspector: UUID
    command: UUID
    discipline: UUID
    unit_a1: UUID
    unit_town_a: UUID
    unit_b: UUID
    cadre_1: UUID
    cadre_2: UUID

    @property
    def runtime(self) -> Any:
        return self.app.extensions["duban"]

    @property
    def duban(self) -> Duban:
        return self.runtime.duban

    def actor(self, user: UUID, role: str) -> Any:
        return self.duban.actor(user, role)

    def file(
        self,
        unit: UUID,
        *,
        notice: bool = True,
        category: str = "missing",
        severity: str = "general",
        check_item: str = "帮扶手册收入测算",
        description: str = "帮扶手册缺少年度收入测算",
        household_no: str = "",
        cadres: tuple[UUID, ...] = (),
    ) -> UUID:
        inspector = self.actor(self.inspector, "inspector")
        filed = self.duban.file_finding(
            unit_id=unit,
            category=category,
            source="inspection",
            severity=severity,
            check_item=check_item,
            description=description,
            household_no=household_no,
            cadre_ids=cadres,
            actor=inspector,
        )
        if notice:
            self.duban.issue_notice(filed.id, inspector)
        return filed.id

    def settle(self) -> None:
        """Let the ledger view reach everything written so far."""
        assert self.runtime.wait_for(self.duban.position())


@pytest.fixture
def county(app: Flask, clock: TravellingClock) -> County:
    return build_county(app, clock)


def build_county(app: Flask, clock: TravellingClock, name: str = "米脂县", login_prefix: str = "") -> County:
    """The small county, written through the service; another one in the same
    store takes another name and a login prefix (logins are unique in a deployment)."""
    d: Duban = app.extensions["duban"].duban
    county = d.register_unit(name=name, kind="county", parent_id=None).id
    d.open_rulebook(county, DEFAULT_RULES, local_date(clock()))

    def unit(name: str, kind: str, parent: UUID) -> UUID:
        return d.register_unit(name=name, kind=kind, parent_id=parent).id

    office = unit("县脱贫攻坚指挥部办公室", "office", county)
    discipline_office = unit("县纪委监委", "discipline", county)
    zone_east = unit("东战区", "zone", county)
    zone_west = unit("西战区", "zone", county)
    town_a = unit("银州街道", "town", zone_east)
    town_b = unit("龙镇", "town", zone_west)
    village_a1 = unit("高庙山村", "village", town_a)
    village_a2 = unit("姬家岔村", "village", town_a)

    def user(unit_id: UUID, name: str, login: str, *roles: str) -> UUID:
        return d.register_user(unit_id=unit_id, name=name, login=login_prefix + login, roles=list(roles)).id

    world = County(
        app=app,
        county=county,
        office=office,
        discipline_office=discipline_office,
        zone_east=zone_east,
        zone_west=zone_west,
        town_a=town_a,
        town_b=town_b,
        village_a1=village_a1,
        village_a2=village_a2,
        inspector=user(office, "王督查", "wang", "inspector"),
        command=user(office, "赵主任", "zhao", "command", "inspector"),
        discipline=user(discipline_office, "孙纪检", "sun", "discipline"),
        unit_a1=user(village_a1, "李队长", "li", "unit"),
        unit_town_a=user(town_a, "周镇长", "zhou", "unit"),
        unit_b=user(town_b, "吴镇长", "wu", "unit"),
        cadre_1=user(village_a1, "张帮扶", "zhang", "cadre"),
        cadre_2=user(village_a2, "刘帮扶", "liu", "cadre"),
    )
    return world


# Helpers for the tests
def act_as(client: FlaskClient, user: UUID, role: str) -> None:
    """Put an identity in the session, as signing in would (with the user's
    current credential version, so the session is valid)."""
    app = client.application
    credential = app.extensions["duban"].duban.user(user).credential_version
    with client.session_transaction() as session:
        session["user_id"] = str(user)
        session["role"] = role
        session["credential"] = credential


def token(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        return session.setdefault("csrf_token", "test-token")


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A form POST carrying the session's form token."""
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kwargs)


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id (tags stripped, nesting respected)."""
    opening = re.search(rf'<(\w+)[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert opening, f"no element #{element_id}"
    tag, depth, position = opening.group(1), 1, opening.end()
    for match in re.finditer(rf"<(/?){tag}\b[^>]*>", html[position:]):
        depth += -1 if match.group(1) else 1
        if depth == 0:
            inner = html[position : position + match.start()]
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inner)).strip()
    raise AssertionError(f"#{element_id} is not closed")


def ledger_ids(html: str) -> list[str]:
    return re.findall(r'data-finding="([0-9a-f-]{36})"', html)
