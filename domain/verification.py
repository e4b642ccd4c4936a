"""History verifications (历史核验): each run of ``verify-history`` or of the
discipline office's check, and each anchor checked, is recorded as a fact of its
own, with who ran it and what it found. The check itself reads the store (see
projections/audit_verify.py); the domain only records the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput
from domain.events import DISCIPLINE, SYSTEM, Actor, DubanEvent

#: What a run can find, as the office reads it.
OUTCOMES = {
    "intact": "历史完整",
    "broken": "发现篡改",
    "unchecked": "未比对（审计链不可用）",
    "holds": "存证相符",
    "fails": "存证不符",
    "short": "事件库未达存证位置",
}
#: What was checked.
CHECKS = {"full": "全量核验", "anchor": "存证核验"}
#: Outcomes that find nothing wrong.
GOOD = frozenset({"intact", "holds", "unchecked"})


class UnknownOutcome(InvalidInput):
    message = "未知的核验结果"


class Verification(Aggregate):
    class Event(DubanEvent):
        pass

    class HistoryVerified(Event, Aggregate.Created):
        """The history was checked against the audit chain (``check`` = "full") or
        against an anchor from paper (``check`` = "anchor"), with this result."""

        county_id: UUID | None
        check: str
        outcome: str
        #: The last position found intact (full) or the last at or before the anchor's.
        position: int
        head: str
        events: int
        chained_up_to: int
        unchained: int
        break_kind: str
        break_position: int
        #: The first break's events and where they went (see audit_verify.Break), as plain values.
        break_detail: dict[str, Any]
        anchor: str
        #: The result as it was reported to the person who ran the check.
        summary: str

    def __init__(self, **_: Any):
        pass

    @classmethod
    def record(cls, *, run_id: UUID, actor: Actor, now: datetime, **result: Any) -> Verification:
        actor.require_role(DISCIPLINE, SYSTEM)
        if result.get("check") not in CHECKS or result.get("outcome") not in OUTCOMES:
            raise UnknownOutcome()
        return cls._create(
            cls.HistoryVerified,
            id=run_id,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=actor.county_id,
            **result,
        )
