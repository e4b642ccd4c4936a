"""The import template (督查问题导入模板) a team downloads, fills in and uploads.

Its labels are the ones findings_import looks for, so the two cannot drift
apart: both take them from HEADER_LABELS and COLUMN_LABELS. Drop-down lists
come from the domain's vocabularies and, when given, the county's units.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from app.excel.findings_import import COLUMN_LABELS, DATA_SHEET, HEADER_LABELS, MAX_ROWS, REQUIRED_COLUMNS
from app.excel.workbook import clean_text
from domain.events import CATEGORIES, SEVERITIES, SOURCES

TITLE = "督查问题导入表"
UNITS_SHEET = "单位名单"
HELP_SHEET = "填写说明"
HEADER_ROW = 7
FIRST_DATA_ROW = HEADER_ROW + 1
LAST_DATA_ROW = HEADER_ROW + MAX_ROWS
COLUMN_ORDER = ("unit", "category", "check_item", "description", "severity", "household_no", "cadres")
WIDTHS = {"unit": 24, "category": 12, "check_item": 24, "description": 50, "severity": 10, "household_no": 24, "cadres": 20}

_BOLD = Font(bold=True)
_REQUIRED = Font(bold=True, color="A4161A")
_FILL = PatternFill("solid", fgColor="F4F6F8")

INSTRUCTIONS = (
    "一、本表用于把一次督查（督查批次）发现的问题一次性导入督办系统。",
    "二、在“督查问题”工作表上方填写督查批次名称、问题来源、开始日期和结束日期，四项均为必填；日期填写如 2026-10-09。",
    "三、从第8行起每行填写一个问题。责任单位、问题类别、检查项目、问题描述、严重程度为必填，户号、帮扶责任人可不填。",
    "四、责任单位填写系统中登记的单位名称（见“单位名单”工作表）；不同乡镇有同名村时写成“乡镇/村”，如：银州街道/高庙山村。",
    "五、问题类别可填：" + "、".join(CATEGORIES.values()) + "；严重程度可填：" + "、".join(SEVERITIES.values()) + "。",
    "六、户号为建档立卡户编号（14至30位数字或字母），请保持该列为文本格式，不要写成数字，否则Excel会改写长号码。",
    "七、帮扶责任人填写姓名或登录名，多人用顿号“、”或逗号分隔；须是本县登记的帮扶责任人。",
    f"八、不要使用公式、宏或合并单元格；一个文件最多{MAX_ROWS}个问题，文件不超过5MB，须保存为.xlsx格式。",
    "九、导入前系统会逐行检查，只要有一行不符合要求，整个文件都不会导入，并会列出每个问题所在的行和列；修改后重新上传即可。",
    "十、同一个文件重复上传不会重复登记；导入的问题自动归入一个新的督查批次，由导入人作为督查员，批次随即结束。",
)

EXAMPLE = ("银州街道/高庙山村", "缺项", "帮扶手册收入测算", "帮扶手册缺少2026年度收入测算", "一般", "612727201900123456", "张帮扶")


def import_template(unit_labels: Sequence[str] = (), cadre_labels: Sequence[str] = ()) -> bytes:
    """The template as .xlsx bytes. ``unit_labels`` (as a team should write them,
    e.g. "银州街道/高庙山村") feed the 责任单位 drop-down and the unit list;
    ``cadre_labels`` are listed beside them for reference."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = DATA_SHEET
    _data_sheet(sheet, bool(unit_labels), len(unit_labels))
    _help_sheet(workbook.create_sheet(HELP_SHEET))
    _units_sheet(workbook.create_sheet(UNITS_SHEET), unit_labels, cadre_labels)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _data_sheet(ws: Worksheet, with_units: bool, unit_count: int) -> None:
    ws["A1"] = TITLE
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMN_ORDER))
    for row, name in enumerate(HEADER_LABELS, start=2):
        label = ws.cell(row=row, column=1, value=HEADER_LABELS[name][0])
        label.font = _REQUIRED
        value = ws.cell(row=row, column=2)
        if name in ("starts_on", "ends_on"):
            value.number_format = "yyyy-mm-dd"
            dates = DataValidation(type="date", operator="greaterThan", formula1="36526", allow_blank=False)
            dates.error, dates.errorTitle = "请填写日期，如 2026-10-09", "日期格式不正确"
            ws.add_data_validation(dates)
            dates.add(value.coordinate)
        if name == "source":
            value.value = SOURCES["inspection"]
            _choice(ws, SOURCES.values(), value.coordinate, "问题来源")
    ws.cell(row=6, column=1, value="以上四项必填；从第8行起每行一个问题，填写方法见“填写说明”工作表。").font = Font(color="5B6470")

    for column, name in enumerate(COLUMN_ORDER, start=1):
        cell = ws.cell(row=HEADER_ROW, column=column, value=COLUMN_LABELS[name][0])
        cell.font = _REQUIRED if name in REQUIRED_COLUMNS else _BOLD
        cell.fill = _FILL
        letter = cell.column_letter
        ws.column_dimensions[letter].width = WIDTHS[name]
        cells = f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}"
        if name == "category":
            _choice(ws, CATEGORIES.values(), cells, "问题类别")
        elif name == "severity":
            _choice(ws, SEVERITIES.values(), cells, "严重程度")
        elif name == "unit" and with_units:
            units = DataValidation(
                type="list", formula1=f"'{UNITS_SHEET}'!$A$2:$A${unit_count + 1}", allow_blank=True
            )
            units.error, units.errorTitle = "请从“单位名单”中选择责任单位", "责任单位"
            units.showErrorMessage = False  # a name typed in the "乡镇/村" form is checked on import
            ws.add_data_validation(units)
            units.add(cells)
        elif name == "household_no":
            # Text, so Excel cannot turn an 18-digit number into 6.12727E+17.
            for (cell_in_column,) in ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=LAST_DATA_ROW, min_col=column, max_col=column):
                cell_in_column.number_format = "@"
        elif name == "description":
            for (cell_in_column,) in ws.iter_rows(min_row=FIRST_DATA_ROW, max_row=LAST_DATA_ROW, min_col=column, max_col=column):
                cell_in_column.alignment = Alignment(wrap_text=True, vertical="top")
    ws.column_dimensions["A"].width = max(WIDTHS["unit"], 16)
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"


def _choice(ws: Worksheet, values: object, cells: str, title: str) -> None:
    options = ",".join(values)  # type: ignore[call-overload]
    validation = DataValidation(type="list", formula1=f'"{options}"', allow_blank=True)
    validation.error, validation.errorTitle = f"请从下拉列表中选择：{options}", title
    ws.add_data_validation(validation)
    validation.add(cells)


def _help_sheet(ws: Worksheet) -> None:
    ws.column_dimensions["A"].width = 110
    ws["A1"] = "填写说明"
    ws["A1"].font = Font(bold=True, size=14)
    for row, line in enumerate(INSTRUCTIONS, start=2):
        ws.cell(row=row, column=1, value=line).alignment = Alignment(wrap_text=True, vertical="top")
    start = len(INSTRUCTIONS) + 3
    ws.cell(row=start, column=1, value="填写示例（请填写在“督查问题”工作表，不要填在本页）：").font = _BOLD
    for column, name in enumerate(COLUMN_ORDER, start=1):
        ws.cell(row=start + 1, column=column, value=COLUMN_LABELS[name][0]).font = _BOLD
        example = ws.cell(row=start + 2, column=column, value=EXAMPLE[column - 1])
        example.number_format = "@"
        if column > 1:
            ws.column_dimensions[example.column_letter].width = WIDTHS[name]


def _units_sheet(ws: Worksheet, unit_labels: Sequence[str], cadre_labels: Sequence[str]) -> None:
    ws["A1"], ws["C1"] = "责任单位（按此填写）", "帮扶责任人（姓名或登录名）"
    ws["A1"].font = ws["C1"].font = _BOLD
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["C"].width = 30
    for row, text in enumerate(unit_labels, start=2):
        ws.cell(row=row, column=1, value=clean_text(text)).data_type = "s"
    for row, text in enumerate(cadre_labels, start=2):
        ws.cell(row=row, column=3, value=clean_text(text)).data_type = "s"
