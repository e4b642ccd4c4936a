"""The JSON API under /api/v1 (docs/API.md).

Callers authenticate with ``Authorization: Bearer <key>`` only (app/tokens.py);
the cookie session is never read here, so a page open in a browser lends the
API no authority. The key's user, in the key's role, becomes the request's
identity, and the same ``@allow`` rules and scoping as the pages apply. Every
error is ``application/problem+json`` (app/api/problems.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, g, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from app.api.problems import from_domain_error, from_http_error, problem
from app.api.registry import Registry
from app.identity import identity_of, runtime
from domain.errors import DomainError

PREFIX = "/api/v1"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
api = Registry(bp)


class InvalidApiKey(DomainError):
    status = 401
    message = "接口密钥无效、已吊销或其角色已被收回"


@bp.before_request
def authenticate() -> None:
    """Only the bearer key counts; without one the request has no identity."""
    from app.tokens import actor_for_authorization

    g.duban_identity = None
    header = request.headers.get("Authorization")
    if header is None:
        return
    duban = runtime().duban
    actor = actor_for_authorization(duban, header)
    if actor is None:
        raise InvalidApiKey()
    g.duban_identity = identity_of(actor)


@bp.errorhandler(DomainError)
def domain_problem(error: DomainError) -> Any:
    from app.access import SignInRequired

    if isinstance(error, SignInRequired):
        return problem(401, "请在 Authorization 请求头中提供接口密钥（Bearer <密钥>），接口不接受网页登录状态",
                       "api-key-required")
    return from_domain_error(error)


@bp.errorhandler(HTTPException)
@bp.errorhandler(RequestEntityTooLarge)  # the app's own handler for it would otherwise win (more specific class)
def http_problem(error: HTTPException) -> Any:
    return from_http_error(error)


@bp.errorhandler(InternalServerError)
def server_problem(error: InternalServerError) -> Any:
    return from_http_error(error)


def register_api(app: Flask) -> None:
    # Each module adds its operations to ``api`` (and so to ``bp``) when imported.
    from app.api import (  # noqa: F401
        cases,
        circulars,
        evidence,
        findings,
        inbox,
        inspections,
        openapi,
        reads,
        region,
        rulebook,
        units,
        users,
    )

    app.register_blueprint(bp)


__all__ = ["api", "bp", "problem", "register_api"]
