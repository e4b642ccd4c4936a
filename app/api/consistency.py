"""Read-your-writes on demand: the ``Duban-Position`` header.

A command answers the log position of what it wrote in the ``Duban-Position``
response header. Filing a finding answers at once, from the finding it has just
saved, without waiting for the read models (the views a separate projector
process writes). A read that must show that command's effect sends the position
back in the same request header; the read then waits (bounded) until every view
has processed it. A position beyond the end of the log can never be reached and
is refused at once (400); a position the views have not reached within the wait
answers 503 with ``Retry-After``, never a hang and never a silently stale answer.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from app.api import bp
from app.api.problems import problem
from app.identity import runtime

HEADER = "Duban-Position"

#: The request header's OpenAPI parameter (``openapi.py`` adds it to every GET that needs a key).
PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "读己之写：命令响应头 Duban-Position 的值；读取会等到各数据视图处理到该位置（有时限）",
    "schema": {"type": "integer", "minimum": 0},
}
#: The response header, on the operations that announce it (``ANNOUNCED_BY``).
RESPONSE_HEADER = {
    "description": "本次命令写入事件日志的位置；读取时在请求头 Duban-Position 中带上它，即可读到本次结果",
    "schema": {"type": "integer", "minimum": 0},
}
#: Endpoints (the registry's names) whose answers carry the ``Duban-Position`` header.
ANNOUNCED_BY: set[str] = set()
#: Seconds a client is told to wait before asking again when the views are behind.
RETRY_AFTER = 1


def position_header(position: int | None) -> dict[str, str]:
    return {} if position is None else {HEADER: str(position)}


@bp.before_request
def wait_for_requested_position() -> Response | None:
    """Before a GET that names a position: wait until the views have processed it."""
    raw = request.headers.get(HEADER)
    if request.method != "GET" or raw is None or g.get("duban_identity") is None:
        return None  # without a valid key the view itself answers 401, before any waiting
    digits = raw.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):  # a PostgreSQL bigint at most
        return problem(400, "请求头 Duban-Position 无效：应为命令响应头 Duban-Position 中的非负整数", "bad-position")
    position = int(digits)
    rt = runtime()
    watcher: Any = rt.watcher
    if watcher is not None and watcher.reached(position, rt.views):
        return None
    head = rt.duban.position() or 0
    if position > head:
        return problem(
            400, f"请求头 Duban-Position 的位置 {position} 超出了事件日志（目前最新位置为 {head}），请使用命令响应中的值",
            "position-ahead",
        )  # fmt: skip
    if rt.wait_for(position):
        return None
    return problem(
        503, f"数据视图尚未更新到位置 {position}（已等待 {rt.wait_seconds:g} 秒），请稍后重试",
        "views-behind", headers={"Retry-After": str(RETRY_AFTER)},
    )  # fmt: skip
