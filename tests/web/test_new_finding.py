"""Filing a finding from the form."""

from __future__ import annotations

import re
from uuid import uuid4

from tests.web.conftest import HOUSEHOLD, act_as, ledger_ids, post, text_of


def form(county, **overrides):
    data = {
        "finding_id": str(uuid4()),
        "unit_id": str(county.village_a1),
        "category": "inconsistent",
        "source": "extraction",
        "severity": "serious",
        "check_item": "国办系统与户档案一致",
        "description": "系统人口数与户档案不一致",
        "household_no": HOUSEHOLD,
        "cadre_ids": [str(county.cadre_1), str(county.cadre_2)],
        "issue_now": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_offers_units_categories_and_cadres(client, county):
    act_as(client, county.inspector, "inspector")
    html = client.get("/findings/new").text
    assert "高庙山村（银州街道）" in html and "龙镇" in html
    assert "县纪委监委" not in html.split('name="unit_id"')[1].split("</select>")[0]
    for text in ("不一致", "抽查", "严重", "张帮扶（高庙山村）", "刘帮扶（姬家岔村）", "立即下发整改通知"):
        assert text in html
    assert re.search(r'name="issue_now" value="1" checked', html)


def test_filing_with_the_notice(client, county):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    response = post(client, "/findings/new", form(county))
    assert response.status_code == 303
    assert county.duban.position() > before
    html = client.get(response.headers["Location"]).text  # the finding's page waits for the views
    assert county.runtime.follower.position >= county.duban.position()
    assert "已登记问题，并已下发整改通知，整改期限：2026-10-15" in html  # 5 working days; Sat 10 Oct is a make-up day
    assert text_of(html, "status") == "待签收"
    assert text_of(html, "cadres") == "刘帮扶、张帮扶"
    assert HOUSEHOLD not in html
    assert len(ledger_ids(client.get("/").text)) == 1


def test_filing_without_the_notice(client, county):
    act_as(client, county.command, "command")
    response = post(client, "/findings/new", form(county, issue_now=None, household_no="", cadre_ids=None))
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).text
    assert text_of(html, "status") == "待下发"
    assert 'id="action-issue-notice"' in html


def test_errors_keep_what_was_typed(client, county):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    response = post(client, "/findings/new", form(county, description="  ", issue_now=None))
    assert response.status_code == 422
    html = response.text
    assert text_of(html, "form-error") == "请填写“问题描述”"
    assert 'value="国办系统与户档案一致"' in html
    assert f'value="{county.village_a1}" selected' in html
    assert 'value="inconsistent" selected' in html and 'value="serious" selected' in html
    assert f'value="{county.cadre_1}" selected' in html and f'value="{county.cadre_2}" selected' in html
    assert not re.search(r'name="issue_now" value="1" checked', html)  # unticked stays unticked
    assert county.duban.position() == before

    for overrides, code, message in (
        ({"unit_id": ""}, 422, "请填写“责任单位”"),
        ({"unit_id": "x"}, 422, "请选择责任单位"),
        ({"unit_id": str(uuid4())}, 404, "找不到该单位"),
        ({"category": ""}, 422, "请填写“问题类型”"),
        ({"category": "bogus"}, 422, "未知的问题类型"),
        ({"household_no": "12-34"}, 422, "户编号格式不正确"),
        ({"cadre_ids": [str(county.inspector)]}, 422, "所选帮扶责任人不存在或不属于本县"),
        ({"cadre_ids": ["nonsense"]}, 422, "所选帮扶责任人不存在或不属于本县"),
    ):
        response = post(client, "/findings/new", form(county, **overrides))
        assert response.status_code == code, overrides
        assert message in response.text
        assert "系统人口数与户档案不一致</textarea>" in response.text
    assert county.duban.position() == before


def test_a_double_submission_files_once(client, county):
    act_as(client, county.inspector, "inspector")
    data = form(county)
    first = post(client, "/findings/new", data)
    second = post(client, "/findings/new", data)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert "该问题已经登记过" in client.get(second.headers["Location"]).text
    assert len(ledger_ids(client.get("/").text)) == 1


def test_only_inspectors_and_the_command_office_file(client, county):
    for user, role in ((county.unit_a1, "unit"), (county.discipline, "discipline"), (county.cadre_1, "cadre")):
        act_as(client, user, role)
        assert client.get("/findings/new").status_code == 403
        before = county.duban.position()
        response = post(client, "/findings/new", form(county))
        assert response.status_code == 403
        assert "此操作只能由督查员、指挥部办公室执行" in response.text
        assert county.duban.position() == before
