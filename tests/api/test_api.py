"""The JSON API: each endpoint's happy path, refusals as problem+json with a
Chinese detail and nothing recorded, scoping, keys, idempotency and cursors."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from tests.api.conftest import assert_problem
from tests.web.conftest import act_as

FINDING = {
    "category": "missing",
    "source": "inspection",
    "severity": "general",
    "check_item": "帮扶手册收入测算",
    "description": "帮扶手册缺少年度收入测算",
}


def filing(county, unit=None, **extra):
    return {**FINDING, "unit_id": str(unit or county.village_a1), **extra}


# Keys
def test_without_a_key_or_with_a_bad_one_is_401(api):
    for headers in ({}, {"Authorization": "Bearer dbn.x.y.z"}, {"Authorization": "Basic abc"}):
        response = api.client.get("/api/v1/findings", headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_cookie_session_is_not_accepted(api):
    act_as(api.client, api.county.command, "command")
    assert_problem(api.client.get("/api/v1/findings"), 401, "接口密钥")
    before = api.position
    assert_problem(api.client.post("/api/v1/findings", json=filing(api.county)), 401)
    assert api.position == before


def test_a_revoked_key_stops_at_once(api):
    county = api.county
    key = api.key_for(county.inspector, "inspector")
    assert api.client.get("/api/v1/findings", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    county.duban.revoke_api_token(county.inspector, key.split(".")[2], county.actor(county.inspector, "inspector"))
    assert_problem(api.client.get("/api/v1/findings", headers={"Authorization": f"Bearer {key}"}), 401)


def test_posting_needs_no_form_token(api):
    response = api.post("/api/v1/findings", filing(api.county), role="inspector")
    assert response.status_code == 201, response.get_data(as_text=True)


# Errors
def test_errors_are_problems_never_pages(api):
    assert_problem(api.get("/api/v1/no-such-thing"), 404)
    response = api.client.delete("/api/v1/findings", headers=api.headers("command"))
    assert_problem(response, 405)
    before = api.position
    assert_problem(api.post("/api/v1/findings", data="{not json", content_type="application/json"), 400)
    assert_problem(api.post("/api/v1/findings", data="unit=1", content_type="text/plain"), 415)
    assert_problem(api.post("/api/v1/findings", ["a list"]), 400)
    body = assert_problem(api.post("/api/v1/findings", {**filing(api.county), "severity": 3}), 422)
    assert "severity" in body["detail"]
    body = assert_problem(api.post("/api/v1/findings", {"category": "missing"}), 422)
    assert "缺少必填字段" in body["detail"]
    assert_problem(api.post("/api/v1/findings", {**filing(api.county), "extra": 1}), 422, "不允许的字段")
    assert_problem(api.post("/api/v1/findings", {**filing(api.county), "description": "a\u0000b"}), 422)
    big = "x" * (3 * 1024 * 1024)
    assert_problem(api.post("/api/v1/findings", {**filing(api.county), "description": big}), 413)
    assert api.position == before


def test_a_domain_refusal_is_a_problem_with_its_chinese_message(api):
    before = api.position
    response = api.post("/api/v1/findings", filing(api.county, description="   "), role="inspector")
    assert_problem(response, 422, "问题描述")
    assert_problem(api.post("/api/v1/findings", filing(api.county), role="unit"), 403, "督查员")
    assert api.position == before


# Findings
def test_filing_reading_and_the_whole_life_of_a_finding(api):
    county = api.county
    filed = api.post("/api/v1/findings", filing(county, cadre_ids=[str(county.cadre_1)]), role="inspector")
    assert filed.status_code == 201
    finding = filed.get_json()
    fid = finding["finding_id"]
    assert finding["status"] == "filed" and finding["cadre_ids"] == [str(county.cadre_1)]
    url = f"/api/v1/findings/{fid}"

    issued = api.post(f"{url}/issue-notice", role="inspector")
    assert issued.status_code == 200 and issued.get_json()["status"] == "open"
    assert api.post(f"{url}/acknowledge", role="unit").get_json()["status"] == "acknowledged"
    until = date(2026, 11, 30).isoformat()
    asked = api.post(f"{url}/request-extension", {"until": until, "reason": "雨季施工"}, role="unit")
    assert asked.status_code == 200, asked.get_data(as_text=True)
    assert api.post(f"{url}/deny-extension", {"reason": "期限充足"}).status_code == 200
    submitted = api.post(f"{url}/submit-rectification", {"description": "已补齐测算", "evidence": ["照片1"]}, role="unit")
    assert submitted.get_json()["status"] == "submitted"
    rejected = api.post(f"{url}/reject", {"reason": "测算不完整"}, role="inspector")
    assert rejected.get_json()["status"] == "open" and rejected.get_json()["new_deadline"]
    api.post(f"{url}/submit-rectification", {"description": "重新补齐"}, role="unit")
    assert api.post(f"{url}/accept", {"note": "到位"}, role="inspector").get_json()["status"] == "closed"
    deductions = api.get(url).get_json()["deductions"]
    assert deductions
    reversed_ = api.post(f"{url}/reverse-deduction", {"deduction_number": deductions[0]["number"], "reason": "申诉成立"})
    assert reversed_.status_code == 200, reversed_.get_data(as_text=True)

    shown = api.get(url, role="cadre").get_json()
    types = [e["type"] for e in shown["history"]]
    assert types[0] == "Filed"
    assert {"NoticeIssued", "RectificationRejected", "RectificationAccepted", "DeductionReversed"} <= set(types)
    assert all(e["actor_role"] for e in shown["history"])


def test_other_steps_grant_escalate_withdraw_and_record_missed(api, clock):
    county = api.county
    one, two, three = (county.file(county.village_a1) for _ in range(3))
    county.settle()
    api.post(f"/api/v1/findings/{one}/request-extension", {"until": "2026-12-31", "reason": "x"}, role="unit")
    granted = api.post(f"/api/v1/findings/{one}/grant-extension", {"note": "同意"})
    assert granted.status_code == 200, granted.get_data(as_text=True)
    assert api.post(f"/api/v1/findings/{two}/escalate", {"reason": "多次整改不到位"}).get_json()["escalated"] is True
    assert api.post(f"/api/v1/findings/{three}/withdraw", {"reason": "误报"}).get_json()["status"] == "withdrawn"
    before = api.position
    assert_problem(api.post(f"/api/v1/findings/{one}/record-missed"), 409)  # its deadline has not passed
    assert api.position == before
    clock.advance(days=40)
    assert api.post(f"/api/v1/findings/{two}/record-missed").status_code == 200


def test_a_unit_key_cannot_see_or_touch_another_units_finding(api):
    county = api.county
    elsewhere = county.file(county.town_b)
    county.settle()
    before = api.position
    for url in (f"/api/v1/findings/{elsewhere}", f"/api/v1/findings/{uuid4()}", "/api/v1/findings/not-an-id"):
        assert_problem(api.get(url, role="unit"), 404)
    assert_problem(api.post(f"/api/v1/findings/{elsewhere}/acknowledge", role="unit"), 404)
    assert_problem(api.post("/api/v1/findings/forged/acknowledge", role="unit"), 404)
    assert_problem(api.get(f"/api/v1/findings/{elsewhere}", role="cadre"), 404)
    assert api.position == before
    listed = api.get("/api/v1/findings", role="unit").get_json()["items"]
    assert str(elsewhere) not in [f["finding_id"] for f in listed]


def test_the_ledger_filters(api):
    county = api.county
    county.file(county.village_a1, category="missing")
    county.file(county.town_b, category="other")
    county.settle()
    found = api.get("/api/v1/findings?category=other").get_json()["items"]
    assert [f["category"] for f in found] == ["other"]
    found = api.get(f"/api/v1/findings?unit_id={county.town_a}").get_json()["items"]
    assert {f["unit_id"] for f in found} == {str(county.village_a1)}
    assert len(api.get("/api/v1/findings?status=open").get_json()["items"]) == 2
    assert api.get("/api/v1/findings?overdue=true").get_json()["items"] == []
    assert_problem(api.get("/api/v1/findings?status=bogus"), 400)
    assert_problem(api.get("/api/v1/findings?as_of=yesterday"), 422)


# Pagination
def test_walking_120_findings_fifty_at_a_time(api, clock):
    county = api.county
    inspector = county.actor(county.inspector, "inspector")
    for number in range(120):
        if number % 7 == 0:
            clock.advance(minutes=1)  # some share a filing time, some do not
        county.duban.file_finding(
            unit_id=county.village_a1, category="missing", source="inspection", severity="general",
            check_item=f"事项{number}", description="描述", actor=inspector,
        )  # fmt: skip
    county.settle()
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        url = "/api/v1/findings?limit=50" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(url).get_json()
        pages += 1
        seen += [f["finding_id"] for f in body["items"]]
        if pages == 1:
            # A finding filed after the first page neither repeats nor shifts the rest.
            clock.advance(minutes=5)
            county.file(county.village_a1, notice=False)
            county.settle()
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 120 == len(set(seen))
    assert_problem(api.get("/api/v1/findings?cursor=@@@"), 400, "游标")
    assert_problem(api.get("/api/v1/findings?limit=500"), 400)
    assert_problem(api.get("/api/v1/findings?limit=0"), 400)


def test_lists_page_by_cursor(api):
    first = api.get("/api/v1/units?limit=3").get_json()
    second = api.get(f"/api/v1/units?limit=3&cursor={first['next_cursor']}").get_json()
    assert len(first["items"]) == 3 and not {u["unit_id"] for u in first["items"]} & {u["unit_id"] for u in second["items"]}


# Idempotency
def test_a_retried_filing_records_once(api):
    county = api.county
    key = {"Idempotency-Key": "filing-0001"}
    first = api.post("/api/v1/findings", filing(county), role="inspector", headers=key)
    assert first.status_code == 201
    after_first = api.position
    again = api.post("/api/v1/findings", filing(county), role="inspector", headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["finding_id"] == first.get_json()["finding_id"]
    assert api.position == after_first
    changed = api.post("/api/v1/findings", filing(county, description="另一个问题"), role="inspector", headers=key)
    assert_problem(changed, 422, "Idempotency-Key")
    assert api.position == after_first
    # Another user's same key is another request.
    other = api.post("/api/v1/findings", filing(county), role="command", headers=key)
    assert other.status_code == 201 and other.get_json()["finding_id"] != first.get_json()["finding_id"]
    assert_problem(api.post("/api/v1/findings", filing(county), headers={"Idempotency-Key": "含中文"}), 400)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/units", lambda c: {"name": "新村", "kind": "village", "parent_id": str(c.town_a)}),
        ("/api/v1/users", lambda c: {"unit_id": str(c.village_a1), "name": "新用户", "login": "xin", "roles": ["unit"]}),
        ("/api/v1/circulars", lambda c: {"kind": "criticism", "title": "通报", "prefix": "米脱指发", "period": "2026Q4",
                                         "body": "决定通报批评。"}),
    ],
)
def test_other_creating_requests_are_idempotent(api, url, body):
    key = {"Idempotency-Key": str(uuid4())}
    first = api.post(url, body(api.county), headers=key)
    assert first.status_code == 201, first.get_data(as_text=True)
    position = api.position
    again = api.post(url, body(api.county), headers=key)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert api.position == position


# Units, users, rulebook, circulars
def test_units(api):
    county = api.county
    created = api.post("/api/v1/units", {"name": "新村", "kind": "village", "parent_id": str(county.town_a)})
    unit_id = created.get_json()["unit_id"]
    assert api.post(f"/api/v1/units/{unit_id}/rename", {"name": "新名村"}).get_json()["name"] == "新名村"
    assert api.post(f"/api/v1/units/{unit_id}/move", {"parent_id": str(county.town_b)}).get_json()["parent_id"] == str(county.town_b)
    assert api.post(f"/api/v1/units/{unit_id}/retire", {"reason": "合并"}).get_json()["retired"] is True
    assert api.get(f"/api/v1/units/{unit_id}").get_json()["name"] == "新名村"
    mine = {u["unit_id"] for u in api.get("/api/v1/units", role="unit").get_json()["items"]}
    assert mine == {str(county.village_a1)}
    assert_problem(api.get(f"/api/v1/units/{county.town_b}", role="unit"), 404)
    before = api.position
    assert_problem(api.post(f"/api/v1/units/{county.village_a1}/rename", {"name": "x"}, role="unit"), 403)
    assert_problem(api.post("/api/v1/units", {"name": "x", "kind": "planet", "parent_id": str(county.county)}), 422)
    assert api.position == before


def test_users_and_roles(api):
    county = api.county
    created = api.post("/api/v1/users", {"unit_id": str(county.village_a2), "name": "钱队长", "login": "qian", "roles": ["unit"]})
    assert created.status_code == 201
    user_id = created.get_json()["user_id"]
    assert api.post(f"/api/v1/users/{user_id}/grant-role", {"role": "cadre"}).get_json()["roles"] == ["cadre", "unit"]
    assert api.post(f"/api/v1/users/{user_id}/revoke-role", {"role": "unit"}).get_json()["roles"] == ["cadre"]
    assert api.get(f"/api/v1/users/{user_id}").get_json()["login"] == "qian"
    assert len(api.get("/api/v1/users").get_json()["items"]) >= 9
    assert_problem(api.get(f"/api/v1/users/{county.unit_b}", role="unit"), 404)
    before = api.position
    assert_problem(api.post(f"/api/v1/users/{user_id}/grant-role", {"role": "cadre"}), 409, "已有此角色")
    assert_problem(api.post(f"/api/v1/users/{user_id}/grant-role", {"role": "system"}), 422)
    assert api.position == before


def test_rulebook(api):
    versions = api.get("/api/v1/rulebook", role="unit").get_json()
    assert versions["in_force"] == 1
    adopted = api.post("/api/v1/rulebook", {"in_force_from": "2026-11-01", "rules": {"overdue_points": "1"}})
    assert adopted.status_code == 201, adopted.get_data(as_text=True)
    assert [v["version"] for v in adopted.get_json()["versions"]] == [1, 2]
    before = api.position
    assert_problem(api.post("/api/v1/rulebook", {"in_force_from": "2020-01-01", "rules": {}}), 422)
    assert_problem(api.post("/api/v1/rulebook", {"in_force_from": "2026-12-01", "rules": {"bogus": 1}}), 422)
    assert api.position == before


def test_circulars(api):
    county = api.county
    finding = county.file(county.village_a1)
    county.settle()
    drafted = api.post("/api/v1/circulars", {
        "kind": "criticism", "title": "关于整改不力单位的通报", "prefix": "米脱指发", "period": "2026Q4",
        "body": "决定通报批评。", "finding_ids": [str(finding)], "unit_ids": [str(county.village_a1)],
    })  # fmt: skip
    assert drafted.status_code == 201, drafted.get_data(as_text=True)
    cid = drafted.get_json()["circular_id"]
    assert_problem(api.get(f"/api/v1/circulars/{cid}", role="unit"), 404)  # a draft is not the unit's to read
    edited = api.post(f"/api/v1/circulars/{cid}/edit", {"title": "新标题", "body": "正文", "finding_ids": [str(finding)],
                                                          "unit_ids": [str(county.village_a1)]})  # fmt: skip
    assert edited.get_json()["title"] == "新标题"
    assert api.post(f"/api/v1/circulars/{cid}/issue").get_json()["status"] == "issued"
    assert [c["circular_id"] for c in api.get("/api/v1/circulars", role="unit").get_json()["items"]] == [cid]
    assert api.post(f"/api/v1/circulars/{cid}/revoke", {"reason": "有误"}).get_json()["status"] == "revoked"


# Reads
def test_dashboard_scores_documents_inbox(api):
    county = api.county
    finding = county.file(county.village_a1)
    county.settle()
    dashboard = api.get("/api/v1/dashboard").get_json()
    assert dashboard["totals"]["rectifying"] == 1
    assert_problem(api.get("/api/v1/dashboard", role="unit"), 403)
    ranking = api.get("/api/v1/scores?kind=village").get_json()
    assert ranking["items"] and {"unit_id", "score", "rank"} <= set(ranking["items"][0])
    report = api.get(f"/api/v1/scores/units/{county.village_a1}", role="unit")
    assert report.status_code == 200 and report.get_json()["score"]["unit_id"] == str(county.village_a1)
    assert_problem(api.get(f"/api/v1/scores/units/{county.town_b}", role="unit"), 404)
    document = api.get(f"/api/v1/findings/{finding}/document", role="unit")
    assert document.status_code in (200, 404)
    assert api.get(f"/api/v1/units/{county.village_a1}/documents", role="unit").status_code == 200

    inbox = api.get("/api/v1/inbox", role="unit").get_json()["items"]
    if inbox:  # the notice's message, when the policies run
        read = api.post(f"/api/v1/inbox/{inbox[0]['message_id']}/read", role="unit")
        assert read.status_code == 200 and read.get_json()["is_read"] is True
    message = county.duban.send_message(
        message_id=uuid4(), county_id=county.county, purpose="reminder", title="提醒", body="请及时处理",
        user_ids=[county.unit_a1],
    ).id  # fmt: skip
    county.settle()
    assert_problem(api.post(f"/api/v1/inbox/{message}/read", role="inspector"), 404)
    read = api.post(f"/api/v1/inbox/{message}/read", role="unit")
    assert read.status_code == 200 and read.get_json()["is_read"] is True


def test_cases(api):
    county = api.county
    finding = county.file(county.village_a1)
    county.settle()
    key = {"Idempotency-Key": "case-1"}
    body = {"summary": "整改不力，移交审查", "finding_ids": [str(finding)], "subject_unit_id": str(county.village_a1)}
    opened = api.post("/api/v1/cases", body, role="discipline", headers=key)
    assert opened.status_code == 201, opened.get_data(as_text=True)
    position = api.position
    assert api.post("/api/v1/cases", body, role="discipline", headers=key).status_code == 200
    assert api.position == position
    cid = opened.get_json()["case_id"]
    assert api.post(f"/api/v1/cases/{cid}/hearing", {"held_on": "2026-10-09", "participants": "李队长", "note": "谈话"},
                    role="discipline").status_code == 200  # fmt: skip
    sanctioned = api.post(f"/api/v1/cases/{cid}/sanction", {"sanction": "talk", "subject": "李队长"}, role="discipline")
    assert sanctioned.get_json()["sanctions"]
    assert api.post(f"/api/v1/cases/{cid}/close", {"conclusion": "结案"}, role="discipline").status_code == 200
    assert [c["case_id"] for c in api.get("/api/v1/cases").get_json()["items"]] == [cid]
    assert_problem(api.get(f"/api/v1/cases/{cid}", role="unit"), 403)
    assert_problem(api.post("/api/v1/cases", body, role="command"), 403)


def test_inspections_holidays_webhooks_emails_and_unit_notices(api):
    county = api.county
    key = {"Idempotency-Key": "round-2026-10"}
    round_ = {"title": "十月督查", "source": "inspection", "inspector_ids": [str(county.inspector)],
              "starts_on": "2026-10-09", "ends_on": "2026-10-20"}  # fmt: skip
    planned = api.post("/api/v1/inspections", round_, role="inspector", headers=key)
    assert planned.status_code == 201, planned.get_data(as_text=True)
    position = api.position
    assert api.post("/api/v1/inspections", round_, role="inspector", headers=key).status_code == 200
    assert api.position == position
    inspection_id = planned.get_json()["inspection_id"]
    filed = api.post("/api/v1/findings", filing(county, inspection_id=inspection_id), role="inspector")
    assert filed.get_json()["inspection_id"] == inspection_id
    done = api.post("/api/v1/inspections/complete", {"inspection_id": inspection_id, "summary": "完成"}, role="inspector")
    assert done.get_json()["completed"] is True
    assert_problem(api.post("/api/v1/inspections/complete", {"inspection_id": str(uuid4())}), 404)

    holidays = api.post("/api/v1/rulebook/holidays", {"year": 2027, "days_off": ["2027-01-01"], "make_up_workdays": []})
    assert holidays.status_code == 200, holidays.get_data(as_text=True)

    hook = api.post(f"/api/v1/units/{county.village_a1}/webhook", {"url": "https://example.org/hook", "secret": "s" * 20})
    assert hook.status_code == 200, hook.get_data(as_text=True)
    before = api.position
    assert_problem(api.post(f"/api/v1/units/{county.village_a1}/webhook", {"url": "ftp://x", "secret": "s" * 20}), 422)
    assert api.position == before

    assert api.post(f"/api/v1/users/{county.unit_a1}/email", {"email": "li@example.org"}, role="unit").status_code == 200
    assert_problem(api.post(f"/api/v1/users/{county.unit_b}/email", {"email": "x@example.org"}, role="unit"), 404)

    finding = county.file(county.village_a1)
    county.settle()
    key = {"Idempotency-Key": "notice-1"}
    notice = api.post(f"/api/v1/units/{county.village_a1}/notices", {"finding_ids": [str(finding)]}, role="inspector",
                      headers=key)  # fmt: skip
    assert notice.status_code == 201, notice.get_data(as_text=True)
    position = api.position
    again = api.post(f"/api/v1/units/{county.village_a1}/notices", {"finding_ids": [str(finding)]}, role="inspector",
                     headers=key)  # fmt: skip
    assert again.status_code == 200 and api.position == position
