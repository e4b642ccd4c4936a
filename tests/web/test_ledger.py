"""The live problem ledger: rows, filters, pages, counts and who sees what."""

from __future__ import annotations

import re

from tests.web.conftest import act_as, ledger_ids


def ledger(client, query: str = "") -> str:
    response = client.get("/" + query)
    assert response.status_code == 200
    return response.text


def test_lists_findings_with_their_columns_in_chinese(client, county):
    finding = county.file(county.village_a1, category="outdated", severity="grave", description="一二三四五六七八九十" * 5)
    county.settle()
    act_as(client, county.inspector, "inspector")
    html = ledger(client)
    assert ledger_ids(html) == [str(finding)]
    for header in ("单位", "战区", "街镇", "问题类型", "检查事项", "问题描述", "等级", "整改期限", "状态", "逾期天数", "扣分"):
        assert f"<th>{header}</th>" in html or f'<th class="num">{header}</th>' in html
    row = html[html.index(f'data-finding="{finding}"'):]
    row = row[: row.index("</tr>")]
    for cell in ("高庙山村", "东战区", "银州街道", "更新不及时", "帮扶手册收入测算", "严重", "待签收"):
        assert cell in row
    assert "一二三四五六七八九十" * 2 + "一二三四五六七八九…" in row  # shortened, the whole text in the title
    assert f'href="/findings/{finding}"' in row


def test_each_filter(client, county, clock):
    a1 = county.file(county.village_a1, category="missing")
    a2 = county.file(county.village_a2, category="nonstandard")
    b = county.file(county.town_b, category="missing")
    filed_only = county.file(county.village_a2, category="other", notice=False)
    clock.advance(days=30)
    late = county.file(county.village_a1, category="omitted")  # deadline still ahead
    county.settle()
    act_as(client, county.command, "command")

    def ids(query: str) -> set[str]:
        return set(ledger_ids(ledger(client, query)))

    assert ids("") == {str(x) for x in (a1, a2, b, filed_only, late)}
    assert ids(f"?zone={county.zone_west}") == {str(b)}
    assert ids(f"?town={county.town_a}") == {str(x) for x in (a1, a2, filed_only, late)}
    assert ids(f"?unit={county.village_a2}") == {str(a2), str(filed_only)}
    assert ids(f"?unit={county.town_a}") == {str(x) for x in (a1, a2, filed_only, late)}  # a town includes its villages
    assert ids("?category=missing") == {str(a1), str(b)}
    assert ids("?status=filed") == {str(filed_only)}
    assert ids("?overdue=1") == {str(a1), str(a2), str(b)}
    assert ids(f"?overdue=1&town={county.town_a}&category=missing") == {str(a1)}
    # Choices not on offer are ignored rather than failing.
    assert ids("?status=nonsense&zone=not-a-unit") == ids("")
    html = ledger(client, "?overdue=1")
    assert re.search(r'<span class="badge overdue">\d+</span>', html)


def test_status_counts_summary(client, county):
    county.file(county.village_a1)
    county.file(county.village_a1)
    county.file(county.village_a2, notice=False)
    county.settle()
    act_as(client, county.inspector, "inspector")
    html = ledger(client, "?status=open")
    counts = html[html.index('id="status-counts"'):]
    counts = counts[: counts.index("</div>")]
    assert "全部 3" in counts
    assert "待签收 2" in counts
    assert "待下发 1" in counts
    assert "已销号 0" in counts


def test_pagination_keeps_the_filters(client, county):
    for n in range(52):
        county.file(county.village_a1, check_item=f"事项{n}", notice=False)
    county.file(county.village_a2, notice=False)
    county.settle()
    act_as(client, county.inspector, "inspector")
    first = ledger(client, f"?town={county.town_a}&status=filed")
    assert len(ledger_ids(first)) == 50
    assert "共 53 条，第 1 / 2 页" in first
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "page=2" in next_link and f"town={county.town_a}" in next_link and "status=filed" in next_link
    second = ledger(client, next_link.removeprefix("/"))
    assert len(ledger_ids(second)) == 3
    assert not set(ledger_ids(first)) & set(ledger_ids(second))
    assert len(ledger_ids(ledger(client, f"?unit={county.village_a1}&page=2"))) == 2
    # Past the end: the last page; nonsense: the first.
    assert ledger_ids(ledger(client, f"?town={county.town_a}&page=99")) == ledger_ids(second)
    assert ledger_ids(ledger(client, f"?town={county.town_a}&page=x")) == ledger_ids(first)


def test_unit_users_see_their_own_unit_and_the_units_below(client, county):
    a1 = county.file(county.village_a1)
    a2 = county.file(county.village_a2)
    town = county.file(county.town_a)
    b = county.file(county.town_b)
    county.settle()

    act_as(client, county.unit_a1, "unit")
    html = ledger(client)
    assert ledger_ids(html) == [str(a1)]
    assert "龙镇" not in html  # not even as a filter choice
    assert ledger_ids(ledger(client, f"?unit={county.town_b}")) == [str(a1)]

    act_as(client, county.unit_town_a, "unit")
    assert set(ledger_ids(ledger(client))) == {str(a1), str(a2), str(town)}

    act_as(client, county.unit_b, "unit")
    assert ledger_ids(ledger(client)) == [str(b)]


def test_cadres_see_the_findings_naming_them(client, county):
    named = county.file(county.village_a1, cadres=(county.cadre_1,))
    both = county.file(county.village_a2, cadres=(county.cadre_1, county.cadre_2))
    county.file(county.village_a1)
    county.settle()
    act_as(client, county.cadre_1, "cadre")
    assert set(ledger_ids(ledger(client))) == {str(named), str(both)}
    act_as(client, county.cadre_2, "cadre")
    assert ledger_ids(ledger(client)) == [str(both)]


def test_supervisors_see_the_whole_county(client, county):
    ids = {str(county.file(unit)) for unit in (county.village_a1, county.village_a2, county.town_b)}
    county.settle()
    for user, role in ((county.inspector, "inspector"), (county.command, "command"), (county.discipline, "discipline")):
        act_as(client, user, role)
        assert set(ledger_ids(ledger(client))) == ids


def test_an_empty_ledger(client, county):
    act_as(client, county.inspector, "inspector")
    assert "没有符合条件的问题" in ledger(client)
