"""The command office's administration pages (管理): units, users, the rulebook,
extension requests and escalations. Each page renders for its roles and
refuses the others; each form records the right event, or refuses in Chinese
next to the field, keeps what was typed and records nothing; ids of another
county, or forged ones, are not found."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest

from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT
from domain.org import Unit, User
from domain.rulebook import Rulebook, rulebook_id
from domain.finding import Finding
from tests.web.conftest import County, act_as, post, text_of


@pytest.fixture
def command(client, county: County):  # type: ignore[no-untyped-def]
    act_as(client, county.command, COMMAND)
    return client


@pytest.fixture
def foreign(county: County):  # type: ignore[no-untyped-def]
    """Another county's unit, user and finding."""
    d = county.duban
    other = d.register_unit(name="佳县", kind="county", parent_id=None).id
    d.open_rulebook(other, county.duban.rules_in_force(county.county).rules, county.runtime.today())
    zone = d.register_unit(name="佳县东战区", kind="zone", parent_id=other).id
    town = d.register_unit(name="佳芦镇", kind="town", parent_id=zone).id
    user = d.register_user(unit_id=town, name="外县督查", login="jia-inspector", roles=["inspector", "unit"]).id
    finding = d.file_finding(
        unit_id=town, category="missing", source="inspection", severity="general", check_item="帮扶手册",
        description="缺少测算", actor=d.actor(user, INSPECTOR),
    ).id  # fmt: skip
    d.issue_notice(finding, d.actor(user, INSPECTOR))
    d.request_extension(finding, county.runtime.today() + timedelta(days=40), "农忙", d.actor(user, UNIT))
    county.settle()
    return {"unit": town, "user": user, "finding": finding}


def last_event(county: County, aggregate_id):  # type: ignore[no-untyped-def]
    return county.duban.history(aggregate_id)[-1]


def refused(county: County, client, url: str, data: dict, status: int = 422):  # type: ignore[no-untyped-def]
    """Post a form the service refuses: the page comes back with the status, and nothing is recorded."""
    before = county.duban.position()
    response = post(client, url, data)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    assert county.duban.position() == before
    return response.get_data(as_text=True)


ADMIN_PAGES = ("/admin/units", "/admin/users", "/admin/rulebook", "/admin/extensions", "/admin/escalations")


# Who may see the pages
def test_every_admin_page_renders_for_the_command_office_with_its_sub_nav(command, county: County) -> None:
    for url in (*ADMIN_PAGES, f"/admin/units/{county.village_a1}", f"/admin/users/{county.unit_a1}"):
        response = command.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert 'id="admin-nav"' in page and 'id="admin-link"' in page and 'id="cases-link"' in page


@pytest.mark.parametrize("role", [INSPECTOR, UNIT, CADRE, DISCIPLINE])
def test_other_roles_are_refused(client, county: County, role: str) -> None:
    user = {INSPECTOR: county.inspector, UNIT: county.unit_a1, CADRE: county.cadre_1, DISCIPLINE: county.discipline}[role]
    act_as(client, user, role)
    assert 'id="admin-link"' not in client.get("/").get_data(as_text=True)
    for url in (*ADMIN_PAGES, f"/admin/users/{county.unit_a1}"):
        assert client.get(url).status_code == 403, url
    before = county.duban.position()
    for url, data in (
        ("/admin/units", {"name": "新村", "kind": "village", "parent_id": str(county.town_a)}),
        (f"/admin/units/{county.village_a1}/rename", {"name": "新名"}),
        (f"/admin/units/{county.village_a1}/retire", {"reason": "撤并"}),
        ("/admin/users", {"unit_id": str(county.village_a1), "name": "某", "login": "x", "roles": "unit"}),
        (f"/admin/users/{county.unit_a1}/grant", {"role": "cadre"}),
        ("/admin/rulebook/holidays", {"year": "2027", "days_off": "2027-10-01"}),
    ):
        assert post(client, url, data).status_code == 403, url
    assert county.duban.position() == before
    # The discipline office reads a unit's page (its users and history), and changes nothing there.
    unit_page = client.get(f"/admin/units/{county.village_a1}")
    assert unit_page.status_code == (200 if role == DISCIPLINE else 403)
    if role == DISCIPLINE:
        page = unit_page.get_data(as_text=True)
        assert "李队长" in page and "登记单位" in page and 'id="action-rename"' not in page


def test_ids_of_another_county_or_forged_are_not_found(command, county: County, foreign) -> None:  # type: ignore[no-untyped-def]
    before = county.duban.position()
    for bad in (str(foreign["unit"]), str(uuid4()), "not-an-id", str(county.unit_a1)):
        assert command.get(f"/admin/units/{bad}").status_code == 404, bad
        assert post(command, f"/admin/units/{bad}/rename", {"name": "新名"}).status_code == 404, bad
        assert post(command, f"/admin/units/{bad}/retire", {"reason": "撤并"}).status_code == 404, bad
    for bad in (str(foreign["user"]), str(uuid4()), "not-an-id", str(county.village_a1)):
        assert command.get(f"/admin/users/{bad}").status_code == 404, bad
        assert post(command, f"/admin/users/{bad}/grant", {"role": "cadre"}).status_code == 404, bad
        assert post(command, f"/admin/users/{bad}/email", {"email": "a@b.cn"}).status_code == 404, bad
    for bad in (str(foreign["finding"]), str(uuid4()), "not-an-id"):
        assert post(command, f"/admin/extensions/{bad}/grant", {}).status_code == 404, bad
        assert post(command, f"/admin/extensions/{bad}/deny", {"reason": "不同意"}).status_code == 404, bad
        assert post(command, f"/admin/escalations/{bad}", {"reason": "拒不整改"}).status_code == 404, bad
    # Another county's unit as the parent or the user's unit is not found either.
    assert post(command, "/admin/units", {"name": "新村", "kind": "village", "parent_id": str(foreign["unit"])}).status_code == 404
    assert post(command, f"/admin/units/{county.village_a1}/move", {"parent_id": str(foreign["unit"])}).status_code == 404
    assert post(command, "/admin/users", {"unit_id": str(foreign["unit"]), "name": "某", "login": "x", "roles": "unit"}).status_code == 404
    assert county.duban.position() == before
    # The other county's pending extension is not listed here.
    assert str(foreign["finding"]) not in command.get("/admin/extensions").get_data(as_text=True)


# 单位管理
def test_the_unit_tree_and_registering_a_unit(command, county: County) -> None:
    page = command.get("/admin/units").get_data(as_text=True)
    tree = text_of(page, "unit-tree")
    assert tree.index("米脂县") < tree.index("东战区") < tree.index("银州街道") < tree.index("高庙山村")
    form_id = page.split('name="new_unit_id" value="')[1].split('"')[0]

    data = {"new_unit_id": form_id, "name": " 刘家沟村 ", "kind": "village", "parent_id": str(county.town_a), "code": "MZ-09"}
    response = post(command, "/admin/units", data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/units/{form_id}")
    event = county.duban.history(county.duban.unit(form_id).id)[0]
    assert isinstance(event, Unit.Registered) and event.name == "刘家沟村" and event.code == "MZ-09"
    assert event.actor_id == str(county.command) and event.actor_role == COMMAND
    shown = command.get(response.headers["Location"]).get_data(as_text=True)
    assert "已登记单位：刘家沟村" in shown and text_of(shown, "parent") == "银州街道"
    assert "刘家沟村" in command.get("/admin/units").get_data(as_text=True)

    # The same form sent again registers nothing new.
    before = county.duban.position()
    again = post(command, "/admin/units", data)
    assert again.status_code == 303 and county.duban.position() == before


def test_registering_a_unit_refuses_in_chinese_next_to_the_field(command, county: County) -> None:
    page = refused(county, command, "/admin/units", {"name": " ", "kind": "village", "parent_id": str(county.town_a), "code": "MZ-10"})
    assert text_of(page, "error-name") == "请填写“单位名称”"
    assert 'value="MZ-10"' in page  # what was typed is kept
    page = refused(county, command, "/admin/units", {"name": "错村", "kind": "village", "parent_id": str(county.zone_east)})
    assert text_of(page, "error-parent_id") == "行政村不能设在战区之下"
    assert 'value="错村"' in page
    page = refused(county, command, "/admin/units", {"name": "错村", "kind": "planet", "parent_id": str(county.town_a)})
    assert text_of(page, "error-kind") == "未知的单位类型"
    page = refused(county, command, "/admin/units", {"name": "错村", "kind": "village", "parent_id": ""})
    assert text_of(page, "error-parent_id") == "请选择“上级单位”"


def test_renaming_moving_and_retiring_a_unit(command, county: County) -> None:
    url = f"/admin/units/{county.village_a2}"
    response = post(command, f"{url}/rename", {"name": "姬家岔新村"})
    assert response.status_code == 303
    assert isinstance(last_event(county, county.village_a2), Unit.Renamed)
    assert text_of(command.get(url).get_data(as_text=True), "unit-name") == "姬家岔新村"

    page = command.get(url).get_data(as_text=True)
    assert f'value="{county.town_b}"' in page.split('id="action-move"')[1]
    assert post(command, f"{url}/move", {"parent_id": str(county.town_b)}).status_code == 303
    moved = last_event(county, county.village_a2)
    assert isinstance(moved, Unit.Moved) and moved.parent_id == county.town_b
    assert text_of(command.get(url).get_data(as_text=True), "parent") == "龙镇"

    page = refused(county, command, f"{url}/move", {"parent_id": str(county.zone_west)})
    assert text_of(page, "error-move-parent_id") == "行政村不能设在战区之下"
    page = refused(county, command, f"{url}/rename", {"name": "  "})
    assert text_of(page, "error-rename-name") == "请填写“单位名称”"
    page = refused(county, command, f"{url}/retire", {"reason": ""})
    assert text_of(page, "error-retire-reason") == "请填写“撤销原因”"

    assert post(command, f"{url}/retire", {"reason": "村庄撤并"}).status_code == 303
    retired = last_event(county, county.village_a2)
    assert isinstance(retired, Unit.Retired) and retired.reason == "村庄撤并"
    page = command.get(url).get_data(as_text=True)
    assert 'id="retired-badge"' in page and 'id="action-retire"' not in page
    history = text_of(page, "history")
    assert history.index("登记单位") < history.index("单位更名") < history.index("调整上级单位") < history.index("撤销单位")
    page = refused(county, command, f"{url}/rename", {"name": "又一名"}, status=409)
    assert text_of(page, "error-form") == "该单位已撤销"


# 用户管理
def test_users_by_unit_and_registering_a_user(command, county: County) -> None:
    page = command.get("/admin/users").get_data(as_text=True)
    assert "李队长" in page and "高庙山村（银州街道）" in page
    form_id = page.split('name="new_user_id" value="')[1].split('"')[0]
    data = {"new_user_id": form_id, "unit_id": str(county.village_a2), "name": "马文书", "login": "ma", "roles": ["unit", "cadre"]}
    response = post(command, "/admin/users", data)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/admin/users/{form_id}")
    event = county.duban.history(county.duban.user(form_id).id)[0]
    assert isinstance(event, User.Registered) and event.roles == ["cadre", "unit"] and event.login == "ma"
    shown = command.get(response.headers["Location"]).get_data(as_text=True)
    assert text_of(shown, "roles") == "帮扶责任人、责任单位" or text_of(shown, "roles") == "责任单位、帮扶责任人"


def test_registering_a_user_refuses_next_to_the_field(command, county: County) -> None:
    data = {"unit_id": str(county.village_a2), "name": "马文书", "login": " ", "roles": ["unit"]}
    page = refused(county, command, "/admin/users", data)
    assert text_of(page, "error-login") == "请填写“登录名”"
    assert 'value="马文书"' in page and 'value="unit" checked' in page
    page = refused(county, command, "/admin/users", {**data, "login": "ma", "roles": []})
    assert text_of(page, "error-roles") == "请至少选择一个“角色”"
    page = refused(county, command, "/admin/users", {**data, "login": "ma", "roles": ["king"]})
    assert text_of(page, "error-roles") == "未知的角色：king"
    page = refused(county, command, "/admin/users", {**data, "login": "ma", "unit_id": ""})
    assert text_of(page, "error-unit_id") == "请选择“所在单位”"


def test_granting_and_revoking_roles_and_setting_the_email(command, county: County) -> None:
    url = f"/admin/users/{county.unit_a1}"
    assert post(command, f"{url}/grant", {"role": "cadre"}).status_code == 303
    granted = last_event(county, county.unit_a1)
    assert isinstance(granted, User.RoleGranted) and granted.role == "cadre"
    page = refused(county, command, f"{url}/grant", {"role": "cadre"}, status=409)
    assert text_of(page, "error-grant-role") == "该用户已有此角色"
    page = refused(county, command, f"{url}/grant", {"role": ""})
    assert text_of(page, "error-grant-role") == "请选择“角色”"

    assert post(command, f"{url}/revoke", {"role": "cadre"}).status_code == 303
    revoked = last_event(county, county.unit_a1)
    assert isinstance(revoked, User.RoleRevoked) and revoked.role == "cadre"
    page = refused(county, command, f"{url}/revoke", {"role": "cadre"}, status=409)
    assert text_of(page, "error-revoke") == "该用户没有此角色"

    page = refused(county, command, f"{url}/email", {"email": "not an email"})
    assert text_of(page, "error-email-email") == "电子邮箱格式不正确"
    assert 'value="not an email"' in page
    assert post(command, f"{url}/email", {"email": "li@mizhi.gov.cn"}).status_code == 303
    assert isinstance(last_event(county, county.unit_a1), User.EmailSet)
    page = command.get(url).get_data(as_text=True)
    assert text_of(page, "email") == "li@mizhi.gov.cn"
    assert text_of(page, "history").count("授予角色") == 1


def test_the_user_page_links_to_resetting_the_password_when_sign_in_provides_it(command, county: County, app) -> None:  # type: ignore[no-untyped-def]
    page = command.get(f"/admin/users/{county.unit_a1}").get_data(as_text=True)
    if "auth.reset_password" in app.view_functions:
        assert f'/{county.unit_a1}' in page.split('id="reset-password"')[0].rsplit("<a", 1)[1]
    else:
        assert 'id="reset-password"' not in page


# 考评规则
def rule_form(page: str) -> dict[str, str]:
    import re

    form = page.split('id="adopt-rules"')[1].split("</form>")[0]
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
    values.update(re.findall(r'<select id="rule-(\w+)" name="\w+">.*?value="(\w+)" selected', form, re.S))
    values.pop("csrf_token", None)
    return values


def test_the_rulebook_shows_the_versions_and_adopts_a_new_one_prefilled(command, county: County, clock) -> None:  # type: ignore[no-untyped-def]
    page = command.get("/admin/rulebook").get_data(as_text=True)
    assert "第1版" in text_of(page, "versions") and "现行" in text_of(page, "versions")
    values = rule_form(page)
    assert values["deadline_general"] == "10" and values["reminder_days_before"] == "3,1" and values["period"] == "quarter"
    assert values["in_force_from"] == county.runtime.today().isoformat()

    starts = (county.runtime.today() + timedelta(days=3)).isoformat()
    response = post(command, "/admin/rulebook", {**values, "overdue_points": "1", "deadline_grave": "2", "in_force_from": starts})
    assert response.status_code == 303
    adopted = last_event(county, rulebook_id(county.county))
    assert isinstance(adopted, Rulebook.Adopted) and adopted.version == 2 and adopted.in_force_from == starts
    assert adopted.rules["overdue_points"] == "1" and adopted.rules["deadline_working_days"]["grave"] == 2
    assert adopted.rules["repeat_window_days"] == 90  # the rest as they were
    page = command.get("/admin/rulebook").get_data(as_text=True)
    assert "已发布第2版考评规则" in page and "待生效" in text_of(page, "versions")


def test_adopting_rules_refuses_next_to_the_field_and_keeps_what_was_typed(command, county: County) -> None:
    values = rule_form(command.get("/admin/rulebook").get_data(as_text=True))
    page = refused(county, command, "/admin/rulebook", {**values, "repeat_window_days": "九十"})
    assert text_of(page, "error-adopt-repeat_window_days") == "“重复问题认定期限（天）”必须是整数"
    assert 'value="九十"' in page
    page = refused(county, command, "/admin/rulebook", {**values, "overdue_points": "半分"})
    assert text_of(page, "error-adopt-overdue_points") == "“逾期未整改扣分”必须是数字，如 0.5"
    page = refused(county, command, "/admin/rulebook", {**values, "deadline_general": "0"})
    assert text_of(page, "error-adopt-deadline_general") == "整改期限至少为1个工作日"
    page = refused(county, command, "/admin/rulebook", {**values, "escalate_after_rejections": "0"})
    assert text_of(page, "error-adopt-escalate_after_rejections") == "移交纪检的条件不正确"
    yesterday = (county.runtime.today() - timedelta(days=1)).isoformat()
    page = refused(county, command, "/admin/rulebook", {**values, "in_force_from": yesterday})
    assert text_of(page, "error-adopt-in_force_from") == "新版规则的生效日期不能早于发布当天"
    page = refused(county, command, "/admin/rulebook", {**values, "in_force_from": "明天"})
    assert "不是有效日期" in text_of(page, "error-adopt-in_force_from")


def test_holiday_arrangements(command, county: County) -> None:
    data = {"year": "2027", "days_off": "2027-10-01\n2027-10-02", "make_up_workdays": "2027-09-26"}
    assert post(command, "/admin/rulebook/holidays", data).status_code == 303
    recorded = last_event(county, rulebook_id(county.county))
    assert isinstance(recorded, Rulebook.HolidayArrangementRecorded)
    assert recorded.days_off == ["2027-10-01", "2027-10-02"] and recorded.make_up_workdays == ["2027-09-26"]
    assert "2027-10-01、2027-10-02" in command.get("/admin/rulebook").get_data(as_text=True)

    page = refused(county, command, "/admin/rulebook/holidays", {**data, "days_off": "2027-13-01"})
    assert "2027-13-01 不是有效日期" in text_of(page, "error-holidays-days_off")
    assert "2027-13-01" in page.split('name="days_off"')[1]
    page = refused(county, command, "/admin/rulebook/holidays", {**data, "year": "27"})
    assert text_of(page, "error-holidays-year") == "“年度”必须是四位数字，如 2027"
    page = refused(county, command, "/admin/rulebook/holidays", {**data, "days_off": "2026-10-01"})
    assert "放假安排不正确" in text_of(page, "error-holidays-days_off")


# 延期审批
def asked_for_extension(county: County, unit=None, days: int = 30):  # type: ignore[no-untyped-def]
    finding = county.file(unit or county.village_a1)
    county.duban.request_extension(
        finding, county.runtime.today() + timedelta(days=days), "需要补办证明材料", county.actor(county.unit_a1, UNIT)
    )
    county.settle()
    return finding


def test_pending_extensions_are_granted_or_denied_inline(command, county: County) -> None:
    first, second = asked_for_extension(county), asked_for_extension(county, days=40)
    page = command.get("/admin/extensions").get_data(as_text=True)
    assert text_of(page, "extensions").count("需要补办证明材料") == 2

    later = (county.runtime.today() + timedelta(days=45)).isoformat()
    assert post(command, f"/admin/extensions/{first}/grant", {"until": later, "note": "同意"}).status_code == 303
    granted = last_event(county, first)
    assert isinstance(granted, Finding.ExtensionGranted) and granted.deadline == later and granted.note == "同意"

    page = refused(county, command, f"/admin/extensions/{second}/deny", {"reason": " "})
    assert text_of(page, "error-deny-reason") == "必须填写理由"
    page = refused(county, command, f"/admin/extensions/{second}/grant", {"until": "2020-01-01", "note": "早了"})
    assert text_of(page, "error-grant-until") == "延期后的期限必须晚于当前整改期限"
    assert 'value="早了"' in page
    assert post(command, f"/admin/extensions/{second}/deny", {"reason": "理由不充分"}).status_code == 303
    assert isinstance(last_event(county, second), Finding.ExtensionDenied)
    page = command.get("/admin/extensions").get_data(as_text=True)
    assert 'id="no-extensions"' in page
    # Deciding again, when nothing waits, is refused with the reason on the page.
    page = refused(county, command, f"/admin/extensions/{second}/deny", {"reason": "再次"}, status=409)
    assert text_of(page, "error-form") == "没有待审批的延期申请"


# 移交纪检
def test_findings_due_for_escalation_are_escalated_and_listed(command, county: County, clock) -> None:  # type: ignore[no-untyped-def]
    overdue = county.file(county.village_a1)
    also_overdue = county.file(county.village_a2, check_item="危房改造档案")
    deadline = date.fromisoformat(county.duban.finding(overdue).deadline)
    clock.advance(days=(deadline - county.runtime.today()).days + 31)
    waiting_for_notice = county.file(county.town_b, notice=False)
    county.settle()
    page = command.get("/admin/escalations").get_data(as_text=True)
    due = text_of(page, "due")
    assert "逾期" in due and "未整改（规则：30天）" in due
    assert f'data-finding="{overdue}"' in page and f'data-finding="{also_overdue}"' in page
    assert f'data-finding="{waiting_for_notice}"' not in page  # no deadline yet

    page = refused(county, command, f"/admin/escalations/{overdue}", {"reason": ""})
    assert text_of(page, f"error-{overdue}-reason") == "移交纪检必须说明理由"
    assert post(command, f"/admin/escalations/{overdue}", {"reason": "拒不整改"}).status_code == 303
    escalated = last_event(county, overdue)
    assert isinstance(escalated, Finding.EscalatedToDiscipline) and escalated.rule_met.startswith("逾期")
    page = command.get("/admin/escalations").get_data(as_text=True)
    assert str(overdue) not in text_of(page, "due") and str(overdue) in page.split('id="escalated"')[1]
    assert "尚未立案" in text_of(page, "escalated")
    page = refused(county, command, f"/admin/escalations/{overdue}", {"reason": "再次"}, status=409)
    assert "error-form" in page


def test_rejected_twice_is_due_too(command, county: County) -> None:
    finding = county.file(county.village_a1)
    unit, inspector = county.actor(county.unit_a1, UNIT), county.actor(county.inspector, INSPECTOR)
    for _ in range(2):
        county.duban.submit_rectification(finding, "已整改", unit)
        county.duban.reject_rectification(finding, "不到位", inspector)
    county.settle()
    assert "整改2次被退回（规则：2次）" in text_of(command.get("/admin/escalations").get_data(as_text=True), "due")
