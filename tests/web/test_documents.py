"""Downloading issued documents (scoped) and the public verification page
(issue 5). Documents are printed for real by their jobs, run here directly."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.documents import format_code
from tests.web.conftest import County, act_as, post, text_of
from workers import context, jobs
from workers.documents.storage import DocumentStore


@pytest.fixture
def printer(county: County, tmp_path: Path, monkeypatch) -> Iterator[DocumentStore]:
    """Jobs run in this process against the app's store; PDFs go to a temporary directory."""
    store = DocumentStore(tmp_path / "documents")
    monkeypatch.setenv("DUBAN_DOCUMENTS_DIR", str(store.directory))
    rt = county.runtime
    context.use(context.Services(rt.duban, rt.query, rt.clock, None, None, scores=rt.scores,
                                 documents=rt.documents, store=store, audit=rt.audit))  # fmt: skip
    yield store
    context.use(None)


def issued(county: County, cadres: tuple[UUID, ...] = ()) -> tuple[UUID, UUID]:
    """A finding in village A1 with its notice, and a circular criticising the village."""
    finding = county.file(county.village_a1, cadres=cadres)
    command = county.actor(county.command, "command")
    circular = county.duban.draft_circular(
        county_id=county.county, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q4",
        body="决定通报批评。", finding_ids=[finding], unit_ids=[county.village_a1], actor=command,
    ).id  # fmt: skip
    county.duban.issue_circular(circular, command)
    county.settle()
    return finding, circular


def code_of(county: County, source: UUID) -> str:
    row = county.runtime.documents.for_source(str(source))
    assert row is not None
    return row.display_code


def test_the_finding_page_says_rendering_then_offers_the_notice(client, county, printer):
    finding, _ = issued(county)
    act_as(client, county.unit_a1, "unit")
    page = client.get(f"/findings/{finding}").get_data(as_text=True)
    assert "正在生成" in text_of(page, "notice-document")
    code = code_of(county, finding)
    pending = client.get(f"/documents/{code}.pdf")
    assert pending.status_code == 202 and "正在生成" in pending.get_data(as_text=True)

    assert jobs.render_finding_notice(str(finding), 1) == "registered"
    county.settle()
    page = client.get(f"/findings/{finding}").get_data(as_text=True)
    assert f"/documents/{code}.pdf" in page and "下载PDF" in text_of(page, "notice-document")
    assert "unit-notice-link" not in page  # only the offices issue a unit notice


def test_downloads_are_scoped(client, county, printer):
    finding, circular = issued(county, cadres=(county.cadre_1,))
    jobs.render_finding_notice(str(finding), 1)
    jobs.render_circular(str(circular))
    county.settle()
    notice, paper = code_of(county, finding), code_of(county, circular)

    assert client.get(f"/documents/{notice}.pdf").status_code == 303  # choose an identity first
    allowed = {
        (county.command, "command"): (200, 200),
        (county.discipline, "discipline"): (200, 200),
        (county.inspector, "inspector"): (200, 200),
        (county.unit_a1, "unit"): (200, 200),
        (county.unit_town_a, "unit"): (200, 200),  # the village is under its town
        (county.unit_b, "unit"): (404, 200),
        (county.cadre_1, "cadre"): (200, 200),
        (county.cadre_2, "cadre"): (404, 200),
    }
    for (user, role), expected in allowed.items():
        act_as(client, user, role)
        got = tuple(client.get(f"/documents/{code}.pdf").status_code for code in (notice, paper))
        assert got == expected, (role, user)

    act_as(client, county.unit_a1, "unit")
    response = client.get(f"/documents/{paper.lower().replace('-', '')}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    stored = printer.read(county.duban.circular(circular).document_sha256)
    assert response.data == stored
    assert client.get("/documents/ZZZZ-ZZZZ-ZZ.pdf").status_code == 404
    assert client.get("/documents/not-a-code.pdf").status_code == 404


def _upload(client, code: str, data: bytes) -> Any:
    """A multipart POST built by hand: the test client would spool a large body
    to a temporary file that is only closed with a consumed response."""
    from tests.web.conftest import token

    boundary = "duban-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token(client)}\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"document.pdf\"\r\n"
        "Content-Type: application/pdf\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/verify/{code}", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_the_verification_page_needs_no_sign_in_and_compares_files_byte_for_byte(client, county, printer):
    _, circular = issued(county)
    jobs.render_circular(str(circular))
    county.settle()
    code = code_of(county, circular)
    stored = printer.read(county.duban.circular(circular).document_sha256)

    page = client.get(f"/verify/{code}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert text_of(html, "document-kind") == "通报批评"
    assert text_of(html, "document-number") == "米脱指发〔2026〕1号"
    assert text_of(html, "document-title") == "关于整改不力单位的通报"
    assert county.duban.circular(circular).document_sha256 in text_of(html, "document-sha256")
    history = text_of(html, "history")
    assert "起草通报" in history and "印发" in history and "文件已印制登记" in history and "赵主任" in history

    for typed in (code.lower(), code.replace("-", ""), code.lower().replace("-", "")):
        moved = client.get(f"/verify/{typed}")
        assert moved.status_code == 301 and moved.headers["Location"].endswith(f"/verify/{code}")
    assert client.get(f"/verify?code={code.lower()}").headers["Location"].endswith(f"/verify/{code}")

    same = _upload(client, code, stored)
    assert same.status_code == 200 and "与登记的原件完全一致" in text_of(same.get_data(as_text=True), "verify-outcome")
    changed = _upload(client, code, stored[:-1] + bytes([stored[-1] ^ 1]))
    assert "与登记的原件不一致" in text_of(changed.get_data(as_text=True), "verify-outcome")
    # Larger than the app's 2 MB form limit, within the page's own 20 MB.
    large = _upload(client, code, b"%PDF" + b"0" * (3 * 1024 * 1024))
    assert large.status_code == 200 and "与登记的原件不一致" in large.get_data(as_text=True)
    assert _upload(client, code, b"0" * (21 * 1024 * 1024)).status_code == 413
    # The form token is required, as on every form.
    from io import BytesIO

    assert client.post(f"/verify/{code}", data={"file": (BytesIO(stored), "a.pdf")},
                       content_type="multipart/form-data").status_code == 400  # fmt: skip

    assert client.get("/verify/ZZZZ-ZZZZ-ZZ").status_code == 404
    assert client.get("/verify/nonsense").status_code == 404
    assert client.get("/verify").status_code == 200


def test_the_public_history_of_a_notice_shows_no_household_number(client, county, printer):
    finding = county.file(county.village_a1, household_no="612727201900123456", description="收入核算表缺少务工收入")
    county.settle()
    html = client.get(f"/verify/{code_of(county, finding)}").get_data(as_text=True)
    assert "整改通知书" in html and "下发整改通知" in html
    assert "6127272019" not in html and "123456" not in html and "收入核算表缺少务工收入" not in html
    assert "正在生成" in text_of(html, "document-sha256")


def test_the_offices_issue_a_units_notice_of_its_open_findings(client, county, printer):
    first = county.file(county.village_a1, check_item="收入核算表")
    second = county.file(county.village_a2, check_item="帮扶手册")
    county.file(county.town_b, check_item="危房改造")
    county.settle()

    act_as(client, county.unit_town_a, "unit")
    assert client.get(f"/units/{county.town_a}/notice").status_code == 403
    act_as(client, county.inspector, "inspector")
    page = client.get(f"/units/{county.town_a}/notice").get_data(as_text=True)
    assert set(re.findall(r'data-finding="([0-9a-f-]{36})"', page)) == {str(first), str(second)}
    form = dict(re.findall(r'name="(notice_id)" value="([0-9a-f-]{36})"', page))
    data = {"notice_id": form["notice_id"], "finding_ids": [str(first), str(second)]}
    assert post(client, f"/units/{county.town_a}/notice", data).status_code == 303
    before = county.duban.position()
    assert post(client, f"/units/{county.town_a}/notice", data).status_code == 303  # sent twice: recorded once
    assert county.duban.position() == before
    notice = county.duban.unit_notice(UUID(form["notice_id"]))
    assert set(notice.finding_ids) == {first, second}
    page = client.get(f"/units/{county.town_a}/notice").get_data(as_text=True)
    assert "正在生成" in text_of(page, "unit-notices")

    assert jobs.render_unit_notice(str(notice.id)) == "registered"
    county.settle()
    act_as(client, county.unit_town_a, "unit")
    code = format_code(county.runtime.documents.for_source(str(notice.id)).code)
    assert client.get(f"/documents/{code}.pdf").status_code == 200
    act_as(client, county.unit_b, "unit")
    assert client.get(f"/documents/{code}.pdf").status_code == 404


def test_the_circular_page_says_rendering_then_offers_the_pdf(client, county, printer):
    _, circular = issued(county)
    act_as(client, county.unit_a1, "unit")
    before = client.get(f"/circulars/{circular}").get_data(as_text=True)
    assert "正式文件正在生成" in before and 'id="download"' not in before

    jobs.render_circular(str(circular))
    county.settle()

    after = client.get(f"/circulars/{circular}").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" id="download">', after)
    assert link is not None and code_of(county, circular) in after
    pdf = client.get(link.group(1))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == county.runtime.documents.for_source(str(circular)).sha256


def test_the_verification_page_shows_the_anchor_and_the_discipline_office_a_link_to_check_it(client, county, printer):
    _, circular = issued(county)
    jobs.render_circular(str(circular))
    county.settle()
    code = code_of(county, circular)
    anchor = county.duban.circular(circular).document_anchor
    head, position = anchor.split("@")
    assert len(head) == 64 and int(position) == county.runtime.documents.for_source(str(circular)).issued_position

    public = client.get(f"/verify/{code}").get_data(as_text=True)
    assert anchor in text_of(public, "document-anchor") and 'id="document-anchor-check"' not in public
    assert f"历史存证{anchor}" in re.sub(r"\s+", "", text_of(public, "history"))  # the registration event's details
    act_as(client, county.command, "command")
    assert 'id="document-anchor-check"' not in client.get(f"/verify/{code}").get_data(as_text=True)
    act_as(client, county.discipline, "discipline")
    page = client.get(f"/verify/{code}").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" id="document-anchor-check">', page)
    assert link is not None and link.group(1) == f"/audit?anchor={head}%40{position}"


def test_a_document_registered_before_anchors_shows_none(client, county, printer):
    from workers.documents.content import circular_document
    from workers.documents.render import render_pdf

    _, circular = issued(county)
    built = circular_document(county.duban, circular)  # printed by the code before anchors
    pdf = render_pdf(built.document)
    printer.put(pdf)
    county.duban.register_circular_document(circular, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
                                            renderer="test", letterhead=built.letterhead.as_dict())  # fmt: skip
    county.settle()
    act_as(client, county.discipline, "discipline")
    page = client.get(f"/verify/{code_of(county, circular)}").get_data(as_text=True)
    assert "历史存证启用之前" in text_of(page, "document-anchor") and 'id="document-anchor-check"' not in page
