"""The regional office (上级指挥部): a region of counties registered by the
system (``flask region ...``), its people reading across its counties read-only,
counties ranked against each other on the towns' score view, the drill-down
to a member county's ranking and ledger, and the same through the API."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from app.auth.passwords import hash_password
from domain.errors import NotPermitted
from domain.events import COMMAND, REGION, SYSTEM_ACTOR, local_date
from domain.org import RegionRoleNotGrantable
from domain.region import CountyAlreadyMember, NotACounty
from domain.service import TravellingClock
from projections.region_query import CountyRanking, county_ranking, county_ranking_from_rankings
from tests.web.conftest import County, act_as, build_county, post, text_of

PASSWORD = "yulin-office-2026"


@pytest.fixture
def other(app: Any, clock: TravellingClock, county: County) -> County:
    return build_county(app, clock, name="绥德县", login_prefix="sd-")


@pytest.fixture
def office(county: County, other: County) -> tuple[UUID, UUID]:
    """(region id, its office's user): 榆林市 holds both counties."""
    d = county.duban
    region = d.register_region(name="榆林市", level="city").id
    d.add_region_county(region, county.county)
    d.add_region_county(region, other.county)
    user = d.register_region_user(region_id=region, name="乔主任", login="yulin").id
    d.set_password(user, hash_password(PASSWORD), SYSTEM_ACTOR)
    return region, user




def test_the_system_alone_keeps_regions_and_their_people(county: County, office: tuple[UUID, UUID]) -> None:
    d = county.duban
    region, user = office
    command = county.actor(county.command, COMMAND)
    with pytest.raises(NotPermitted):
        d.register_region(name="延安市", level="city", actor=command)
    with pytest.raises(NotPermitted):
        d.add_region_county(region, county.county, actor=command)
    with pytest.raises(NotACounty):
        d.add_region_county(region, county.town_a)
    with pytest.raises(CountyAlreadyMember):
        d.add_region_county(region, county.county)
    # The regional role is never a county's to give, nor a regional person a county's role.
    with pytest.raises(RegionRoleNotGrantable):
        d.register_user(unit_id=county.office, name="冒充", login="fake", roles=[REGION], actor=command)
    with pytest.raises(RegionRoleNotGrantable):
        d.grant_role(county.unit_a1, REGION, SYSTEM_ACTOR)
    with pytest.raises(RegionRoleNotGrantable):
        d.grant_role(user, COMMAND, SYSTEM_ACTOR)
    actor = d.actor(user, REGION)
    assert actor.county_id is None and actor.region_id == region
    # Acting in no county, it can do nothing in any.
    with pytest.raises(Exception):
        d.file_finding(
            unit_id=county.village_a1, category="missing", source="inspection", severity="general",
            check_item="帮扶手册收入测算", description="越权登记", household_no="", cadre_ids=(), actor=actor,
        )  # fmt: skip


def ranked_counties(html: str) -> list[str]:
    return re.findall(r'data-county="([0-9a-f-]{36})"', html)


def test_counties_ranked_by_their_units_mean_score_with_drill_down(
    client: Any, county: County, other: County, office: tuple[UUID, UUID], clock: TravellingClock
) -> None:
    d = county.duban
    # 米脂县 lets two findings run past their deadline; 绥德县 files one and closes it.
    late = [county.file(county.village_a1), county.file(county.town_b)]
    kept = other.file(other.village_a1)
    clock.advance(days=20)
    for finding in late:
        d.record_missed_deadline(finding)
    inspector = other.actor(other.inspector, "inspector")
    unit = other.actor(other.unit_a1, "unit")
    d.acknowledge_notice(kept, unit)
    d.submit_rectification(kept, "已补齐收入测算", unit)
    d.accept_rectification(kept, inspector)
    assert county.runtime.wait_for(d.position(), views=["scores", "ledger"])

    response = post(client, "/sign-in", {"login": "yulin", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith("/region")
    page = client.get("/region")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert ranked_counties(html) == [str(other.county), str(county.county)]
    first = text_of(html, "county-ranking")
    assert "绥德县" in first and "米脂县" in first and "上级指挥部" in html
    # 米脂县: 2 towns + 0 departments, each 0.5 off: mean 99.50; 绥德县 untouched.
    rows = re.findall(r'<tr data-county="[^"]+">(.*?)</tr>', html, re.S)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).split() for r in rows]
    assert cells[0][:3] == ["1", "绥德县", "100.00"] and cells[1][:3] == ["2", "米脂县", "99.50"]
    # Drill-down, read-only: the county's ranking and its ledger, no action and no case.
    scores = client.get(f"/region/counties/{county.county}/scores")
    assert scores.status_code == 200 and "米脂县 · 效能考评排名" in scores.get_data(as_text=True)
    ledger = client.get(f"/region/counties/{county.county}/ledger").get_data(as_text=True)
    assert set(re.findall(r'data-finding="([0-9a-f-]{36})"', ledger)) == {str(f) for f in late}
    assert ledger.count('method="post"') == 1 and "sign-out" in ledger  # signing out is its only form
    # As it stood before anything was filed, and another period.
    past = client.get("/region", query_string={"as_of": "2026-10-08", "period": "2026Q3"})
    assert past.status_code == 200 and "历史视图" in past.get_data(as_text=True)
    # The county pages stay closed to it: it writes nothing, reads no county page.
    refused = client.get("/")
    assert refused.status_code == 403 and "返回各县比较" in refused.get_data(as_text=True)
    assert client.get(f"/findings/{late[0]}").status_code == 403
    assert client.get("/cases").status_code == 403

    # The API says the same.
    from app.tokens import issue_token

    key = issue_token(d, office[1], REGION, "市级平台对接", d.actor(office[1], REGION)).plaintext
    with client.session_transaction() as session:
        session.clear()
    headers = {"Authorization": f"Bearer {key}"}
    ranking = client.get("/api/v1/region/counties", headers=headers).get_json()
    assert [(c["name"], c["rank"], c["average"], c["overdue"]) for c in ranking["counties"]] == [
        ("绥德县", 1, "100.00", 0), ("米脂县", 2, "99.50", 2),
    ]  # fmt: skip
    assert Decimal(ranking["counties"][0]["closure_rate"]) == 1
    region = client.get("/api/v1/region", headers=headers).get_json()
    assert region["name"] == "榆林市" and len(region["counties"]) == 2
    findings = client.get(f"/api/v1/region/counties/{county.county}/findings", headers=headers).get_json()
    assert {f["finding_id"] for f in findings["items"]} == {str(f) for f in late}
    units = client.get(f"/api/v1/region/counties/{county.county}/scores", headers=headers).get_json()
    assert [u["score"] for u in units["items"]] == ["99.5", "99.5"]
    assert client.post("/api/v1/findings", headers=headers, json={}).status_code == 403


def test_a_county_removed_from_the_region_is_no_longer_read(
    client: Any, county: County, other: County, office: tuple[UUID, UUID]
) -> None:
    region, user = office
    county.duban.remove_region_county(region, other.county, "行政区划调整")
    act_as(client, user, REGION)
    assert ranked_counties(client.get("/region").get_data(as_text=True)) == [str(county.county)]
    assert client.get(f"/region/counties/{other.county}/ledger").status_code == 404


def test_the_openapi_document_describes_the_regional_api(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/region", "/api/v1/region/counties", "/api/v1/region/counties/{county_id}/scores",
                 "/api/v1/region/counties/{county_id}/findings"):  # fmt: skip
        operation = document["paths"][path]["get"]
        assert operation["x-roles"] == [REGION], path
        assert set(document["paths"][path]) == {"get"}, path  # read-only


def test_flask_county_and_region_commands(app: Any, county: County) -> None:
    runner = app.test_cli_runner()
    registered = runner.invoke(args=["region", "register", "陕西省", "--level", "province"])
    assert registered.exit_code == 0, registered.output
    region = re.search(r"编号 ([0-9a-f-]{36})", registered.output).group(1)  # type: ignore[union-attr]
    added = runner.invoke(args=["region", "add-county", region, "米脂县"])
    assert added.exit_code == 0, added.output
    # A new county: its office, its first administrator and the default rulebook.
    new = runner.invoke(args=["county", "register", "佳县", "--login", "jia-admin", "--person", "白主任"],
                        env={"DUBAN_NEW_PASSWORD": PASSWORD})  # fmt: skip
    assert new.exit_code == 0, new.output
    jia = UUID(re.search(r"编号 ([0-9a-f-]{36})", new.output).group(1))  # type: ignore[union-attr]
    assert county.duban.rules_in_force(jia).version == 1
    assert "佳县" in runner.invoke(args=["county", "list"]).output
    assert runner.invoke(args=["region", "add-county", region, "佳县"]).exit_code == 0
    jia_admin = post(app.test_client(), "/sign-in", {"login": "jia-admin", "password": PASSWORD})
    assert jia_admin.status_code == 303
    again = runner.invoke(args=["region", "add-county", region, str(county.county)])
    assert again.exit_code == 1 and "已在本地区之内" in again.output
    user = runner.invoke(args=["region", "add-user", region, "省指挥部值班员", "shaanxi"],
                         env={"DUBAN_NEW_PASSWORD": PASSWORD})  # fmt: skip
    assert user.exit_code == 0, user.output
    listed = runner.invoke(args=["region", "list"])
    assert "陕西省（省级），2 个县" in listed.output and "米脂县" in listed.output and "佳县" in listed.output
    client = app.test_client()
    assert post(client, "/sign-in", {"login": "shaanxi", "password": PASSWORD}).status_code == 303
    assert client.get("/region").status_code == 200


def figures(result: CountyRanking) -> list[dict[str, Any]]:
    """Every field of every county, Decimals as text (their exponent shows on the page)."""
    return [
        {k: str(v) if isinstance(v, Decimal) else v for k, v in {**c.__dict__, "change": c.change}.items()}
        for c in result.counties
    ]


def test_the_grouped_county_ranking_equals_one_ranking_per_county(
    county: County, other: County, app: Any, clock: TravellingClock
) -> None:
    """The region page sums every county's towns and departments in a few grouped
    queries; here it gives, field for field, what each county's own unit ranking
    gives, across counties with different rulebooks, a base changed between two
    periods, villages answered for by their towns, a department, a retired town (its village's deduction counts for no one),
    a reversed deduction, a withdrawn finding, and days in the past."""
    d = county.duban
    third = build_county(app, clock, name="佳县", login_prefix="jx-")
    command = county.actor(county.command, COMMAND)
    other_inspector = other.actor(other.inspector, "inspector")
    department = d.register_unit(name="县农业农村局", kind="department", parent_id=other.county).id
    # 米脂县 scores on 120 from 2027: 2027Q1 is compared on 120, 2026Q4 (on 100) put on the same scale.
    stricter = replace(d.rules_in_force(county.county).rules, base_score=Decimal("120"))
    d.adopt_rules(county.county, stricter, date(2027, 1, 1), command)

    # 2026Q4: missed deadlines in a village (its town answers), a town and a department; one closed, one withdrawn.
    late = [county.file(county.village_a1), county.file(county.town_b), other.file(department), third.file(third.village_a2)]
    kept, dropped = other.file(other.village_a1), other.file(other.town_b)
    d.withdraw_finding(dropped, "重复登记", other_inspector)
    clock.advance(days=20)
    for finding in late:
        d.record_missed_deadline(finding)
    unit = other.actor(other.unit_a1, "unit")
    d.acknowledge_notice(kept, unit)
    d.submit_rectification(kept, "已补齐收入测算", unit)
    d.accept_rectification(kept, other_inspector)
    d.reverse_deduction(late[0], 1, "申诉成立", command)
    # 佳县 retires the town above the village that missed its deadline: no scored unit answers for it any more.
    d.retire_unit(third.town_a, "撤并", third.actor(third.command, COMMAND))
    autumn = local_date(clock())

    # 2027Q1: more deductions in 米脂县, none elsewhere.
    clock.advance(days=90)
    again = county.file(county.village_a2)
    county.file(county.town_a)
    clock.advance(days=20)
    d.record_missed_deadline(again)
    assert county.runtime.wait_for(d.position(), views=["scores", "ledger"])

    rt = county.runtime
    members = [(str(c.county), name) for c, name in ((county, "米脂县"), (other, "绥德县"), (third, "佳县"))]
    today = local_date(clock())
    cases = [
        ("2027Q1", today, None), ("2026Q4", today, None), ("2027-01", today, None), ("2027", today, None),
        ("2026Q4", autumn, autumn), ("2026-10", date(2026, 10, 20), date(2026, 10, 20)),
    ]  # fmt: skip
    for period, day, as_of in cases:
        grouped = county_ranking(rt.scores, rt.query, members, period, day, as_of)
        one_by_one = county_ranking_from_rankings(rt.scores, rt.query, members, period, day, as_of)
        assert (grouped.period, grouped.previous_period, grouped.as_of) == (
            one_by_one.period, one_by_one.previous_period, one_by_one.as_of,
        ), period  # fmt: skip
        assert figures(grouped) == figures(one_by_one), (period, day)
    # The cases above are not all alike: different bases, scores and overdue counts show.
    q1 = county_ranking(rt.scores, rt.query, members, "2027Q1", today, None)
    mizhi = q1.county(str(county.county))
    assert mizhi is not None and mizhi.base == Decimal("120") and mizhi.average != Decimal("100.00")
    assert mizhi.previous_average is not None and mizhi.overdue >= 1
    assert q1.county(str(third.county)).units == 1  # type: ignore[union-attr]  # its other town retired
    assert q1.county(str(other.county)).units == 3  # type: ignore[union-attr]  # two towns and the department
