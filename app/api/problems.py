"""Every error under /api/ is ``application/problem+json`` (RFC 9457) with a
Chinese ``detail``: never an HTML page, whatever raised it."""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from domain.errors import DomainError

log = logging.getLogger("duban.api")

MEDIA_TYPE = "application/problem+json"

TITLES = {
    400: "请求无效",
    401: "未认证",
    403: "无权操作",
    404: "找不到",
    405: "请求方式错误",
    409: "操作冲突",
    413: "内容过大",
    415: "不支持的内容类型",
    422: "内容有误",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "暂时无法完成",
}

HTTP_DETAILS = {
    400: "请求无效",
    401: "请在 Authorization 头中提供有效的接口密钥（Bearer）",
    403: "无权进行此操作",
    404: "找不到该资源",
    405: "该地址不支持此请求方式",
    413: "提交的内容过大",
    415: "请求体必须是 JSON（Content-Type: application/json）",
    429: "请求过于频繁，请稍后重试",
    500: "服务器内部错误，请稍后重试",
}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:duban:problem:{kind}" if kind else "about:blank",
        "title": TITLES.get(status, "请求未能完成"),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="duban"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_domain_error(error: DomainError) -> Response:
    return problem(error.status, error.message, _kebab(type(error).__name__))


def from_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    if status >= 500:
        original = getattr(error, "original_exception", None)
        if original is not None:
            log.error("API request failed", exc_info=original)
    detail = HTTP_DETAILS.get(status, "请求未能完成")
    if status == 413:
        from app.body_limits import limit_of

        limit = limit_of(request.endpoint)
        detail = limit.message if limit is not None else detail
    return problem(status, detail, headers=headers)


def is_api_request() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")
