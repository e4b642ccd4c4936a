"""What an identity may see: a unit its own unit and the units below it, a cadre
the findings naming them, the inspectors, the command office and the discipline
office the whole county."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import NotYourUnit
from domain.events import CADRE, UNIT, Actor
from domain.service import UnknownFinding
from projections.ledger_query import LedgerQuery


class NotNamedCadre(NotYourUnit):
    message = "该问题未将您列为帮扶责任人，无权查看"


@dataclass(frozen=True)
class Scope:
    county_id: str
    unit_scope: tuple[str, ...] | None = None
    cadre_id: str | None = None


def scope_for(actor: Actor, query: LedgerQuery) -> Scope:
    county = str(actor.county_id)
    if actor.role == UNIT:
        return Scope(county, unit_scope=query.subtree(str(actor.unit_id)))
    if actor.role == CADRE:
        return Scope(county, cadre_id=actor.user_id)
    return Scope(county)


def is_visible(actor: Actor, row: dict[str, Any], query: LedgerQuery) -> bool:
    if str(row["county_id"]) != str(actor.county_id):
        return False
    if actor.role == UNIT and row["unit_id"] not in query.subtree(str(actor.unit_id)):
        return False
    return not (actor.role == CADRE and actor.user_id not in json.loads(row["cadre_ids"]))


def require_visible(actor: Actor, row: dict[str, Any], query: LedgerQuery) -> None:
    """A finding outside the identity's scope is not found (404), exactly like a
    forged id: the answer must not tell a unit that another unit's finding exists."""
    if not is_visible(actor, row, query):
        raise UnknownFinding()


def parse_id(value: str) -> UUID:
    """A finding id from a URL; anything malformed is simply not found (404)."""
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError) as error:
        raise UnknownFinding() from error
