"""GET /ledger.xlsx: every matching row, the ledger page's filters and scope."""

from __future__ import annotations

import re
from datetime import date, datetime

from tests.excel.sheets import opened
from tests.web.conftest import HOUSEHOLD, act_as

HEADERS = [
    "序号", "问题编号", "战区", "乡镇", "责任单位", "问题类别", "检查项目", "问题描述", "严重程度",
    "户号", "登记日期", "整改期限", "状态", "逾期天数", "扣分", "是否重复",
]  # fmt: skip


def export(client, query: str = ""):
    response = client.get("/ledger.xlsx" + query)
    assert response.status_code == 200, response.text
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return opened(response.data).active


def header_row(ws) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == "序号":
            return row[0].row
    raise AssertionError("no header row")


def records(ws) -> list[dict]:
    top = header_row(ws)
    return [
        dict(zip(HEADERS, (c.value for c in row)))
        for row in ws.iter_rows(min_row=top + 1)
        if any(c.value is not None for c in row)
    ]


def preamble(ws) -> dict[str, str]:
    return {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(2, header_row(ws) - 1)}


def test_columns_types_preamble_and_frozen_header(client, county, clock):
    finding = county.file(
        county.village_a1, category="outdated", severity="grave", household_no=HOUSEHOLD, description="=1+1 不是公式"
    )
    clock.advance(days=10)
    county.settle()
    act_as(client, county.inspector, "inspector")
    ws = export(client)
    top = header_row(ws)
    assert [c.value for c in ws[top]] == HEADERS
    assert ws.freeze_panes == f"A{top + 1}"
    assert ws["A1"].value == "问题台账"
    facts = preamble(ws)
    assert facts["筛选条件"] == "无（全部问题）"
    assert facts["数据截至"] == "2026-10-19"
    assert facts["查看范围"] == "全县"
    assert facts["问题总数"] == "1条"
    assert "王督查" in facts["导出人"]
    (row,) = records(ws)
    assert row["序号"] == 1
    assert row["问题编号"] == str(finding)
    assert (row["战区"], row["乡镇"], row["责任单位"]) == ("东战区", "银州街道", "高庙山村")
    assert (row["问题类别"], row["严重程度"], row["状态"], row["是否重复"]) == ("更新不及时", "严重", "待签收", "否")
    assert row["户号"] == "612727********3456"
    assert row["问题描述"] == "=1+1 不是公式"
    filed, deadline = ws.cell(row=top + 1, column=11), ws.cell(row=top + 1, column=12)
    assert isinstance(filed.value, datetime) and filed.is_date and filed.value.date() == date(2026, 10, 9)
    assert filed.number_format == "yyyy-mm-dd"
    due = date.fromisoformat(county.runtime.query.finding(str(finding), date(2026, 10, 19))["deadline"])
    assert isinstance(deadline.value, datetime) and deadline.is_date and deadline.value.date() == due
    assert row["逾期天数"] == (date(2026, 10, 19) - due).days > 0
    assert ws.cell(row=top + 1, column=14).data_type == "n"
    assert ws.cell(row=top + 1, column=15).data_type == "n"


def test_every_matching_row_not_one_page(client, county):
    for n in range(55):
        county.file(county.village_a1, check_item=f"事项{n}", notice=False)
    county.file(county.town_b, notice=False)
    county.settle()
    act_as(client, county.command, "command")
    rows = records(export(client, f"?town={county.town_a}"))
    assert len(rows) == 55
    assert [r["序号"] for r in rows] == list(range(1, 56))
    assert {r["乡镇"] for r in rows} == {"银州街道"}


def test_the_ledger_page_filters_apply_and_are_described(client, county, clock):
    a1 = county.file(county.village_a1, category="missing")
    county.file(county.village_a2, category="nonstandard")
    county.file(county.town_b, category="missing")
    county.file(county.village_a1, category="missing", notice=False)
    clock.advance(days=30)
    county.settle()
    act_as(client, county.command, "command")
    ws = export(client, f"?town={county.town_a}&category=missing&status=open&overdue=1&zone=nonsense")
    assert [r["问题编号"] for r in records(ws)] == [str(a1)]
    assert preamble(ws)["筛选条件"] == "乡镇：银州街道；问题类型：缺项；状态：待签收；仅看逾期"


def test_a_unit_user_exports_only_their_units_rows(client, county):
    a1 = county.file(county.village_a1)
    county.file(county.village_a2)
    county.file(county.town_b)
    county.settle()
    act_as(client, county.unit_a1, "unit")
    ws = export(client)
    assert [r["问题编号"] for r in records(ws)] == [str(a1)]
    assert preamble(ws)["查看范围"] == "本单位（高庙山村）及下属单位的问题"
    # Another unit's id in the query string widens nothing.
    assert [r["问题编号"] for r in records(export(client, f"?unit={county.town_b}"))] == [str(a1)]
    act_as(client, county.unit_town_a, "unit")
    assert {r["责任单位"] for r in records(export(client))} == {"高庙山村", "姬家岔村"}


def test_a_cadre_exports_the_findings_naming_them(client, county):
    named = county.file(county.village_a1, cadres=(county.cadre_1,))
    county.file(county.village_a1)
    county.settle()
    act_as(client, county.cadre_1, "cadre")
    assert [r["问题编号"] for r in records(export(client))] == [str(named)]


def test_the_ledger_page_links_to_the_export_with_its_filters(client, county):
    county.file(county.village_a1)
    county.settle()
    act_as(client, county.inspector, "inspector")
    html = client.get(f"/?town={county.town_a}&status=open").text
    link = re.search(r'<a href="([^"]+)" id="export-xlsx">导出Excel</a>', html).group(1).replace("&amp;", "&")
    assert link.startswith("/ledger.xlsx?") and f"town={county.town_a}" in link and "status=open" in link
    assert len(records(export(client, link.removeprefix("/ledger.xlsx")))) == 1


def test_an_empty_export_and_no_identity(client, county):
    act_as(client, county.inspector, "inspector")
    ws = export(client)
    assert records(ws) == [] and preamble(ws)["问题总数"] == "0条"
    client.get("/sign-in")  # any page
    with client.session_transaction() as session:
        session.clear()
    assert client.get("/ledger.xlsx").status_code in (302, 303)


def test_a_past_day_exports_the_ledger_as_it_stood(client, county, clock):
    early = county.file(county.village_a1)
    clock.advance(days=3)
    county.file(county.village_a2)
    county.settle()
    act_as(client, county.command, "command")
    html = client.get("/?as_of=2026-10-10").text
    link = re.search(r'<a href="([^"]+)" id="export-xlsx">', html).group(1).replace("&amp;", "&")
    assert "as_of=2026-10-10" in link
    ws = export(client, link.removeprefix("/ledger.xlsx"))
    assert [r["问题编号"] for r in records(ws)] == [str(early)]
    assert preamble(ws)["数据截至"] == "2026-10-10日终（历史视图）"
    assert client.get("/ledger.xlsx?as_of=2099-01-01").status_code == 422
