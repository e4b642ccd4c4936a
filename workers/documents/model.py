"""What an official document (公文) says, as plain data: the renderer's only input.

A document is built from the event history as it stood when the document was
issued (``workers/documents/content.py``), then printed by
``workers/documents/render.py`` into a PDF in the national layout (GB/T
9704-2012). The same ``OfficialDocument`` always gives the same bytes, so anyone
can rebuild it from the history, print it again, and compare the result with
the sha256 registered when it was issued.

Every text here is one line of Chinese: no newlines inside (a newline between
Chinese characters prints as a visible space).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: Kinds of document.
FINDING_NOTICE = "finding_notice"  # 整改通知书, for one finding
UNIT_NOTICE = "unit_notice"  # 整改通知书, for all of a unit's open findings
CRITICISM = "criticism"  # 通报批评
RANKING = "ranking"  # 考评排名通报
KINDS = (FINDING_NOTICE, UNIT_NOTICE, CRITICISM, RANKING)

#: Paragraph levels: body text (仿宋), 一、 (黑体), （一） (楷体).
BODY, HEADING_1, HEADING_2 = 0, 1, 2


@dataclass(frozen=True)
class Paragraph:
    text: str
    level: int = BODY


@dataclass(frozen=True)
class Column:
    header: str
    #: Fixed width in millimetres; None shares what is left of the 156 mm text block.
    width_mm: float | None = None
    align: str = "left"  # left, center, right


@dataclass(frozen=True)
class Table:
    """A table printed whole: its header repeats on every page, no row is split."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    #: A line above the table, e.g. "全县通报批评问题清单".
    caption: str = ""


@dataclass(frozen=True)
class Attachment:
    """附件: listed after the body ("附件：1. …"), printed after the signature on a new page."""

    title: str
    table: Table | None = None
    paragraphs: tuple[Paragraph, ...] = ()


@dataclass(frozen=True)
class OfficialDocument:
    kind: str
    #: A stable id of the document (the circular's id, or the notice's): fixes the PDF's identifier.
    document_id: str
    #: 发文机关标志, e.g. "米脂县脱贫攻坚指挥部文件", printed red and centred.
    authority_mark: str
    #: 发文字号, e.g. "米脱指发〔2026〕12号".
    document_number: str
    title: str
    #: 主送机关, ending with a full-width colon, e.g. "各镇（街道）、县直各部门：".
    addressees: str
    paragraphs: tuple[Paragraph, ...]
    #: 发文机关署名 and 成文日期.
    signatory: str
    signed_on: date
    #: 抄送 (may be empty) and 印发机关 with 印发日期.
    copy_to: str
    printer: str
    printed_on: date
    #: Short code printed on every page, and the address the QR code leads to.
    verification_code: str
    verification_url: str
    #: Tables printed in the body, after the paragraphs (e.g. a notice's findings).
    tables: tuple[Table, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: The audit chain's head at issue ("H@N"), printed when known (issue 7).
    anchor: str = ""
    #: Free lines under the signature, e.g. "（联系人：…，电话：…）".
    notes: tuple[str, ...] = field(default_factory=tuple)
