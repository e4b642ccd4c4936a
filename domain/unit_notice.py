"""A unit's rectification notice (单位整改通知书): one document telling a unit
every finding it (and the units below it) still has to rectify.

Issued by the command office or an inspector; it lists the findings open at
that moment (their ids are recorded in the event, so the document can always
be printed again from the history as it stood). Like every document, its PDF's
hash is registered once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.documents import already_registered, anchor_text, check_anchor, check_hash, verification_code
from domain.errors import InvalidInput
from domain.events import COMMAND, INSPECTOR, SYSTEM, Actor, DubanEvent, local_date


class NothingToRectify(InvalidInput):
    message = "该单位目前没有待整改的问题，无需下发整改通知书"


class UnitNotice(Aggregate):
    class Event(DubanEvent):
        pass

    class Issued(Event, Aggregate.Created):
        county_id: UUID
        unit_id: UUID
        finding_ids: list[UUID]
        issued_on: str

    class DocumentRegistered(Event):
        """The notice's PDF, stored by its content hash (once; never replaced),
        with the audit chain's anchor printed on it (none before anchors)."""

        sha256: str
        size: int
        verification_code: str
        renderer: str
        document_number: str
        title: str
        letterhead: dict[str, str]
        anchor_head: str = ""
        anchor_position: int = 0

        def apply(self, notice: UnitNotice) -> None:
            notice.document_sha256 = self.sha256
            notice.letterhead = dict(self.letterhead)
            notice.document_anchor = anchor_text(self.anchor_head, self.anchor_position)

    def __init__(self, county_id: UUID, unit_id: UUID, finding_ids: list[UUID], issued_on: str):
        self.county_id = county_id
        self.unit_id = unit_id
        self.finding_ids = tuple(finding_ids)
        self.issued_on = issued_on
        self.document_sha256: str | None = None
        self.letterhead: dict[str, str] | None = None
        #: The registered document's anchor ("H@N"), "" if none.
        self.document_anchor = ""

    @classmethod
    def issue(
        cls,
        *,
        county_id: UUID,
        unit_id: UUID,
        finding_ids: tuple[UUID, ...],
        actor: Actor,
        now: datetime,
        notice_id: UUID | None = None,
    ) -> UnitNotice:
        """``finding_ids``: the unit's open findings, as the service found them."""
        actor.require_role(COMMAND, INSPECTOR)
        actor.require_county(county_id)
        findings = list(dict.fromkeys(finding_ids))
        if not findings:
            raise NothingToRectify()
        return cls._create(
            cls.Issued,
            id=notice_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            unit_id=unit_id,
            finding_ids=findings,
            issued_on=local_date(now).isoformat(),
        )

    @property
    def verification_code(self) -> str:
        return verification_code(self.id)

    def register_document(
        self,
        *,
        sha256: str,
        size: int,
        renderer: str,
        document_number: str,
        title: str,
        letterhead: dict[str, str],
        actor: Actor,
        now: datetime,
        anchor_head: str = "",
        anchor_position: int = 0,
    ) -> bool:
        """Record the stored PDF's hash (and the anchor printed on it); False
        (nothing recorded) if this very file is registered already; a different
        file is refused."""
        actor.require_role(SYSTEM, COMMAND, INSPECTOR)
        actor.require_county(self.county_id)
        sha256 = check_hash(sha256, size)
        anchor_head, anchor_position = check_anchor(anchor_head, anchor_position)
        if already_registered(self.document_sha256, sha256):
            return False
        self.trigger_event(
            self.DocumentRegistered,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            sha256=sha256,
            size=size,
            verification_code=self.verification_code,
            renderer=renderer,
            document_number=document_number,
            title=title,
            letterhead=dict(letterhead),
            anchor_head=anchor_head,
            anchor_position=anchor_position,
        )
        return True
