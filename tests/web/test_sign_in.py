"""Signing in with a password, the lock-out, sign-out, password change and reset,
switching between held roles, and the session cookie."""

from __future__ import annotations

import re

import pytest

from app import create_app
from app.auth.passwords import hash_password
from app.demo import COUNTY_NAME, DEMO_PASSWORD, demo_id
from domain.events import SYSTEM_ACTOR
from domain.org import LoginTaken, User
from tests.support import sqlite_env
from tests.web.conftest import act_as, post, text_of, token

PASSWORD = "gaomiaoshan-2026"
WRONG = "登录名或密码不正确"


def give_password(county, user, password=PASSWORD):
    county.duban.set_password(user, hash_password(password), SYSTEM_ACTOR)


def sign_in(client, login, password=PASSWORD, **extra):
    return post(client, "/sign-in", {"login": login, "password": password, **extra})


def signed_in_as(client):
    with client.session_transaction() as session:
        return session.get("user_id"), session.get("role")


def stored_bytes(county) -> bytes:
    notifications = county.duban.recorder.select_notifications(start=None, limit=1_000_000)
    return b"".join(n.state for n in notifications)


def test_a_password_is_kept_as_an_argon2_hash_never_in_clear(client, county):
    act_as(client, county.command, "command")
    response = post(
        client,
        f"/admin/users/{county.unit_a1}/password",
        {"new_password": PASSWORD, "repeat_password": PASSWORD},
    )
    assert response.status_code == 303
    [event] = [e for e in county.duban.history(county.unit_a1) if isinstance(e, User.PasswordSet)]
    assert event.password_hash.startswith("$argon2id$")
    assert event.actor_id == str(county.command) and event.actor_role == "command"
    assert PASSWORD.encode() not in stored_bytes(county)


def test_signing_in_starts_a_permanent_session_and_goes_to_next(client, county):
    give_password(county, county.unit_a1)
    client.get("/sign-in")
    response = sign_in(client, "li", next="/about")
    assert response.status_code == 303 and response.headers["Location"] == "/about"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie
    with client.session_transaction() as session:
        assert session["user_id"] == str(county.unit_a1) and session["role"] == "unit"
        assert session["credential"] == 1
        assert session.permanent
    page = client.get("/about").text
    assert text_of(page, "current-name") == "李队长"
    assert text_of(page, "current-role") == "责任单位"
    assert "退出登录" in page and "修改密码" in page
    [signed] = [e for e in county.duban.history(county.unit_a1) if isinstance(e, User.SignedIn)]
    assert signed.role == "unit" and signed.actor_id == str(county.unit_a1)


def test_the_login_is_not_case_sensitive(client, county):
    give_password(county, county.unit_a1)
    assert sign_in(client, " LI ").status_code == 303


def test_a_wrong_password_and_an_unknown_login_get_the_same_answer(client, county):
    give_password(county, county.unit_a1)
    wrong = sign_in(client, "li", "not-the-password")
    before = county.duban.position()
    unknown = sign_in(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert text_of(wrong.text, "sign-in-error") == text_of(unknown.text, "sign-in-error") == WRONG
    assert 'value="li"' in wrong.text and 'value="nobody"' in unknown.text
    assert county.duban.position() == before  # an unknown login records nothing
    assert signed_in_as(client) == (None, None)
    failed = [e for e in county.duban.history(county.unit_a1) if isinstance(e, User.SignInFailed)]
    assert len(failed) == 1 and failed[0].actor_role == "system"


def test_a_user_without_a_password_cannot_sign_in(client, county):
    response = sign_in(client, "wang", "")
    assert response.status_code == 401 and WRONG in response.text


def test_five_failures_lock_the_account_for_fifteen_minutes(client, county, clock):
    give_password(county, county.unit_a1)
    for _ in range(5):
        assert sign_in(client, "li", "wrong-password").status_code == 401
        clock.advance(seconds=30)
    before = county.duban.position()
    locked = sign_in(client, "li", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "账号已暂时锁定" in text_of(locked.text, "sign-in-error")
    assert sign_in(client, "li", "wrong-again").status_code == 429
    assert county.duban.position() == before  # nothing recorded while locked
    assert signed_in_as(client) == (None, None)
    clock.advance(minutes=14)
    assert sign_in(client, "li", PASSWORD).status_code == 429
    clock.advance(minutes=1)
    assert sign_in(client, "li", PASSWORD).status_code == 303
    assert signed_in_as(client) == (str(county.unit_a1), "unit")


def test_signing_out_ends_the_session(client, county):
    give_password(county, county.unit_a1)
    sign_in(client, "li")
    assert client.get("/").status_code == 200
    response = post(client, "/sign-out")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    assert signed_in_as(client) == (None, None)
    assert client.get("/").status_code == 303


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, county):
    give_password(county, county.unit_a1)
    here, there = app.test_client(), app.test_client()
    sign_in(here, "li")
    sign_in(there, "li")
    new = "a-new-password-1"
    response = post(
        here,
        "/account/password",
        {"current_password": PASSWORD, "new_password": new, "repeat_password": new},
    )
    assert response.status_code == 303
    assert here.get("/").status_code == 200
    assert there.get("/").status_code == 303
    assert sign_in(app.test_client(), "li", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "li", new).status_code == 303


def test_password_change_errors_are_shown_next_to_each_field(client, county):
    give_password(county, county.unit_a1)
    sign_in(client, "li")
    before = county.duban.position()
    response = post(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "repeat_password": "short"},
    )
    assert response.status_code == 422
    assert text_of(response.text, "error-new_password") == "密码至少需要8个字符"
    response = post(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": "long-enough-1", "repeat_password": "long-enough-2"},
    )
    assert text_of(response.text, "error-repeat_password") == "两次输入的新密码不一致"
    assert county.duban.position() == before
    response = post(
        client,
        "/account/password",
        {"current_password": "not-it", "new_password": "long-enough-1", "repeat_password": "long-enough-1"},
    )
    assert text_of(response.text, "error-current_password") == "当前密码不正确"
    assert [type(e) for e in county.duban.history(county.unit_a1)][-1] is User.SignInFailed


def test_a_person_with_two_roles_chooses_one_and_switches_without_signing_in_again(client, county):
    give_password(county, county.command)
    response = sign_in(client, "zhao", next="/about")
    assert response.status_code == 200
    assert "选择角色" in response.text and signed_in_as(client) == (None, None)
    response = post(client, "/sign-in/role", {"role": "inspector", "next": "/about"})
    assert response.status_code == 303 and response.headers["Location"] == "/about"
    assert signed_in_as(client) == (str(county.command), "inspector")

    page = client.get("/account/roles").text
    assert "指挥部办公室" in page and 'id="switch-role"' in page
    response = post(client, "/account/roles", {"role": "command"})
    assert response.status_code == 303
    assert text_of(client.get("/about").text, "current-role") == "指挥部办公室"
    refused = post(client, "/account/roles", {"role": "discipline"})
    assert refused.status_code == 422
    assert signed_in_as(client) == (str(county.command), "command")


def test_the_role_may_be_chosen_on_the_sign_in_form_itself(client, county):
    give_password(county, county.command)
    assert sign_in(client, "zhao", role="command").status_code == 303
    assert signed_in_as(client) == (str(county.command), "command")


def test_the_command_office_resets_a_password_and_the_users_sessions_end(app, county):
    give_password(county, county.unit_a1)
    user = app.test_client()
    sign_in(user, "li")
    office = app.test_client()
    act_as(office, county.command, "command")
    page = office.get(f"/admin/users/{county.unit_a1}/password")
    assert page.status_code == 200 and "李队长" in page.text
    new = "reset-by-office"
    response = post(office, f"/admin/users/{county.unit_a1}/password", {"new_password": new, "repeat_password": new})
    assert response.status_code == 303
    assert user.get("/").status_code == 303
    assert sign_in(app.test_client(), "li", new).status_code == 303
    assert office.get("/").status_code == 200


def test_only_the_county_office_resets_passwords(client, county):
    url = f"/admin/users/{county.unit_a1}/password"
    new = {"new_password": "reset-by-someone", "repeat_password": "reset-by-someone"}
    before = county.duban.position()
    act_as(client, county.inspector, "inspector")
    assert post(client, url, new).status_code == 403
    act_as(client, county.command, "inspector")
    assert post(client, url, new).status_code == 403
    # another county's office does not even see the user
    other = county.duban.register_unit(name="佳县", kind="county", parent_id=None).id
    office = county.duban.register_unit(name="佳县指挥部办公室", kind="office", parent_id=other).id
    foreign = county.duban.register_user(unit_id=office, name="外县主任", login="waixian", roles=["command"]).id
    before = county.duban.position()
    act_as(client, foreign, "command")
    assert client.get(url).status_code == 404
    assert post(client, url, new).status_code == 404
    assert post(client, "/admin/users/not-a-user/password", new).status_code == 404
    assert post(client, f"/admin/users/{county.village_a1}/password", new).status_code == 404  # a unit, not a user
    assert county.duban.position() == before


def test_next_never_leaves_the_site(client, county):
    give_password(county, county.inspector)
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        response = sign_in(client, "wang", next=target)
        assert response.status_code == 303 and response.headers["Location"] == "/"


def test_the_sign_in_form_needs_its_token(client, county):
    give_password(county, county.unit_a1)
    client.get("/sign-in")
    before = county.duban.position()
    missing = client.post("/sign-in", data={"login": "li", "password": PASSWORD})
    assert missing.status_code == 400 and "页面已过期" in missing.text
    token(client)
    wrong = client.post("/sign-in", data={"login": "li", "password": "x", "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert county.duban.position() == before
    assert signed_in_as(client) == (None, None)
    html = client.get("/sign-in").text
    assert re.search(r'name="csrf_token" value="[^"]+"', html)


def test_the_session_cookie_is_secure_when_asked(app, client, county, monkeypatch, tmp_path):
    monkeypatch.setenv("DUBAN_SECURE_COOKIES", "1")
    configured = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "DUBAN_STORE_ENV": sqlite_env(tmp_path), "DUBAN_EMBEDDED_PROJECTOR": False}
    )
    configured.extensions["duban"].close()
    assert configured.config["SESSION_COOKIE_SECURE"] is True
    app.config["SESSION_COOKIE_SECURE"] = True
    give_password(county, county.unit_a1)
    response = sign_in(client, "li")
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logins_are_unique_whatever_the_case(county):
    before = county.duban.position()
    with pytest.raises(LoginTaken):
        county.duban.register_user(unit_id=county.village_a2, name="另一个李", login="LI", roles=["unit"])
    assert county.duban.position() == before


def test_the_demo_logins_are_shown_only_with_the_demo_county(client, county):
    assert 'id="demo-logins"' not in client.get("/sign-in").text
    demo = county.duban.register_unit(
        name=COUNTY_NAME, kind="county", parent_id=None, unit_id=demo_id(f"unit:{COUNTY_NAME}")
    ).id
    office = county.duban.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=demo).id
    county.duban.register_user(unit_id=office, name="高建军", login="gaojianjun", roles=["inspector"])
    html = client.get("/sign-in").text
    hint = text_of(html, "demo-logins")
    assert DEMO_PASSWORD in hint and "gaojianjun" in hint and "督查员" in hint and "wang" not in hint
    client.application.extensions["duban"].embedded = False  # as in the services mode
    assert 'id="demo-logins"' not in client.get("/sign-in").text


def test_set_password_from_the_shell(app, county):
    result = app.test_cli_runner().invoke(args=["set-password", "zhao", "--password", "from-the-shell"])
    assert result.exit_code == 0, result.output
    assert sign_in(app.test_client(), "zhao", "from-the-shell", role="command").status_code == 303
    refused = app.test_cli_runner().invoke(args=["set-password", "nobody", "--password", "from-the-shell"])
    assert refused.exit_code == 1


def test_the_demo_users_sign_in_with_the_printed_password(tmp_path):
    from datetime import datetime, timezone

    from app.demo import load_demo
    from domain.service import TravellingClock

    now = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)
    env = sqlite_env(tmp_path)
    summary = load_demo(env, now)
    assert summary is not None and DEMO_PASSWORD in summary.describe()
    demo = create_app(
        {"TESTING": True, "SECRET_KEY": "test", "DUBAN_STORE_ENV": env, "DUBAN_CLOCK": TravellingClock(now),
         "DUBAN_EMBEDDED_POLICIES": False, "PROJECTION_WAIT_SECONDS": 30.0}
    )  # fmt: skip
    try:
        html = demo.test_client().get("/sign-in").text
        shown = re.findall(r"<td><code>(\w+)</code></td>", html[html.index('id="demo-logins"') :])
        assert len(shown) == 6  # one per role, the city office (上级指挥部) included
        printed = [(role, login) for role, (_, login) in summary.users_by_role.items()]
        for role, login in printed + [("", login) for login in shown]:
            client = demo.test_client()
            response = sign_in(client, login, DEMO_PASSWORD, role=role)
            assert response.status_code == 303, (role, login)
            assert signed_in_as(client)[1] == (role or signed_in_as(client)[1])
    finally:
        demo.extensions["duban"].close()
