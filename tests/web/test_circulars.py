"""The command office drafts a circular from the suggested list, edits, issues
and revokes it; the others read what was issued."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from uuid import uuid4

from domain.events import CHINA
from domain.rules import periods
from domain.service import TravellingClock
from tests.web.conftest import County, act_as, post, text_of


def miss(county: County, clock: TravellingClock, finding_id) -> None:  # type: ignore[no-untyped-def]
    deadline = date.fromisoformat(county.duban.finding(finding_id).deadline)
    clock.set(datetime.combine(deadline + timedelta(days=1), time(8, 30), tzinfo=CHINA))
    county.duban.record_missed_deadline(finding_id)


def late_and_inadequate(county: County, clock: TravellingClock):  # type: ignore[no-untyped-def]
    """A village that let a deadline pass, a town whose rectification was rejected, and a tidy village."""
    late = county.file(county.village_a1)
    rejected = county.file(county.town_b, check_item="帮扶手册")
    county.file(county.village_a2, check_item="危房改造档案")
    inspector = county.actor(county.inspector, "inspector")
    county.duban.submit_rectification(rejected, "已整改", county.actor(county.unit_b, "unit"))
    county.duban.reject_rectification(rejected, "佐证材料不全", inspector)
    miss(county, clock, late)
    county.settle()
    return late, rejected


def draft(client, county: County, **overrides):  # type: ignore[no-untyped-def]
    page = client.get("/circulars/new?kind=criticism").get_data(as_text=True)
    period = periods.period_of(county.runtime.today())
    data = {
        "kind": "criticism",
        "period": period,
        "prefix": "米脱指发",
        "title": "关于问题整改不力单位的通报",
        "body": "经研究，决定通报批评。",
        "unit_ids": re.findall(r'name="unit_ids" value="([0-9a-f-]{36})" checked', page),
        "finding_ids": re.findall(r'name="finding_ids" value="([0-9a-f-]{36})" checked', page),
        **overrides,
    }
    return post(client, "/circulars/new", data)


def test_a_criticism_starts_from_every_unit_with_an_overdue_or_inadequate_rectification(client, county, clock):
    late, rejected = late_and_inadequate(county, clock)
    act_as(client, county.command, "command")

    page = client.get("/circulars/new?kind=criticism").get_data(as_text=True)

    suggested = set(re.findall(r'name="unit_ids" value="([0-9a-f-]{36})" checked', page))
    assert suggested == {str(county.village_a1), str(county.town_b)}
    assert set(re.findall(r'name="finding_ids" value="([0-9a-f-]{36})" checked', page)) == {str(late), str(rejected)}
    assert "（扣 0.5 分）" in page and "关于" in page


def test_the_command_office_drafts_edits_issues_and_revokes_a_circular(client, county, clock):
    late_and_inadequate(county, clock)
    act_as(client, county.command, "command")

    created = draft(client, county, body="  各镇（街道）：\r\n\r\n经研究，决定通报批评。\n一、被通报单位\n")
    assert created.status_code == 302
    url = created.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert text_of(page, "status") == "草稿"
    circular_id = url.rsplit("/", 1)[1]
    # One paragraph a line, blank lines and stray spaces dropped: each line prints as its own paragraph.
    assert county.duban.circular(circular_id).body == "各镇（街道）：\n经研究，决定通报批评。\n一、被通报单位"
    assert "<p>经研究，决定通报批评。</p>" in page

    before = county.duban.position()
    edited = post(client, f"{url}/edit", {"title": "关于整改不力单位的通报", "body": "决定通报。", "unit_ids": [str(county.town_b)]})
    assert edited.status_code == 302 and county.duban.position() == before + 1
    assert county.duban.circular(circular_id).unit_ids == (county.town_b,)

    issued = post(client, f"{url}/issue")
    assert issued.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert text_of(page, "status") == "已印发"
    assert text_of(page, "number") == "米脱指发〔2026〕1号"
    assert "document" in page and ("正在生成" in page or "下载 PDF" in page)
    county.settle()
    deductions = client.get(f"/scores/units/{county.town_b}").get_data(as_text=True)
    assert "米脱指发〔2026〕1号" in text_of(deductions, "deductions")

    refused = post(client, f"{url}/revoke", {"reason": "  "})
    assert refused.status_code == 422 and "撤销通报必须说明理由" in refused.get_data(as_text=True)
    assert post(client, f"{url}/revoke", {"reason": "名单有误"}).status_code == 302
    assert text_of(client.get(url).get_data(as_text=True), "status") == "已撤销"


def test_drafts_are_for_the_offices_and_issued_circulars_for_everyone(client, county, clock):
    late_and_inadequate(county, clock)
    act_as(client, county.command, "command")
    url = draft(client, county).headers["Location"]

    act_as(client, county.unit_b, "unit")
    assert client.get(url).status_code == 404
    assert url.rsplit("/", 1)[1] not in client.get("/circulars").get_data(as_text=True)
    act_as(client, county.discipline, "discipline")
    assert client.get(url).status_code == 200
    act_as(client, county.command, "command")
    post(client, f"{url}/issue")
    act_as(client, county.unit_b, "unit")
    assert client.get(url).status_code == 200
    assert url.rsplit("/", 1)[1] in client.get("/circulars").get_data(as_text=True)


def test_refusals_record_nothing_and_keep_what_was_typed(client, county, clock):
    late_and_inadequate(county, clock)
    act_as(client, county.unit_b, "unit")
    before = county.duban.position()
    assert client.get("/circulars/new").status_code == 403
    assert draft(client, county).status_code == 403
    act_as(client, county.command, "command")
    no_prefix = draft(client, county, prefix="", title="我的标题")
    assert no_prefix.status_code == 422
    assert "发文机关代字" in no_prefix.get_data(as_text=True) and 'value="我的标题"' in no_prefix.get_data(as_text=True)
    assert draft(client, county, unit_ids=[str(uuid4())]).status_code == 404
    assert draft(client, county, finding_ids=["not-an-id"]).status_code == 404
    assert county.duban.position() == before
    assert client.get(f"/circulars/{uuid4()}").status_code == 404
    assert client.get("/circulars/forged").status_code == 404
