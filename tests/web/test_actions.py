"""Every command posted from a finding's page lands on a page that already shows
its effect; every refusal is a 4xx in Chinese and records nothing."""

from __future__ import annotations

import copy

import pytest

from tests.web.conftest import act_as, post, text_of


def do(client, county, finding, action, data=None, *, status="", flash=""):
    """POST an action; the view has the new events before the redirect is answered."""
    before = county.duban.position()
    response = post(client, f"/findings/{finding}/{action}", data)
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == f"/findings/{finding}"
    assert county.duban.position() > before
    assert county.runtime.follower.position >= county.duban.position()
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    if status:
        assert text_of(page.text, "status") == status
    if flash:
        assert flash in page.text
    return page.text


def refused(client, county, finding, action, data=None, *, code, message):
    before = county.duban.position()
    response = post(client, f"/findings/{finding}/{action}", data)
    assert response.status_code == code, response.text
    assert message in response.text
    assert county.duban.position() == before
    return response.text


def test_a_finding_from_notice_to_closure(client, county):
    finding = county.file(county.village_a1)
    county.settle()

    act_as(client, county.unit_a1, "unit")
    do(client, county, finding, "acknowledge", status="整改中", flash="已签收整改通知")
    html = do(client, county, finding, "request-extension", {"until": "2026-10-30", "reason": "国庆后入户核实"})
    assert text_of(html, "pending-extension") == "申请延期至 2026-10-30，待县指挥部审批"
    assert "申请延期" in text_of(html, "history") and "国庆后入户核实" in html

    act_as(client, county.command, "command")
    html = do(client, county, finding, "grant-extension", {"until": "", "note": "同意"}, flash="已批准延期")
    assert text_of(html, "deadline") == "2026-10-30 （批准延期）"
    assert 'id="pending-extension"' not in html

    act_as(client, county.unit_a1, "unit")
    do(client, county, finding, "submit", {"description": "已补齐收入测算", "evidence": "测算表.xlsx\n照片.jpg"}, status="待验收")

    act_as(client, county.inspector, "inspector")
    html = do(client, county, finding, "reject", {"reason": "测算口径错误"}, status="待签收", flash="已退回整改并扣分")
    assert text_of(html, "points") == "0.5"
    assert "退回整改（不到位）" in text_of(html, "history")

    act_as(client, county.unit_a1, "unit")
    do(client, county, finding, "acknowledge", status="整改中")
    do(client, county, finding, "submit", {"description": "已按口径重新测算"}, status="待验收")

    act_as(client, county.inspector, "inspector")
    html = do(client, county, finding, "accept", {"note": "材料齐全"}, status="已销号", flash="验收通过，问题已销号")
    assert "验收通过（销号）" in text_of(html, "history")
    assert 'id="action-' not in html  # nothing left to do


def test_denial_overdue_reversal_escalation_and_withdrawal(client, county, clock):
    finding = county.file(county.village_a1)
    filed_only = county.file(county.village_a2, notice=False)
    county.settle()

    act_as(client, county.unit_a1, "unit")
    do(client, county, finding, "request-extension", {"until": "2026-11-30", "reason": "人手不足"})
    act_as(client, county.command, "command")
    html = do(client, county, finding, "deny-extension", {"reason": "理由不充分"}, flash="已决定不予延期")
    assert 'id="pending-extension"' not in html
    assert "不予延期" in text_of(html, "history")

    clock.advance(days=20)
    html = do(client, county, finding, "record-missed", status="待签收", flash="已记录逾期")
    assert text_of(html, "points") == "0.5"
    assert int(text_of(html, "days-overdue")) > 0
    html = do(client, county, finding, "reverse-deduction", {"deduction_number": "1", "reason": "系统故障，申诉成立"})
    assert text_of(html, "points") == "—"
    assert "已撤销（申诉）" in html
    html = do(client, county, finding, "escalate", {"reason": "拒不整改"}, flash="已移交纪检监察机关")
    assert "移交纪检 " in text_of(html, "history") and "已移交纪检</span>" in html
    assert 'id="action-escalate"' not in html

    act_as(client, county.inspector, "inspector")
    do(client, county, finding, "withdraw", {"reason": "登记错误"}, status="已撤销", flash="已撤销该问题")
    do(client, county, filed_only, "issue-notice", status="待签收", flash="已下发整改通知，整改期限：2026-11-12")


def test_domain_refusals_are_4xx_in_chinese_and_record_nothing(client, county):
    finding = county.file(county.village_a1)
    county.settle()

    act_as(client, county.inspector, "inspector")
    refused(client, county, finding, "accept", code=409, message="该问题尚未提交整改材料，不能验收")
    refused(client, county, finding, "withdraw", {"reason": " "}, code=422, message="撤销问题必须说明原因")
    refused(client, county, finding, "grant-extension", code=403, message="此操作只能由指挥部办公室执行")

    act_as(client, county.unit_a1, "unit")
    refused(client, county, finding, "withdraw", {"reason": "不想整改"}, code=403, message="此操作只能由督查员、指挥部办公室执行")
    do(client, county, finding, "acknowledge")
    html = refused(client, county, finding, "acknowledge", code=409, message="该问题当前不需要签收")
    assert text_of(html, "status") == "整改中"  # the page, as it stands, around the message


def test_form_errors_keep_the_input(client, county):
    finding = county.file(county.village_a1)
    county.settle()
    act_as(client, county.unit_a1, "unit")
    html = refused(
        client, county, finding, "request-extension", {"until": "2026-13-45", "reason": "入户核实需要时间"},
        code=422, message="“延期至”不是有效日期",
    )
    assert 'value="2026-13-45"' in html and "入户核实需要时间</textarea>" in html
    assert text_of(html, "action-error") == "“延期至”不是有效日期，请按 2026-10-09 的格式填写"
    html = refused(
        client, county, finding, "request-extension", {"until": "2026-10-12", "reason": "入户核实需要时间"},
        code=422, message="延期后的期限必须晚于当前整改期限",
    )
    assert "入户核实需要时间</textarea>" in html
    refused(client, county, finding, "request-extension", {"reason": "x"}, code=422, message="请填写“延期至”")
    refused(client, county, finding, "submit", {"description": ""}, code=422, message="请填写“整改情况说明”")


def test_reversing_needs_a_known_deduction(client, county, clock):
    finding = county.file(county.village_a1)
    clock.advance(days=20)
    county.duban.record_missed_deadline(finding, county.actor(county.command, "command"))
    county.settle()
    act_as(client, county.command, "command")
    refused(client, county, finding, "reverse-deduction", {"deduction_number": "x", "reason": "r"}, code=422, message="请选择要撤销的扣分")
    refused(client, county, finding, "reverse-deduction", {"deduction_number": "9", "reason": "r"}, code=404, message="找不到该扣分记录")
    refused(client, county, finding, "reverse-deduction", {"deduction_number": "1", "reason": ""}, code=422, message="撤销扣分必须说明申诉理由")


def test_a_unit_cannot_act_on_another_units_finding(client, county):
    finding = county.file(county.village_a1)
    county.settle()
    act_as(client, county.unit_b, "unit")
    refused(client, county, finding, "acknowledge", code=404, message="找不到")
    act_as(client, county.cadre_2, "cadre")
    refused(client, county, finding, "acknowledge", code=403, message="此操作只能由督查员、责任单位、指挥部办公室执行")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/findings/not-a-uuid/acknowledge", "找不到该问题"),
        ("/findings/00000000-0000-0000-0000-000000000000/acknowledge", "找不到该问题"),
        ("/findings/{finding}/no-such-action", "没有这项操作"),
    ],
)
def test_unknown_targets_are_404(client, county, path, message):
    finding = county.file(county.village_a1)
    county.settle()
    act_as(client, county.unit_a1, "unit")
    before = county.duban.position()
    response = post(client, path.format(finding=finding))
    assert response.status_code == 404
    assert message in response.text
    assert county.duban.position() == before


def test_a_concurrent_change_is_409(client, county, monkeypatch):
    finding = county.file(county.village_a1)
    county.settle()
    stale = copy.deepcopy(county.duban.finding(finding))
    county.duban.withdraw_finding(finding, "登记错误", county.actor(county.inspector, "inspector"))
    county.settle()
    monkeypatch.setattr(county.duban, "finding", lambda _id: copy.deepcopy(stale))
    act_as(client, county.unit_a1, "unit")
    refused(client, county, finding, "acknowledge", code=409, message="刚被他人修改，请刷新后重试")
