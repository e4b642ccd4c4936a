"""A per-session token every form carries: a page from another site cannot make
the browser post a command in the user's name."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session

from domain.errors import DomainError

FIELD = "csrf_token"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class FormExpired(DomainError):
    status = 400
    message = "页面已过期或表单无效，请刷新页面后重试"


def csrf_token() -> str:
    token = session.get(FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[FIELD] = token
    return token


def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    if request.path.startswith("/api/"):
        return  # the API reads no cookie, only its bearer key: a forged cross-site post carries no authority
    expected = session.get(FIELD)
    given = request.form.get(FIELD, "")
    if not expected or not hmac.compare_digest(str(expected), str(given)):
        raise FormExpired()


def init_csrf(app: Flask) -> None:
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
