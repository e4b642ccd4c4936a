"""The inbox page (通知): an identity sees the messages addressed to them or to
their unit, with the unread count in every page's header; marking one read lands
on a page that already shows it; nobody else can read it or mark it read."""

from __future__ import annotations

import re
from uuid import UUID, uuid4

from domain.message import message_id
from tests.web.conftest import act_as, post, text_of


def send(county, purpose, subject, *qualifiers, units=(), users=(), title="整改通知：高庙山村", finding=True):
    key = message_id(purpose, subject, *qualifiers)
    county.duban.send_message(
        message_id=key, county_id=county.county, purpose=purpose, title=title, body="请于期限内完成整改",
        unit_ids=units, user_ids=users, finding_id=subject if finding else None,
    )  # fmt: skip
    return key


def listed(html):
    return re.findall(r'data-message="([0-9a-f-]{36})"', html)


def header_count(html):
    return text_of(html, "inbox-count")


def test_a_unit_reads_its_message_and_the_count_drops(client, county):
    finding = county.file(county.village_a1)
    notice = send(county, "notice", finding, 1, units=(county.village_a1,), users=(county.cadre_1,))
    county.settle()

    act_as(client, county.unit_a1, "unit")
    ledger = client.get("/")
    assert ledger.status_code == 200
    assert header_count(ledger.text) == "1"
    assert '>通知 (<span id="inbox-count">1</span>)</a>' in ledger.text

    page = client.get("/inbox")
    assert page.status_code == 200
    assert listed(page.text) == [str(notice)]
    row = text_of(page.text, "inbox")
    assert "整改通知：高庙山村" in row and "请于期限内完成整改" in row
    assert "整改通知" in row and "2026-10-09 10:00" in row  # the purpose's label, Beijing time
    assert f'href="/findings/{finding}"' in page.text
    assert text_of(page.text, f"read-{notice}").startswith("未读")
    assert text_of(page.text, "inbox-unread") == "未读 1"

    before = county.duban.position()
    response = post(client, f"/inbox/{notice}/read", {"next": "/inbox"})
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/inbox"
    assert county.duban.position() > before
    assert county.runtime.inbox_follower.position >= county.duban.position()

    landing = client.get(response.headers["Location"])
    assert header_count(landing.text) == "0"
    assert text_of(landing.text, f"read-{notice}").startswith("已读")
    assert text_of(landing.text, "inbox-unread") == "未读 0"

    # Marking it read again (another tab, a double click) records nothing and is no error.
    before = county.duban.position()
    again = post(client, f"/inbox/{notice}/read")
    assert again.status_code == 303
    assert again.headers["Location"] == "/inbox"
    assert county.duban.position() == before

    # Read state is per person: the cadre named by the message still has it unread.
    act_as(client, county.cadre_1, "cadre")
    page = client.get("/inbox")
    assert listed(page.text) == [str(notice)]
    assert header_count(page.text) == "1"


def test_another_unit_neither_sees_nor_marks_it(client, county):
    finding = county.file(county.village_a1)
    notice = send(county, "notice", finding, 1, units=(county.village_a1,))
    county.settle()

    for user, role in ((county.unit_b, "unit"), (county.unit_town_a, "unit"), (county.inspector, "inspector")):
        act_as(client, user, role)
        page = client.get("/inbox")
        assert page.status_code == 200
        assert listed(page.text) == []
        assert "暂无通知" in page.text
        assert header_count(page.text) == "0"

        before = county.duban.position()
        refused = post(client, f"/inbox/{notice}/read")
        assert refused.status_code == 403
        assert "您不是该通知的接收方" in refused.text
        assert county.duban.position() == before

    act_as(client, county.unit_a1, "unit")
    assert header_count(client.get("/inbox").text) == "1"


def test_messages_to_the_command_office_and_without_a_finding(client, county, clock):
    finding = county.file(county.village_a1)
    proposal = send(
        county, "escalation_proposal", finding, units=(county.office,), title="建议移交纪检：高庙山村", finding=False
    )
    clock.advance(hours=2)
    reminder = send(county, "reminder", finding, 1, 3, units=(county.office,), title="整改到期提醒")
    county.settle()

    act_as(client, county.command, "command")
    page = client.get("/inbox")
    assert listed(page.text) == [str(reminder), str(proposal)]  # newest first
    assert "移交纪检建议" in text_of(page.text, "inbox") and "2026-10-09 12:00" in page.text
    assert f'href="/findings/{finding}"' in page.text  # the reminder's; the proposal names none
    assert header_count(page.text) == "2"

    # The same user acting as inspector does not read the office's messages.
    act_as(client, county.command, "inspector")
    assert listed(client.get("/inbox").text) == []

    act_as(client, county.command, "command")
    response = post(client, f"/inbox/{proposal}/read", {"next": "//elsewhere.example/"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/inbox"  # never an open redirect
    assert header_count(client.get("/").text) == "1"


def test_refusals_and_the_form_token(client, county):
    finding = county.file(county.village_a1)
    notice = send(county, "notice", finding, 1, units=(county.village_a1,))
    county.settle()

    # No identity yet: choose one first.
    response = client.get("/inbox")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/sign-in")
    assert 'id="inbox-link"' not in client.get("/sign-in").text

    act_as(client, county.unit_a1, "unit")
    before = county.duban.position()
    for target in ("not-a-uuid", str(uuid4()), str(finding)):
        response = post(client, f"/inbox/{target}/read")
        assert response.status_code == 404, target
        assert "找不到该通知" in response.text
    # Without the form token nothing is recorded.
    response = client.post(f"/inbox/{notice}/read", data={})
    assert response.status_code == 400
    assert county.duban.position() == before
    assert header_count(client.get("/inbox").text) == "1"
    # The page's form carries the token.
    page = client.get("/inbox").text
    assert re.search(r'name="csrf_token" value="[^"]+"', page)
    assert f'action="/inbox/{notice}/read"' in page
    assert isinstance(UUID(listed(page)[0]), UUID)
