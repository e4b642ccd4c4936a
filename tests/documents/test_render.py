"""The official-document printer: layout (GB/T 9704-2012), glyphs, determinism.

The page-1 picture is compared with ``tests/documents/reference/finding_notice_p1.png``
(40 dpi, grayscale). After an intended change of the layout, regenerate it with::

    DUBAN_REGENERATE_REFERENCE=1 .venv/bin/pytest tests/documents -k reference

and look at the new picture before committing it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pdfplumber
import pypdfium2
import pytest
from PIL import Image, ImageChops, ImageStat
from pypdf import PdfReader

from tests.documents import samples
from workers.documents import render
from workers.documents.model import OfficialDocument

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).parent / "reference" / "finding_notice_p1.png"
MM = 72 / 25.4
CJK = re.compile(r"[\u3400-\u9fff]")
CJK_GAP = re.compile(r"[\u3400-\u9fff]\s+[\u3400-\u9fff]")
RED_RULE_WIDTH = 156 * MM


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def source_texts(document: OfficialDocument) -> list[str]:
    texts = [document.authority_mark, document.document_number, document.title, document.addressees,
             document.signatory, document.copy_to, document.printer, *document.notes]  # fmt: skip
    texts += [p.text for p in document.paragraphs]
    for table in [*document.tables, *(a.table for a in document.attachments if a.table)]:
        texts += [c.header for c in table.columns] + [cell for row in table.rows for cell in row] + [table.caption]
    texts += [a.title for a in document.attachments]
    return texts


@pytest.fixture(scope="module")
def printed() -> dict[str, bytes]:
    return {kind: render.render_pdf(make()) for kind, make in samples.ALL.items()}


@pytest.fixture(scope="module")
def joined() -> bytes:
    """A 120-row circular laid out in two parallel sections (forced by low thresholds)."""
    saved = render.PARALLEL_ROWS, render.MAX_SECTION_ROWS
    render.PARALLEL_ROWS, render.MAX_SECTION_ROWS = 50, 60
    try:
        return render.render_pdf(samples.criticism(120))
    finally:
        render.PARALLEL_ROWS, render.MAX_SECTION_ROWS = saved


def pages_of(pdf: bytes):  # type: ignore[no-untyped-def]
    return pdfplumber.open(io.BytesIO(pdf))


def page_number(page) -> tuple[str, float, float] | None:  # type: ignore[no-untyped-def]
    """The "— n —" under the text block: its text and horizontal extent."""
    chars = [c for c in page.chars if c["top"] > (37 + 225) * MM and abs(c["size"] - 14) < 0.5]
    if not chars:
        return None
    return "".join(c["text"] for c in chars), min(c["x0"] for c in chars), max(c["x1"] for c in chars)


@pytest.mark.parametrize("kind", sorted(samples.ALL))
def test_the_texts_are_printed_with_every_glyph(printed: dict[str, bytes], kind: str) -> None:
    document = samples.ALL[kind]()
    with pages_of(printed[kind]) as pdf:
        text = squeeze("".join(page.extract_text() for page in pdf.pages))
        fonts = {c["fontname"] for page in pdf.pages for c in page.chars}
        cells = {squeeze(cell or "") for page in pdf.pages for table in page.extract_tables() for row in table for cell in row}
        for page in pdf.pages:
            assert abs(page.width - 595.28) < 1 and abs(page.height - 841.89) < 1  # A4
    for needle in (document.title, document.document_number, document.signatory, document.authority_mark,
                   render.chinese_date(document.signed_on), document.verification_code):  # fmt: skip
        assert squeeze(needle) in text
    assert "〔2026〕" in text
    for table in document.tables:
        for row in table.rows:
            assert squeeze(row[1]) in cells  # every listed unit, in its cell
    missing = {ch for source in source_texts(document) for ch in source if CJK.match(ch) and ch not in text}
    assert not missing, f"characters not printed: {''.join(sorted(missing))}"
    assert not [f for f in fonts if "notdef" in f.lower()]
    assert "\ufffd" not in text


@pytest.mark.parametrize("kind", sorted(samples.ALL))
def test_no_space_between_chinese_characters(printed: dict[str, bytes], kind: str) -> None:
    """A newline between Chinese characters in a template prints as a space."""
    document = samples.ALL[kind]()
    html = render.html_of(document, render.blocks_of(document), furniture=True)
    body = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    nodes = re.findall(r">([^<]*)<", body)  # newlines between block elements are harmless; inside a text node not
    assert not [node for node in nodes if CJK_GAP.search(node)], "whitespace between Chinese characters in the HTML"
    with pages_of(printed[kind]) as pdf:
        page = pdf.pages[0]
        for table in page.find_tables():  # a table's cells sit side by side: extraction joins them with spaces
            page = page.outside_bbox(table.bbox)
        lines = page.extract_text().splitlines()
    assert not [line for line in lines if CJK_GAP.search(line)]


def test_the_header_zone(printed: dict[str, bytes]) -> None:
    document = samples.finding_notice()
    with pages_of(printed["finding_notice"]) as pdf:
        page = pdf.pages[0]
        mark = [c for c in page.chars if c["text"] in document.authority_mark and c["top"] < 100 * MM]
        assert squeeze("".join(c["text"] for c in mark)) == document.authority_mark
        for char in mark:
            r, g, b = char["non_stroking_color"]
            assert r > 0.85 and g < 0.1 and b < 0.1
        # Its top 35 mm below the text block's top (37 mm): the glyph box, ± 2 mm.
        assert abs(min(c["top"] for c in mark) - 72 * MM) < 2 * MM
        centre = (min(c["x0"] for c in mark) + max(c["x1"] for c in mark)) / 2
        assert abs(centre - (28 + 78) * MM) < 2
        number = [c for c in page.chars if c["text"] in "〔〕" ]
        assert number and all(c["non_stroking_color"] in ((0,), (0, 0, 0), [0], [0, 0, 0], 0) for c in number)
        number_bottom = max(c["bottom"] for c in page.chars if abs(c["top"] - number[0]["top"]) < 2)
        red = [r for r in page.rects if r.get("fill") and len(r["non_stroking_color"] or ()) == 3
               and r["non_stroking_color"][0] > 0.85 and r["non_stroking_color"][1] < 0.1]  # fmt: skip
        assert len(red) == 1
        rule = red[0]
        assert abs(rule["width"] - RED_RULE_WIDTH) < 1 * MM
        assert abs(rule["x0"] - 28 * MM) < 1
        assert 2 * MM < rule["top"] - number_bottom < 6 * MM  # 4 mm under the number
        title = [c for c in page.chars if abs(c["size"] - 22) < 0.5]
        assert squeeze("".join(c["text"] for c in title)) == document.title
        body = [c for c in page.chars if c["text"] in document.paragraphs[0].text
                and title[0]["bottom"] < c["top"] < (37 + 225) * MM]  # fmt: skip
        assert body and {round(c["size"]) for c in body} == {16}


def assert_margins(page, number: int) -> None:  # type: ignore[no-untyped-def]
    """Odd pages: binding margin 28 mm on the left; even pages: on the right."""
    left = 28 * MM if number % 2 else 26 * MM
    text = [c for c in page.chars if 37 * MM < c["top"] < (37 + 225) * MM]
    edges = [e["x0"] for e in page.edges if e["orientation"] == "v"]
    x = min(edges) if edges else min(c["x0"] for c in text)
    assert abs(x - left) < 1.5, (number, x / MM)
    found = page_number(page)
    assert found is not None and squeeze(found[0]) == f"—{number}—", found
    if number % 2:
        assert abs(found[2] - ((210 - 26) * MM - 14)) < 3  # one character in from the right
    else:
        assert abs(found[1] - (26 * MM + 14)) < 3  # one character in from the left


def test_margins_and_page_numbers_alternate(printed: dict[str, bytes]) -> None:
    with pages_of(printed["criticism"]) as pdf:
        assert len(pdf.pages) >= 4
        for number, page in enumerate(pdf.pages, start=1):
            assert_margins(page, number)
            assert "验证码7K3Q-9XTD-4M" in squeeze(page.extract_text())
    with pages_of(printed["finding_notice"]) as pdf:
        page = pdf.pages[0]
        lines = [c for c in page.chars if abs(c["size"] - 16) < 0.5 and c["top"] > 150 * MM]
        assert abs(min(c["x0"] for c in lines) - 28 * MM) < 1  # the addressees, flush left
        page = pdf.pages[1]
        lines = [c for c in page.chars if abs(c["size"] - 16) < 0.5 and c["top"] < 200 * MM]
        assert abs(min(c["x0"] for c in lines) - 26 * MM) < 1
        assert max(c["x1"] for c in lines) <= (210 - 28) * MM + 1


def test_tables_repeat_their_header_and_keep_rows_whole(printed: dict[str, bytes]) -> None:
    document = samples.criticism()
    rows = document.attachments[0].table.rows  # type: ignore[union-attr]
    with pages_of(printed["criticism"]) as pdf:
        texts = [squeeze(page.extract_text()) for page in pdf.pages]
        cells = [{squeeze(c or "") for t in page.extract_tables() for r in t for c in r} for page in pdf.pages]
    first = next(i for i, t in enumerate(texts) if "全县通报批评问题清单" in t and "附件" in t[:4])
    assert len(texts) - first > 3
    for text in texts[first:]:
        assert "问题描述" in text and "整改情况" in text
    for row in rows:  # each row printed whole, on one page
        assert sum(squeeze(row[4]) in page for page in cells) == 1


def test_the_end_zone_is_on_the_last_page(printed: dict[str, bytes]) -> None:
    with pages_of(printed["criticism"]) as pdf:
        last = pdf.pages[-1]
        text = squeeze(last.extract_text())
        assert "抄送：县委办公室，县政府办公室，县纪委监委。" in text and "2026年11月30日印发" in text
        rules = [r for r in last.rects if r["width"] > 150 * MM and r["height"] < 1.5]
        assert len(rules) == 3
        assert abs(max(r["bottom"] for r in rules) - (37 + 225) * MM) < 1.5
        assert "抄送" not in squeeze(pdf.pages[-2].extract_text())


def anchor_line(page) -> tuple[str, float, float, list[float]]:  # type: ignore[no-untyped-def]
    """The 历史存证 line (8 pt, in the text block): its text, horizontal extent and glyph tops."""
    chars = [c for c in page.chars if abs(c["size"] - 8) < 0.3 and c["top"] < (37 + 225) * MM]
    return ("".join(c["text"] for c in chars), min(c["x0"] for c in chars), max(c["x1"] for c in chars),
            [c["top"] for c in chars])  # fmt: skip


@pytest.mark.parametrize("which", ["printed", "joined"])
def test_the_anchor_is_one_line_of_the_end_zone(printed: dict[str, bytes], joined: bytes, which: str) -> None:
    """A full head at a 12-digit position, on the last page above the end zone's rules, inside the
    156 mm text block, in one piece or after a long table laid out in sections."""
    pdf_bytes = printed["criticism"] if which == "printed" else joined
    with pages_of(pdf_bytes) as pdf:
        last = pdf.pages[-1]
        text, left, right, tops = anchor_line(last)
        assert text == f"历史存证：{samples.ANCHOR}"
        assert max(tops) - min(tops) < 2  # one line (two fonts: the hex digits and the label)
        binding = 28 if len(pdf.pages) % 2 else 26  # a right-hand page's text block starts at 28 mm
        assert binding * MM - 0.5 <= left and right <= (binding + 156) * MM + 0.5
        rules = [r for r in last.rects if r["width"] > 150 * MM and r["height"] < 1.5]
        assert max(tops) < min(r["top"] for r in rules)  # above the end zone's first rule
        assert all("历史存证" not in squeeze(page.extract_text()) for page in pdf.pages[:-1])
    reread = squeeze("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_bytes)).pages))
    assert f"历史存证：{samples.ANCHOR}" in reread  # what pypdf reads back


def test_a_document_without_an_anchor_prints_no_anchor_line(printed: dict[str, bytes]) -> None:
    assert samples.finding_notice().anchor == ""
    assert "历史存证" not in squeeze("".join(p.extract_text() for p in PdfReader(io.BytesIO(printed["finding_notice"])).pages))


def top_drawing(page) -> list:  # type: ignore[no-untyped-def,type-arg]
    """What is drawn in the top margin."""
    return [o for o in (*page.lines, *page.rects, *page.curves) if o["bottom"] < 37 * MM]


def test_the_qr_code_is_on_the_first_page(printed: dict[str, bytes]) -> None:
    with pages_of(printed["finding_notice"]) as pdf:
        first, second = pdf.pages[0], pdf.pages[1]
        assert len(top_drawing(first)) > 50  # the QR code's modules (an SVG image drawn as lines)
        assert not top_drawing(second)


def test_rendering_twice_gives_the_same_bytes(printed: dict[str, bytes]) -> None:
    assert render.render_pdf(samples.finding_notice()) == printed["finding_notice"]
    assert render.render_pdf(samples.ranking()) == printed["ranking"]
    assert render.pdf_identifier(samples.finding_notice()) in printed["finding_notice"]
    info = PdfReader(io.BytesIO(printed["finding_notice"])).metadata
    assert info["/CreationDate"] == info["/ModDate"] == "D:20261129000000+08'00"


def test_the_same_bytes_in_another_process(printed: dict[str, bytes]) -> None:
    code = ("import hashlib,sys; from tests.documents import samples; from workers.documents.render import render_pdf;"
            "sys.stdout.write(hashlib.sha256(render_pdf(samples.unit_notice())).hexdigest())")  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout == hashlib.sha256(printed["unit_notice"]).hexdigest()


def test_font_settings_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_DOCUMENT_FONT_BODY", "FZFangSong-Z02S")
    monkeypatch.setenv("DUBAN_DOCUMENT_FONT_MARK", "Some Mark; }")
    stacks = render.font_stacks()
    assert stacks["body"].startswith('"FZFangSong-Z02S", "FangSong_GB2312"')
    assert stacks["body"].endswith('"Noto Serif CJK SC", serif')
    assert stacks["mark"].startswith('"FZXiaoBiaoSong-B05S", "方正小标宋简体"')  # an unsafe name is dropped


def test_a_long_table_laid_out_in_sections(joined: bytes) -> None:
    """Sections laid out in parallel, joined: page numbers run on, margins alternate."""
    document = samples.criticism(120)
    with pages_of(joined) as pdf:
        texts = [squeeze(page.extract_text()) for page in pdf.pages]
        cells = [{squeeze(c or "") for t in page.extract_tables() for r in t for c in r} for page in pdf.pages]
        for number, page in enumerate(pdf.pages, start=1):
            assert_margins(page, number)
        assert len(top_drawing(pdf.pages[0])) > 50  # QR code on page 1 only
        assert not top_drawing(pdf.pages[1])
    for i in range(1, 121):
        assert sum(any(f"（第{i}号）" in cell for cell in page) for page in cells) == 1
    first = next(i for i, t in enumerate(texts) if t.startswith("附件"))
    assert all("问题描述" in text for text in texts[first:])
    assert "抄送" in texts[-1] and not any("抄送" in t for t in texts[:-1])
    assert squeeze(document.title) in texts[0]
    saved = render.PARALLEL_ROWS, render.MAX_SECTION_ROWS
    render.PARALLEL_ROWS, render.MAX_SECTION_ROWS = 50, 60
    try:
        assert render.render_pdf(document) == joined
    finally:
        render.PARALLEL_ROWS, render.MAX_SECTION_ROWS = saved


def page_one_picture(pdf: bytes) -> Image.Image:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].render(scale=40 / 72, grayscale=True).to_pil().convert("L")
    finally:
        document.close()


def test_page_one_looks_like_the_reference(printed: dict[str, bytes]) -> None:
    picture = page_one_picture(printed["finding_notice"])
    if os.environ.get("DUBAN_REGENERATE_REFERENCE"):
        REFERENCE.parent.mkdir(exist_ok=True)
        picture.save(REFERENCE, optimize=True)
    reference = Image.open(REFERENCE).convert("L")
    assert REFERENCE.stat().st_size < 50_000
    assert picture.size == reference.size
    difference = ImageStat.Stat(ImageChops.difference(picture, reference)).mean[0]
    assert difference < 2.0, f"mean absolute pixel difference {difference:.2f}"


def test_how_a_long_table_is_cut_never_depends_on_the_machine(joined: bytes, monkeypatch) -> None:
    """A reprint on a machine with another number of CPUs must give the registered bytes."""
    monkeypatch.setattr(render, "PARALLEL_ROWS", 50)
    monkeypatch.setattr(render, "MAX_SECTION_ROWS", 60)
    for cpus in (1, 8):
        monkeypatch.setattr(render.os, "cpu_count", lambda cpus=cpus: cpus)
        assert render.render_pdf(samples.criticism(120)) == joined
