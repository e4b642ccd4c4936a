"""Idempotency keys, the event-sourced way: a creating request with an
``Idempotency-Key`` names its new aggregate ``uuid5(NAMESPACE, "<user>:<endpoint>:<key>")``.
A retry with the same key finds that aggregate already recorded and answers it
(200, ``Idempotent-Replayed: true``) without recording anything; the same key
sent with a different body is refused (422). Nothing is kept beside the events:
the aggregate's own history is the record of the first request."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid5

from flask import Response, request

from app.api.registry import Param
from domain.errors import ConcurrentChange, DomainError
from domain.events import Actor

#: Fixed for ever: changing it would turn every retry into a new request.
NAMESPACE = UUID("5f0c7a52-6d1e-4b59-9a43-3c1f2b7d0e61")
HEADER = "Idempotency-Key"
_VALID = re.compile(r"^[\x21-\x7e]{1,200}$")

#: How each creating operation publishes the header.
PARAM = Param(
    HEADER, {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
    "幂等键：以同一键重试不会重复创建", where="header",
)  # fmt: skip


class BadIdempotencyKey(DomainError):
    status = 400
    message = "Idempotency-Key 须为 1 到 200 个可见 ASCII 字符"


class IdempotencyKeyReused(DomainError):
    status = 422
    message = "该 Idempotency-Key 已用于内容不同的另一次请求，请换一个新的键"


def key_id(actor: Actor, endpoint: str) -> UUID | None:
    """The id the new aggregate takes, or None without a key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _VALID.fullmatch(key):
        raise BadIdempotencyKey()
    return uuid5(NAMESPACE, f"{actor.user_id}:{endpoint}:{key}")


def create_once(
    new_id: UUID | None,
    load: Callable[[UUID], Any],
    same_request: Callable[[Any], bool],
    create: Callable[[UUID | None], Any],
) -> tuple[UUID, Any, bool]:
    """Create (returning the aggregate id, the command's result, False) or, when
    the key's aggregate exists, replay it (its id, None, True)."""

    def existing() -> Any:
        if new_id is None:
            return None
        try:
            return load(new_id)
        except DomainError:
            return None

    def replay(aggregate: Any) -> tuple[UUID, Any, bool]:
        if not same_request(aggregate):
            raise IdempotencyKeyReused()
        return aggregate.id, None, True

    found = existing()
    if found is not None:
        return replay(found)
    try:
        result = create(new_id)
    except ConcurrentChange:
        # Two retries racing: the other one saved first.
        found = existing()
        if found is None:
            raise
        return replay(found)
    return result.id, result, False


def created_or_replayed(
    new_id: UUID | None,
    load: Callable[[UUID], Any],
    same_request: Callable[[Any], bool],
    create: Callable[[UUID | None], Any],
    shown: Callable[[UUID], Any],
) -> Response:
    """The answer to a creating request: the new resource (201) once the views
    have it, or, for a retry of the same key, the resource it created (200)."""
    from app.api.common import replayed, respond, settle

    aggregate_id, result, again = create_once(new_id, load, same_request, create)
    if again:
        return replayed(shown(aggregate_id))
    settle(result.position)
    return respond(shown(aggregate_id), 201)


def same_text(a: Any, b: Any) -> bool:
    return str(a or "").strip() == str(b or "").strip()


def same_ids(stored: Any, given: Any) -> bool:
    return [str(x) for x in (stored or ())] == [str(UUID(str(x))) for x in dict.fromkeys(given or ())]
