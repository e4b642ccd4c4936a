"""Importing an inspection team's spreadsheet: one inspection, all its findings,
once."""

from __future__ import annotations

import io
from uuid import UUID

from openpyxl import load_workbook

from domain.inspection import Inspection
from projections.ledger_query import LedgerFilter
from tests.excel.sheets import GOOD_ROWS, HEADER_ROW, good_file, upload, xlsx
from tests.web.conftest import act_as, ledger_ids


def ledger_rows(county) -> list[dict]:
    county.settle()
    query = county.runtime.query
    return query.page(LedgerFilter(county_id=str(county.county)), county.runtime.today(), 1, 1000).rows


def test_a_good_file_records_all_its_findings_in_one_inspection(client, county):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    response = upload(client, good_file())
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/"
    page = client.get("/").text
    assert "已导入督查批次“2026年第四季度数据质量督查”，登记问题3个，并已下发整改通知" in page
    assert len(ledger_ids(page)) == 3

    rows = {r["unit_name"]: r for r in ledger_rows(county)}
    assert set(rows) == {"高庙山村", "姬家岔村", "龙镇"}
    inspections = {r["inspection_id"] for r in rows.values()}
    assert len(inspections) == 1
    inspection = county.duban.inspection(UUID(inspections.pop()))
    assert inspection.title == "2026年第四季度数据质量督查"
    assert inspection.source == "inspection"
    assert (inspection.starts_on, inspection.ends_on) == ("2026-10-08", "2026-10-09")
    assert inspection.inspector_ids == (county.inspector,)
    assert inspection.completed
    history = county.duban.history(inspection.id)
    assert isinstance(history[-1], Inspection.Completed) and "督查问题.xlsx" in history[-1].summary

    a1 = rows["高庙山村"]
    assert (a1["category"], a1["severity"], a1["check_item"], a1["status"]) == ("missing", "general", "帮扶手册收入测算", "open")
    assert a1["household_masked"] == "612727********3456"
    finding = county.duban.finding(UUID(a1["finding_id"]))
    assert finding.household_no == "612727201900123456" and finding.cadre_ids == (county.cadre_1,)
    a2 = county.duban.finding(UUID(rows["姬家岔村"]["finding_id"]))
    assert set(a2.cadre_ids) == {county.cadre_1, county.cadre_2}
    assert rows["龙镇"]["severity"] == "grave"
    # One write: every event of the import sits between the two positions, nothing else.
    events = 1 + 1 + 3 * 2 + 3  # planned, completed, filed + notice each, a check-item record each
    assert county.duban.position() == before + events


def test_the_same_file_twice_records_nothing_the_second_time(client, county):
    act_as(client, county.inspector, "inspector")
    data = good_file()
    assert upload(client, data).status_code == 303
    county.settle()
    position = county.duban.position()
    again = upload(client, data, filename="另一个名字.xlsx")
    assert again.status_code == 200
    assert "该文件已于此前导入（督查批次“2026年第四季度数据质量督查”），本次没有重复登记任何问题" in again.text
    assert county.duban.position() == position
    # Another importer of the same county, same bytes: still the same inspection.
    act_as(client, county.command, "command")
    assert "本次没有重复登记" in upload(client, data).text
    assert county.duban.position() == position
    assert len(ledger_rows(county)) == 3


def test_the_service_refuses_a_second_import_even_if_asked_directly(client, county):
    from app.excel.findings_import import Directory, read_import
    from app.web.findings import FILING_KINDS
    from domain.service import imported_inspection_id

    county.settle()
    query = county.runtime.query
    directory = Directory.from_view(query.units(str(county.county)), query.users(str(county.county)), FILING_KINDS)
    parsed = read_import(good_file(), "a.xlsx", directory)
    assert parsed.ok
    actor = county.actor(county.inspector, "inspector")
    inspection_id = imported_inspection_id(county.county, parsed.digest)

    def run():
        h = parsed.header
        return county.duban.import_inspection(
            inspection_id=inspection_id, county_id=county.county, title=h.title, source=h.source,
            starts_on=h.starts_on, ends_on=h.ends_on, rows=parsed.rows, actor=actor,
        )  # fmt: skip

    first = run()
    assert first.position is not None and not first.value.already_imported and len(first.value.finding_ids) == 3
    position = county.duban.position()
    second = run()
    assert second.position is None and second.value.already_imported
    assert second.value.finding_ids == first.value.finding_ids
    assert county.duban.position() == position
    # Without notices the findings wait to be issued.
    assert {county.duban.finding(f).status for f in first.value.finding_ids} == {"filed"}


def test_without_notices_the_findings_are_filed_only(client, county):
    act_as(client, county.command, "command")
    assert upload(client, good_file(), issue_notices=False).status_code == 303
    assert {r["status"] for r in ledger_rows(county)} == {"filed"}
    assert "整改通知尚未下发" in client.get("/").text


def test_repeats_within_the_file_count_like_filing_one_by_one(client, county):
    rows = [
        ("高庙山村", "缺项", "帮扶手册收入测算", "户甲缺少收入测算", "一般", None, None),
        ("高庙山村", "缺项", "帮扶手册收入测算", "户乙缺少收入测算", "一般", None, None),
    ]
    earlier = county.file(county.village_a2, check_item="人口信息")
    act_as(client, county.inspector, "inspector")
    assert upload(client, good_file(rows)).status_code == 303
    repeats = sorted(r["is_repeat"] for r in ledger_rows(county) if r["finding_id"] != str(earlier))
    assert repeats == [0, 1]  # the second of the same unit and item within the window


def test_layout_is_found_by_labels(client, county):
    wb = load_workbook(io.BytesIO(good_file()))
    ws = wb.active
    ws.insert_rows(1, amount=2)  # a team's own heading above everything
    ws["A1"] = "米脂县脱贫攻坚指挥部"
    # Swap two columns and use the ledger's own words for them.
    header = HEADER_ROW + 2
    for row in ws.iter_rows(min_row=header, max_row=header + len(GOOD_ROWS)):
        row[1].value, row[4].value = row[4].value, row[1].value
    ws.cell(row=header, column=2, value="问题等级")
    ws.cell(row=header, column=5, value="问题类型")
    act_as(client, county.inspector, "inspector")
    response = upload(client, xlsx(wb))
    assert response.status_code == 303, response.text
    assert {(r["category"], r["severity"]) for r in ledger_rows(county)} == {
        ("missing", "general"), ("inconsistent", "serious"), ("outdated", "grave")
    }
