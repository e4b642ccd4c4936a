"""Evidence through the API: uploaded by multipart and checked by content, then
named in a filing or a rectification; a record is re-read from the store, never
trusted as sent."""

from __future__ import annotations

import io

from tests.api.conftest import assert_problem
from tests.evidence.samples import pdf, png


def upload(api, files, role="inspector"):
    data = {"attachments": [(io.BytesIO(content), name) for name, content in files]}
    return api.client.post("/api/v1/evidence", data=data, headers=api.headers(role), content_type="multipart/form-data")


def test_upload_then_file_and_rectify_with_it(api):
    county = api.county
    uploaded = upload(api, [("现场照片.png", png()), ("台账.pdf", pdf())])
    assert uploaded.status_code == 201, uploaded.get_data(as_text=True)
    records = uploaded.get_json()["attachments"]
    assert [r["media_type"] for r in records] == ["image/png", "application/pdf"]
    body = {
        "unit_id": str(county.village_a1), "category": "missing", "source": "inspection", "severity": "general",
        "check_item": "帮扶手册收入测算", "description": "帮扶手册缺少年度收入测算",
        "attachments": [{"sha256": r["sha256"], "name": r["name"]} for r in records],
    }  # fmt: skip
    filed = api.post("/api/v1/findings", body, role="inspector")
    assert filed.status_code == 201, filed.get_data(as_text=True)
    fid = filed.get_json()["finding_id"]
    history = api.get(f"/api/v1/findings/{fid}").get_json()["history"]
    assert [a["sha256"] for a in history[0]["data"]["attachments"]] == [r["sha256"] for r in records]

    api.post(f"/api/v1/findings/{fid}/issue-notice", role="inspector")
    photo = upload(api, [("整改后.png", png(90))], role="unit").get_json()["attachments"][0]
    submitted = api.post(f"/api/v1/findings/{fid}/submit-rectification",
                         {"description": "已整改", "attachments": [photo]}, role="unit")  # fmt: skip
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    history = api.get(f"/api/v1/findings/{fid}", role="unit").get_json()["history"]
    assert history[-1]["data"]["attachments"][0]["sha256"] == photo["sha256"]


def test_uploads_are_checked_by_content_and_name(api):
    assert_problem(upload(api, [("photo.png", pdf())]), 422, "扩展名")
    assert_problem(upload(api, [("notes.txt", b"hello")]), 422)
    assert_problem(upload(api, [("../etc/photo.png", png())]), 422)
    assert_problem(upload(api, []), 422)
    assert_problem(upload(api, [("photo.png", png())], role="cadre"), 403)
    sent_as_json = api.post("/api/v1/evidence", {"attachments": []}, role="inspector")
    assert_problem(sent_as_json, 415)


def test_a_record_naming_a_file_never_uploaded_is_refused(api):
    county = api.county
    before = api.position
    body = {
        "unit_id": str(county.village_a1), "category": "missing", "source": "inspection", "severity": "general",
        "check_item": "帮扶手册收入测算", "description": "帮扶手册缺少年度收入测算",
        "attachments": [{"sha256": "0" * 64, "name": "photo.png", "media_type": "image/png", "size": 10}],
    }  # fmt: skip
    assert_problem(api.post("/api/v1/findings", body, role="inspector"), 422, "尚未上传")
    # A stored PDF described as a photo is recorded as what it is, or refused by its name.
    record = upload(api, [("台账.pdf", pdf())]).get_json()["attachments"][0]
    body["attachments"] = [{"sha256": record["sha256"], "name": "photo.png", "media_type": "image/png"}]
    assert_problem(api.post("/api/v1/findings", body, role="inspector"), 422)
    assert api.position == before
