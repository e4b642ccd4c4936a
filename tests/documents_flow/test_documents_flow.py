"""Issued documents are printed for real, stored by hash and registered once,
through the policy → job → render → store → event path; and anyone can print
them again from the history and get exactly the registered bytes (issue 5)."""

from __future__ import annotations

import logging
import os
from datetime import date
from uuid import UUID

import pytest

from domain.documents import format_code, notice_document_id, verification_code
from domain.service import NotTheUnitsOpenFinding
from projections.runner import Follower
from tests.documents_flow.conftest import BASE_URL, Office, pdf_text, sha256
from workers import jobs
from workers.documents.content import circular_document, finding_notice_document, unit_notice_document
from workers.documents.render import render_pdf

PREFIX = "米脱指发"


def _criticism(office: Office, finding_ids: list[UUID], unit_ids: list[UUID], title: str = "关于整改不力单位的通报") -> UUID:
    c = office.county
    circular = office.app.draft_circular(
        county_id=c.county_id, kind="criticism", title=title, prefix=PREFIX, period="2026Q1",
        body="为严肃工作纪律，对以下单位予以全县通报批评。", finding_ids=finding_ids, unit_ids=unit_ids, actor=c.command,
    ).id  # fmt: skip
    office.app.issue_circular(circular, c.command)
    return circular


def test_an_issued_circular_is_printed_once_and_prints_again_identically_after_a_rename(office: Office):
    app, c = office.app, office.county
    finding = c.file(cadre_ids=[c.cadre_id])
    office.settle()

    # The finding's notice: issued by the policy, printed, stored, registered.
    notice_sha = app.finding(finding).notice_documents[1]
    assert sha256(office.store.read(notice_sha)) == notice_sha
    notice_row = office.documents.for_source(str(finding))
    assert notice_row is not None and notice_row.sha256 == notice_sha
    assert notice_row.code == verification_code(notice_document_id(finding, 1))

    app.clock.advance(hours=2)
    circular = _criticism(office, [finding], [c.village_a])
    office.settle()

    registered = app.circular(circular).document_sha256
    pdf = office.store.read(registered)
    assert sha256(pdf) == registered
    [registration] = [e for e in app.history(circular) if type(e).__name__ == "DocumentRegistered"]
    assert registration.size == len(pdf)
    assert registration.letterhead["verification_base"] == BASE_URL
    row = office.documents.for_source(str(circular))
    assert (row.sha256, row.size, row.document_number, row.kind) == (registered, len(pdf), "米脱指发〔2026〕1号", "criticism")
    text = pdf_text(pdf)
    for expected in ("米脂县脱贫攻坚指挥部文件", "米脱指发〔2026〕1号", "高庙山村", format_code(row.code)):
        assert expected in text

    # The job again: nothing recorded, the file not rewritten.
    position, stat = app.position(), os.stat(office.store.path(registered))
    assert jobs.render_circular(str(circular)) == "already registered"
    assert jobs.render_finding_notice(str(finding), 1) == "already registered"
    assert app.position() == position
    assert os.stat(office.store.path(registered)).st_mtime_ns == stat.st_mtime_ns

    # Later the village is renamed and the finding is closed; the settings change too.
    app.clock.advance(days=1)
    app.rename_unit(c.village_a, "高庙山新村", c.command)
    app.submit_rectification(finding, "已补齐收入核算表", c.unit_a)
    app.accept_rectification(finding, c.inspector)
    os.environ["DUBAN_DOCUMENT_AUTHORITY_MARK"] = "{county}人民政府文件"
    try:
        office.settle()
        # Printed again from the history alone: exactly the registered bytes.
        again = render_pdf(circular_document(app, circular, office.scores).document)
        assert sha256(again) == registered
        assert sha256(render_pdf(finding_notice_document(app, finding).document)) == notice_sha
    finally:
        del os.environ["DUBAN_DOCUMENT_AUTHORITY_MARK"]
    assert "高庙山新村" not in pdf_text(again)

    # The registry rebuilds to the same rows.
    rows = office.documents.all_rows()
    view = office.documents.view
    view.drop_view(app.name)
    assert office.documents.all_rows() == []
    Follower(app, next(f.projection for f in office.followers if f.projection.name == "documents")).catch_up()
    assert office.documents.all_rows() == rows


def test_a_unit_notice_lists_the_units_open_findings_as_they_stood(office: Office):
    app, c = office.app, office.county
    first = c.file(check_item="收入核算表", description="缺少第四季度务工收入")
    second = c.file(unit_id=c.village_b, check_item="帮扶手册", description="帮扶措施未更新")
    closed = c.file(check_item="危房改造", description="缺少鉴定表")
    office.settle()
    app.submit_rectification(closed, "已补齐", c.unit_a)
    app.accept_rectification(closed, c.inspector)
    with pytest.raises(NotTheUnitsOpenFinding):
        app.issue_unit_notice(c.town_id, [first, closed], c.command)
    with pytest.raises(NotTheUnitsOpenFinding):
        app.issue_unit_notice(c.village_a, [second], c.command)

    notice = app.issue_unit_notice(c.town_id, [first, second], c.inspector).id
    office.settle()
    assert list(app.unit_notice(notice).finding_ids) == [first, second]
    registered = app.unit_notice(notice).document_sha256
    pdf = office.store.read(registered)
    assert sha256(pdf) == registered
    text = pdf_text(pdf)
    assert "收入核算表" in text and "帮扶手册" in text and "危房改造" not in text and "银州街道" in text
    row = office.documents.for_source(str(notice))
    assert row.kind == "unit_notice" and row.unit_id == str(c.town_id) and row.sha256 == registered

    # Closing a listed finding afterwards changes nothing in the notice as printed.
    app.clock.advance(days=1)
    app.submit_rectification(first, "已补齐", c.unit_a)
    app.accept_rectification(first, c.inspector)
    assert sha256(render_pdf(unit_notice_document(app, notice).document)) == registered


def test_a_missing_file_is_printed_again_only_if_its_hash_is_the_registered_one(office: Office, caplog):
    app, c = office.app, office.county
    circular = _criticism(office, [], [c.village_b])
    office.settle()
    registered = app.circular(circular).document_sha256
    office.store.path(registered).unlink()
    position = app.position()
    assert jobs.render_circular(str(circular)) == "restored"
    assert sha256(office.store.read(registered)) == registered and app.position() == position

    # A registered hash that printing cannot reproduce: logged, nothing stored or recorded.
    app.clock.advance(minutes=1)
    other = office.app.draft_circular(
        county_id=c.county_id, kind="criticism", title="另一份通报", prefix=PREFIX, period="2026Q1", body="……",
        finding_ids=[], unit_ids=[c.village_a], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(other, c.command)
    forged = sha256(b"not the circular")
    app.register_circular_document(other, sha256=forged, size=16, renderer="test", letterhead={})
    position = app.position()
    with caplog.at_level(logging.ERROR, logger="duban.jobs"):
        assert jobs.render_circular(str(other)) == "mismatch"
    assert "differs from the registered" in caplog.text
    assert not office.store.exists(forged) and app.position() == position


def test_a_ranking_circular_takes_the_scores_of_the_day_before_its_issue(office: Office):
    app, c = office.app, office.county
    late = c.file()
    office.settle()
    app.clock.set(app.clock() .replace(year=2026, month=3, day=17))  # past the deadline
    app.record_missed_deadline(late)
    app.clock.advance(days=2)
    ranking = app.draft_circular(
        county_id=c.county_id, kind="ranking", title="关于2026年第一季度效能考评结果的通报", prefix=PREFIX,
        period="2026Q1", body="现将考评结果通报如下。", finding_ids=[], unit_ids=[], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(ranking, c.command)
    office.settle()
    registered = app.circular(ranking).document_sha256
    text = pdf_text(office.store.read(registered))
    assert "99.5" in text and "银州街道" in text  # the town answers for its village's overdue finding

    # A deduction recorded later on the issue day does not change the printed ranking.
    app.clock.advance(hours=1)
    app.submit_rectification(late, "已整改", c.unit_a)
    app.reject_rectification(late, "整改不到位", c.inspector)
    office.settle()
    assert sha256(render_pdf(circular_document(app, ranking, office.scores).document)) == registered
    assert date.fromisoformat(app.circular(ranking).issued_on).day == 19
