"""The ranking, unit score and dashboard pages, the score export, and reading
the ledger and the scores as they stood at the end of a past day."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, time, timedelta
from uuid import uuid4

from openpyxl import load_workbook

from domain.events import CHINA
from domain.service import TravellingClock
from tests.web.conftest import County, act_as, ledger_ids, text_of


def miss_deadline(county: County, clock: TravellingClock, finding_id) -> date:  # type: ignore[no-untyped-def]
    """Travel past the finding's deadline and have the system record it missed; the day it was missed."""
    deadline = date.fromisoformat(county.duban.finding(finding_id).deadline)
    clock.set(datetime.combine(deadline + timedelta(days=1), time(8, 30), tzinfo=CHINA))
    county.duban.record_missed_deadline(finding_id)
    county.settle()
    return deadline + timedelta(days=1)


def row_of(html: str, table: str, unit_id) -> str:  # type: ignore[no-untyped-def]
    body = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert body, f"no table #{table}"
    row = re.search(rf'<tr[^>]*data-unit="{unit_id}"[^>]*>(.*?)</tr>', body.group(1), re.S)
    assert row, f"no row for {unit_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1))).strip()


def test_the_ranking_page_ranks_towns_with_a_bar_chart_and_compares_zones(client, county, clock):
    late = county.file(county.village_a1)
    miss_deadline(county, clock, late)
    act_as(client, county.command, "command")

    html = client.get("/scores").get_data(as_text=True)

    assert row_of(html, "ranking", county.town_b).startswith("1 龙镇 100.0")
    # The town answers for its village's missed deadline.
    assert row_of(html, "ranking", county.town_a).startswith("2 银州街道 99.5 0.5")
    chart = re.search(r'<figure class="chart" id="ranking-chart">(.*?)</figure>', html, re.S)
    assert chart and 'role="img"' in chart.group(1) and "银州街道" in chart.group(1)
    assert f"/scores/units/{county.town_a}" in chart.group(1)
    assert row_of(html, "zones", county.zone_west).startswith("1 西战区 1 100.00")
    assert row_of(html, "zones", county.zone_east).startswith("2 东战区 1 99.50")
    villages = client.get("/scores?kind=village").get_data(as_text=True)
    assert row_of(villages, "ranking", county.village_a1).startswith("2 高庙山村 银州街道 99.5")


def test_a_unit_page_explains_its_score_deduction_by_deduction(client, county, clock):
    late = county.file(county.village_a1)
    missed_on = miss_deadline(county, clock, late)
    act_as(client, county.command, "command")

    html = client.get(f"/scores/units/{county.town_a}").get_data(as_text=True)

    assert text_of(html, "score") == "99.5"
    assert text_of(html, "deducted").startswith("0.5（1 项）")
    deductions = text_of(html, "deductions")
    assert missed_on.isoformat() in deductions and "高庙山村" in deductions and "逾期未整改" in deductions
    assert "第 1 版" in deductions
    assert f'href="/findings/{late}"' in html
    assert '<figure class="chart" id="trend-chart"><svg' in html


def test_the_pages_show_the_past_as_it_stood_at_the_end_of_a_day(client, county, clock):
    first_day = clock().astimezone(CHINA).date()
    early = county.file(county.village_a1)
    clock.advance(days=2)
    later = county.file(county.village_a2, check_item="帮扶手册")
    missed_on = miss_deadline(county, clock, early)
    act_as(client, county.command, "command")

    now = client.get("/").get_data(as_text=True)
    then = client.get(f"/?as_of={first_day.isoformat()}").get_data(as_text=True)

    assert set(ledger_ids(now)) == {str(early), str(later)}
    assert ledger_ids(then) == [str(early)]
    assert "历史视图" in text_of(then, "as-of-banner") and first_day.isoformat() in then
    day_before = (missed_on - timedelta(days=1)).isoformat()
    assert row_of(client.get(f"/scores?as_of={day_before}").get_data(as_text=True), "ranking", county.town_a).startswith(
        "1 银州街道 100.0"
    )
    assert text_of(client.get(f"/scores/units/{county.town_a}?as_of={day_before}").get_data(as_text=True), "score") == "100.0"
    assert text_of(client.get(f"/scores/units/{county.town_a}").get_data(as_text=True), "score") == "99.5"


def test_a_bad_or_future_date_or_period_is_refused_with_a_message(client, county, clock):
    act_as(client, county.command, "command")
    tomorrow = (clock().astimezone(CHINA).date() + timedelta(days=1)).isoformat()
    for url, message in (
        ("/scores?as_of=2026-13-01", "查询日期格式不正确"),
        (f"/scores?as_of={tomorrow}", "查询日期不能晚于今天"),
        (f"/?as_of={tomorrow}", "查询日期不能晚于今天"),
        ("/dashboard?as_of=yesterday", "查询日期格式不正确"),
        ("/scores?period=2026Q5", "考评周期的写法不正确"),
    ):
        response = client.get(url)
        assert response.status_code == 422, url
        assert message in response.get_data(as_text=True), url


def test_unit_pages_are_scoped_and_forged_ids_are_not_found(client, county):
    act_as(client, county.unit_b, "unit")
    assert client.get(f"/scores/units/{county.town_b}").status_code == 200
    assert client.get(f"/scores/units/{county.town_a}").status_code == 404
    assert client.get("/scores").status_code == 200  # the ranking itself is published county-wide
    for forged in (uuid4(), "not-an-id"):
        assert client.get(f"/scores/units/{forged}").status_code == 404, forged
    act_as(client, county.command, "command")
    for not_scored in (county.zone_east, county.county, county.office):
        assert client.get(f"/scores/units/{not_scored}").status_code == 404, not_scored
    act_as(client, county.unit_town_a, "unit")
    assert client.get(f"/scores/units/{county.village_a1}").status_code == 200


def test_the_dashboard_counts_by_town_for_the_command_office_only(client, county, clock):
    county.file(county.village_a1)
    overdue = county.file(county.village_a2, check_item="帮扶手册")
    county.file(county.town_b, notice=False, check_item="危房改造档案")
    miss_deadline(county, clock, overdue)
    act_as(client, county.command, "command")

    html = client.get("/dashboard").get_data(as_text=True)

    town_a = re.search(rf'<tr data-town="{county.town_a}">(.*?)</tr>', html, re.S)
    assert town_a is not None
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", town_a.group(1), re.S)]
    assert cells[2:] == ["0", "2", "2", "0", "0"]
    assert text_of(html, "totals").startswith("待下发通知 1 整改中 2 逾期 2")
    assert '<figure class="chart" id="dashboard-chart"><svg' in html
    act_as(client, county.unit_a1, "unit")
    assert client.get("/dashboard").status_code == 403


def test_the_score_table_exports_to_excel_with_its_period_and_date(client, county, clock):
    late = county.file(county.village_a1)
    missed_on = miss_deadline(county, clock, late)
    clock.advance(days=3)
    act_as(client, county.command, "command")

    response = client.get(f"/scores.xlsx?kind=town&as_of={missed_on.isoformat()}")

    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    flat = [str(v) for row in cells for v in row if v is not None]
    assert any(missed_on.isoformat() in v and "日终" in v for v in flat)
    header = next(i for i, row in enumerate(cells) if row[:2] == ["名次", "单位"])
    assert sheet.freeze_panes == f"A{header + 2}"
    rows = {row[1]: dict(zip(cells[header], row)) for row in cells[header + 1 :] if row[1]}
    assert rows["银州街道"]["名次"] == 2 and float(rows["银州街道"]["得分"]) == 99.5
    assert rows["龙镇"]["名次"] == 1 and float(rows["龙镇"]["得分"]) == 100
    assert sheet.column_dimensions["B"].width == 20  # 单位
    as_of_cell = sheet.cell(row=header + 2, column=len(cells[header]))
    assert as_of_cell.is_date and as_of_cell.value.date() == missed_on
