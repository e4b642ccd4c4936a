"""County-wide circulars (通报): drafted, issued under a document number, revoked.

Issuing a circular of criticism records the deductions the rulebook prescribes
for every unit it lists, on the circular itself.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from domain.documents import (
    DocumentNotIssued,
    already_registered,
    anchor_text,
    check_anchor,
    check_hash,
    verification_code,
)
from domain.errors import DomainError, InvalidInput, MissingField, ReasonRequired
from domain.events import COMMAND, SYSTEM, Actor, DubanEvent, local_date
from domain.rules.deductions import CIRCULAR, RULE_LABELS, period_of, points_for
from domain.rules.rulebook import RulebookVersion

CRITICISM = "criticism"
RANKING = "ranking"
CIRCULAR_KINDS = {CRITICISM: "通报批评", RANKING: "考评排名通报"}

DRAFT = "draft"
ISSUED = "issued"
REVOKED = "revoked"
CIRCULAR_STATUSES = {DRAFT: "草稿", ISSUED: "已印发", REVOKED: "已撤销"}


class UnknownCircularKind(InvalidInput):
    message = "未知的通报类型"


class CircularNotDraft(DomainError):
    message = "通报已印发，不能再修改"


class CircularNotIssued(DomainError):
    message = "通报尚未印发"


class CircularAlreadyRevoked(DomainError):
    message = "通报已撤销"


class EmptyCircular(InvalidInput):
    message = "通报批评至少要列出一个单位"


def format_document_number(prefix: str, year: int, sequence: int) -> str:
    """GB/T 9704: authority code, full year in 〔〕, number without leading zeros or 第."""
    return f"{prefix}〔{year}〕{sequence}号"


def series_id(county_id: UUID, prefix: str, year: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"duban:document-series:{county_id}:{prefix}:{year}")


class DocumentSeries(Aggregate):
    """The numbering of one authority code in one year: gap-free, never reused."""

    class Event(DubanEvent):
        pass

    class Opened(Event, Aggregate.Created):
        county_id: UUID
        prefix: str
        year: int

    class NumberAssigned(Event):
        sequence: int
        document_id: UUID

        def apply(self, series: DocumentSeries) -> None:
            series.last_sequence = self.sequence

    def __init__(self, county_id: UUID, prefix: str, year: int):
        self.county_id = county_id
        self.prefix = prefix
        self.year = year
        self.last_sequence = 0

    @classmethod
    def open(cls, *, county_id: UUID, prefix: str, year: int, actor: Actor, now: datetime) -> DocumentSeries:
        return cls._create(
            cls.Opened,
            id=series_id(county_id, prefix, year),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            prefix=prefix,
            year=year,
        )

    def assign_next(self, document_id: UUID, actor: Actor, now: datetime) -> str:
        sequence = self.last_sequence + 1
        self.trigger_event(
            self.NumberAssigned,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            sequence=sequence,
            document_id=document_id,
        )
        return format_document_number(self.prefix, self.year, sequence)


class Circular(Aggregate):
    class Event(DubanEvent):
        pass

    class Drafted(Event, Aggregate.Created):
        county_id: UUID
        kind: str
        title: str
        prefix: str
        period: str
        body: str
        finding_ids: list[UUID]
        unit_ids: list[UUID]

    class Edited(Event):
        title: str
        body: str
        finding_ids: list[UUID]
        unit_ids: list[UUID]

        def apply(self, circular: Circular) -> None:
            circular.title = self.title
            circular.body = self.body
            circular.finding_ids = tuple(self.finding_ids)
            circular.unit_ids = tuple(self.unit_ids)

    class Issued(Event):
        document_number: str
        issued_on: str
        finding_ids: list[UUID]
        unit_ids: list[UUID]
        pdf_sha256: str

        def apply(self, circular: Circular) -> None:
            circular.status = ISSUED
            circular.document_number = self.document_number
            circular.issued_on = self.issued_on

    class PointsDeducted(Event):
        deduction_number: int
        unit_id: UUID
        points: Decimal
        rule_id: str
        rulebook_version: int
        period: str
        reason: str

        def apply(self, circular: Circular) -> None:
            circular.deduction_count += 1

    class Revoked(Event):
        reason: str

        def apply(self, circular: Circular) -> None:
            circular.status = REVOKED

    class DocumentRegistered(Event):
        """The issued circular's PDF, stored by its content hash (once; never replaced).

        ``letterhead`` keeps the settings it was printed with (authority mark,
        signatory, copy-to line, printer, verification address), so printing it
        again from the history gives the same bytes whatever the settings are now.
        ``anchor_head``/``anchor_position``: the audit chain at the issuing
        event, as printed (none on documents registered before anchors)."""

        sha256: str
        size: int
        verification_code: str
        renderer: str
        document_number: str
        title: str
        letterhead: dict[str, str]
        anchor_head: str = ""
        anchor_position: int = 0

        def apply(self, circular: Circular) -> None:
            circular.document_sha256 = self.sha256
            circular.letterhead = dict(self.letterhead)
            circular.document_anchor = anchor_text(self.anchor_head, self.anchor_position)

    def __init__(
        self,
        county_id: UUID,
        kind: str,
        title: str,
        prefix: str,
        period: str,
        body: str,
        finding_ids: list[UUID],
        unit_ids: list[UUID],
    ):
        self.county_id = county_id
        self.kind = kind
        self.title = title
        self.prefix = prefix
        self.period = period
        self.body = body
        self.finding_ids = tuple(finding_ids)
        self.unit_ids = tuple(unit_ids)
        self.status = DRAFT
        self.document_number: str | None = None
        self.issued_on: str | None = None
        self.deduction_count = 0
        self.document_sha256: str | None = None
        self.letterhead: dict[str, str] | None = None
        #: The registered document's anchor ("H@N"), "" if none.
        self.document_anchor = ""

    @classmethod
    def draft(
        cls,
        *,
        county_id: UUID,
        kind: str,
        title: str,
        prefix: str,
        period: str,
        body: str,
        finding_ids: tuple[UUID, ...],
        unit_ids: tuple[UUID, ...],
        actor: Actor,
        now: datetime,
        circular_id: UUID | None = None,
    ) -> Circular:
        actor.require_role(COMMAND)
        actor.require_county(county_id)
        if kind not in CIRCULAR_KINDS:
            raise UnknownCircularKind()
        if not title.strip():
            raise MissingField("通报标题")
        if not prefix.strip():
            raise MissingField("发文机关代字")
        return cls._create(
            cls.Drafted,
            id=circular_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            kind=kind,
            title=title.strip(),
            prefix=prefix.strip(),
            period=period,
            body=body,
            finding_ids=list(dict.fromkeys(finding_ids)),
            unit_ids=list(dict.fromkeys(unit_ids)),
        )

    def edit(
        self,
        *,
        title: str,
        body: str,
        finding_ids: tuple[UUID, ...],
        unit_ids: tuple[UUID, ...],
        actor: Actor,
        now: datetime,
    ) -> None:
        actor.require_role(COMMAND)
        actor.require_county(self.county_id)
        if self.status != DRAFT:
            raise CircularNotDraft()
        if not title.strip():
            raise MissingField("通报标题")
        self.trigger_event(
            self.Edited,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            title=title.strip(),
            body=body,
            finding_ids=list(dict.fromkeys(finding_ids)),
            unit_ids=list(dict.fromkeys(unit_ids)),
        )

    def issue(self, series: DocumentSeries, rulebook: RulebookVersion, actor: Actor, now: datetime) -> str:
        actor.require_role(COMMAND)
        actor.require_county(self.county_id)
        if self.status != DRAFT:
            raise CircularNotDraft("通报已印发或已撤销，不能再次印发")
        if self.kind == CRITICISM and not self.unit_ids:
            raise EmptyCircular()
        number = series.assign_next(self.id, actor, now)
        self.trigger_event(
            self.Issued,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            document_number=number,
            issued_on=local_date(now).isoformat(),
            finding_ids=list(self.finding_ids),
            unit_ids=list(self.unit_ids),
            pdf_sha256="",
        )
        if self.kind == CRITICISM:
            for unit_id in self.unit_ids:
                self.trigger_event(
                    self.PointsDeducted,
                    timestamp=now,
                    actor_id=actor.user_id,
                    actor_role=actor.role,
                    deduction_number=self.deduction_count + 1,
                    unit_id=unit_id,
                    points=points_for(CIRCULAR, rulebook.rules),
                    rule_id=CIRCULAR,
                    rulebook_version=rulebook.version,
                    period=period_of(local_date(now), rulebook.rules.period),
                    reason=f"{RULE_LABELS[CIRCULAR]}：{number}《{self.title}》",
                )
        return number

    def revoke(self, reason: str, actor: Actor, now: datetime) -> None:
        actor.require_role(COMMAND)
        actor.require_county(self.county_id)
        if self.status == REVOKED:
            raise CircularAlreadyRevoked()
        if self.status != ISSUED:
            raise CircularNotIssued()
        if not reason.strip():
            raise ReasonRequired("撤销通报必须说明理由")
        self.trigger_event(
            self.Revoked, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, reason=reason.strip()
        )

    @property
    def verification_code(self) -> str:
        return verification_code(self.id)

    def register_document(
        self, *, sha256: str, size: int, renderer: str, letterhead: dict[str, str], actor: Actor, now: datetime,
        anchor_head: str = "", anchor_position: int = 0,
    ) -> bool:  # fmt: skip
        """Record the stored PDF's hash (and the anchor printed on it); False
        (nothing recorded) if this very file is registered already; a different
        file is refused."""
        actor.require_role(SYSTEM, COMMAND)
        actor.require_county(self.county_id)
        if self.status == DRAFT:
            raise DocumentNotIssued()
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
            document_number=self.document_number or "",
            title=self.title,
            letterhead=dict(letterhead),
            anchor_head=anchor_head,
            anchor_position=anchor_position,
        )
        return True
