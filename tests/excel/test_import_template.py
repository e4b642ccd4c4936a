"""The template the app offers: it downloads, explains itself, and once filled
in with good rows, imports."""

from __future__ import annotations

from datetime import date

from tests.excel.sheets import opened, upload, xlsx
from tests.web.conftest import act_as


def download(client):
    response = client.get("/inspections/import/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return opened(response.data)


def test_the_template_has_its_header_area_table_help_and_drop_downs(client, county):
    county.duban.register_unit(name="高庙山村", kind="village", parent_id=county.town_b)
    act_as(client, county.inspector, "inspector")
    wb = download(client)
    assert wb.sheetnames == ["督查问题", "填写说明", "单位名单"]
    ws = wb["督查问题"]
    assert [ws.cell(row=r, column=1).value for r in range(2, 6)] == ["督查批次名称", "问题来源", "开始日期", "结束日期"]
    assert ws["B3"].value == "督查"
    assert [c.value for c in ws[7]] == ["责任单位", "问题类别", "检查项目", "问题描述", "严重程度", "户号", "帮扶责任人"]
    assert ws.freeze_panes == "A8"
    assert ws["F8"].number_format == "@"  # household numbers stay text
    lists = {next(iter(dv.sqref.ranges)).coord.split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation}
    assert lists["B8"] == '"缺项,漏项,不规范,更新不及时,不一致,不对应,其他"'
    assert lists["E8"] == '"一般,较重,严重"'
    assert lists["B3"] == '"督查,抽查,互查,日常检查"'
    assert lists["A8"].startswith("'单位名单'!$A$2:$A$")
    units = [c.value for (c,) in wb["单位名单"].iter_rows(min_row=2, max_col=1) if c.value]
    assert "银州街道/高庙山村" in units and "龙镇/高庙山村" in units and "姬家岔村" in units and "龙镇" in units
    cadres = [c.value for (c,) in wb["单位名单"].iter_rows(min_row=2, min_col=3, max_col=3) if c.value]
    assert cadres == ["刘帮扶（liu）", "张帮扶（zhang）"]
    help_text = "\n".join(str(c.value) for (c,) in wb["填写说明"].iter_rows(max_col=1) if c.value)
    assert "乡镇/村" in help_text and "同一个文件重复上传不会重复登记" in help_text


def test_the_filled_template_imports(client, county):
    act_as(client, county.command, "command")
    wb = download(client)
    ws = wb["督查问题"]
    ws["B2"] = "东战区交叉检查"
    ws["B3"] = "互查"
    ws["B4"], ws["B5"] = date(2026, 10, 5), date(2026, 10, 9)
    for row, values in enumerate(
        (
            ("高庙山村", "漏项", "收入台账", "未登记务工收入", "较重", "612727201900123456", "张帮扶"),
            ("龙镇", "其他", "会议记录", "驻村工作队会议记录缺失", "一般", None, None),
        ),
        start=8,
    ):
        for column, value in enumerate(values, start=1):
            ws.cell(row=row, column=column, value=value)
    response = upload(client, xlsx(wb))
    assert response.status_code == 303, response.text
    county.settle()
    ids = county.runtime.query.findings_naming(str(county.cadre_1))
    assert len(ids) == 1
    row = county.runtime.query.finding(ids[0], date(2026, 10, 9))
    assert (row["source"], row["category"], row["severity"]) == ("mutual", "omitted", "serious")
    inspection = county.duban.inspection(row["inspection_id"])
    assert inspection.title == "东战区交叉检查" and inspection.inspector_ids == (county.command,)


def test_the_untouched_template_is_refused_for_its_empty_fields(client, county):
    act_as(client, county.inspector, "inspector")
    position = county.duban.position()
    response = upload(client, xlsx(download(client)))
    assert response.status_code == 422
    assert "请填写“督查批次名称”" in response.text and "表格中没有填写任何问题" in response.text
    assert county.duban.position() == position


def test_the_import_page_links_to_the_template(client, county):
    act_as(client, county.inspector, "inspector")
    html = client.get("/inspections/import").text
    assert 'href="/inspections/import/template.xlsx"' in html
    assert 'enctype="multipart/form-data"' in html
