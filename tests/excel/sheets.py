"""Spreadsheets for the import tests, built with openpyxl as a team would fill
the template in, and a reader for the files the app sends back."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from datetime import date
from typing import Any

from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.web.conftest import token

HEADERS = ("责任单位", "问题类别", "检查项目", "问题描述", "严重程度", "户号", "帮扶责任人")
HEADER_ROW = 7

GOOD_ROWS: list[tuple[Any, ...]] = [
    ("高庙山村", "缺项", "帮扶手册收入测算", "帮扶手册缺少年度收入测算", "一般", "612727201900123456", "张帮扶"),
    ("银州街道/姬家岔村", "不一致", "人口信息", "系统人口数与户档案不一致", "较重", None, "liu、张帮扶"),
    ("龙镇", "更新不及时", "项目库", "项目库未按季度更新", "严重", None, None),
]


def workbook(
    rows: Sequence[Sequence[Any]] = GOOD_ROWS,
    *,
    title: Any = "2026年第四季度数据质量督查",
    source: Any = "督查",
    starts_on: Any = date(2026, 10, 8),
    ends_on: Any = date(2026, 10, 9),
    headers: Sequence[str] = HEADERS,
) -> Workbook:
    wb = Workbook()
    ws = wb.active
    ws.title = "督查问题"
    ws["A1"] = "督查问题导入表"
    for row, (label, value) in enumerate(
        (("督查批次名称", title), ("问题来源", source), ("开始日期", starts_on), ("结束日期", ends_on)), start=2
    ):
        ws.cell(row=row, column=1, value=label)
        cell = ws.cell(row=row, column=2, value=value)
        if isinstance(value, date):
            cell.number_format = "yyyy-mm-dd"
    for column, header in enumerate(headers, start=1):
        ws.cell(row=HEADER_ROW, column=column, value=header)
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            ws.cell(row=HEADER_ROW + offset, column=column, value=value)
    return wb


def xlsx(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def good_file(rows: Sequence[Sequence[Any]] = GOOD_ROWS, **header: Any) -> bytes:
    return xlsx(workbook(rows, **header))


def with_entry(data: bytes, name: str, content: bytes) -> bytes:
    """The same zip with one more entry."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry, source.read(entry))
        target.writestr(name, content)
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, filename: str = "督查问题.xlsx", issue_notices: bool = True) -> Any:
    """POST the file as a browser would. The body is encoded here, in memory: the
    test client would spool a large one to a temporary file it never closes."""
    form: dict[str, Any] = {"csrf_token": token(client), "file": FileStorage(io.BytesIO(data), filename=filename)}
    if issue_notices:
        form["issue_notices"] = "1"
    boundary, body = encode_multipart(form)
    return client.post("/inspections/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def report(html: str) -> list[tuple[str, str, str]]:
    """The refusal report's rows: (行号, 列, 问题)."""
    start = html.index('id="import-report"')
    body = html[start : html.index("</table>", start)]
    rows = []
    for row in re.findall(r"<tr data-row[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append(tuple(cells))
    return rows


def opened(data: bytes) -> Any:
    return load_workbook(io.BytesIO(data))
