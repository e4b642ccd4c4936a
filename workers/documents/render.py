"""Print an ``OfficialDocument`` to PDF in the national layout (GB/T 9704-2012).

``render_pdf(document) -> bytes`` is deterministic: the same document gives the
same bytes, in any process (fixed PDF identifier from ``document_id``, dates
from ``signed_on``, no clock, no randomness; fonts resolved by fontconfig the
same way on the same machine). The bytes do depend on the installed fonts,
the font settings below and the WeasyPrint version (``RENDERER``, recorded with
each registered hash).

How a document is printed:

* Small documents (all notices, ordinary circulars): one WeasyPrint render of
  ``templates/documents/<kind>.html``; page numbers, the verification code and
  the QR code are drawn by the CSS page margin boxes.
* A document whose longest table has more than ``PARALLEL_ROWS`` rows (a county
  circular may list 2,000 findings): the table is cut into sections of rows,
  each section laid out in its own forked process (WeasyPrint's layout is
  single-threaded and ~3-5 ms a row), and the sections' pages are joined with
  pypdf. Each section after the first starts on a new page with the table's
  header repeated. The sections are laid out without the page furniture, then
  every page gets its furniture (page number "— n —" on the outer side,
  verification code, QR code on page 1) from one small WeasyPrint render of
  the furniture alone, with the same ``@page :left/:right`` rules, so page
  numbers run on continuously; a section page landing on a page of the other
  parity is shifted sideways by the difference of the margins (2 mm), so the
  binding margin stays 28 mm on the binding side.

Settings (environment, read at each render, put first in the font stacks so a
deployment's licensed fonts win): ``DUBAN_DOCUMENT_FONT_BODY`` (仿宋),
``DUBAN_DOCUMENT_FONT_MARK`` (小标宋: authority mark and titles),
``DUBAN_DOCUMENT_FONT_HEI`` (黑体), ``DUBAN_DOCUMENT_FONT_KAI`` (楷体). See
docs/CONFIGURATION.md, "Documents".
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import multiprocessing
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
import segno
import weasyprint  # imported at module import: workers/preload.py imports this module in the RQ parent
from weasyprint.text.fonts import FontConfiguration

from workers.documents.model import (
    BODY,
    HEADING_1,
    HEADING_2,
    KINDS,
    Attachment,
    OfficialDocument,
    Paragraph,
    Table,
)

#: What printed a document; recorded with each registered hash (workers/jobs.py reads it).
RENDERER = f"WeasyPrint {weasyprint.__version__}; duban-gbt9704 1"

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

#: One font configuration per process (fonts are looked up once, forked sections inherit it).
FONT_CONFIG = FontConfiguration()

#: A table longer than this is laid out in sections, in parallel processes.
PARALLEL_ROWS = 400
#: Rows per section at most: WeasyPrint's table layout grows faster than the rows (1,000 rows:
#: 4.5 s; 500: 1.9 s), so 2,000 rows are cut into four sections. How a table is cut depends on
#: its length alone, never on the machine: a section starts a new page, so cutting by the number
#: of CPUs would make a reprint on another machine differ from the registered bytes.
MAX_SECTION_ROWS = 500

MM = 72 / 25.4  # points per millimetre
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210.0, 297.0
TOP_MM, BINDING_MM, TEXT_WIDTH_MM, TEXT_HEIGHT_MM = 37.0, 28.0, 156.0, 225.0
OUTER_MM = PAGE_WIDTH_MM - BINDING_MM - TEXT_WIDTH_MM  # 26 mm
BOTTOM_MM = PAGE_HEIGHT_MM - TOP_MM - TEXT_HEIGHT_MM  # 35 mm
#: 22 lines a page: the body's line pitch (225 mm / 22 ≈ 28.99 pt).
LINE_PT = TEXT_HEIGHT_MM * MM / 22

DEFAULT_FONTS = {
    "body": ('"FangSong_GB2312"', '"仿宋_GB2312"', '"FangSong"', '"仿宋"', '"Noto Serif CJK SC"', "serif"),
    "mark": ('"FZXiaoBiaoSong-B05S"', '"方正小标宋简体"', '"FZXiaoBiaoSong-B05"', '"Noto Serif CJK SC"', "serif"),
    "hei": ('"SimHei"', '"黑体"', '"Noto Sans CJK SC"', "sans-serif"),
    "kai": ('"KaiTi_GB2312"', '"楷体_GB2312"', '"KaiTi"', '"楷体"', '"AR PL UKai CN"', '"AR PL KaitiM GB"',
            '"Noto Serif CJK SC"', "serif"),
}  # fmt: skip
FONT_ENV = {
    "body": "DUBAN_DOCUMENT_FONT_BODY",
    "mark": "DUBAN_DOCUMENT_FONT_MARK",
    "hei": "DUBAN_DOCUMENT_FONT_HEI",
    "kai": "DUBAN_DOCUMENT_FONT_KAI",
}


def font_stacks(env: dict[str, str] | os._Environ[str] | None = None) -> dict[str, str]:
    """CSS font-family lists; a family named in the environment goes first
    (several may be given, separated by commas)."""
    env = os.environ if env is None else env
    stacks = {}
    for key, default in DEFAULT_FONTS.items():
        extra = [name.strip().strip("\"'") for name in env.get(FONT_ENV[key], "").split(",") if name.strip()]
        named = [f'"{name}"' for name in extra if '"' not in name and ";" not in name and "}" not in name]
        stacks[key] = ", ".join([*named, *[family for family in default if family not in named]])
    return stacks


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def chinese_date(day: Any) -> str:
    """成文日期 in Arabic numerals, no zero padding: 2026年3月5日."""
    return f"{day.year}年{day.month}月{day.day}日"


_env.filters["chinese_date"] = chinese_date


# What is printed: a flat list of blocks, so a long table can be cut into sections.
@dataclass(frozen=True)
class Block:
    kind: str  # header, title, addressees, paragraph, table, attachment_list, signature, notes, attachment_head, banji
    paragraph: Paragraph | None = None
    table: Table | None = None
    #: For a table: the rows printed in this section, and whether its caption is.
    rows: tuple[tuple[str, ...], ...] = ()
    first_rows: bool = True
    attachment: Attachment | None = None
    number: int = 0


def blocks_of(document: OfficialDocument) -> list[Block]:
    blocks = [Block("header"), Block("title")]
    if document.addressees:
        blocks.append(Block("addressees"))
    blocks += [Block("paragraph", paragraph=p) for p in document.paragraphs]
    blocks += [Block("table", table=t, rows=t.rows) for t in document.tables]
    if document.attachments:
        blocks.append(Block("attachment_list"))
    blocks.append(Block("signature"))
    if document.notes:
        blocks.append(Block("notes"))
    for number, attachment in enumerate(document.attachments, start=1):
        blocks.append(Block("attachment_head", attachment=attachment, number=number))
        blocks += [Block("paragraph", paragraph=p) for p in attachment.paragraphs]
        if attachment.table is not None:
            blocks.append(Block("table", table=attachment.table, rows=attachment.table.rows))
    blocks.append(Block("banji"))
    return blocks


def sections_of(blocks: list[Block]) -> list[list[Block]]:
    """Cut the longest table into sections of consecutive rows, by its length alone."""
    tables = [(len(b.rows), i) for i, b in enumerate(blocks) if b.kind == "table"]
    if not tables:
        return [blocks]
    length, at = max(tables)
    if length <= PARALLEL_ROWS:
        return [blocks]
    count = math.ceil(length / MAX_SECTION_ROWS)
    if count < 2:
        return [blocks]
    size = math.ceil(length / count)
    table = blocks[at]
    sections = []
    for k, start in enumerate(range(0, length, size)):
        part = replace(table, rows=table.rows[start : start + size], first_rows=start == 0)
        before = blocks[:at] if k == 0 else []
        after = blocks[at + 1 :] if start + size >= length else []
        sections.append([*before, part, *after])
    return sections


def qr_data_uri(url: str) -> str:
    svg = io.BytesIO()
    segno.make(url, error="m", micro=False).save(svg, kind="svg", border=0, dark="#000", xmldecl=False,
                                                 svgns=True, nl=False)  # fmt: skip
    return "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode("ascii")


def mark_size_pt(mark: str) -> float:
    """The authority mark on one line of the text block, at most 42 pt a character."""
    per_char = TEXT_WIDTH_MM * MM * 0.96 / max(len(mark), 1)
    return round(min(42.0, per_char), 1)


def html_of(document: OfficialDocument, blocks: list[Block], furniture: bool, pages: int = 0) -> str:
    """The HTML of one section (or the whole document); ``pages`` > 0 renders the
    page furniture alone for that many pages."""
    if document.kind not in KINDS:
        raise ValueError(f"unknown document kind {document.kind!r}")
    template = _env.get_template(f"documents/{document.kind}.html")
    return template.render(
        doc=document,
        blocks=blocks,
        furniture=furniture,
        furniture_pages=pages,
        fonts=font_stacks(),
        qr=qr_data_uri(document.verification_url) if furniture and document.verification_url else "",
        mark_pt=mark_size_pt(document.authority_mark),
        line_pt=round(LINE_PT, 2),
        created=f"{document.signed_on.isoformat()}T00:00:00+08:00",
        BODY=BODY,
        HEADING_1=HEADING_1,
        HEADING_2=HEADING_2,
    )


def pdf_identifier(document: OfficialDocument) -> bytes:
    return hashlib.sha256(f"duban-document:{document.document_id}".encode()).hexdigest()[:32].encode("ascii")


def _render(html: str, identifier: bytes) -> bytes:
    return weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf(
        font_config=FONT_CONFIG, pdf_identifier=identifier
    )


def render_pdf(document: OfficialDocument) -> bytes:
    """The document's PDF; the same document always gives the same bytes."""
    workers = os.cpu_count() or 1
    sections = sections_of(blocks_of(document))
    identifier = pdf_identifier(document)
    if len(sections) == 1:
        return _render(html_of(document, sections[0], furniture=True), identifier)
    htmls = [html_of(document, section, furniture=False) for section in sections]
    # One CPU, or a daemonic process (which may not fork): the same sections, one after another.
    if workers < 2 or multiprocessing.current_process().daemon:
        parts = [_render(html, identifier) for html in htmls]
    else:
        context = multiprocessing.get_context("fork")
        with context.Pool(min(workers, len(htmls))) as pool:
            parts = pool.starmap(_render, [(html, identifier) for html in htmls])
            # Let the workers leave on their own: leaving the block terminates them
            # with SIGTERM, and a forked worker runs whatever handler its parent had
            # (a test run once hung on one that did not die).
            pool.close()
            pool.join()
    from workers.documents.join import join_sections

    return join_sections(document, parts, identifier, lambda pages: _render(
        html_of(document, [], furniture=True, pages=pages), identifier))  # fmt: skip
