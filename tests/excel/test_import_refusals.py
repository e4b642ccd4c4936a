"""A file with any bad row is refused as a whole, with a report in Chinese
(行号, 列, 问题), and nothing is recorded."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import date

import pytest
from app.excel.container import MAX_FILE_BYTES
from projections.ledger_query import LedgerFilter
from domain.service import ImportProblem, ImportRefused, ImportRow, imported_inspection_id
from tests.excel.sheets import GOOD_ROWS, HEADER_ROW, good_file, report, upload, with_entry, workbook, xlsx
from tests.web.conftest import act_as

FIRST = HEADER_ROW + 1  # the first data row's number


@pytest.fixture
def inspector(client, county):
    act_as(client, county.inspector, "inspector")
    county.settle()
    return client


def refused(client, county, data: bytes, status: int = 422, filename: str = "督查问题.xlsx") -> list[tuple[str, str, str]]:
    position = county.duban.position()
    response = upload(client, data, filename=filename)
    assert response.status_code == status, response.text[:2000]
    assert "整个文件均未登记" in response.text
    assert county.duban.position() == position
    return report(response.text)


def row(*changes: tuple[int, object], base: tuple = GOOD_ROWS[0]) -> tuple:
    values = list(base)
    for index, value in changes:
        values[index] = value
    return tuple(values)


def test_every_bad_row_is_reported_at_once(inspector, county):
    rows = [
        GOOD_ROWS[0],
        row((0, "不存在村")),
        row((1, "错别字")),
        row((4, "特别严重")),
        row((3, None)),
        row((2, "  ")),
        GOOD_ROWS[0],
        row((5, "12345")),
        row((5, 612727201900123456)),
        row((6, "查无此人")),
    ]
    problems = refused(inspector, county, good_file(rows))
    assert problems == [
        (str(FIRST + 1), "责任单位", "找不到责任单位“不存在村”，请填写系统中登记的单位名称"),
        (str(FIRST + 2), "问题类别", "未知的问题类别“错别字”，应为：缺项、漏项、不规范、更新不及时、不一致、不对应、其他"),
        (str(FIRST + 3), "严重程度", "未知的严重程度“特别严重”，应为：一般、较重、严重"),
        (str(FIRST + 4), "问题描述", "请填写“问题描述”"),
        (str(FIRST + 5), "检查项目", "请填写“检查项目”"),
        (str(FIRST + 6), "整行", f"与第{FIRST}行重复（同一单位、类别、检查项目、问题描述和户号）"),
        (str(FIRST + 7), "户号", "户编号格式不正确（应为14至30位数字或字母）"),
        (str(FIRST + 8), "户号", "户号须以文本格式填写（长数字在Excel中会被改写），请将该列设为“文本”后重新录入"),
        (str(FIRST + 9), "帮扶责任人", "找不到帮扶责任人“查无此人”（所选帮扶责任人不存在或不属于本县）"),
    ]
    county.settle()
    assert county.runtime.query.status_counts(LedgerFilter(county_id=str(county.county)), date(2026, 10, 9)) == {}


def test_a_village_name_shared_by_two_towns_needs_its_town(inspector, county):
    county.duban.register_unit(name="高庙山村", kind="village", parent_id=county.town_b)
    county.settle()
    problems = refused(inspector, county, good_file([GOOD_ROWS[0]]))
    assert problems == [
        (str(FIRST), "责任单位", "有多个单位名为“高庙山村”，请写成“乡镇/村”的形式：银州街道/高庙山村、龙镇/高庙山村")
    ]
    assert upload(inspector, good_file([row((0, "龙镇／高庙山村"))])).status_code == 303


def test_a_retired_unit_is_refused(inspector, county):
    county.duban.retire_unit(county.village_a2, "撤并", county.actor(county.command, "command"))
    county.settle()
    problems = refused(inspector, county, good_file([GOOD_ROWS[1]]))
    assert problems == [(str(FIRST), "责任单位", "该单位已撤销，不能作为责任单位")]


@pytest.mark.parametrize(
    "header, expected",
    [
        ({"starts_on": "2026-13-01"}, ("4", "开始日期", "日期格式不正确，请填写如 2026-10-09 的日期")),
        ({"ends_on": 46000}, ("5", "结束日期", "日期格式不正确，请填写如 2026-10-09 的日期")),
        ({"ends_on": date(2026, 10, 1)}, ("5", "结束日期", "结束日期不能早于开始日期")),
        ({"title": None}, ("2", "督查批次名称", "请填写“督查批次名称”")),
        ({"source": "暗访"}, ("3", "问题来源", "未知的问题来源“暗访”，应为：督查、抽查、互查、日常检查")),
    ],
)
def test_bad_header_fields(inspector, county, header, expected):
    assert refused(inspector, county, good_file(**header)) == [expected]


def test_dates_written_as_text_are_accepted(inspector, county):
    response = upload(inspector, good_file(starts_on="2026/10/8", ends_on="2026年10月9日"))
    assert response.status_code == 303


def test_a_missing_column_or_header(inspector, county):
    headers = ("责任单位", "问题类别", "检查项目", "问题描述", "等级", "户号", "帮扶责任人")
    assert refused(inspector, county, good_file(headers=headers)) == [(str(HEADER_ROW), "严重程度", "表头缺少“严重程度”列")]
    wb = workbook()
    wb.active.delete_rows(HEADER_ROW, 1 + len(GOOD_ROWS))
    assert refused(inspector, county, xlsx(wb)) == [
        ("—", "文件", "找不到问题表的表头（应有“责任单位”“问题描述”等列），请使用导入模板填写")
    ]
    assert refused(inspector, county, good_file([])) == [("—", "文件", "表格中没有填写任何问题")]


def test_formulas_anywhere_are_refused(inspector, county):
    wb = workbook()
    wb.active.cell(row=FIRST + 1, column=4, value='=CONCATENATE("人口", "不一致")')
    wb.active.cell(row=FIRST + 2, column=3, value="=B1")
    assert refused(inspector, county, xlsx(wb)) == [
        (str(FIRST + 1), "D", "单元格含有公式，请复制后“选择性粘贴为数值”再导入"),
        (str(FIRST + 2), "C", "单元格含有公式，请复制后“选择性粘贴为数值”再导入"),
    ]
    wb = workbook()
    wb.create_sheet("草稿")["Z99"] = "=1+1"
    assert refused(inspector, county, xlsx(wb)) == [
        ("—", "文件", "文件中含有公式（在其他工作表或表格以外的区域），请粘贴为数值后再导入")
    ]


def test_macros_are_refused(inspector, county):
    message = "不接受含宏的Excel文件（.xlsm），请另存为“Excel 工作簿（.xlsx）”后再导入"
    assert refused(inspector, county, good_file(), 400, filename="督查问题.xlsm") == [("—", "文件", message)]
    with_macro = with_entry(good_file(), "xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 macro")
    assert refused(inspector, county, with_macro, 400) == [
        ("—", "文件", "文件含有宏或控件，为安全起见不予导入，请另存为“Excel 工作簿（.xlsx）”后再导入")
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x01garbage\xff" * 100, "文件不是Excel工作簿（.xlsx），无法读取"),
        ("责任单位,问题类别\n高庙山村,缺项\n".encode(), "这是文本（CSV）文件，不是Excel工作簿，请用导入模板填写并保存为.xlsx后再导入"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500, "这是旧版Excel（.xls）或加密的文件，请去掉密码并另存为“Excel 工作簿（.xlsx）”后再导入"),
        (b"PK\x03\x04 truncated", "文件已损坏或不是Excel工作簿（.xlsx），无法读取"),
        (b"", "文件是空的，请选择填写好的Excel文件"),
    ],
    ids=["garbage", "csv", "xls", "broken-zip", "empty"],
)
def test_files_that_are_not_spreadsheets(inspector, county, data, message):
    assert refused(inspector, county, data, 400) == [("—", "文件", message)]


def test_a_zip_that_is_not_a_workbook(inspector, county):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("[Content_Types].xml", "<Types/>")
    assert refused(inspector, county, buffer.getvalue(), 400) == [("—", "文件", "压缩文件不是Excel工作簿（.xlsx），无法导入")]


def test_a_workbook_whose_xml_is_damaged(inspector, county):
    data = good_file()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for entry in source.infolist():
            content = source.read(entry)
            target.writestr(entry, b"<worksheet><sheetData><row" if entry.filename == "xl/worksheets/sheet1.xml" else content)
    problems = refused(inspector, county, buffer.getvalue(), 400)
    assert problems in ([("—", "文件", "文件已损坏或不是有效的Excel工作簿，无法读取")], [("—", "文件", "文件已损坏，无法读取其中的表格")])


def test_a_zip_bomb_is_refused_before_it_is_inflated(inspector, county):
    bomb = with_entry(good_file(), "xl/media/padding.bin", b"\x00" * (60 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    assert refused(inspector, county, bomb, 400) == [("—", "文件", "文件解压后过大，疑似异常文件，不予导入")]


def test_xml_entities_are_refused(inspector, county):
    data = with_entry(good_file(), "xl/bomb.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    assert refused(inspector, county, data, 400) == [("—", "文件", "文件结构异常（含有XML实体声明），不予导入")]


def test_an_oversized_file(inspector, county):
    # Just over the limit: read, then refused by the import's own check. The
    # workbook is made once: openpyxl stamps the time into it, so two calls a
    # second apart can differ in length and leave the padded file exactly at the limit.
    workbook = good_file()
    just_over = workbook + b"\x00" * (MAX_FILE_BYTES + 1 - len(workbook))
    assert len(just_over) == MAX_FILE_BYTES + 1
    assert refused(inspector, county, just_over, 400) == [("—", "文件", "文件过大（5.0MB），导入文件不能超过5MB")]
    # Far over: the request itself is cut off before the body is read.
    position = county.duban.position()
    response = upload(inspector, b"\x00" * (MAX_FILE_BYTES * 2))
    assert response.status_code == 413
    assert report(response.text) == [("—", "文件", "文件过大，导入文件不能超过5MB")]
    assert county.duban.position() == position


def test_too_many_rows(inspector, county):
    rows = [row((3, f"问题{n}")) for n in range(1001)]
    assert refused(inspector, county, good_file(rows)) == [
        (str(FIRST + 1000), "整行", "问题超过1000行，请拆分为多个文件分别导入")
    ]


def test_a_forged_sheet_size_does_not_stall_the_import(inspector, county):
    """A <dimension> claiming the whole sheet, and one row a million rows down."""
    buffer = io.BytesIO()
    lone_row = '<row r="1000000"><c r="A1000000" t="inlineStr"><is><t>孤行</t></is></c></row></sheetData>'
    with zipfile.ZipFile(io.BytesIO(good_file())) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "xl/worksheets/sheet1.xml":
                content, replaced = re.subn(rb'<dimension ref="[^"]+"\s*/>', b'<dimension ref="A1:XFD1048576"/>', content)
                assert replaced == 1
                content = content.replace(b"</sheetData>", lone_row.encode())
            target.writestr(entry, content)
    started = time.monotonic()
    problems = refused(inspector, county, buffer.getvalue())
    # A stall would take hours (a million empty rows walked); the bound is loose so a
    # loaded machine running the suite on several processes does not trip it.
    assert time.monotonic() - started < 120
    assert problems == [
        ("1000000", "责任单位", "找不到责任单位“孤行”，请填写系统中登记的单位名称"),
        ("1000000", "问题类别", "请填写“问题类别”"),
        ("1000000", "检查项目", "请填写“检查项目”"),
        ("1000000", "问题描述", "请填写“问题描述”"),
        ("1000000", "严重程度", "请填写“严重程度”"),
    ]


def test_only_inspectors_and_the_command_office_import(client, county):
    for user, role in ((county.unit_a1, "unit"), (county.cadre_1, "cadre"), (county.discipline, "discipline")):
        act_as(client, user, role)
        assert client.get("/inspections/import").status_code == 403
        assert client.get("/inspections/import/template.xlsx").status_code == 403
        position = county.duban.position()
        assert upload(client, good_file()).status_code == 403
        assert county.duban.position() == position


def test_no_file_chosen(inspector, county):
    from tests.web.conftest import post

    response = post(inspector, "/inspections/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "请选择要导入的Excel文件（.xlsx）" in response.text


def test_the_service_reports_rows_the_domain_refuses(client, county):
    """Rows checked again where they are filed: a unit retired or a user who is
    no cadre since the file was read is still refused, row by row, all or nothing."""
    command = county.actor(county.command, "command")
    county.duban.retire_unit(county.village_a2, "撤并", command)
    position = county.duban.position()
    rows = [
        ImportRow(FIRST, county.village_a1, "missing", "general", "事项", "描述"),
        ImportRow(FIRST + 1, county.village_a2, "missing", "general", "事项", "描述"),
        ImportRow(FIRST + 2, county.village_a1, "missing", "general", "事项", "描述二", cadre_ids=(county.inspector,)),
        ImportRow(FIRST + 3, county.village_a1, "missing", "general", "事项", "描述三", household_no="12"),
        ImportRow(FIRST + 4, county.village_a1, "nonsense", "general", "事项", "描述四"),
    ]
    with pytest.raises(ImportRefused) as error:
        county.duban.import_inspection(
            inspection_id=imported_inspection_id(county.county, "0" * 64), county_id=county.county, title="补录",
            source="inspection", starts_on=date(2026, 10, 9), ends_on=date(2026, 10, 9), rows=rows,
            actor=county.actor(county.inspector, "inspector"),
        )  # fmt: skip
    assert error.value.problems == (
        ImportProblem(FIRST + 1, "unit", "该单位已撤销，不能作为责任单位"),
        ImportProblem(FIRST + 2, "cadres", "所选帮扶责任人不存在或不属于本县"),
        ImportProblem(FIRST + 3, "finding", "户编号格式不正确（应为14至30位数字或字母）"),
        ImportProblem(FIRST + 4, "finding", "未知的问题类型"),
    )
    assert county.duban.position() == position


def test_a_unit_user_cannot_import_through_the_service(client, county):
    from domain.errors import NotPermitted

    with pytest.raises(NotPermitted):
        county.duban.import_inspection(
            inspection_id=imported_inspection_id(county.county, "1" * 64), county_id=county.county, title="补录",
            source="inspection", starts_on=date(2026, 10, 9), ends_on=date(2026, 10, 9),
            rows=[ImportRow(FIRST, county.village_a1, "missing", "general", "事项", "描述")],
            actor=county.actor(county.unit_a1, "unit"),
        )  # fmt: skip
