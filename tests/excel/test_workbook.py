"""The generic table writer: typed cells, a frozen header, the preamble on top."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from app.excel.workbook import DATE, DECIMAL, INTEGER, PERCENT, Column, table_workbook
from tests.excel.sheets import opened

COLUMNS = [
    Column("序号", "n", 6, INTEGER),
    Column("单位", "unit", 20),
    Column("登记日期", "day", 12, DATE),
    Column("扣分", "points", 8, DECIMAL),
    Column("按期整改率", "rate", 12, PERCENT),
]


def build(rows, preamble=(("筛选条件", "乡镇：桃镇；状态：整改中"), ("数据截至", "2026-03-31"))):
    return opened(table_workbook("效能考评得分", list(preamble), COLUMNS, rows)).active


def test_layout_title_preamble_header_and_frozen_panes():
    ws = build([{"n": 1, "unit": "桃镇", "day": date(2026, 3, 1), "points": Decimal("1.5"), "rate": 0.875}])
    assert ws.title == "效能考评得分"
    assert ws["A1"].value == "效能考评得分"
    assert (ws["A2"].value, ws["B2"].value) == ("筛选条件", "乡镇：桃镇；状态：整改中")
    assert (ws["A3"].value, ws["B3"].value) == ("数据截至", "2026-03-31")
    assert [c.value for c in ws[5]] == ["序号", "单位", "登记日期", "扣分", "按期整改率"]
    assert ws.freeze_panes == "A6"
    assert ws.auto_filter.ref == "A5:E5"
    assert ws.column_dimensions["B"].width == 20
    assert ws.column_dimensions["E"].width == 12


def test_values_are_typed():
    ws = build([{"n": "7", "unit": "桃镇", "day": "2026-03-01", "points": "0.5", "rate": Decimal("0.5")}])
    n, unit, day, points, rate = ws[6]
    assert n.value == 7 and n.data_type == "n"
    assert unit.value == "桃镇" and unit.data_type == "s"
    assert isinstance(day.value, datetime) and day.value.date() == date(2026, 3, 1) and day.is_date
    assert day.number_format == "yyyy-mm-dd"
    assert points.value == 0.5 and points.data_type == "n"
    assert rate.value == 0.5 and rate.number_format == "0.0%"


def test_text_never_becomes_a_formula_and_odd_values_survive_as_text():
    ws = build([{"n": 1, "unit": '=HYPERLINK("http://evil.example","点我")', "day": "不详", "points": None}])
    _, unit, day, points, rate = ws[6]
    assert unit.data_type == "s" and unit.value.startswith("=HYPERLINK")
    assert day.value == "不详"
    assert points.value is None and rate.value is None


def test_control_characters_are_dropped():
    ws = build([{"unit": "桃\x01镇"}])
    assert ws["B6"].value == "桃镇"


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError):
        Column("x", "x", kind="money")
