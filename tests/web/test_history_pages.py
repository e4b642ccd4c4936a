"""履历 pages and audit bundles: every event of a finding, unit, person or
circular with who, when, what changed and its digest, filtered by period and
actor; the PDF bundle with each event checked against the store (a tampered
event shows 不一致); every viewing and export recorded, and listed for the
discipline office alone."""

from __future__ import annotations

import hashlib
import io
import re
import sqlite3
from typing import Any
from uuid import UUID, uuid4

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader

from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT
from domain.history_access import HistoryAccess
from tests.support import postgres_connection
from tests.web.conftest import County, act_as, text_of


def _accesses(county: County) -> list[Any]:
    """Every history access recorded so far, oldest first."""
    d = county.duban
    found = []
    for n in d.recorder.select_notifications(start=1, limit=100_000):
        if "HistoryAccess" in n.topic:
            found.append(d.mapper.to_domain_event(n))
    return found


def _world(county: County) -> dict[str, UUID]:
    d = county.duban
    command = county.actor(county.command, COMMAND)
    finding = county.file(county.village_a1, cadres=(county.cadre_1,))
    d.acknowledge_notice(finding, county.actor(county.unit_a1, UNIT))
    other = county.file(county.town_b, check_item="危房改造台账")
    circular = d.draft_circular(
        county_id=county.county, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q4",
        body="决定通报批评。", finding_ids=[finding], unit_ids=[county.village_a1], actor=command,
    ).id  # fmt: skip
    d.issue_circular(circular, command)
    county.settle()
    return {"finding": finding, "other": other, "circular": circular}


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-position="(\d+)">', html)


def test_a_findings_full_history_with_digests_and_filters(client: FlaskClient, county: County) -> None:
    w = _world(county)
    act_as(client, county.discipline, DISCIPLINE)
    before = len(_accesses(county))
    response = client.get(f"/history/findings/{w['finding']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "问题履历：高庙山村：帮扶手册收入测算" in text_of(html, "title")
    table = text_of(html, "history-table")
    for expected in ("登记问题", "下发整改通知", "签收通知", "王督查", "督查员", "李队长", "责任单位", "帮扶手册缺少年度收入测算"):
        assert expected in table, expected
    positions = [int(p) for p in _rows(html)]
    assert positions == sorted(positions) and len(positions) == len(county.duban.history(w["finding"]))
    digests = county.runtime.audit.digests(positions)
    assert all(digests[p][:12] in html for p in positions)
    assert table.count("一致") == len(positions) and "不一致" not in table

    # The view was recorded: who, which subject, which filters.
    [viewed] = _accesses(county)[before:]
    assert isinstance(viewed, HistoryAccess.Viewed)
    assert viewed.actor_id == str(county.discipline) and viewed.actor_role == DISCIPLINE
    assert viewed.subject_kind == "finding" and viewed.subject_id == w["finding"]

    # Filter by actor: the unit's acknowledgement alone.
    by_unit = client.get(f"/history/findings/{w['finding']}?actor={county.unit_a1}").get_data(as_text=True)
    assert len(_rows(by_unit)) == 1 and "签收通知" in text_of(by_unit, "history-table")
    assert "李队长" in text_of(by_unit, "actor-filter") and "王督查" in text_of(by_unit, "actor-filter")
    # Filter by period (Beijing dates): nothing before the finding was filed, everything on its day.
    assert _rows(client.get(f"/history/findings/{w['finding']}?to=2026-10-08").get_data(as_text=True)) == []
    assert len(_rows(client.get(f"/history/findings/{w['finding']}?from=2026-10-09&to=2026-10-09").get_data(as_text=True))) == len(positions)
    assert _accesses(county)[-1].filters == {"from": "2026-10-09", "to": "2026-10-09", "page": "1"}


def test_unit_person_and_circular_histories(client: FlaskClient, county: County) -> None:
    w = _world(county)
    act_as(client, county.command, COMMAND)
    unit = client.get(f"/history/units/{county.village_a1}").get_data(as_text=True)
    table = text_of(unit, "history-table")
    for expected in ("登记单位", "登记用户", "登记问题", "签收通知", "印发", "扣分"):
        assert expected in table, expected
    assert "危房改造台账" not in table  # another town's finding

    cadre = client.get(f"/history/people/{county.cadre_1}").get_data(as_text=True)
    assert "人员履历：张帮扶" in text_of(cadre, "title")
    assert "登记问题" in text_of(cadre, "history-table")  # the finding naming them

    inspector = client.get(f"/history/people/{county.inspector}").get_data(as_text=True)
    assert "危房改造台账" in text_of(inspector, "history-table")  # what they did

    circular = client.get(f"/history/circulars/{w['circular']}").get_data(as_text=True)
    assert "通报履历：关于整改不力单位的通报" in text_of(circular, "title")
    assert [t in text_of(circular, "history-table") for t in ("起草通报", "印发")] == [True, True]
    assert len(_accesses(county)) == 4 and {a.actor_role for a in _accesses(county)} == {COMMAND}


def test_long_histories_are_paged(client: FlaskClient, county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.web import history

    _world(county)
    monkeypatch.setattr(history, "PER_PAGE", 3)
    act_as(client, county.discipline, DISCIPLINE)
    first = client.get(f"/history/units/{county.village_a1}").get_data(as_text=True)
    second = client.get(f"/history/units/{county.village_a1}?page=2").get_data(as_text=True)
    assert len(_rows(first)) == 3 and len(_rows(second)) == 3
    assert max(map(int, _rows(first))) < min(map(int, _rows(second)))
    assert "第 2 /" in text_of(second, "pager")


def test_refusals_record_nothing(client: FlaskClient, county: County) -> None:
    w = _world(county)
    d = county.duban
    other_county = d.register_unit(name="佳县", kind="county", parent_id=None).id
    elsewhere = d.register_unit(name="佳县指挥部", kind="office", parent_id=other_county).id
    county.settle()
    act_as(client, county.discipline, DISCIPLINE)
    before = d.position()
    for url in (
        f"/history/units/{elsewhere}", f"/history/units/{other_county}", f"/history/findings/{uuid4()}",
        "/history/findings/not-an-id", f"/history/people/{w['finding']}", f"/history/circulars/{county.village_a1}",
        f"/history/units/{elsewhere}/bundle.pdf",
    ):  # fmt: skip
        assert client.get(url).status_code == 404, url
    for query in ("from=2026-13-01", "to=yesterday", "from=2026-10-09&to=2026-10-01", "actor=somebody", "page=x"):
        response = client.get(f"/history/findings/{w['finding']}?{query}")
        assert response.status_code == 422, query
        assert "日期" in response.get_data(as_text=True) or "有误" in response.get_data(as_text=True)
    for role, user in ((INSPECTOR, county.inspector), (UNIT, county.unit_a1), (CADRE, county.cadre_1)):
        act_as(client, user, role)
        assert client.get(f"/history/findings/{w['finding']}").status_code == 403
        assert client.get(f"/history/findings/{w['finding']}/bundle.pdf").status_code == 403
    act_as(client, county.command, COMMAND)
    assert client.get("/history/access").status_code == 403
    assert d.position() == before


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def _tamper(county: County, store_env: dict[str, str], position: int) -> None:
    """Flip one byte of the stored event's state with plain SQL, as someone with the password would."""
    if store_env["PERSISTENCE_MODULE"].endswith("postgres"):
        table = f'"{store_env["POSTGRES_SCHEMA"]}"."{county.duban.recorder.events_table_name}"'
        with postgres_connection() as connection:
            [(state,)] = connection.execute(f"SELECT state FROM {table} WHERE notification_id = %s", (position,)).fetchall()
            changed = bytearray(state)
            changed[len(changed) // 2] ^= 0x01
            connection.execute(f"UPDATE {table} SET state = %s WHERE notification_id = %s", (bytes(changed), position))
        return
    connection = sqlite3.connect(store_env["SQLITE_DBNAME"])
    try:
        with connection:
            [(state,)] = connection.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchall()
            changed = bytearray(state)
            changed[len(changed) // 2] ^= 0x01
            connection.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(changed), position))
    finally:
        connection.close()


def test_the_audit_bundle_checks_each_event_against_the_store(client: FlaskClient, county: County,
                                                              store_env: dict[str, str]) -> None:  # fmt: skip
    from projections.audit_verify import verify_history

    w = _world(county)
    report = verify_history(county.duban, county.runtime.audit)
    county.duban.record_verification(run_id=uuid4(), actor=county.actor(county.discipline, DISCIPLINE),
                                     **report.record_fields())  # fmt: skip
    county.settle()
    act_as(client, county.discipline, DISCIPLINE)
    head = county.runtime.audit.head()  # the chain as the export reads it (the export's own event comes after)
    response = client.get(f"/history/findings/{w['finding']}/bundle.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    pdf = response.get_data()
    text = _pdf_text(pdf)
    positions = [e.originator_version for e in county.duban.history(w["finding"])]
    assert len(positions) == 3
    rows = county.runtime.history.rows("finding", str(w["finding"]))
    digests = county.runtime.audit.digests([r["position"] for r in rows])
    assert "审计材料包：问题履历：高庙山村：帮扶手册收入测算" in text
    for expected in ("登记问题", "下发整改通知", "签收通知", "孙纪检", "纪检监察", "导出时链头", "全部一致",
                     "最近一次全量核验2026-10-0910:00，历史完整"):
        assert expected in text, expected
    for digest in digests.values():
        assert digest in text
    assert "不一致" not in text
    assert head.position == county.duban.position() - 1
    assert f"{head.chain}@{head.position}" in text

    [exported] = [a for a in _accesses(county) if isinstance(a, HistoryAccess.Exported)]
    assert exported.actor_id == str(county.discipline) and exported.sha256 == hashlib.sha256(pdf).hexdigest()
    assert exported.events == 3 and exported.subject_id == w["finding"]

    # Someone edits the acknowledgement in the store: the bundle says so.
    acknowledged = rows[2]["position"]
    _tamper(county, store_env, acknowledged)
    tampered = _pdf_text(client.get(f"/history/findings/{w['finding']}/bundle.pdf").get_data())
    assert "1条不一致" in tampered
    assert tampered.count("不一致") >= 2  # the summary and the row
    page = client.get(f"/history/findings/{w['finding']}").get_data(as_text=True)
    assert "不一致" in text_of(page, "history-table")


def test_a_bundle_is_capped_and_filtered(client: FlaskClient, county: County, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.web import history

    w = _world(county)
    act_as(client, county.command, COMMAND)
    monkeypatch.setattr(history, "BUNDLE_LIMIT", 2)
    before = county.duban.position()
    refused = client.get(f"/history/findings/{w['finding']}/bundle.pdf")
    assert refused.status_code == 422
    assert "超过审计材料包每份2条的上限，请缩小时间范围" in refused.get_data(as_text=True)
    assert county.duban.position() == before
    narrowed = client.get(f"/history/findings/{w['finding']}/bundle.pdf?actor={county.unit_a1}")
    assert narrowed.status_code == 200
    text = _pdf_text(narrowed.get_data())
    assert "签收通知" in text and "登记问题" not in text and "操作人李队长" in text


def test_the_discipline_office_sees_who_looked(client: FlaskClient, county: County) -> None:
    w = _world(county)
    act_as(client, county.command, COMMAND)
    client.get(f"/history/units/{county.village_a1}?from=2026-10-01")
    client.get(f"/history/findings/{w['finding']}/bundle.pdf")
    act_as(client, county.discipline, DISCIPLINE)
    client.get(f"/history/people/{county.cadre_1}")
    county.settle()
    page = client.get("/history/access").get_data(as_text=True)
    table = text_of(page, "access-table")
    assert table.index("孙纪检") < table.index("赵主任")  # newest first
    for expected in ("查看履历", "导出审计材料包", "单位： 高庙山村", "人员： 张帮扶", "2026-10-01 至 今", "3条"):
        assert expected in table, expected
    assert f'href="/history/units/{county.village_a1}?from=2026-10-01"' in page
    only_command = text_of(client.get(f"/history/access?actor={county.command}").get_data(as_text=True), "access-table")
    assert "赵主任" in only_command and "孙纪检" not in only_command
    assert "没有符合条件" in client.get("/history/access?to=2026-10-08").get_data(as_text=True)
    assert "赵主任" in text_of(page, "person-filter")


def test_the_subjects_pages_link_their_histories_for_the_two_offices(client: FlaskClient, county: County) -> None:
    w = _world(county)
    pages = {
        f"/findings/{w['finding']}": f"/history/findings/{w['finding']}",
        f"/circulars/{w['circular']}": f"/history/circulars/{w['circular']}",
        f"/admin/units/{county.village_a1}": f"/history/units/{county.village_a1}",
    }
    for role, user in ((DISCIPLINE, county.discipline), (COMMAND, county.command)):
        act_as(client, user, role)
        for page, history in pages.items():
            assert f'href="{history}"' in client.get(page).get_data(as_text=True), (role, page)
    act_as(client, county.command, COMMAND)
    assert f'href="/history/people/{county.cadre_1}"' in client.get(f"/admin/users/{county.cadre_1}").get_data(as_text=True)
    act_as(client, county.inspector, INSPECTOR)
    for page in (f"/findings/{w['finding']}", f"/circulars/{w['circular']}"):
        assert "/history/" not in client.get(page).get_data(as_text=True)


def test_the_bundle_printer_fetches_nothing_and_prints_text_as_text() -> None:
    import weasyprint
    from weasyprint.urls import FatalURLFetchingError

    from app.audit_bundle import RefusingFetcher

    for url in ("file:///etc/hostname", "http://127.0.0.1:9/x.png", "https://example.invalid/x.css"):
        with pytest.raises(FatalURLFetchingError):
            weasyprint.HTML(string=f'<p>x</p><img src="{url}">', url_fetcher=RefusingFetcher()).write_pdf()
    pixel = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
    assert weasyprint.HTML(string=f'<img src="{pixel}">', url_fetcher=RefusingFetcher()).write_pdf().startswith(b"%PDF")


def test_what_people_typed_is_printed_not_obeyed(client: FlaskClient, county: County) -> None:
    finding = county.file(county.village_a1, description='<img src="file:///etc/hostname">整改说明')
    county.settle()
    act_as(client, county.discipline, DISCIPLINE)
    response = client.get(f"/history/findings/{finding}/bundle.pdf")
    assert response.status_code == 200
    assert '<imgsrc="file:///etc/hostname">整改说明' in _pdf_text(response.get_data())
