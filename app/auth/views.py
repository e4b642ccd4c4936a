"""Sign-in, sign-out, password change and reset, and switching between held roles."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for

from app.access import PEOPLE, allow, anyone_signed_in, public
from app.auth import bp
from app.auth.demo_hint import demo_logins
from app.auth.logins import user_id_for_login
from app.auth.passwords import check_new_password, hash_password, verify_password
from app.identity import current_identity, home_for, safe_next
from domain.errors import DomainError
from domain.events import COMMAND, ROLES
from domain.org import AccountLocked, User

#: The one answer for an unknown login and a wrong password.
WRONG_LOGIN_OR_PASSWORD = "登录名或密码不正确"
#: How long a verified password waits for the role choice.
ROLE_CHOICE_SECONDS = 300


def runtime() -> Any:
    return current_app.extensions["duban"]


def _people_roles(user: User) -> list[str]:
    return [role for role in PEOPLE if role in user.roles]


def _sign_in_page(login: str = "", error: str | None = None, status: int = 200) -> Any:
    page = render_template(
        "pages/sign_in.html",
        login=login,
        error=error,
        next=safe_next(request.values.get("next")),
        demo=demo_logins(),
    )
    return page, status


def _role_page(user: User, error: str | None = None, status: int = 200) -> Any:
    page = render_template(
        "pages/sign_in_role.html",
        person=user,
        roles=_people_roles(user),
        next=safe_next(request.values.get("next")),
        error=error,
    )
    return page, status


def _complete(user: User, role: str) -> Any:
    """The password was right and the role is held: record it and start a new session."""
    try:
        runtime().duban.record_sign_in(user.id, True, user.acting_as(role), role)
    except AccountLocked as locked:
        return _sign_in_page(user.login, locked.message, locked.status)
    target = safe_next(request.form.get("next"))
    session.clear()  # a new session: nothing of the signed-out one (nor its form token) survives
    session.permanent = True
    session["user_id"] = str(user.id)
    session["role"] = role
    session["credential"] = user.credential_version
    flash(f"登录成功：{user.name}（{ROLES[role]}）", "success")
    return redirect(target or home_for(role), 303)


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Any:
    if request.method == "POST":
        return _check_password()
    return _sign_in_page()


def _check_password() -> Any:
    login = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    duban = runtime().duban
    user_id = user_id_for_login(runtime(), login)
    if user_id is None:
        verify_password("", password)  # as long as a real check: the answer tells nothing
        return _sign_in_page(login, WRONG_LOGIN_OR_PASSWORD, 401)
    user = duban.user(user_id)
    until = user.locked_until(duban.clock())
    if until is not None:
        return _sign_in_page(login, AccountLocked(until).message, 429)
    if not verify_password(user.password_hash, password):
        try:
            duban.record_sign_in(user.id, False)
        except AccountLocked as locked:
            return _sign_in_page(login, locked.message, locked.status)
        return _sign_in_page(login, WRONG_LOGIN_OR_PASSWORD, 401)
    roles = _people_roles(user)
    if not roles:
        return _sign_in_page(login, "该账号目前没有任何角色，请联系指挥部办公室", 403)
    chosen = request.form.get("role", "")
    if chosen in roles or len(roles) == 1:
        return _complete(user, chosen if chosen in roles else roles[0])
    # Several roles: the password is verified; the role is chosen on a second step.
    session.clear()
    session["pending_user"] = str(user.id)
    session["pending_credential"] = user.credential_version
    session["pending_since"] = time.time()
    return _role_page(user)


@bp.post("/sign-in/role")
@public
def sign_in_role() -> Any:
    pending, since = session.get("pending_user"), float(session.get("pending_since") or 0)
    if not pending or time.time() - since > ROLE_CHOICE_SECONDS:
        session.clear()
        return _sign_in_page(error="登录已超时，请重新登录", status=401)
    user = runtime().duban.user(UUID(str(pending)))
    if session.get("pending_credential") != user.credential_version:
        session.clear()
        return _sign_in_page(error="登录已超时，请重新登录", status=401)
    role = request.form.get("role", "")
    if role not in _people_roles(user):
        return _role_page(user, "请选择一个角色", 422)
    return _complete(user, role)


@bp.post("/sign-out")
@public
def sign_out() -> Any:
    session.clear()
    flash("已退出登录", "success")
    return redirect(url_for("auth.sign_in"), 303)


def _new_password_errors(new: str, repeat: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        check_new_password(new)
    except DomainError as error:
        errors["new_password"] = error.message
    if not errors and new != repeat:
        errors["repeat_password"] = "两次输入的新密码不一致"
    return errors


@bp.route("/account/password", methods=["GET", "POST"])
@anyone_signed_in
def change_password() -> Any:
    identity = current_identity()
    assert identity is not None
    duban = runtime().duban
    user = duban.user(UUID(identity.actor.user_id))
    errors: dict[str, str] = {}
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new, repeat = request.form.get("new_password", ""), request.form.get("repeat_password", "")
        until = user.locked_until(duban.clock())
        if until is not None:
            errors["current_password"] = AccountLocked(until).message
        elif not verify_password(user.password_hash, current):
            # A wrong current password counts as a failed sign-in: a left-open
            # session must not become a way to guess the password.
            try:
                duban.record_sign_in(user.id, False)
            except AccountLocked as locked:
                errors["current_password"] = locked.message
            else:
                errors["current_password"] = "当前密码不正确"
        errors |= _new_password_errors(new, repeat)
        if not errors:
            duban.set_password(user.id, hash_password(new), identity.actor)
            # This session keeps going on the new credential; every other one ends.
            session["credential"] = duban.user(user.id).credential_version
            flash("密码已修改，其他设备上的登录已失效", "success")
            return redirect(url_for("auth.change_password"), 303)
    return render_template("pages/change_password.html", errors=errors), (422 if errors else 200)


@bp.route("/account/roles", methods=["GET", "POST"])
@anyone_signed_in
def roles() -> Any:
    identity = current_identity()
    assert identity is not None
    user = runtime().duban.user(UUID(identity.actor.user_id))
    held = _people_roles(user)
    error = None
    if request.method == "POST":
        role = request.form.get("role", "")
        if role in held:
            session["role"] = role
            flash(f"已切换为{ROLES[role]}角色", "success")
            return redirect(safe_next(request.form.get("next")) or home_for(role), 303)
        error = "您没有该角色，请从下列角色中选择"
    page = render_template("pages/account_roles.html", roles=held, error=error, next=safe_next(request.values.get("next")))
    return page, (422 if error else 200)


@bp.route("/admin/users/<user_id>/password", methods=["GET", "POST"])
@allow(COMMAND)
def reset_password(user_id: str) -> Any:
    identity = current_identity()
    assert identity is not None
    duban = runtime().duban
    try:
        user = duban.user(UUID(user_id))
    except (ValueError, DomainError):
        abort(404)
    if user.county_id != identity.actor.county_id:
        abort(404)  # another county's user is not shown to exist
    errors: dict[str, str] = {}
    if request.method == "POST":
        new, repeat = request.form.get("new_password", ""), request.form.get("repeat_password", "")
        errors = _new_password_errors(new, repeat)
        if not errors:
            duban.set_password(user.id, hash_password(new), identity.actor)
            if str(user.id) == identity.actor.user_id:  # the office resetting its own: stay signed in
                session["credential"] = duban.user(user.id).credential_version
            flash(f"已为{user.name}设置新密码，其原有登录均已失效", "success")
            return redirect(url_for("auth.reset_password", user_id=str(user.id)), 303)
    page = render_template("pages/reset_password.html", person=user, errors=errors)
    return page, (422 if errors else 200)
