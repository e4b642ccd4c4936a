"""Every refusal becomes a 4xx page in Chinese; nothing is ever half-written
(the service saves each command atomically)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from domain.errors import DomainError

log = logging.getLogger("duban.web")

HTTP_MESSAGES = {
    400: "请求无效",
    403: "无权访问该页面",
    404: "找不到该页面",
    405: "不支持该请求方式",
    413: "提交的内容过大",
    500: "服务器内部错误，请稍后重试",
}

TITLES = {400: "请求无效", 403: "无权访问", 404: "找不到", 405: "请求方式错误", 409: "操作冲突", 422: "内容有误"}


def error_page(status: int, message: str) -> tuple[str, int]:
    title = TITLES.get(status, "出错了")
    return render_template("pages/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    from app.api.problems import from_domain_error, from_http_error, is_api_request

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Any:
        if is_api_request():  # the API answers problem+json, also for URLs it does not route
            return from_domain_error(error)
        return error_page(error.status, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if is_api_request():
            return from_http_error(error)
        status = error.code or 500
        return error_page(status, HTTP_MESSAGES.get(status, "请求未能完成"))

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Any:
        if is_api_request():
            return from_http_error(error)
        return error_page(500, HTTP_MESSAGES[500])
