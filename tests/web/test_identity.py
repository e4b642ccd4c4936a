"""Who is acting: the session resolved through the domain on every request, and
what happens without a valid one."""

from __future__ import annotations

from app.auth.passwords import hash_password
from domain.events import SYSTEM_ACTOR
from tests.web.conftest import act_as, post, text_of


def test_the_header_shows_who_is_signed_in(client, county):
    act_as(client, county.unit_a1, "unit")
    html = client.get("/about").text
    assert text_of(html, "current-name") == "李队长"
    assert text_of(html, "current-unit") == "高庙山村"
    assert text_of(html, "current-role") == "责任单位"
    assert 'id="switch-role"' not in html  # one role only


def test_the_identity_switcher_is_gone(client, county):
    assert client.get("/identity").status_code == 404
    assert "切换身份" not in client.get("/sign-in").text


def test_pages_without_a_session_redirect_to_sign_in(client, county):
    response = client.get("/?status=open")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in?next=")
    page = client.get(response.headers["Location"]).text
    assert "请先登录" in page
    assert 'name="next" value="/?status=open"' in page


def test_commands_without_a_session_redirect_and_record_nothing(client, county):
    finding = county.file(county.village_a1)
    before = county.duban.position()
    response = post(client, f"/findings/{finding}/acknowledge")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")
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


def test_a_session_from_before_a_password_change_stops_working(client, county):
    act_as(client, county.unit_a1, "unit")
    assert client.get("/").status_code == 200
    county.duban.set_password(county.unit_a1, hash_password("a-new-password"), SYSTEM_ACTOR)
    assert client.get("/").status_code == 303
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_a_session_without_its_credential_is_refused(client, county):
    with client.session_transaction() as session:
        session["user_id"] = str(county.unit_a1)
        session["role"] = "unit"
    assert client.get("/").status_code == 303


def test_a_forged_user_in_the_session_is_refused(client, county):
    with client.session_transaction() as session:
        session.update(user_id="not-a-uuid", role="unit", credential=0)
    assert client.get("/").status_code == 303
