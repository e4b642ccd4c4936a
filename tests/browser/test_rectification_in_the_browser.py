"""A finding's whole life, clicked through in Chromium by the people who live it:
the inspector files it, the village signs in and finds it in its inbox, submits
a rectification with a photo, the inspector sends it back, the village submits
again, the inspector accepts (销号), the ledger shows it closed, and the
discipline office reads its whole history. A screenshot is kept at each step."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Screenshots
from tests.web.conftest import County

CHECK_ITEM = "帮扶手册收入测算（浏览器测试）"
DESCRIPTION = "高庙山村帮扶手册缺少2026年度收入测算"


def photo() -> bytes:
    """A real 32×24 PNG, so the upload passes the content check."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    width, height = 32, 24
    rows = b"".join(b"\0" + bytes((40, 120, 200)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def signed_in(chromium: Any, server: str, login: str) -> Page:
    """A new browser (its own cookies) with this person signed in."""
    page = chromium.new_context(locale="zh-CN").new_page()
    page.goto(f"{server}/sign-in")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("#sign-in-form")).to_have_count(0)
    return page


def act(page: Page, action: str, fields: dict[str, str], files: list[dict[str, Any]] | None = None) -> None:
    form = page.locator(f"#action-{action} form")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    if files:
        form.locator("input[type=file]").set_input_files(files)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("#action-error")).to_have_count(0)


def submit_rectification(page: Page, text: str, file_name: str) -> None:
    act(page, "submit", {"description": text}, [{"name": file_name, "mimeType": "image/png", "buffer": photo()}])
    expect(page.locator("#status-badge")).to_have_text("待验收")


def test_a_finding_from_filing_to_closure(chromium: Any, server: str, county: County, screenshots: Screenshots):
    # The inspector files the finding and issues its notice at once.
    inspector = signed_in(chromium, server, "wang")
    inspector.goto(f"{server}/findings/new")
    inspector.select_option("#unit_id", str(county.village_a1))
    inspector.select_option("#category", "missing")
    inspector.fill("#check_item", CHECK_ITEM)
    inspector.fill("#description", DESCRIPTION)
    inspector.check("input[name=issue_now]")
    screenshots.take(inspector, "inspector-fills-the-form")
    inspector.click("#new-finding button[type=submit]")
    expect(inspector.locator("#status-badge")).to_have_text("待签收")
    finding_url = inspector.url
    assert re.search(r"/findings/[0-9a-f-]{36}$", finding_url), finding_url
    screenshots.take(inspector, "finding-filed")

    # The village signs in and finds the notice in its inbox.
    village = signed_in(chromium, server, "li")
    for _ in range(50):  # the notice message is sent by the in-process policies
        village.goto(f"{server}/inbox")
        if village.locator("#inbox a", has_text="查看问题").count():
            break
        village.wait_for_timeout(200)
    expect(village.locator("#inbox")).to_contain_text("整改通知")
    screenshots.take(village, "village-inbox")
    village.locator("#inbox a", has_text="查看问题").first.click()
    assert village.url == finding_url
    submit_rectification(village, "已补录年度收入测算", "补录后的手册.png")
    screenshots.take(village, "village-submits-with-photo")

    # The inspector finds it inadequate and sends it back with a reason.
    inspector.goto(finding_url)
    act(inspector, "reject", {"reason": "收入测算缺少务工收入一项"})
    expect(inspector.locator("#status-badge")).to_have_text(re.compile("待签收|整改中"))
    screenshots.take(inspector, "inspector-rejects")

    # The village sees the reason and submits again.
    village.goto(finding_url)
    expect(village.locator("#history")).to_contain_text("收入测算缺少务工收入一项")
    submit_rectification(village, "已补充务工收入", "补充务工收入.png")
    screenshots.take(village, "village-resubmits")

    # The inspector accepts: the finding is closed (销号).
    inspector.goto(finding_url)
    act(inspector, "accept", {"note": "经核实已整改到位"})
    expect(inspector.locator("#status-badge")).to_have_text("已销号")
    screenshots.take(inspector, "inspector-accepts")

    # The ledger lists it among the closed findings.
    inspector.goto(f"{server}/?status=closed")
    finding_id = finding_url.rsplit("/", 1)[1]
    expect(inspector.locator(f'[data-finding="{finding_id}"]')).to_have_count(1)
    screenshots.take(inspector, "ledger-shows-it-closed")

    # The discipline office reads the whole history, with both photos.
    discipline = signed_in(chromium, server, "sun")
    discipline.goto(finding_url)
    history = discipline.locator("#history")
    for step in ("登记问题", "下发整改通知", "提交整改", "退回整改（不到位）", "验收通过（销号）"):
        expect(history).to_contain_text(step)
    expect(history.locator("li").filter(has_text="提交整改")).to_have_count(2)
    for name in ("补录后的手册.png", "补充务工收入.png"):
        expect(discipline.locator("a", has_text=name)).to_have_count(1)
    screenshots.take(discipline, "discipline-reads-the-history")
    assert screenshots.count == 9
