"""What every API module uses: the caller, ids from the URL, JSON answers, and
waiting for the read models after a command."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from flask import Response

from app.identity import current_actor, runtime
from domain.errors import DomainError
from domain.events import Actor


def actor() -> Actor:
    found = current_actor()
    assert found is not None  # @allow let the request through
    return found


def plain(value: Any) -> Any:
    """Anything a view or an event holds, as JSON-able data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(plain(data), ensure_ascii=False), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def replayed(data: Any) -> Response:
    return respond(data, 200, {"Idempotent-Replayed": "true"})


def uuid_or(value: Any, missing: type[DomainError] | DomainError) -> UUID:
    """An id from a URL or a body; anything malformed is the kind's own "not found"."""
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError) as error:
        raise (missing if isinstance(missing, DomainError) else missing()) from error


def settle(position: int | None, views: Iterable[str] | None = None) -> bool:
    """Wait (bounded) until the read models (all, or those named) show a command's effect."""
    return bool(runtime().wait_for(position, views))
