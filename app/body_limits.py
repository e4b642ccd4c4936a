"""How large a request body each route accepts (请求大小限制).

The app accepts 2 MB (``MAX_CONTENT_LENGTH``); a route that takes uploads
declares its own limit with ``@body_limit(bytes, message)`` under its access
rule. The limit is set on the request before anything reads the body (the form
token check does), and a body over it answers 413 with the route's own Chinese
message; nothing is recorded, since the view never runs.

``init_body_limits(app)`` must run before ``init_csrf(app)``: before-request
functions run in the order they were registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

F = TypeVar("F", bound=Callable[..., Any])

LIMIT_ATTRIBUTE = "duban_body_limit"
DEFAULT_MESSAGE = "提交的内容过大"


@dataclass(frozen=True)
class BodyLimit:
    nbytes: int
    message: str


def body_limit(nbytes: int, message: str) -> Callable[[F], F]:
    """This view accepts a body of up to ``nbytes``; a larger one is refused with ``message``."""

    def decorate(view: F) -> F:
        setattr(view, LIMIT_ATTRIBUTE, BodyLimit(nbytes, message))
        return view

    return decorate


def limit_of(endpoint: str | None) -> BodyLimit | None:
    view = current_app.view_functions.get(endpoint or "")
    return cast("BodyLimit | None", getattr(view, LIMIT_ATTRIBUTE, None))


def _apply_limit() -> None:
    limit = limit_of(request.endpoint)
    if limit is not None:
        request.max_content_length = limit.nbytes


def init_body_limits(app: Flask) -> None:
    app.before_request(_apply_limit)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error: RequestEntityTooLarge) -> Any:
        from app.errors import error_page

        limit = limit_of(request.endpoint)
        return error_page(413, limit.message if limit else DEFAULT_MESSAGE)
