"""The demo identity switcher, and what happens without an identity."""

from __future__ import annotations

from tests.web.conftest import act_as, post, text_of


def test_identity_page_lists_users_by_unit_with_roles_in_chinese(client, county):
    html = client.get("/identity").text
    assert "切换身份" in html
    assert "演示用身份切换，正式登录见后续版本" in html
    office = html.index("县脱贫攻坚指挥部办公室")
    assert office < html.index("王督查") < html.index("赵主任")
    assert html.index("高庙山村") < html.index("李队长")
    for role in ("督查员", "责任单位", "帮扶责任人", "指挥部办公室", "纪检监察"):
        assert role in html


def test_switching_identity_shows_it_in_the_header(client, county):
    response = post(
        client, "/identity", {"user_id": str(county.unit_a1), "role": "unit", "next": "/about"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert response.request.path == "/about"
    assert text_of(response.text, "current-name") == "李队长"
    assert text_of(response.text, "current-unit") == "高庙山村"
    assert text_of(response.text, "current-role") == "责任单位"


def test_a_role_the_user_does_not_hold_is_refused(client, county):
    response = post(client, "/identity", {"user_id": str(county.unit_a1), "role": "command"})
    assert response.status_code == 409
    assert "该用户没有“指挥部办公室”角色" in response.text
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_malformed_user_is_refused_in_chinese(client, county):
    response = post(client, "/identity", {"user_id": "nobody", "role": "unit"})
    assert response.status_code == 422
    assert "请选择一个用户" in response.text


def test_next_never_leaves_the_site(client, county):
    response = post(client, "/identity", {"user_id": str(county.inspector), "role": "inspector", "next": "//evil.example"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_pages_without_identity_redirect_to_the_switcher(client, county):
    response = client.get("/?status=open")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/identity?next=")
    page = client.get(response.headers["Location"]).text
    assert "请先登录" in page


def test_commands_without_identity_redirect_and_record_nothing(client, county):
    finding = county.file(county.village_a1)
    before = county.duban.position()
    response = post(client, f"/findings/{finding}/acknowledge")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/identity")
    assert county.duban.position() == before


def test_a_post_without_the_form_token_is_refused(client, county):
    finding = county.file(county.village_a1)
    act_as(client, county.unit_a1, "unit")
    before = county.duban.position()
    response = client.post(f"/findings/{finding}/acknowledge", data={})
    assert response.status_code == 400
    assert "页面已过期" in response.text
    assert county.duban.position() == before


def test_a_revoked_role_stops_working_at_once(client, county):
    act_as(client, county.unit_a1, "unit")
    assert client.get("/").status_code == 200
    county.duban.revoke_role(county.unit_a1, "unit", county.actor(county.command, "command"))
    assert client.get("/").status_code == 303
