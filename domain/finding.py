"""A finding (问题) and its life: filed, notified, rectified, verified (销号).

    filed ─notice─▶ open ─ack─▶ acknowledged ─submit─▶ submitted ─accept─▶ closed
                     ▲                                     │
                     └──────── rejected (new deadline) ◀───┘

Overdue, extension, deduction, escalation and withdrawal facts are recorded on
the same aggregate, so one finding's history is one stream.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.attachments import check_attachments
from domain.documents import (
    DocumentNotIssued,
    already_registered,
    anchor_text,
    check_anchor,
    check_hash,
    notice_document_id,
    verification_code,
)
from domain.errors import DomainError, InvalidInput, MissingField, ReasonRequired
from domain.events import (
    CATEGORIES,
    COMMAND,
    INSPECTOR,
    SEVERITIES,
    SOURCES,
    SYSTEM,
    UNIT,
    Actor,
    DubanEvent,
    local_date,
)
from domain.rules.deductions import (
    INADEQUATE,
    OVERDUE,
    RULE_LABELS,
    days_overdue,
    deadline_has_passed,
    period_of,
    points_for,
)
from domain.rules.escalation import escalation_reason
from domain.rules.rulebook import RulebookVersion
from domain.rules.working_days import ComputedDeadline

FILED = "filed"
OPEN = "open"
ACKNOWLEDGED = "acknowledged"
SUBMITTED = "submitted"
CLOSED = "closed"
WITHDRAWN = "withdrawn"

STATUSES = {
    FILED: "待下发",
    OPEN: "待签收",
    ACKNOWLEDGED: "整改中",
    SUBMITTED: "待验收",
    CLOSED: "已销号",
    WITHDRAWN: "已撤销",
}

#: The rectification notice's document (整改通知书) is printed for the first
#: notice only (NoticeIssued, deadline number 1): later deadlines (extensions,
#: rejections) are told by messages, not by new documents.
NOTICE_DEADLINE_NUMBER = 1

#: States in which the unit still owes a rectification.
RECTIFYING = (OPEN, ACKNOWLEDGED)

#: Long enough that masking (first 6, last 4) always hides at least four characters.
HOUSEHOLD_NUMBER = re.compile(r"^[0-9A-Za-z]{14,30}$")


# Errors (each refuses the command; nothing is recorded)
class UnknownCategory(InvalidInput):
    message = "未知的问题类型"


class UnknownSeverity(InvalidInput):
    message = "未知的问题等级"


class UnknownSource(InvalidInput):
    message = "未知的问题来源"


class InvalidHouseholdNumber(InvalidInput):
    message = "户编号格式不正确（应为14至30位数字或字母）"


class FindingAlreadyClosed(DomainError):
    message = "该问题已销号，不能再进行此操作"


class FindingWithdrawn(DomainError):
    message = "该问题已撤销，不能再进行此操作"


class NoticeNotIssued(DomainError):
    message = "该问题尚未下发整改通知"


class NoticeAlreadyIssued(DomainError):
    message = "该问题已下发整改通知"


class NotAwaitingAcknowledgement(DomainError):
    message = "该问题当前不需要签收"


class RectificationAlreadySubmitted(DomainError):
    message = "整改材料已提交，正在等待验收"


class RectificationNotSubmitted(DomainError):
    message = "该问题尚未提交整改材料，不能验收"


class DeadlineNotPassed(DomainError):
    message = "整改期限尚未届满，不能记为逾期"


class DeadlineAlreadyMissed(DomainError):
    message = "本次整改期限的逾期已经记录过，不能重复记录"


class NotRectifying(DomainError):
    message = "该问题当前不在整改期内，不能记为逾期"


class ExtensionNotLater(InvalidInput):
    message = "延期后的期限必须晚于当前整改期限"


class ExtensionAlreadyPending(DomainError):
    message = "已有一项延期申请正在审批"


class NoExtensionPending(DomainError):
    message = "没有待审批的延期申请"


class UnknownDeduction(DomainError):
    status = 404
    message = "找不到该扣分记录"


class DeductionAlreadyReversed(DomainError):
    message = "该扣分已经撤销过，不能重复撤销"


class AlreadyEscalated(DomainError):
    message = "该问题已移交纪检监察机关"


@dataclass(frozen=True)
class Deduction:
    number: int
    unit_id: UUID
    points: Decimal
    rule_id: str
    rulebook_version: int
    period: str
    reason: str
    reversed: bool = False


class Finding(Aggregate):
    class Event(DubanEvent):
        pass

    class Filed(Event, Aggregate.Created):
        county_id: UUID
        inspection_id: UUID | None
        unit_id: UUID
        unit_path: list[UUID]
        category: str
        source: str
        severity: str
        check_item: str
        description: str
        household_no: str
        cadre_ids: list[UUID]
        repeat_of: UUID | None
        filed_on: str
        #: The inspector's evidence files (domain/attachments.py); version 1 had none.
        attachments: list[dict[str, Any]] = field(default_factory=list)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["attachments"] = []

    class NoticeIssued(Event):
        deadline: str
        deadline_basis: str
        working_days: int
        recipients: list[UUID]

        def apply(self, finding: Finding) -> None:
            finding.status = OPEN
            finding._set_deadline(self.deadline, self.deadline_basis)

    class NoticeAcknowledged(Event):
        def apply(self, finding: Finding) -> None:
            finding.status = ACKNOWLEDGED

    class ExtensionRequested(Event):
        requested_deadline: str
        reason: str

        def apply(self, finding: Finding) -> None:
            finding.pending_extension = self.requested_deadline

    class ExtensionGranted(Event):
        deadline: str
        note: str

        def apply(self, finding: Finding) -> None:
            finding.pending_extension = None
            finding._set_deadline(self.deadline, "extension")

    class ExtensionDenied(Event):
        reason: str

        def apply(self, finding: Finding) -> None:
            finding.pending_extension = None

    class RectificationSubmitted(Event):
        description: str
        evidence: list[str]
        #: The unit's evidence files (domain/attachments.py); version 1 had none.
        attachments: list[dict[str, Any]] = field(default_factory=list)

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["attachments"] = []

        def apply(self, finding: Finding) -> None:
            finding.status = SUBMITTED
            finding.attachment_hashes = finding.attachment_hashes | {a["sha256"] for a in self.attachments}

    class RectificationAccepted(Event):
        note: str

        def apply(self, finding: Finding) -> None:
            finding.status = CLOSED
            finding.closed_on = local_date(self.timestamp).isoformat()

    class RectificationRejected(Event):
        reason: str
        deadline: str
        deadline_basis: str
        working_days: int

        def apply(self, finding: Finding) -> None:
            finding.status = OPEN
            finding.rejections += 1
            finding._set_deadline(self.deadline, self.deadline_basis)

    class DeadlineMissed(Event):
        deadline: str
        deadline_number: int

        def apply(self, finding: Finding) -> None:
            finding.missed_deadlines = (*finding.missed_deadlines, self.deadline_number)

    class PointsDeducted(Event):
        deduction_number: int
        unit_id: UUID
        points: Decimal
        rule_id: str
        rulebook_version: int
        period: str
        reason: str

        def apply(self, finding: Finding) -> None:
            finding.deductions = {
                **finding.deductions,
                self.deduction_number: Deduction(
                    number=self.deduction_number,
                    unit_id=self.unit_id,
                    points=self.points,
                    rule_id=self.rule_id,
                    rulebook_version=self.rulebook_version,
                    period=self.period,
                    reason=self.reason,
                ),
            }

    class DeductionReversed(Event):
        deduction_number: int
        reason: str

        def apply(self, finding: Finding) -> None:
            original = finding.deductions[self.deduction_number]
            finding.deductions = {
                **finding.deductions,
                self.deduction_number: Deduction(**{**original.__dict__, "reversed": True}),
            }

    class EscalatedToDiscipline(Event):
        reason: str
        rule_met: str

        def apply(self, finding: Finding) -> None:
            finding.escalated = True

    class Withdrawn(Event):
        reason: str

        def apply(self, finding: Finding) -> None:
            finding.status = WITHDRAWN
            finding.pending_extension = None

    class NoticeDocumentRegistered(Event):
        """The rectification notice's PDF (整改通知书) for one deadline number,
        stored by its content hash (once; never replaced). ``letterhead`` keeps
        the settings it was printed with, so it can be printed again identically,
        and the audit chain's anchor printed on it (none before anchors)."""

        deadline_number: int
        sha256: str
        size: int
        verification_code: str
        renderer: str
        document_number: str
        title: str
        letterhead: dict[str, str]
        anchor_head: str = ""
        anchor_position: int = 0

        def apply(self, finding: Finding) -> None:
            finding.notice_documents = {**finding.notice_documents, self.deadline_number: self.sha256}
            finding.notice_letterheads = {**finding.notice_letterheads, self.deadline_number: dict(self.letterhead)}
            finding.notice_anchors = {
                **finding.notice_anchors, self.deadline_number: anchor_text(self.anchor_head, self.anchor_position)
            }

    def __init__(
        self,
        county_id: UUID,
        inspection_id: UUID | None,
        unit_id: UUID,
        unit_path: list[UUID],
        category: str,
        source: str,
        severity: str,
        check_item: str,
        description: str,
        household_no: str,
        cadre_ids: list[UUID],
        repeat_of: UUID | None,
        filed_on: str,
        attachments: list[dict[str, Any]] | None = None,
    ):
        self.county_id = county_id
        self.inspection_id = inspection_id
        self.unit_id = unit_id
        self.unit_path = tuple(unit_path)
        self.category = category
        self.source = source
        self.severity = severity
        self.check_item = check_item
        self.description = description
        self.household_no = household_no
        self.cadre_ids = tuple(cadre_ids)
        self.repeat_of = repeat_of
        self.filed_on = filed_on
        self.status = FILED
        self.deadline: str | None = None
        self.deadline_basis: str | None = None
        #: Counts the deadlines this finding has had; "missed once per deadline"
        #: is "missed once per deadline number".
        self.deadline_number = 0
        self.missed_deadlines: tuple[int, ...] = ()
        self.pending_extension: str | None = None
        self.rejections = 0
        self.deductions: dict[int, Deduction] = {}
        self.escalated = False
        self.closed_on: str | None = None
        #: Registered notice documents: deadline number → sha256, and the letterhead each was printed with.
        self.notice_documents: dict[int, str] = {}
        self.notice_letterheads: dict[int, dict[str, str]] = {}
        #: The anchor ("H@N", "" if none) printed on each registered notice.
        self.notice_anchors: dict[int, str] = {}
        #: Every evidence file attached to this finding, by sha256 (who may download which file).
        self.attachment_hashes: frozenset[str] = frozenset(a["sha256"] for a in attachments or ())

    def _set_deadline(self, deadline: str, basis: str) -> None:
        self.deadline = deadline
        self.deadline_basis = basis
        self.deadline_number += 1

    # Filing
    @classmethod
    def file(
        cls,
        *,
        county_id: UUID,
        unit_id: UUID,
        unit_path: tuple[UUID, ...],
        category: str,
        source: str,
        severity: str,
        check_item: str,
        description: str,
        actor: Actor,
        now: datetime,
        inspection_id: UUID | None = None,
        household_no: str = "",
        cadre_ids: tuple[UUID, ...] = (),
        repeat_of: UUID | None = None,
        finding_id: UUID | None = None,
        attachments: Iterable[Mapping[str, Any]] = (),
    ) -> Finding:
        actor.require_role(INSPECTOR, COMMAND)
        actor.require_county(county_id)
        if category not in CATEGORIES:
            raise UnknownCategory()
        if severity not in SEVERITIES:
            raise UnknownSeverity()
        if source not in SOURCES:
            raise UnknownSource()
        check_item, description = check_item.strip(), description.strip()
        if not check_item:
            raise MissingField("检查事项")
        if not description:
            raise MissingField("问题描述")
        household_no = household_no.strip()
        if household_no and not HOUSEHOLD_NUMBER.match(household_no):
            raise InvalidHouseholdNumber()
        checked_attachments = check_attachments(attachments)
        return cls._create(
            cls.Filed,
            id=finding_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            inspection_id=inspection_id,
            unit_id=unit_id,
            unit_path=list(unit_path),
            category=category,
            source=source,
            severity=severity,
            check_item=check_item,
            description=description,
            household_no=household_no,
            cadre_ids=list(dict.fromkeys(cadre_ids)),
            repeat_of=repeat_of,
            filed_on=local_date(now).isoformat(),
            attachments=checked_attachments,
        )

    # Guards shared by the commands below
    def _require_not_ended(self) -> None:
        if self.status == CLOSED:
            raise FindingAlreadyClosed()
        if self.status == WITHDRAWN:
            raise FindingWithdrawn()

    def _require_rectifying(self) -> None:
        self._require_not_ended()
        if self.status == FILED:
            raise NoticeNotIssued()
        if self.status == SUBMITTED:
            raise RectificationAlreadySubmitted()

    def _require_accountable(self, actor: Actor) -> None:
        actor.require_role(UNIT)
        actor.require_county(self.county_id)
        actor.require_unit_in(self.unit_path)

    def _require_supervisor(self, actor: Actor, *roles: str) -> None:
        actor.require_role(*roles)
        actor.require_county(self.county_id)

    def _trigger(self, event_class: type, actor: Actor, now: datetime, **values: object) -> None:
        self.trigger_event(event_class, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, **values)

    # Notice
    def issue_notice(
        self, deadline: ComputedDeadline, recipients: tuple[UUID, ...], actor: Actor, now: datetime
    ) -> None:
        self._require_supervisor(actor, INSPECTOR, COMMAND, SYSTEM)
        self._require_not_ended()
        if self.status != FILED:
            raise NoticeAlreadyIssued()
        self._trigger(
            self.NoticeIssued,
            actor,
            now,
            deadline=deadline.due.isoformat(),
            deadline_basis=deadline.basis,
            working_days=deadline.working_days,
            recipients=list(dict.fromkeys(recipients)),
        )

    def acknowledge(self, actor: Actor, now: datetime) -> None:
        self._require_accountable(actor)
        self._require_not_ended()
        if self.status != OPEN:
            raise NotAwaitingAcknowledgement()
        self._trigger(self.NoticeAcknowledged, actor, now)

    # Extensions
    def request_extension(self, until: date, reason: str, actor: Actor, now: datetime) -> None:
        self._require_accountable(actor)
        self._require_rectifying()
        if not reason.strip():
            raise ReasonRequired()
        if self.pending_extension is not None:
            raise ExtensionAlreadyPending()
        if self.deadline is None or until <= date.fromisoformat(self.deadline):
            raise ExtensionNotLater()
        self._trigger(
            self.ExtensionRequested, actor, now, requested_deadline=until.isoformat(), reason=reason.strip()
        )

    def grant_extension(self, actor: Actor, now: datetime, until: date | None = None, note: str = "") -> None:
        self._require_supervisor(actor, COMMAND)
        self._require_not_ended()
        if self.pending_extension is None:
            raise NoExtensionPending()
        new_deadline = until or date.fromisoformat(self.pending_extension)
        if self.deadline is not None and new_deadline <= date.fromisoformat(self.deadline):
            raise ExtensionNotLater()
        self._trigger(self.ExtensionGranted, actor, now, deadline=new_deadline.isoformat(), note=note.strip())

    def deny_extension(self, reason: str, actor: Actor, now: datetime) -> None:
        self._require_supervisor(actor, COMMAND)
        self._require_not_ended()
        if self.pending_extension is None:
            raise NoExtensionPending()
        if not reason.strip():
            raise ReasonRequired()
        self._trigger(self.ExtensionDenied, actor, now, reason=reason.strip())

    # Rectification and verification
    def submit_rectification(
        self,
        description: str,
        evidence: tuple[str, ...],
        actor: Actor,
        now: datetime,
        attachments: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self._require_accountable(actor)
        self._require_rectifying()
        if not description.strip():
            raise MissingField("整改情况说明")
        self._trigger(
            self.RectificationSubmitted,
            actor,
            now,
            description=description.strip(),
            evidence=list(evidence),
            attachments=check_attachments(attachments),
        )

    def accept_rectification(self, note: str, actor: Actor, now: datetime) -> None:
        self._require_supervisor(actor, INSPECTOR, COMMAND)
        self._require_not_ended()
        if self.status != SUBMITTED:
            raise RectificationNotSubmitted()
        self._trigger(self.RectificationAccepted, actor, now, note=note.strip())

    def reject_rectification(
        self,
        reason: str,
        new_deadline: ComputedDeadline,
        rulebook: RulebookVersion,
        actor: Actor,
        now: datetime,
    ) -> None:
        """Inadequate (不到位): reopen with a new deadline, and deduct what the
        rulebook in force prescribes, in one step so neither exists without the other."""
        self._require_supervisor(actor, INSPECTOR, COMMAND)
        self._require_not_ended()
        if self.status != SUBMITTED:
            raise RectificationNotSubmitted("该问题尚未提交整改材料，不能退回")
        if not reason.strip():
            raise ReasonRequired("退回整改必须说明不到位的原因")
        self._trigger(
            self.RectificationRejected,
            actor,
            now,
            reason=reason.strip(),
            deadline=new_deadline.due.isoformat(),
            deadline_basis=new_deadline.basis,
            working_days=new_deadline.working_days,
        )
        self._deduct(INADEQUATE, rulebook, actor, now, reason.strip())

    # Deadlines and deductions
    def record_missed_deadline(self, rulebook: RulebookVersion, actor: Actor, now: datetime) -> None:
        self._require_supervisor(actor, SYSTEM, COMMAND)
        self._require_not_ended()
        if self.status not in RECTIFYING:
            raise NotRectifying()
        assert self.deadline is not None
        if not deadline_has_passed(date.fromisoformat(self.deadline), now):
            raise DeadlineNotPassed()
        if self.deadline_number in self.missed_deadlines:
            raise DeadlineAlreadyMissed()
        self._trigger(self.DeadlineMissed, actor, now, deadline=self.deadline, deadline_number=self.deadline_number)
        self._deduct(OVERDUE, rulebook, actor, now, f"超过整改期限{self.deadline}未完成整改")

    def is_missable(self, now: datetime) -> bool:
        """True when record_missed_deadline would succeed at ``now``."""
        return (
            self.status in RECTIFYING
            and self.deadline is not None
            and deadline_has_passed(date.fromisoformat(self.deadline), now)
            and self.deadline_number not in self.missed_deadlines
        )

    def _deduct(self, rule_id: str, rulebook: RulebookVersion, actor: Actor, now: datetime, reason: str) -> None:
        repeat = self.repeat_of is not None
        points = points_for(rule_id, rulebook.rules, repeat=repeat)
        if repeat:
            reason += f"（{rulebook.rules.repeat_window_days}日内同一事项重复发生，加倍扣分）"
        self._trigger(
            self.PointsDeducted,
            actor,
            now,
            deduction_number=len(self.deductions) + 1,
            unit_id=self.unit_id,
            points=points,
            rule_id=rule_id,
            rulebook_version=rulebook.version,
            period=period_of(local_date(now), rulebook.rules.period),
            reason=f"{RULE_LABELS[rule_id]}：{reason}",
        )

    def reverse_deduction(self, deduction_number: int, reason: str, actor: Actor, now: datetime) -> None:
        """An appeal (申诉) upheld: the original deduction stays in history."""
        self._require_supervisor(actor, COMMAND)
        deduction = self.deductions.get(deduction_number)
        if deduction is None:
            raise UnknownDeduction()
        if deduction.reversed:
            raise DeductionAlreadyReversed()
        if not reason.strip():
            raise ReasonRequired("撤销扣分必须说明申诉理由")
        self._trigger(self.DeductionReversed, actor, now, deduction_number=deduction_number, reason=reason.strip())

    @property
    def points_deducted(self) -> Decimal:
        return sum((d.points for d in self.deductions.values() if not d.reversed), Decimal(0))

    # Escalation and withdrawal
    def escalation_due(self, rulebook: RulebookVersion, today: date) -> str | None:
        if self.status in (CLOSED, WITHDRAWN) or self.escalated:
            return None
        overdue = days_overdue(date.fromisoformat(self.deadline), today) if self.deadline else 0
        if self.status == SUBMITTED:
            overdue = 0
        return escalation_reason(self.rejections, overdue, rulebook.rules)

    def escalate(self, reason: str, rulebook: RulebookVersion, actor: Actor, now: datetime) -> None:
        """The command office confirms a refusal and hands it to discipline (移交纪检)."""
        self._require_supervisor(actor, COMMAND)
        self._require_not_ended()
        if self.escalated:
            raise AlreadyEscalated()
        if not reason.strip():
            raise ReasonRequired("移交纪检必须说明理由")
        rule_met = self.escalation_due(rulebook, local_date(now)) or ""
        self._trigger(self.EscalatedToDiscipline, actor, now, reason=reason.strip(), rule_met=rule_met)

    def withdraw(self, reason: str, actor: Actor, now: datetime) -> None:
        """Filed in error (撤销): nothing is deleted, the finding ends here."""
        self._require_supervisor(actor, INSPECTOR, COMMAND)
        if self.status == CLOSED:
            raise FindingAlreadyClosed("该问题已销号，不能撤销")
        if self.status == WITHDRAWN:
            raise FindingWithdrawn("该问题已经撤销")
        if not reason.strip():
            raise ReasonRequired("撤销问题必须说明原因")
        self._trigger(self.Withdrawn, actor, now, reason=reason.strip())

    def register_notice_document(
        self,
        *,
        deadline_number: int,
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
        """Record the stored notice PDF's hash (and the anchor printed on it);
        False (nothing recorded) if this very file is registered already; a
        different file is refused."""
        actor.require_role(SYSTEM, COMMAND, INSPECTOR)
        actor.require_county(self.county_id)
        if deadline_number != NOTICE_DEADLINE_NUMBER or self.status == FILED:
            raise DocumentNotIssued("该问题尚未下发整改通知书，不能登记文件")
        sha256 = check_hash(sha256, size)
        anchor_head, anchor_position = check_anchor(anchor_head, anchor_position)
        if already_registered(self.notice_documents.get(deadline_number), sha256):
            return False
        self._trigger(
            self.NoticeDocumentRegistered,
            actor,
            now,
            deadline_number=deadline_number,
            sha256=sha256,
            size=size,
            verification_code=verification_code(notice_document_id(self.id, deadline_number)),
            renderer=renderer,
            document_number=document_number,
            title=title,
            letterhead=dict(letterhead),
            anchor_head=anchor_head,
            anchor_position=anchor_position,
        )
        return True


def mask_household_number(number: str) -> str:
    """Registry numbers are personal data: show the first 6 and last 4 only."""
    if not number:
        return ""
    if len(number) <= 10:
        return number[:2] + "*" * (len(number) - 2)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
