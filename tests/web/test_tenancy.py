"""Tenancy: two counties in one store (one deployment), each with its own units,
users, rulebook versions and document number series, and nobody of one county
acting on, or seeing, the other's (issue 8, item 1)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from app.auth.passwords import hash_password
from domain.errors import DomainError, WrongCounty
from domain.events import COMMAND, INSPECTOR, SYSTEM_ACTOR, local_date
from domain.service import TravellingClock
from tests.web.conftest import County, build_county, ledger_ids, post

PASSWORD = "suide-county-2026"


@pytest.fixture
def other(app: Any, clock: TravellingClock, county: County) -> County:
    """绥德县, in the same store as the 米脂县 of ``county``."""
    return build_county(app, clock, name="绥德县", login_prefix="sd-")


def circular(c: County, title: str, prefix: str = "榆脱指发") -> str:
    command = c.actor(c.command, COMMAND)
    drafted = c.duban.draft_circular(
        county_id=c.county, kind="criticism", title=title, prefix=prefix, period="2026Q4",
        body="决定通报批评。", finding_ids=[c.file(c.village_a1)], unit_ids=[c.village_a1], actor=command,
    ).id  # fmt: skip
    c.duban.issue_circular(drafted, command)
    number = c.duban.circular(drafted).document_number
    assert number is not None
    return number


def test_a_document_number_series_restarts_in_each_county(county: County, other: County) -> None:
    # The same authority code in the same year: each county numbers its own 〔2026〕1, 2, ...
    assert circular(county, "第一期") == "榆脱指发〔2026〕1号"
    assert circular(county, "第二期") == "榆脱指发〔2026〕2号"
    assert circular(other, "第一期") == "榆脱指发〔2026〕1号"
    assert circular(county, "第三期") == "榆脱指发〔2026〕3号"
    assert circular(other, "第二期") == "榆脱指发〔2026〕2号"


def test_a_rulebook_adopted_in_one_county_does_not_apply_to_the_other(
    county: County, other: County, clock: TravellingClock
) -> None:
    d = county.duban
    today = local_date(clock())
    stricter = replace(
        d.rules_in_force(county.county).rules,
        deadline_working_days={"general": 2, "serious": 1, "grave": 1}, base_score=Decimal("120"),
    )  # fmt: skip
    d.adopt_rules(county.county, stricter, today, county.actor(county.command, COMMAND))
    assert d.rulebook(county.county).versions[-1].version == 2
    assert d.rulebook(other.county).versions[-1].version == 1
    assert d.rules_in_force(other.county).rules.deadline_working_days["general"] == 10

    here, there = d.finding(county.file(county.village_a1)), d.finding(other.file(other.village_a1))
    assert here.deadline < there.deadline  # two working days against ten, filed the same day
    # And another county's office cannot adopt rules for this one.
    with pytest.raises(WrongCounty):
        d.adopt_rules(county.county, stricter, today, other.actor(other.command, COMMAND))

    # The scores read the base of the version in force on a period's first day: next quarter's.
    assert county.runtime.wait_for(d.position(), views=["scores"])
    period = f"{today.year + 1}Q1"
    scores = county.runtime.scores
    assert scores.ranking(str(county.county), period, today).base == Decimal("120")
    assert scores.ranking(str(other.county), period, today).base == Decimal("100")


def test_each_county_has_its_own_units_and_users(client: Any, county: County, other: County) -> None:
    from tests.web.conftest import act_as

    query = county.runtime.query
    county.settle()
    mine = {u["unit_id"] for u in query.units(str(county.county))}
    theirs = {u["unit_id"] for u in query.units(str(other.county))}
    assert str(county.town_a) in mine and str(other.town_a) in theirs and not mine & theirs
    assert {u["login"] for u in query.users(str(other.county))} == {
        "sd-wang", "sd-zhao", "sd-sun", "sd-li", "sd-zhou", "sd-wu", "sd-zhang", "sd-liu",
    }  # fmt: skip

    act_as(client, other.command, COMMAND)
    units_page = client.get("/admin/units").get_data(as_text=True)
    assert str(other.town_a) in units_page and str(county.town_a) not in units_page
    users_page = client.get("/admin/users").get_data(as_text=True)
    assert "sd-wang" in users_page and ">wang<" not in users_page and str(county.inspector) not in users_page


def test_a_user_of_one_county_signs_in_to_their_own_and_cannot_act_on_the_other(
    client: Any, county: County, other: County
) -> None:
    d = county.duban
    mine = county.file(county.village_a1)
    theirs = other.file(other.village_a1)
    d.set_password(other.command, hash_password(PASSWORD), SYSTEM_ACTOR)
    county.settle()

    response = post(client, "/sign-in", {"login": "sd-zhao", "password": PASSWORD, "role": COMMAND})
    assert response.status_code == 303
    ledger = client.get("/").get_data(as_text=True)
    assert ledger_ids(ledger) == [str(theirs)]

    before = d.position()
    assert client.get(f"/findings/{mine}").status_code == 404
    response = post(client, f"/findings/{mine}/withdraw", {"reason": "越权撤销"})
    assert response.status_code == 404
    assert client.get(f"/history/findings/{mine}").status_code == 404
    assert d.position() == before

    # The service refuses it too, whatever page or API is in front of it.
    their_command = other.actor(other.command, COMMAND)
    their_inspector = other.actor(other.inspector, INSPECTOR)
    refusals = [
        lambda: d.register_unit(name="越权村", kind="village", parent_id=county.town_a, actor=their_command),
        lambda: d.register_user(unit_id=county.village_a1, name="越权", login="sd-x", roles=["unit"],
                                actor=their_command),
        lambda: d.withdraw_finding(mine, "越权撤销", their_command),
        lambda: d.issue_notice(mine, their_inspector),
        lambda: d.file_finding(
            unit_id=county.village_a1, category="missing", source="inspection", severity="general",
            check_item="帮扶手册收入测算", description="越权登记", household_no="", cadre_ids=(), actor=their_inspector,
        ),
        lambda: d.grant_role(county.unit_a1, "inspector", their_command),
        lambda: d.set_password(county.unit_a1, hash_password(PASSWORD), their_command),
    ]  # fmt: skip
    for attempt in refusals:
        with pytest.raises(DomainError):
            attempt()
    assert d.position() == before
