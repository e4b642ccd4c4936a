"""One table as an .xlsx file, the format county offices exchange.

``table_workbook(title, preamble, columns, rows)`` returns the file's bytes: the
title on row 1, the preamble lines (what was filtered, as of which date, who
exported) below it, a blank row, the header row (frozen, with a filter), then the
rows. Each column says how its values are written, so a date is a real Excel date
and a number a real number that a clerk can sort and sum:

    from app.excel.workbook import Column, table_workbook

    data = table_workbook(
        "效能考评得分",
        [("考评周期", "2026年第3季度"), ("数据截至", "2026-09-30")],
        [
            Column("单位", "unit_name", 24),
            Column("得分", "score", 10, DECIMAL),
            Column("按期整改率", "on_time_rate", 12, PERCENT),  # 0.875 shows as 87.5%
            Column("最近扣分日期", "last_deducted_on", 14, DATE),
        ],
        rows,  # an iterable of mappings keyed by Column.key
    )

The sheet is written in openpyxl's write-only mode, so a long export streams
instead of holding every cell in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

TEXT = "text"
DATE = "date"
INTEGER = "integer"
DECIMAL = "decimal"
PERCENT = "percent"

#: The number format Excel shows each kind in (text needs none).
NUMBER_FORMATS = {
    DATE: "yyyy-mm-dd",
    INTEGER: "0",
    DECIMAL: "0.0#",
    PERCENT: "0.0%",
}

#: Excel refuses longer cells; a longer text is cut rather than failing the export.
MAX_CELL_CHARS = 32767
#: Excel's sheet has 1,048,576 rows; a caller should refuse larger exports before this.
MAX_SHEET_ROWS = 1_048_576

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="F4F6F8")
_THIN = Side(style="thin", color="D8DDE3")
_HEADER_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TITLE_FONT = Font(bold=True, size=14)
_LABEL_FONT = Font(bold=True, color="5B6470")
_WRAP = Alignment(wrap_text=True, vertical="top")
_TOP = Alignment(vertical="top")


@dataclass(frozen=True)
class Column:
    """One column: its Chinese header, the row key it shows, its width in
    characters, and its kind (TEXT, DATE, INTEGER, DECIMAL or PERCENT).

    ``number_format`` overrides the kind's format (e.g. "0.00" for two decimals);
    ``wrap`` wraps long text in the cell instead of letting it run on.
    """

    header: str
    key: str
    width: float = 12
    kind: str = TEXT
    number_format: str | None = None
    wrap: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (TEXT, *NUMBER_FORMATS):
            raise ValueError(f"unknown column kind {self.kind!r}")


def clean_text(value: Any) -> str:
    """A value as cell text: control characters removed (the file format cannot
    hold them) and cut to Excel's cell limit."""
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    return text[:MAX_CELL_CHARS]


def text_cell(ws: Worksheet, value: Any) -> WriteOnlyCell:
    """A cell that holds text and only text: openpyxl takes a string starting
    with "=" for a formula, and a finding's description must never become one
    (formula injection into whoever opens the export)."""
    cell = WriteOnlyCell(ws, value=clean_text(value) if value is not None else None)
    if value is not None:
        cell.data_type = "s"
    return cell


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        # Excel dates carry no zone; a caller wanting local dates passes dates.
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _as_number(value: Any, kind: str) -> int | float | Decimal | None:
    if isinstance(value, bool):
        return int(value)
    if kind == INTEGER:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if isinstance(value, (int, float, Decimal)):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def value_cell(ws: Worksheet, column: Column, value: Any) -> WriteOnlyCell:
    """A data cell written as its column's kind. A value that does not fit the
    kind (a malformed date, a word in a number column) is kept as text rather
    than lost or turned into a wrong number."""
    if value is None or value == "":
        return WriteOnlyCell(ws, value=None)
    if column.kind == TEXT:
        cell = text_cell(ws, value)
        if column.wrap:
            cell.alignment = _WRAP
        return cell
    typed: Any = _as_date(value) if column.kind == DATE else _as_number(value, column.kind)
    if typed is None:
        return text_cell(ws, value)
    cell = WriteOnlyCell(ws, value=typed)
    cell.number_format = column.number_format or NUMBER_FORMATS[column.kind]
    cell.alignment = _TOP
    return cell


def write_table(
    ws: Worksheet,
    title: str,
    preamble: Sequence[tuple[str, str]],
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
) -> int:
    """Fill a write-only sheet (see the module's docstring); returns the number
    of data rows written."""
    if not columns:
        raise ValueError("a table needs at least one column")
    for number, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(number)].width = column.width
    header_row = 1 + len(preamble) + 2  # title, preamble, one blank row
    # Frozen panes and the filter must be set before the first row is streamed.
    ws.freeze_panes = f"A{header_row + 1}"
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A{header_row}:{last}{header_row}"
    if len(columns) > 1:
        ws.merged_cells.add(f"A1:{last}1")

    title_cell = text_cell(ws, title)
    title_cell.font = _TITLE_FONT
    ws.append([title_cell])
    for label, text in preamble:
        label_cell = text_cell(ws, label)
        label_cell.font = _LABEL_FONT
        ws.append([label_cell, text_cell(ws, text)])
    ws.append([])
    headers = []
    for column in columns:
        cell = text_cell(ws, column.header)
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _HEADER_BORDER
        headers.append(cell)
    ws.append(headers)

    written = 0
    for row in rows:
        if header_row + written >= MAX_SHEET_ROWS:
            raise ValueError("more rows than an Excel sheet holds")
        ws.append([value_cell(ws, column, row.get(column.key)) for column in columns])
        written += 1
    return written


def table_workbook(
    title: str,
    preamble: Sequence[tuple[str, str]],
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    sheet_title: str | None = None,
) -> bytes:
    """An .xlsx file of one table; see the module's docstring for the layout.

    ``preamble`` lines are (label, text) pairs written under the title, e.g.
    ("筛选条件", "街镇：银州街道；状态：整改中") and ("数据截至", "2026-10-09").
    ``sheet_title`` defaults to the title (cut to Excel's 31 characters).
    """
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet_name(sheet_title or title))
    write_table(ws, title, preamble, columns, rows)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def sheet_name(text: str) -> str:
    """Excel's sheet names: at most 31 characters, none of []:*?/\\."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in clean_text(text)).strip("'")
    return cleaned[:31] or "Sheet1"


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
