"""A finding's page: its ledger row, its whole history in Chinese, and who may open it."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import HOUSEHOLD, act_as, text_of


def test_shows_the_row_and_the_history_in_chinese(client, county, clock):
    finding = county.file(county.village_a1, household_no=HOUSEHOLD, cadres=(county.cadre_1, county.cadre_2))
    clock.advance(hours=2)
    county.duban.acknowledge_notice(finding, county.actor(county.unit_a1, "unit"))
    county.settle()
    act_as(client, county.discipline, "discipline")
    response = client.get(f"/findings/{finding}")
    assert response.status_code == 200
    html = response.text
    assert text_of(html, "status") == "整改中"
    assert text_of(html, "unit") == "高庙山村（行政村）"
    assert text_of(html, "cadres") == "刘帮扶、张帮扶"
    assert "2026-10-22" in text_of(html, "deadline")
    assert "按国务院公布的节假日安排" in text_of(html, "deadline")
    history = text_of(html, "history")
    assert history.index("登记问题") < history.index("下发整改通知") < history.index("签收通知")
    assert "2026-10-09 10:00 · 王督查（督查员）" in history
    assert "2026-10-09 12:00 · 李队长（责任单位）" in history
    assert "10个工作日" in history
    assert "通知对象" in history and "高庙山村、张帮扶、刘帮扶" in history


def test_the_household_number_is_only_ever_masked(client, county):
    finding = county.file(county.village_a1, household_no=HOUSEHOLD)
    county.settle()
    act_as(client, county.inspector, "inspector")
    html = client.get(f"/findings/{finding}").text
    assert text_of(html, "household") == "612727********3456"
    assert HOUSEHOLD not in html
    assert HOUSEHOLD not in client.get("/").text


def test_deductions_show_rule_version_period_and_reversal(client, county, clock):
    finding = county.file(county.village_a1)
    clock.advance(days=20)
    command = county.actor(county.command, "command")
    county.duban.record_missed_deadline(finding)  # the system's own step
    county.duban.reverse_deduction(finding, 1, "因系统故障无法上传，申诉成立", command)
    county.settle()
    act_as(client, county.discipline, "discipline")
    html = client.get(f"/findings/{finding}").text
    deductions = html[html.index('id="deductions"'):html.index("</table>")]
    for text in ("0.5", "逾期未整改", "第1版", "2026Q4", "已撤销（申诉）"):
        assert text in deductions
    history = text_of(html, "history")
    for label in ("逾期", "扣分", "撤销扣分（申诉）", "因系统故障无法上传，申诉成立"):
        assert label in history
    assert "2026-10-29 10:00 · 系统 逾期的整改期限 2026-10-22" in history
    assert "系统（" not in history
    assert "2026-10-29 10:00 · 赵主任（指挥部办公室） 撤销的扣分 第1笔" in history
    assert text_of(html, "points") == "—"


@pytest.mark.parametrize("path", ["/findings/not-a-uuid", "/findings/00000000-0000-0000-0000-000000000000", "/findings/123"])
def test_unknown_or_malformed_ids_are_404_in_chinese(client, county, path):
    act_as(client, county.inspector, "inspector")
    response = client.get(path)
    assert response.status_code == 404
    assert "找不到该问题" in response.text


def test_the_id_of_something_else_is_404(client, county):
    act_as(client, county.inspector, "inspector")
    response = client.get(f"/findings/{county.village_a1}")
    assert response.status_code == 404
    assert "找不到该问题" in response.text


def test_an_unknown_page_is_404_in_chinese(client, county):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "找不到该页面" in response.text


def test_a_unit_cannot_open_another_units_finding(client, county):
    other = county.file(county.town_b)
    own = county.file(county.village_a1)
    county.settle()
    act_as(client, county.unit_a1, "unit")
    response = client.get(f"/findings/{other}")
    assert response.status_code == 404  # not told that another unit's finding exists
    assert "该事项不属于您所在单位" not in response.text
    assert client.get(f"/findings/{own}").status_code == 200
    act_as(client, county.unit_town_a, "unit")  # the town sees its villages'
    assert client.get(f"/findings/{own}").status_code == 200


def test_a_cadre_opens_only_the_findings_naming_them(client, county):
    named = county.file(county.village_a1, cadres=(county.cadre_1,))
    other = county.file(county.village_a1)
    county.settle()
    act_as(client, county.cadre_1, "cadre")
    assert client.get(f"/findings/{named}").status_code == 200
    response = client.get(f"/findings/{other}")
    assert response.status_code == 404


def test_action_forms_follow_the_role(client, county):
    finding = county.file(county.village_a1, cadres=(county.cadre_1,))
    county.settle()

    def forms(user, role) -> set[str]:
        act_as(client, user, role)
        html = client.get(f"/findings/{finding}").text
        return set(re.findall(r'id="action-([a-z-]+)"', html))

    assert forms(county.unit_a1, "unit") == {"acknowledge", "submit", "request-extension"}
    assert forms(county.inspector, "inspector") == {"withdraw"}
    assert forms(county.command, "command") == {"withdraw", "escalate"}
    assert forms(county.discipline, "discipline") == set()
    assert forms(county.cadre_1, "cadre") == set()


def test_the_escalation_hint_shows_for_the_command_office(client, county, clock):
    finding = county.file(county.village_a1)
    clock.advance(days=45)
    county.settle()
    act_as(client, county.command, "command")
    html = client.get(f"/findings/{finding}").text
    assert "建议移交纪检" in html and "逾期" in text_of(html, "escalation-hint")
    assert 'id="action-record-missed"' in html
    act_as(client, county.inspector, "inspector")
    assert "建议移交纪检" not in client.get(f"/findings/{finding}").text
