"""The discipline office's cases (案件): opened from an escalated finding or on
its own, more findings linked, hearings and sanctions recorded, closed. The
command office reads them; nobody else sees them."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import uuid4

import pytest

from domain.case import SANCTIONS, Case
from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT
from tests.web.conftest import County, act_as, post, text_of


@pytest.fixture
def discipline(client, county: County):  # type: ignore[no-untyped-def]
    act_as(client, county.discipline, DISCIPLINE)
    return client


def escalated_finding(county: County, unit=None, check_item: str = "帮扶手册收入测算"):  # type: ignore[no-untyped-def]
    finding = county.file(unit or county.village_a1, check_item=check_item)
    county.duban.escalate(finding, "拒不整改", county.actor(county.command, COMMAND))
    county.settle()
    return finding


def open_case(county: County, *finding_ids, subject=None):  # type: ignore[no-untyped-def]
    case_id = county.duban.open_case(
        county_id=county.county, summary="整改不力，移交审查", actor=county.actor(county.discipline, DISCIPLINE),
        finding_ids=list(finding_ids), subject_unit_id=subject,
    ).id  # fmt: skip
    county.settle()
    return case_id


def refused(county: County, client, url: str, data: dict, status: int = 422) -> str:  # type: ignore[no-untyped-def]
    before = county.duban.position()
    response = post(client, url, data)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert county.duban.position() == before
    return response.get_data(as_text=True)


def test_a_case_is_opened_from_an_escalated_finding(discipline, county: County) -> None:
    finding = escalated_finding(county)
    listing = discipline.get("/cases").get_data(as_text=True)
    assert 'id="cases-link"' in listing and 'id="admin-link"' not in listing
    assert f"/cases/new?finding_id={finding}" in text_of(listing, "waiting") or f"finding_id={finding}" in listing

    form = discipline.get(f"/cases/new?finding_id={finding}").get_data(as_text=True)
    assert f'value="{finding}" checked' in form
    assert f'<option value="{county.village_a1}" selected>' in form
    assert "高庙山村对“帮扶手册收入测算”问题整改不力" in form
    new_case_id = re.search(r'name="new_case_id" value="([0-9a-f-]{36})"', form).group(1)  # type: ignore[union-attr]

    data = {"new_case_id": new_case_id, "subject_unit_id": str(county.village_a1), "summary": "拒不整改，立案审查",
            "finding_ids": [str(finding)]}  # fmt: skip
    response = post(discipline, "/cases/new", data)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/cases/{new_case_id}")
    [opened] = county.duban.history(county.duban.case(new_case_id).id)
    assert isinstance(opened, Case.Opened) and opened.finding_ids == [finding]
    assert opened.subject_unit_id == county.village_a1 and opened.actor_role == DISCIPLINE

    page = discipline.get(response.headers["Location"]).get_data(as_text=True)
    assert "已立案" in page and text_of(page, "subject") == "高庙山村"
    # Each linked finding links to its page, which the discipline office reads in full.
    assert f'href="/findings/{finding}"' in page.split('id="linked-findings"')[1]
    assert discipline.get(f"/findings/{finding}").status_code == 200
    listing = discipline.get("/cases").get_data(as_text=True)
    assert "拒不整改，立案审查" in text_of(listing, "cases") and 'id="waiting"' not in listing

    before = county.duban.position()
    assert post(discipline, "/cases/new", data).status_code == 303  # sent twice: one case
    assert county.duban.position() == before


def test_a_case_on_the_offices_own_initiative_and_its_refusals(discipline, county: County) -> None:
    page = refused(county, discipline, "/cases/new", {"summary": " ", "subject_unit_id": str(county.town_b)})
    assert text_of(page, "error-summary") == "请填写“案由”"
    assert f'<option value="{county.town_b}" selected>' in page
    for forged in (str(uuid4()), "not-an-id"):
        refused(county, discipline, "/cases/new", {"summary": "群众举报", "subject_unit_id": forged}, status=404)
        refused(county, discipline, "/cases/new", {"summary": "群众举报", "finding_ids": [forged]}, status=404)
    assert discipline.get(f"/cases/new?finding_id={uuid4()}").status_code == 404

    response = post(discipline, "/cases/new", {"summary": "群众举报", "subject_unit_id": str(county.town_b)})
    assert response.status_code == 303
    listing = discipline.get("/cases").get_data(as_text=True)
    assert "群众举报" in listing and "龙镇" in text_of(listing, "cases")
    assert "群众举报" in discipline.get("/cases?status=open").get_data(as_text=True)
    assert "群众举报" not in discipline.get("/cases?status=closed").get_data(as_text=True)


def test_findings_hearings_sanctions_and_closing(discipline, county: County, clock) -> None:  # type: ignore[no-untyped-def]
    first = escalated_finding(county)
    second = escalated_finding(county, county.village_a2, "危房改造档案")
    other = county.file(county.town_b, check_item="家庭成员信息")
    case_id = open_case(county, first, subject=county.village_a1)
    url = f"/cases/{case_id}"
    page = discipline.get(url).get_data(as_text=True)
    assert f'value="{second}"' in page.split('id="action-link"')[1]

    # More findings: a picked escalated one and one typed by its number.
    assert post(discipline, f"{url}/link", {"finding_ids": [str(second)], "other_finding_ids": str(other)}).status_code == 303
    linked = county.duban.history(case_id)[-1]
    assert isinstance(linked, Case.FindingsLinked) and linked.finding_ids == [second, other]
    page = refused(county, discipline, f"{url}/link", {"other_finding_ids": str(first)})
    assert text_of(page, "error-link-finding_ids") == "所选问题都已关联到该案件"
    page = refused(county, discipline, f"{url}/link", {"other_finding_ids": ""})
    assert text_of(page, "error-link-finding_ids") == "请填写“关联问题”"
    refused(county, discipline, f"{url}/link", {"other_finding_ids": str(uuid4())}, status=404)

    # A hearing.
    today = county.runtime.today()
    page = refused(county, discipline, f"{url}/hearing", {"held_on": (today + timedelta(days=1)).isoformat(),
                                                         "participants": "村支书", "note": "承认整改不力"})  # fmt: skip
    assert text_of(page, "error-hearing-held_on") == "谈话（听证）日期不能晚于今天"
    assert 'value="村支书"' in page
    page = refused(county, discipline, f"{url}/hearing", {"held_on": today.isoformat(), "participants": "", "note": "x"})
    assert text_of(page, "error-hearing-participants") == "请填写“参加人员”"
    data = {"held_on": today.isoformat(), "participants": "村支书、第一书记", "note": "承认整改不力"}
    assert post(discipline, f"{url}/hearing", data).status_code == 303
    heard = county.duban.history(case_id)[-1]
    assert isinstance(heard, Case.HearingRecorded) and heard.held_on == today.isoformat()

    # Sanctions: each of the five kinds.
    page = refused(county, discipline, f"{url}/sanction", {"sanction": "", "subject": "村支书"})
    assert text_of(page, "error-sanction-sanction") == "请选择“处理方式”"
    page = refused(county, discipline, f"{url}/sanction", {"sanction": "talk", "subject": " "})
    assert text_of(page, "error-sanction-subject") == "请填写“处理对象”"
    for code in SANCTIONS:
        assert post(discipline, f"{url}/sanction", {"sanction": code, "subject": "村支书", "note": ""}).status_code == 303
        recorded = county.duban.history(case_id)[-1]
        assert isinstance(recorded, Case.SanctionRecorded) and recorded.sanction == code
    page = discipline.get(url).get_data(as_text=True)
    assert all(label in text_of(page, "sanctions") for label in SANCTIONS.values())
    assert all(label in text_of(discipline.get("/cases").get_data(as_text=True), "cases") for label in SANCTIONS.values())

    # Closing.
    page = refused(county, discipline, f"{url}/close", {"conclusion": ""})
    assert text_of(page, "error-close-conclusion") == "请填写“结案意见”"
    assert post(discipline, f"{url}/close", {"conclusion": "已作出处理，结案"}).status_code == 303
    assert isinstance(county.duban.history(case_id)[-1], Case.Closed)
    page = discipline.get(url).get_data(as_text=True)
    assert text_of(page, "case-status") == "已结案" and 'id="action-close"' not in page
    history = text_of(page, "history")
    assert history.index("立案") < history.index("关联问题") < history.index("谈话（听证）") < history.index("作出处理") < history.index("结案意见")
    page = refused(county, discipline, f"{url}/sanction", {"sanction": "talk", "subject": "某"}, status=409)
    assert text_of(page, "error-form") == "该案件已结案"
    refused(county, discipline, f"{url}/no-such-step", {}, status=404)


def test_the_command_office_reads_cases_and_writes_nothing(client, county: County) -> None:
    finding = escalated_finding(county)
    case_id = open_case(county, finding)
    act_as(client, county.command, COMMAND)
    assert "整改不力，移交审查" in client.get("/cases").get_data(as_text=True)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="/findings/{finding}"' in page and 'id="action-close"' not in page
    escalations = client.get("/admin/escalations").get_data(as_text=True)
    assert f"/cases/{case_id}" in escalations.split('id="escalated"')[1] and "查看案件" in text_of(escalations, "escalated")
    before = county.duban.position()
    assert client.get("/cases/new").status_code == 403
    assert post(client, "/cases/new", {"summary": "越权"}).status_code == 403
    for step, data in (("close", {"conclusion": "越权"}), ("sanction", {"sanction": "talk", "subject": "某"})):
        assert post(client, f"/cases/{case_id}/{step}", data).status_code == 403
    assert county.duban.position() == before


@pytest.mark.parametrize("role", [INSPECTOR, UNIT, CADRE])
def test_cases_are_invisible_to_the_others(client, county: County, role: str) -> None:
    case_id = open_case(county, escalated_finding(county))
    user = {INSPECTOR: county.inspector, UNIT: county.unit_a1, CADRE: county.cadre_1}[role]
    act_as(client, user, role)
    assert 'id="cases-link"' not in client.get("/").get_data(as_text=True)
    for url in ("/cases", "/cases/new", f"/cases/{case_id}"):
        response = client.get(url)
        assert response.status_code == 403 and "整改不力，移交审查" not in response.get_data(as_text=True)
    before = county.duban.position()
    assert post(client, f"/cases/{case_id}/close", {"conclusion": "越权"}).status_code == 403
    assert county.duban.position() == before


def test_another_countys_case_or_a_forged_one_is_not_found(discipline, county: County) -> None:
    d = county.duban
    other = d.register_unit(name="佳县", kind="county", parent_id=None).id
    office = d.register_unit(name="佳县纪委监委", kind="discipline", parent_id=other).id
    officer = d.register_user(unit_id=office, name="外县纪检", login="jia-discipline", roles=["discipline"]).id
    foreign = d.open_case(county_id=other, summary="外县案件", actor=d.actor(officer, DISCIPLINE)).id
    county.settle()
    assert "外县案件" not in discipline.get("/cases").get_data(as_text=True)
    before = county.duban.position()
    for bad in (str(foreign), str(uuid4()), "not-an-id", str(county.village_a1)):
        assert discipline.get(f"/cases/{bad}").status_code == 404, bad
        assert post(discipline, f"/cases/{bad}/close", {"conclusion": "结案"}).status_code == 404, bad
    assert county.duban.position() == before


def test_a_findings_page_links_its_cases_for_the_two_offices_only(client, county: County) -> None:
    finding = escalated_finding(county)
    case_id = open_case(county, finding)
    county.settle()
    for user, role in ((county.discipline, DISCIPLINE), (county.command, COMMAND)):
        act_as(client, user, role)
        page = client.get(f"/findings/{finding}").get_data(as_text=True)
        assert "查看案件" in text_of(page, "cases") and f'href="/cases/{case_id}"' in page
    for user, role in ((county.inspector, INSPECTOR), (county.unit_a1, UNIT)):
        act_as(client, user, role)
        page = client.get(f"/findings/{finding}").get_data(as_text=True)
        assert f"/cases/{case_id}" not in page and 'id="cases"' not in page
