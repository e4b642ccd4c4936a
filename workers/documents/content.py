"""What a document says, built from the event history as it stood at the
instant the document was issued: the renderer's input (``OfficialDocument``).

Every name, text and figure comes from the aggregates folded up to the issuing
event's timestamp (``Duban.as_of``), never from a read model that changes
later: renaming a unit next month, or closing a finding, does not change what
an issued circular says, so printing it again from the history gives the same
bytes and the same sha256 as the registered one.

Two inputs are not in the domain's history, and each is pinned:

- the **letterhead** (authority mark, signatory, printing office, copy-to line,
  addressees of a circular, the verification address) comes from settings
  (``DUBAN_DOCUMENT_*`` and ``DUBAN_BASE_URL``, with defaults derived from the
  county's name as of the issue) the first time, and is then recorded in the
  document's registration event; printing again uses the recorded one;
- a **ranking circular's table** comes from the score view's as-of answer for
  the end of the day *before* the issue day (``ScoreQuery.ranking(county,
  period, as_of=issue day - 1)``). That answer depends only on events recorded
  on or before that day, all of which precede the issue event in the log, so it
  is the same whenever it is asked; the issue day itself would not do (events
  recorded later that day would change it). The document says "截至" that day.

The **anchor** (历史存证, ``H@N``: the audit chain's head at the issuing
event's position) is handed in by the job the first time (``anchor=``) and is
then recorded in the registration event, like the letterhead; printing again
uses the recorded one, and a document registered before anchors existed is
printed again without one.
"""

from __future__ import annotations

import re

import os
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.circular import CRITICISM as CIRCULAR_CRITICISM
from domain.circular import Circular
from domain.documents import format_code, notice_document_id, verification_code
from domain.events import CATEGORIES, SEVERITIES, SOURCES, local_date
from domain.finding import CLOSED, NOTICE_DEADLINE_NUMBER, STATUSES, WITHDRAWN, Finding, mask_household_number
from domain.rules import periods
from domain.unit_notice import UnitNotice
from workers.documents.model import (
    BODY,
    CRITICISM,
    FINDING_NOTICE,
    HEADING_1,
    HEADING_2,
    RANKING,
    UNIT_NOTICE,
    Attachment,
    Column,
    OfficialDocument,
    Paragraph,
    Table,
)

#: Settings, each a template where ``{county}`` is the county's name as of the issue.
SETTINGS = {
    "authority_mark": ("DUBAN_DOCUMENT_AUTHORITY_MARK", "{county}脱贫攻坚指挥部文件"),
    "signatory": ("DUBAN_DOCUMENT_SIGNATORY", "{county}脱贫攻坚指挥部办公室"),
    "printer": ("DUBAN_DOCUMENT_PRINTER", "{county}脱贫攻坚指挥部办公室"),
    "copy_to": ("DUBAN_DOCUMENT_COPY_TO", "县委办公室，县政府办公室，县纪委监委"),
    "addressees": ("DUBAN_DOCUMENT_ADDRESSEES", "各镇（街道）、县直各部门："),
}


class NotIssuedYet(RuntimeError):
    """The document's issuing event is not in the history (yet)."""


@dataclass(frozen=True)
class Letterhead:
    authority_mark: str
    signatory: str
    printer: str
    copy_to: str
    addressees: str
    #: ``DUBAN_BASE_URL`` at the first printing: the QR code's address starts with it.
    verification_base: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded: dict[str, str]) -> Letterhead:
        return cls(**{key: str(recorded.get(key, "")) for key in cls.__dataclass_fields__})

    @classmethod
    def from_settings(cls, county_name: str, env: dict[str, str] | None = None) -> Letterhead:
        env = dict(os.environ if env is None else env)
        values = {
            key: (env.get(variable) or default).replace("{county}", county_name).strip()
            for key, (variable, default) in SETTINGS.items()
        }
        return cls(**values, verification_base=env.get("DUBAN_BASE_URL", "").strip().rstrip("/"))


@dataclass(frozen=True)
class Built:
    """A document and what its registration records besides the hash."""

    document: OfficialDocument
    letterhead: Letterhead

    @property
    def registration(self) -> dict[str, Any]:
        head, _, position = self.document.anchor.partition("@")
        return {"document_number": self.document.document_number, "title": self.document.title,
                "letterhead": self.letterhead.as_dict(), "anchor_head": head,
                "anchor_position": int(position) if position else 0}  # fmt: skip


def verification_url(base: str, code: str) -> str:
    return f"{base}/verify/{format_code(code)}"


def chinese_date(day: date) -> str:
    """2026年3月5日 (GB/T 9704: Arabic numerals, no zero padding)."""
    return f"{day.year}年{day.month}月{day.day}日"


def sentence(text: str) -> str:
    """One line, ending with a full stop."""
    text = "".join(part.strip() for part in (text or "").splitlines()).strip()
    return text if not text or text[-1] in "。！？；：" else text + "。"


_HEADING_1 = re.compile(r"^[一二三四五六七八九十]+、")
_HEADING_2 = re.compile(r"^（[一二三四五六七八九十]+）")


def paragraphs_of(body: str) -> tuple[Paragraph, ...]:
    """The office's own text, a paragraph a line; its 一、 and （一） lines are headings."""
    found = []
    for line in (body or "").splitlines():
        text = line.strip()
        if not text:
            continue
        level = HEADING_1 if _HEADING_1.match(text) else HEADING_2 if _HEADING_2.match(text) else BODY
        found.append(Paragraph(text, level))
    return tuple(found)


def addressed(body: str, default: str) -> tuple[str, str]:
    """(addressees, the rest of the body): an office that opens its text with the
    addressees ("各街镇、县直各相关部门：") names them itself; they are printed once."""
    lines = [line.strip() for line in (body or "").splitlines() if line.strip()]
    if lines and lines[0].endswith("：") and len(lines[0]) <= 40 and "。" not in lines[0]:
        return lines[0], "\n".join(lines[1:])
    return default, body


def _structured(paragraphs: list[Paragraph]) -> bool:
    return any(p.level == HEADING_1 for p in paragraphs)


def points_text(value: Decimal) -> str:
    """0.5, 1, 2: no trailing zeros."""
    return format(Decimal(value).normalize(), "f")


def score(value: Decimal) -> str:
    return f"{Decimal(value):.1f}"


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{Decimal(value) * 100:.1f}%"


class History:
    """Reads aggregates as they stood at one instant, each once."""

    def __init__(self, duban: Any, instant: datetime):
        self.duban = duban
        self.instant = instant
        self._seen: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID) -> Any:
        if aggregate_id not in self._seen:
            self._seen[aggregate_id] = self.duban.as_of(aggregate_id, self.instant)
        return self._seen[aggregate_id]

    def name(self, aggregate_id: UUID | None) -> str:
        found = self.get(aggregate_id) if aggregate_id is not None else None
        return getattr(found, "name", "") or "（未知）"


def _event(duban: Any, aggregate_id: UUID, event_class: type) -> Any:
    for event in duban.history(aggregate_id):
        if isinstance(event, event_class):
            return event
    return None


def _letterhead(recorded: dict[str, str] | None, county_name: str) -> Letterhead:
    return Letterhead.from_dict(recorded) if recorded else Letterhead.from_settings(county_name)


def _anchor(registered: str | None, recorded: str, fresh: str) -> str:
    """What is printed: the recorded anchor once the document is registered
    ("" for one registered before anchors), else the one handed in."""
    return recorded if registered else fresh


def _document(kind: str, document_id: UUID, letterhead: Letterhead, issued_on: date, **fields: Any) -> OfficialDocument:
    code = verification_code(document_id)
    return OfficialDocument(
        kind=kind,
        document_id=str(document_id),
        authority_mark=letterhead.authority_mark,
        signatory=letterhead.signatory,
        signed_on=issued_on,
        copy_to=letterhead.copy_to,
        printer=letterhead.printer,
        printed_on=issued_on,
        verification_code=format_code(code),
        verification_url=verification_url(letterhead.verification_base, code),
        **fields,
    )


# Circulars (通报)
def circular_document(duban: Any, circular_id: UUID, scores: Any = None, anchor: str = "") -> Built:
    """The circular as issued. ``scores`` (a ScoreQuery) is needed for a ranking circular;
    ``anchor`` is printed unless the circular's document is registered (then its recorded one is)."""
    current: Circular = duban.circular(circular_id)
    issued = _event(duban, circular_id, Circular.Issued)
    if issued is None:
        raise NotIssuedYet(f"circular {circular_id} is not issued")
    history = History(duban, issued.timestamp)
    circular: Circular = history.get(circular_id)
    county_name = history.name(circular.county_id)
    letterhead = _letterhead(current.letterhead, county_name)
    issued_on = date.fromisoformat(issued.issued_on)
    addressees, body = addressed(circular.body, letterhead.addressees)
    if circular.kind == CIRCULAR_CRITICISM:
        deducted = {
            e.unit_id: e.points
            for e in duban.history(circular_id)
            if isinstance(e, Circular.PointsDeducted) and e.timestamp <= issued.timestamp
        }
        fields = _criticism(circular, issued, history, deducted, letterhead, body)
        kind = CRITICISM
    else:
        if scores is None:
            raise RuntimeError("a ranking circular needs the score view")
        fields = _ranking(circular, issued, scores, body)
        kind = RANKING
    return Built(
        _document(
            kind, circular_id, letterhead, issued_on,
            document_number=issued.document_number, title=circular.title, addressees=addressees,
            anchor=_anchor(current.document_sha256, current.document_anchor, anchor), **fields,
        ),
        letterhead,
    )  # fmt: skip


def _finding_status(finding: Finding) -> str:
    if finding.status in (CLOSED, WITHDRAWN):
        return STATUSES[finding.status]
    if finding.missed_deadlines:
        return f"逾期未整改（{STATUSES[finding.status]}）"
    if finding.rejections:
        return f"整改不到位（{STATUSES[finding.status]}）"
    return STATUSES[finding.status]


def _criticism(
    circular: Circular, issued: Any, history: History, deducted: dict[UUID, Decimal], letterhead: Letterhead,
    body: str,
) -> dict[str, Any]:
    units = list(issued.unit_ids)
    findings = [history.get(f) for f in issued.finding_ids]
    findings = [f for f in findings if f is not None]
    by_unit: dict[UUID, list[Finding]] = {u: [] for u in units}
    for finding in findings:
        for unit_id in finding.unit_path:
            if unit_id in by_unit:
                by_unit[unit_id].append(finding)
                break
    paragraphs = list(paragraphs_of(body))
    own_headings = not _structured(paragraphs)  # the office's text has its own 一、二、: add none
    if own_headings:
        paragraphs.append(Paragraph("一、被通报单位", HEADING_1))
    rows = []
    for number, unit_id in enumerate(units, start=1):
        points = deducted.get(unit_id)
        rows.append((
            str(number), history.name(unit_id), str(len(by_unit[unit_id])),
            f"{points_text(points)}" if points is not None else "—",
        ))  # fmt: skip
    paragraphs.append(
        Paragraph(f"对以下{len(units)}个单位予以全县通报批评，并按效能考评规则各扣减相应分值。")
    )
    tables = (
        Table(
            columns=(Column("序号", 14, "center"), Column("单位"), Column("被通报问题数", 32, "center"),
                     Column("扣分", 22, "center")),
            rows=tuple(rows),
        ),
    )  # fmt: skip
    attachments: tuple[Attachment, ...] = ()
    if findings:
        if own_headings:
            paragraphs.append(Paragraph("二、有关要求", HEADING_1))
        paragraphs.append(
            Paragraph(f"被通报单位要认真反思，举一反三，对附件所列问题逐项整改到位，并将整改情况书面报{letterhead.signatory}。")
        )
        listing = []
        for number, finding in enumerate(findings, start=1):
            listing.append((
                str(number), history.name(finding.unit_id), finding.check_item,
                CATEGORIES.get(finding.category, finding.category), sentence(finding.description),
                _finding_status(finding),
            ))  # fmt: skip
        attachments = (
            Attachment(
                title="被通报问题清单",
                table=Table(
                    columns=(Column("序号", 12, "center"), Column("责任单位", 26), Column("检查事项", 28),
                             Column("问题类型", 18, "center"), Column("问题描述"), Column("整改情况", 22, "center")),
                    rows=tuple(listing),
                ),
            ),
        )  # fmt: skip
    return {"paragraphs": tuple(paragraphs), "tables": tables, "attachments": attachments}


def ranking_as_of(issued_on: date) -> date:
    """The day whose end the ranking's figures are taken at: the day before the issue."""
    return issued_on - timedelta(days=1)


def _ranking(circular: Circular, issued: Any, scores: Any, body: str) -> dict[str, Any]:
    from projections.scores_query import KIND_LABELS

    as_of = ranking_as_of(date.fromisoformat(issued.issued_on))
    ranking = scores.ranking(str(circular.county_id), circular.period, as_of)
    paragraphs = list(paragraphs_of(body))
    paragraphs.append(
        Paragraph(f"本次考评周期为{periods.label(circular.period)}，考评数据截至{chinese_date(as_of)}。")
    )
    columns = (Column("名次", 14, "center"), Column("单位"), Column("得分", 20, "center"),
               Column("扣分", 18, "center"), Column("按期整改率", 26, "center"), Column("销号率", 22, "center"))  # fmt: skip

    def table(kind: str, caption: str) -> Table:
        return Table(
            columns=columns,
            rows=tuple(
                (str(s.rank), s.name, score(s.score), points_text(s.deducted) if s.deducted else "0",
                 percent(s.on_time_rate), percent(s.closure_rate))
                for s in ranking.by_kind.get(kind, [])
            ),
            caption=caption,
        )  # fmt: skip

    tables = []
    heading = 1
    numerals = "一二三四五六七八九十"
    for kind in ("town", "department"):
        if ranking.by_kind.get(kind):
            paragraphs.append(Paragraph(f"{numerals[heading - 1]}、{KIND_LABELS[kind]}考评排名", HEADING_1))
            heading += 1
            tables.append(table(kind, f"{KIND_LABELS[kind]}效能考评排名"))
    attachments = []
    zones = [z for z in ranking.zones if z.average is not None]
    if zones:
        tables.append(
            Table(
                columns=(Column("名次", 14, "center"), Column("战区"), Column("所辖乡镇数", 30, "center"),
                         Column("乡镇平均得分", 34, "center")),
                rows=tuple((str(z.rank), z.name, str(z.towns), f"{z.average:.2f}") for z in zones),
                caption="战区效能考评比较",
            )
        )  # fmt: skip
    villages = ranking.by_kind.get("village", [])
    if villages:
        attachments.append(Attachment(title=f"{KIND_LABELS['village']}效能考评排名", table=table("village", "")))
    return {"paragraphs": tuple(paragraphs), "tables": tuple(tables), "attachments": tuple(attachments)}


# Rectification notices (整改通知书)
def finding_notice_document(
    duban: Any, finding_id: UUID, deadline_number: int = NOTICE_DEADLINE_NUMBER, anchor: str = ""
) -> Built:
    """A finding's rectification notice as issued (its NoticeIssued event); ``anchor`` as for a circular."""
    current: Finding = duban.finding(finding_id)
    issued = _event(duban, finding_id, Finding.NoticeIssued)
    if issued is None or deadline_number != NOTICE_DEADLINE_NUMBER:
        raise NotIssuedYet(f"finding {finding_id} has no notice {deadline_number}")
    history = History(duban, issued.timestamp)
    finding: Finding = history.get(finding_id)
    county_name = history.name(finding.county_id)
    letterhead = _letterhead(current.notice_letterheads.get(deadline_number), county_name)
    unit_name = history.name(finding.unit_id)
    issued_on = local_date(issued.timestamp)
    deadline = date.fromisoformat(issued.deadline)
    paragraphs = [
        Paragraph(
            f"经{SOURCES.get(finding.source, finding.source)}发现，你单位“{finding.check_item}”存在"
            f"{CATEGORIES.get(finding.category, finding.category)}问题（{SEVERITIES.get(finding.severity, '')}）："
            f"{sentence(finding.description)}"
        ),
    ]
    if finding.household_no:
        paragraphs.append(Paragraph(f"涉及户编号：{mask_household_number(finding.household_no)}。"))
    if finding.cadre_ids:
        paragraphs.append(Paragraph(f"帮扶责任人：{'、'.join(history.name(c) for c in finding.cadre_ids)}。"))
    paragraphs.append(
        Paragraph(
            f"请于{chinese_date(deadline)}前（{issued.working_days}个工作日内）完成整改，并将整改情况及佐证材料报"
            f"{letterhead.signatory}。逾期未完成整改或整改不到位的，将按效能考评规则扣分，并视情况予以全县通报批评。"
        )
    )
    title = f"关于{unit_name}“{finding.check_item}”问题的整改通知书"
    return Built(
        _document(
            FINDING_NOTICE, notice_document_id(finding_id, deadline_number), letterhead, issued_on,
            document_number="", title=title, addressees=f"{unit_name}：", paragraphs=tuple(paragraphs),
            anchor=_anchor(current.notice_documents.get(deadline_number),
                           current.notice_anchors.get(deadline_number, ""), anchor),
        ),
        letterhead,
    )  # fmt: skip


def unit_notice_document(duban: Any, notice_id: UUID, anchor: str = "") -> Built:
    """A unit's rectification notice: every finding it listed, as they stood then;
    ``anchor`` as for a circular."""
    current: UnitNotice = duban.unit_notice(notice_id)
    issued = _event(duban, notice_id, UnitNotice.Issued)
    history = History(duban, issued.timestamp)
    county_name = history.name(current.county_id)
    letterhead = _letterhead(current.letterhead, county_name)
    unit_name = history.name(current.unit_id)
    issued_on = date.fromisoformat(issued.issued_on)
    rows = []
    for number, finding_id in enumerate(issued.finding_ids, start=1):
        finding: Finding = history.get(finding_id)
        rows.append((
            str(number), history.name(finding.unit_id), finding.check_item,
            CATEGORIES.get(finding.category, finding.category), sentence(finding.description),
            finding.deadline or "—",
        ))  # fmt: skip
    paragraphs = (
        Paragraph(
            f"截至{chinese_date(issued_on)}，你单位（含所属单位）尚有以下{len(rows)}个问题未完成整改。"
            f"请逐项对照整改，在各问题的整改期限前将整改情况及佐证材料报{letterhead.signatory}。"
            "逾期未完成整改或整改不到位的，将按效能考评规则扣分，并视情况予以全县通报批评。"
        ),
    )
    table = Table(
        columns=(Column("序号", 12, "center"), Column("责任单位", 26), Column("检查事项", 30),
                 Column("问题类型", 18, "center"), Column("问题描述"), Column("整改期限", 24, "center")),
        rows=tuple(rows),
        caption="待整改问题清单",
    )  # fmt: skip
    return Built(
        _document(
            UNIT_NOTICE, notice_id, letterhead, issued_on,
            document_number="", title=f"关于{unit_name}限期整改问题的通知书", addressees=f"{unit_name}：",
            paragraphs=paragraphs, tables=(table,),
            anchor=_anchor(current.document_sha256, current.document_anchor, anchor),
        ),
        letterhead,
    )  # fmt: skip
