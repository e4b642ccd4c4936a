"""The page where a person manages their API keys."""

from __future__ import annotations

from tests.web.conftest import act_as, post


def test_issue_shows_the_key_once_and_it_works(client, county):
    act_as(client, county.unit_a1, "unit")
    page = client.get("/account/tokens")
    assert page.status_code == 200 and "接口密钥" in page.get_data(as_text=True)
    issued = post(client, "/account/tokens", {"label": "市级平台对接", "role": "unit"})
    html = issued.get_data(as_text=True)
    assert issued.status_code == 201 and 'id="issued-plaintext"' in html
    plaintext = html.split('id="issued-plaintext">', 1)[1].split("<", 1)[0]
    assert plaintext.startswith("dbn.")
    answer = client.get("/api/v1/findings", headers={"Authorization": f"Bearer {plaintext}"})
    assert answer.status_code == 200
    again = client.get("/account/tokens").get_data(as_text=True)
    assert plaintext not in again and "市级平台对接" in again and "有效" in again


def test_a_failed_form_keeps_what_was_typed(client, county):
    act_as(client, county.command, "command")
    before = county.duban.position()
    answer = post(client, "/account/tokens", {"label": "  ", "role": "inspector"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and 'id="error-label"' in html
    answer = post(client, "/account/tokens", {"label": "对接", "role": "discipline"})
    assert answer.status_code in (403, 409, 422) and 'id="error-role"' in answer.get_data(as_text=True)
    assert 'value="对接"' in answer.get_data(as_text=True)
    assert county.duban.position() == before


def test_revoke_and_another_persons_key_is_not_found(client, county):
    act_as(client, county.unit_a1, "unit")
    html = post(client, "/account/tokens", {"label": "对接", "role": "unit"}).get_data(as_text=True)
    plaintext = html.split('id="issued-plaintext">', 1)[1].split("<", 1)[0]
    token_id = plaintext.split(".")[2]
    act_as(client, county.unit_b, "unit")
    before = county.duban.position()
    assert post(client, f"/account/tokens/{token_id}/revoke").status_code == 404
    assert county.duban.position() == before
    act_as(client, county.unit_a1, "unit")
    assert post(client, f"/account/tokens/{token_id}/revoke").status_code == 303
    assert client.get("/api/v1/findings", headers={"Authorization": f"Bearer {plaintext}"}).status_code == 401
    assert "已吊销" in client.get("/account/tokens").get_data(as_text=True)


def test_the_header_links_to_the_page(client, county):
    act_as(client, county.inspector, "inspector")
    assert 'id="api-keys-link"' in client.get("/account/tokens").get_data(as_text=True)
