"""Headers that keep pages from being framed or made to run another site's
script, and user text always shown as text."""

from __future__ import annotations

from app.security import CONTENT_SECURITY_POLICY
from tests.web.conftest import act_as

SCRIPT = '<script>alert("x")</script>'
IMAGE = '<img src=x onerror="alert(1)">'


def test_every_page_forbids_framing_and_foreign_scripts(client, county):
    for user, role, url in (
        (None, None, "/sign-in"),
        (None, None, "/verify"),
        (county.command, "command", "/"),
        (county.unit_a1, "unit", "/inbox"),
    ):
        if user:
            act_as(client, user, role)
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response.headers["Content-Security-Policy"]
        assert policy == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_carry_the_headers_too(client, county):
    act_as(client, county.unit_a1, "unit")
    response = client.get("/findings/not-an-id")
    assert response.status_code == 404
    assert response.headers["X-Frame-Options"] == "DENY"


def test_user_text_is_shown_as_text_everywhere(client, county):
    finding = county.file(county.village_a1, check_item=IMAGE, description=f"收入测算缺失{SCRIPT}")
    county.duban.submit_rectification(
        finding, f"已整改{SCRIPT}", county.actor(county.unit_a1, "unit"), evidence=[IMAGE]
    )
    county.settle()
    act_as(client, county.command, "command")
    for url in (f"/findings/{finding}", "/", f"/?q={SCRIPT}", "/dashboard"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>" not in page, url
        assert "<img src=x" not in page, url
    page = client.get(f"/findings/{finding}").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page
    assert "&lt;img src=x onerror=" in page
    act_as(client, county.unit_a1, "unit")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "<script>" not in inbox and "<img src=x" not in inbox
