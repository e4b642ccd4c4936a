"""Cursor pagination: ``?limit=`` (1–200, 50 by default) and ``?cursor=``, the
opaque urlsafe-base64 JSON of the last item's sort key. The next page starts
strictly after that key, so an item inserted meanwhile never repeats or hides
one already listed."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import request

from app.api.registry import BadQuery, Param

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

PARAMS = (
    Param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}, "每页条数（1–200，默认50）"),
    Param("cursor", {"type": "string"}, "上一页返回的 next_cursor"),
)


class BadLimit(BadQuery):
    message = f"limit 必须是 1 到 {MAX_LIMIT} 之间的整数"


class BadCursor(BadQuery):
    message = "分页游标无效，请使用上一页返回的 next_cursor"


def encode(key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str, width: int | None = None) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor() from error
    if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
        raise BadCursor()
    if width is not None and len(key) != width:
        raise BadCursor()
    if any("\x00" in k for k in key):
        raise BadCursor()
    return key


def limit_arg() -> int:
    value = request.args.get("limit")
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError as error:
        raise BadLimit() from error
    if not 1 <= limit <= MAX_LIMIT:
        raise BadLimit()
    return limit


def cursor_arg(width: int | None = None) -> list[str] | None:
    value = request.args.get("cursor")
    if value is None or value == "":
        return None
    return decode(value, width)


def paginate(
    items: Iterable[dict[str, Any]],
    key: Callable[[dict[str, Any]], Sequence[str]],
    *,
    descending: bool = False,
    render: Callable[[dict[str, Any]], Any] = lambda item: item,
) -> dict[str, Any]:
    """A page of an in-memory list ordered by ``key`` (strings; ties must not exist)."""
    limit = limit_arg()
    ordered = sorted(items, key=lambda i: list(key(i)), reverse=descending)
    after = cursor_arg()
    if after is not None:
        if descending:
            ordered = [i for i in ordered if list(key(i)) < after]
        else:
            ordered = [i for i in ordered if list(key(i)) > after]
    page = ordered[:limit]
    more = len(ordered) > limit
    return {
        "items": [render(i) for i in page],
        "next_cursor": encode(key(page[-1])) if more and page else None,
    }
