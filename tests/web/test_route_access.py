"""Every route, walked with every role (访问规则).

Each view declares who may call it (app/access.py). These tests read the rules
from the app's own URL map, so a route added later is walked too, and one
without a rule, or with variables this file cannot fill, fails here:

- a route without a rule is refused, and every route has one;
- nobody signed in: public routes answer, pages send to the sign-in page, the
  API answers 401;
- every role: a role the rule leaves out gets 403 and records nothing; a role
  it admits is answered (a page with 200);
- forged ids (random, malformed) answer 404 and record nothing; a unit's or a
  cadre's request for another unit's finding answers 404 the same way;
- every form post without the session's token, or with a wrong one, is refused
  and records nothing;
- another county (tenancy): every role of a second county in the same store,
  and a regional office whose region holds only that county, asking for the
  first county's findings, units, people, documents, histories, exports,
  attachments, circulars, cases, runs and API resources by id gets 404 and
  records nothing; the routes that name no id answer with their own county's
  things only, even when the address carries the first county's unit ids.

The regional office (上级指挥部, REGION) is walked as a role like the others: its
region holds the first county, so its own routes answer 200 there.

It runs on SQLite only: the rules are the web layer's, the same on either store.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.access import PEOPLE, Rule, rule_of
from app.tokens import issue_token
from domain.events import CADRE, COMMAND, COUNTY_ROLES, DISCIPLINE, INSPECTOR, REGION, UNIT
from domain.service import TravellingClock
from tests.web.conftest import County, act_as, build_county
from workers import context, jobs
from workers.documents.storage import DocumentStore

pytestmark = pytest.mark.parametrize("store_env", ["sqlite"], indirect=True)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Variables that name a stored thing: forging them must answer 404.
ID_VARIABLES = (
    "finding_id", "unit_id", "user_id", "circular_id", "case_id", "message_id", "token_id", "code", "sha256", "run_id",
    "county_id",
)  # fmt: skip
FORGED = {
    "code": ("00000000000", "ZZZZ"),
    "sha256": ("0" * 64, "not-a-hash"),
}


@dataclass(frozen=True)
class Route:
    endpoint: str
    rule: str
    method: str
    variables: tuple[str, ...]
    access: Rule

    @property
    def is_api(self) -> bool:
        return self.rule.startswith("/api/")

    def __str__(self) -> str:
        return f"{self.method} {self.rule}"


def routes(app: Flask) -> list[Route]:
    found = []
    for url_rule in app.url_map.iter_rules():
        view = app.view_functions[url_rule.endpoint]
        access = rule_of(view)
        for method in sorted(set(url_rule.methods or ()) & set(METHODS)):
            found.append(Route(url_rule.endpoint, url_rule.rule, method, tuple(sorted(url_rule.arguments)), access))
    return found


# The world the walk runs in
def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) + chunk(b"IEND", b"")


@dataclass
class World:
    county: County
    #: The person signed in for each role.
    users: dict[str, UUID]
    #: Values for URL variables: one for everyone, or one per role.
    values: dict[str, Any]
    #: A finding of another unit (town B), naming nobody.
    elsewhere: UUID
    keys: dict[str, str] = field(default_factory=dict)

    def value(self, name: str, role: str | None) -> Any:
        if name not in self.values:
            raise AssertionError(f"no sample value for the URL variable <{name}>: add one to World in this file")
        value = self.values[name]
        if isinstance(value, dict):
            return value.get(role, next(iter(value.values())))
        return value


@pytest.fixture
def printer(county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DocumentStore]:
    store = DocumentStore(tmp_path / "documents")
    monkeypatch.setenv("DUBAN_DOCUMENTS_DIR", str(store.directory))
    rt = county.runtime
    context.use(context.Services(rt.duban, rt.query, rt.clock, None, None, scores=rt.scores,
                                 documents=rt.documents, store=store, audit=rt.audit))  # fmt: skip
    yield store
    context.use(None)


def _evidence(county: County, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """One photo, stored as the pages store it."""
    from werkzeug.datastructures import FileStorage

    from app.evidence.store import EvidenceStore
    from app.evidence.uploads import receive

    monkeypatch.setenv("DUBAN_EVIDENCE_DIR", str(tmp_path / "evidence"))
    photo = FileStorage(io.BytesIO(tiny_png()), filename="现场照片.png", content_type="image/png")
    return receive([photo], EvidenceStore.from_env())


@pytest.fixture
def world(county: County, printer: DocumentStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    d = county.duban
    inspector = county.actor(county.inspector, INSPECTOR)
    command = county.actor(county.command, COMMAND)
    attachments = _evidence(county, tmp_path, monkeypatch)
    filed = d.file_finding(
        unit_id=county.village_a1, category="missing", source="inspection", severity="general",
        check_item="帮扶手册收入测算", description="帮扶手册缺少年度收入测算", household_no="",
        cadre_ids=(county.cadre_1,), actor=inspector, attachments=attachments,
    )  # fmt: skip
    finding = filed.id
    d.issue_notice(finding, inspector)
    elsewhere = county.file(county.town_b)
    circular = d.draft_circular(
        county_id=county.county, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q4",
        body="决定通报批评。", finding_ids=[finding], unit_ids=[county.village_a1], actor=command,
    ).id  # fmt: skip
    d.issue_circular(circular, command)
    county.settle()
    assert jobs.render_finding_notice(str(finding), 1) == "registered"
    county.settle()
    code = county.runtime.documents.for_source(str(finding)).display_code

    users = {
        INSPECTOR: county.inspector,
        UNIT: county.unit_a1,
        CADRE: county.cadre_1,
        COMMAND: county.command,
        DISCIPLINE: county.discipline,
        REGION: regional_office(county, "榆林市", "yulin-office"),
    }
    messages = {}
    for role, user in users.items():
        if role == REGION:
            continue  # a county's messages go to its own people
        messages[role] = d.send_message(
            message_id=uuid4(), county_id=county.county, purpose="reminder", title="提醒", body="请及时处理",
            user_ids=[user],
        ).id  # fmt: skip
    keys, token_ids = {}, {}
    for role, user in users.items():
        issued = issue_token(d, user, role, "对接测试", county.actor(user, role))
        keys[role], token_ids[role] = issued.plaintext, issued.token_id
    values: dict[str, Any] = {
        "finding_id": finding,
        "unit_id": county.village_a1,
        # Each person reads their own record; the command office administers another's.
        "user_id": {**users, COMMAND: county.unit_a1},
        "circular_id": circular,
        "message_id": messages,
        "token_id": token_ids,
        "code": code,
        "action": "acknowledge",
        "version": 1,
        "county_id": county.county,
    }
    values["sha256"] = attachments[0]["sha256"]
    values["case_id"] = d.open_case(
            county_id=county.county, summary="整改不力，移交审查", subject_unit_id=county.village_a1,
        finding_ids=[finding], actor=county.actor(county.discipline, DISCIPLINE),
    ).id  # fmt: skip
    values["run_id"] = d.record_verification(
        run_id=uuid4(), actor=county.actor(county.discipline, DISCIPLINE), check="full", outcome="intact", position=1,
        head="ab" * 32, events=1, chained_up_to=1, unchained=0, break_kind="", break_position=0, break_detail={},
        anchor="", summary="历史完整",
    ).id  # fmt: skip
    county.settle()
    return World(county, users, values, elsewhere, keys)


def regional_office(county: County, name: str, login: str) -> UUID:
    """A region holding this county, and its office's person (REGION)."""
    d = county.duban
    region = d.register_region(name=name, level="city").id
    d.add_region_county(region, county.county)
    return d.register_region_user(region_id=region, name=f"{name}指挥部", login=login).id


@pytest.fixture
def intruders(world: World, app: Flask, clock: TravellingClock) -> World:
    """A second county in the same store, one person per role, and a regional
    office whose region holds only that county; asking for the first county's
    things (the walk's values)."""
    other = build_county(app, clock, name="绥德县", login_prefix="sd-")
    users = {
        INSPECTOR: other.inspector,
        UNIT: other.unit_a1,
        CADRE: other.cadre_1,
        COMMAND: other.command,
        DISCIPLINE: other.discipline,
        REGION: regional_office(other, "延安市", "yanan-office"),
    }
    d = other.duban
    keys = {role: issue_token(d, user, role, "跨县测试", d.actor(user, role)).plaintext for role, user in users.items()}
    other.file(other.village_a1)
    other.settle()
    return World(other, users, world.values, world.elsewhere, keys)


# Asking
def url_of(app: Flask, route: Route, values: dict[str, Any]) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(route.endpoint, **{k: str(v) for k, v in values.items()})


def ask(client: FlaskClient, world: World, route: Route, role: str | None, overrides: dict[str, Any] | None = None,
        *, csrf: str | None = "session") -> Any:  # fmt: skip
    """One request for the route, as this role (None: nobody signed in)."""
    values = {name: world.value(name, role) for name in route.variables}
    values.update(overrides or {})
    url = url_of(client.application, route, values)
    with client.session_transaction() as session:
        session.clear()
    headers = {}
    data: dict[str, str] = {}
    if role is not None and route.is_api:
        headers["Authorization"] = f"Bearer {world.keys[role]}"
    elif role is not None:
        act_as(client, world.users[role], role)
    if not route.is_api and route.method != "GET":
        if csrf == "session":
            with client.session_transaction() as session:
                data["csrf_token"] = session.setdefault("csrf_token", "walk-token")
        elif csrf is not None:
            data["csrf_token"] = csrf
    if route.is_api and route.method != "GET":
        return client.open(url, method=route.method, headers=headers, json={})
    return client.open(url, method=route.method, headers=headers, data=data or None)


def admitted_roles(route: Route, values: dict[str, Any] | None = None) -> frozenset[str]:
    """The rule's roles, narrowed where one route serves several commands."""
    assert route.access is not None and route.access.roles is not None
    roles = route.access.roles
    if route.endpoint == "findings.act":
        from app.web.findings import ACTIONS

        roles = roles & frozenset(ACTIONS[(values or {}).get("action", "acknowledge")].roles)
    return roles


@pytest.fixture
def walk(world: World, client: FlaskClient) -> Callable[..., None]:
    def recorded_nothing(action: Callable[[], Any]) -> Any:
        from app.audit_runs import runs

        runs(client.application).join()  # a verification an admitted role started records its run when done
        before = world.county.duban.position()
        response = action()
        assert world.county.duban.position() == before
        return response

    return recorded_nothing


# The tests
def test_every_route_declares_who_may_call_it(app: Flask) -> None:
    missing = [str(r) for r in routes(app) if r.access is None]
    assert not missing, f"routes without @allow/@signed_in/@public: {missing}"


def test_a_view_without_a_rule_is_refused(app: Flask, county: County) -> None:
    app.add_url_rule("/no-rule-yet", "no_rule_yet", lambda: "secret")
    client = app.test_client()
    act_as(client, county.command, COMMAND)
    response = client.get("/no-rule-yet")
    assert response.status_code == 403 and "secret" not in response.get_data(as_text=True)


def test_nobody_signed_in_reaches_only_public_routes(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        response = walk(lambda: ask(client, world, route, None)) if not route.access.is_public else ask(
            client, world, route, None
        )
        if route.access.is_public:  # answered (a refused sign-in is an answer), never sent to sign in
            assert response.status_code < 500, route
            assert "/sign-in?" not in response.headers.get("Location", ""), route
        elif route.is_api:
            assert response.status_code == 401, route
            assert response.mimetype == "application/problem+json", route
        else:
            assert response.status_code == 303, route
            assert "/sign-in" in response.headers["Location"], route


def action_variants(route: Route) -> list[dict[str, str]]:
    """A route that serves several commands by an ``<action>`` is walked with each."""
    if "action" not in route.variables:
        return [{}]
    if route.endpoint == "findings.act":
        from app.web.findings import ACTIONS as steps
    elif route.endpoint == "cases.act":
        from app.web.cases import STEPS as steps
    else:
        raise AssertionError(f"{route}: list its actions in action_variants()")
    return [{"action": slug} for slug in steps]


def test_each_role_gets_what_its_rule_says(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        if route.access.is_public:
            continue
        variants = action_variants(route)
        for overrides in variants:
            admitted = admitted_roles(route, overrides)
            for role in PEOPLE:
                if role not in admitted:
                    response = walk(lambda: ask(client, world, route, role, overrides))
                    assert response.status_code == 403, (str(route), overrides, role, response.status_code)
                    continue
                response = ask(client, world, route, role, overrides)
                assert response.status_code not in (401, 403), (str(route), overrides, role, response.status_code)
                assert response.status_code < 500, (str(route), overrides, role)
                if route.method == "GET":
                    assert response.status_code in (200, 202), (str(route), role, response.status_code)


def test_forged_ids_are_not_found_and_record_nothing(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        forgeable = [v for v in route.variables if v in ID_VARIABLES]
        if route.access.is_public or not forgeable:
            continue
        for role in admitted_roles(route):
            for variable in forgeable:
                for forged in FORGED.get(variable, (str(uuid4()), "not-an-id")):
                    response = walk(lambda: ask(client, world, route, role, {variable: forged}))
                    assert response.status_code == 404, (str(route), role, variable, forged, response.status_code)


def test_another_units_finding_is_not_found_for_units_and_cadres(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        if route.access.is_public or "finding_id" not in route.variables:
            continue
        for role in admitted_roles(route) & {UNIT, CADRE}:
            response = walk(lambda: ask(client, world, route, role, {"finding_id": world.elsewhere}))
            assert response.status_code == 404, (str(route), role, response.status_code)


def test_every_form_refuses_a_missing_or_wrong_token(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        if route.is_api or route.method == "GET":
            continue
        role = None if route.access.is_public else sorted(admitted_roles(route))[0]
        for csrf in (None, "wrong-token"):
            response = walk(lambda: ask(client, world, route, role, csrf=csrf))
            assert response.status_code == 400, (str(route), role, csrf, response.status_code)
            assert "页面已过期" in response.get_data(as_text=True), route


def test_the_api_does_not_take_the_cookie_session(world: World, client: FlaskClient, walk) -> None:
    for route in routes(client.application):
        if not route.is_api or route.access.is_public:
            continue
        role = sorted(admitted_roles(route))[0]
        values = {name: world.value(name, role) for name in route.variables}
        act_as(client, world.users[role], role)
        url = url_of(client.application, route, values)
        response = walk(lambda: client.open(url, method=route.method, json={} if route.method != "GET" else None))
        assert response.status_code == 401, route


def _first_countys_ids(world: World) -> set[str]:
    """Ids of the first county's things that no page of the second may show."""
    c = world.county
    ids = {
        c.county, c.office, c.discipline_office, c.zone_east, c.zone_west, c.town_a, c.town_b, c.village_a1,
        c.village_a2, c.inspector, c.command, c.discipline, c.unit_a1, c.unit_town_a, c.unit_b, c.cadre_1, c.cadre_2,
        world.elsewhere, world.values["finding_id"], world.values["circular_id"], world.values["case_id"],
    }  # fmt: skip
    return {str(i) for i in ids}


def test_another_countys_things_are_not_found_and_record_nothing(
    world: World, intruders: World, client: FlaskClient, walk
) -> None:
    for route in routes(client.application):
        if route.access.is_public or not any(v in ID_VARIABLES for v in route.variables):
            continue
        for overrides in action_variants(route):
            for role in admitted_roles(route, overrides):
                response = walk(lambda: ask(client, intruders, route, role, overrides))
                assert response.status_code == 404, (str(route), overrides, role, response.status_code)


def test_routes_naming_no_id_answer_with_the_own_county_only(
    world: World, intruders: World, client: FlaskClient, walk
) -> None:
    c = world.county
    # The first county's units in every filter a page or the API reads, as a forger would put them.
    lures = {
        "town": c.town_a, "unit": c.village_a1, "zone": c.zone_east, "town_id": c.town_a, "unit_id": c.village_a1,
        "zone_id": c.zone_east,
    }  # fmt: skip
    secrets = _first_countys_ids(world)
    for route in routes(client.application):
        if route.access.is_public or route.variables or route.method != "GET":
            continue
        for role in admitted_roles(route):
            response = walk(lambda: ask(client, intruders, route, role, lures))
            assert response.status_code in (200, 202, 400), (str(route), role, response.status_code)
            body = response.get_data()
            if response.mimetype.endswith("spreadsheetml.sheet"):
                from openpyxl import load_workbook

                sheet = load_workbook(io.BytesIO(body)).active
                body = "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row).encode()
            leaked = [s for s in secrets if s.encode() in body]
            assert not leaked, (str(route), role, leaked)


def test_the_regional_office_reads_only_its_own_counties(world: World, intruders: World, client: FlaskClient) -> None:
    """Its region holds the first county: the ranking lists it and its pages open;
    the other region's office sees neither the county nor its name."""
    county = str(world.county.county)
    for who, expected in ((world, 200), (intruders, 404)):
        for url in (f"/region/counties/{county}/scores", f"/region/counties/{county}/ledger"):
            act_as(client, who.users[REGION], REGION)
            assert client.get(url).status_code == expected, (url, expected)
        for url in (f"/api/v1/region/counties/{county}/scores", f"/api/v1/region/counties/{county}/findings"):
            with client.session_transaction() as session:
                session.clear()
            response = client.get(url, headers={"Authorization": f"Bearer {who.keys[REGION]}"})
            assert response.status_code == expected, (url, expected)
        act_as(client, who.users[REGION], REGION)
        listed = client.get("/region").get_data(as_text=True)
        assert (f'data-county="{county}"' in listed) == (expected == 200)
