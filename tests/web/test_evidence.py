"""Evidence files (证据材料) through the pages: filed with a finding and with a
rectification, listed on the finding's page, downloaded by those who may see the
finding and by nobody else; and every refused upload records nothing (issue 6,
points 3, 2 and 6)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import pytest

from app.evidence.store import REPO_ROOT
from tests.evidence.samples import EXECUTABLE, SCRIPT, jpeg, pdf, png
from tests.web.conftest import act_as, post, text_of, token

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def evidence_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "evidence-files"
    monkeypatch.setenv("DUBAN_EVIDENCE_DIR", str(directory))
    return directory


def stored(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


BOUNDARY = "duban-evidence-test-boundary"


def multipart(fields: dict[str, Any]) -> bytes:
    """A multipart body as a browser sends it (names raw UTF-8, a quote as %22),
    built by hand: the test client would spool a large body to a temporary file
    that is only closed with a consumed response."""
    body = bytearray()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            body += f"--{BOUNDARY}\r\n".encode()
            if isinstance(item, tuple):
                data, name = item
                name = name.replace('"', "%22")
                body += f'Content-Disposition: form-data; name="{key}"; filename="{name}"\r\n'.encode()
                body += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
            else:
                body += f'Content-Disposition: form-data; name="{key}"\r\n\r\n{item}\r\n'.encode()
    body += f"--{BOUNDARY}--\r\n".encode()
    return bytes(body)


def send(client: Any, url: str, fields: dict[str, Any]) -> Any:
    """A form POST with files, carrying the session's form token."""
    body = multipart({"csrf_token": token(client), **fields})
    return client.post(url, data=body, content_type=f"multipart/form-data; boundary={BOUNDARY}")


def files(*pairs: tuple[bytes, str]) -> list[tuple[bytes, str]]:
    return list(pairs)


def filing(county: Any, *attachments: tuple[bytes, str], **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "finding_id": str(uuid4()),
        "unit_id": str(county.village_a1),
        "category": "missing",
        "source": "inspection",
        "severity": "general",
        "check_item": "危房改造鉴定",
        "description": "缺少危房鉴定表",
        "cadre_ids": [str(county.cadre_1)],
        "issue_now": "1",
        "attachments": files(*attachments),
    }
    data.update(overrides)
    return data


def file_with_evidence(client: Any, county: Any, *attachments: tuple[bytes, str]) -> UUID:
    act_as(client, county.inspector, "inspector")
    response = send(client, "/findings/new", filing(county, *attachments))
    assert response.status_code == 303, response.text
    return UUID(response.headers["Location"].rsplit("/", 1)[-1])


def submit(client: Any, finding_id: UUID, *attachments: tuple[bytes, str], **fields: str) -> Any:
    data: dict[str, Any] = {"description": "已补齐鉴定表", "evidence": "鉴定表原件存村委会", **fields}
    data["attachments"] = files(*attachments)
    return send(client, f"/findings/{finding_id}/submit", data)


def links(html: str) -> dict[str, str]:
    """Evidence links on a finding page: file name → download address."""
    return {
        name: url
        for url, name in re.findall(r'<a href="(/findings/[0-9a-f-]+/evidence/[0-9a-f]{64})"[^>]*>([^<]+)</a>', html)
    }


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ filed, listed, downloaded
def test_an_inspector_files_a_finding_with_photos_and_a_pdf(client, county, evidence_dir):
    photo, screenshot, scan = jpeg(), png(), pdf()
    before = county.duban.position()
    finding_id = file_with_evidence(client, county, (photo, "现场照片.jpg"), (screenshot, "系统截图.PNG"), (scan, "鉴定表.pdf"))
    assert county.duban.position() > before

    [filed] = [e for e in county.duban.history(finding_id) if type(e).__name__ == "Filed"]
    assert filed.attachments == [
        {"sha256": sha(photo), "name": "现场照片.jpg", "media_type": "image/jpeg", "size": len(photo)},
        {"sha256": sha(screenshot), "name": "系统截图.PNG", "media_type": "image/png", "size": len(screenshot)},
        {"sha256": sha(scan), "name": "鉴定表.pdf", "media_type": "application/pdf", "size": len(scan)},
    ]

    # Each file is kept under its own hash, outside the checkout (and so outside any served folder).
    kept = stored(evidence_dir)
    assert [p.name for p in kept] == sorted(sha(d) for d in (photo, screenshot, scan))
    for path in kept:
        assert path.parent.name == path.name[:2]
        assert not path.resolve().is_relative_to(REPO_ROOT)
        assert path.read_bytes() in (photo, screenshot, scan)

    page = client.get(f"/findings/{finding_id}").text
    found = links(page)
    assert set(found) == {"现场照片.jpg", "系统截图.PNG", "鉴定表.pdf"}
    assert "JPEG照片" in text_of(page, "history") and "PDF文件" in text_of(page, "history")

    for name, data, media_type in (
        ("现场照片.jpg", photo, "image/jpeg"),
        ("系统截图.PNG", screenshot, "image/png"),
        ("鉴定表.pdf", scan, "application/pdf"),
    ):
        response = client.get(found[name])
        assert response.status_code == 200
        assert response.data == data
        assert response.mimetype == media_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Security-Policy"] == "sandbox"
        assert response.headers["Content-Disposition"] == f"inline; filename*=UTF-8''{quote(name)}"
        assert "no-store" in response.headers["Cache-Control"]


def test_the_unit_submits_its_rectification_with_evidence(client, county, evidence_dir):
    finding_id = county.file(county.village_a1, cadres=(county.cadre_1,))
    act_as(client, county.unit_a1, "unit")
    after_photo, report = jpeg(shade=30), pdf("done")
    response = submit(client, finding_id, (after_photo, "整改后.jpeg"), (report, "整改报告.pdf"))
    assert response.status_code == 303, response.text

    [submitted] = [e for e in county.duban.history(finding_id) if type(e).__name__ == "RectificationSubmitted"]
    assert submitted.evidence == ["鉴定表原件存村委会"]  # the text lines are kept too
    assert [a["name"] for a in submitted.attachments] == ["整改后.jpeg", "整改报告.pdf"]

    page = client.get(f"/findings/{finding_id}").text
    assert text_of(page, "status") == "待验收"
    found = links(page)
    assert set(found) == {"整改后.jpeg", "整改报告.pdf"}
    assert client.get(found["整改后.jpeg"]).data == after_photo

    # Everyone who may see the finding may read its evidence.
    for user, role in (
        (county.unit_a1, "unit"),
        (county.unit_town_a, "unit"),  # the town above the village
        (county.cadre_1, "cadre"),  # named on the finding
        (county.inspector, "inspector"),
        (county.command, "command"),
        (county.discipline, "discipline"),
    ):
        act_as(client, user, role)
        response = client.get(found["整改报告.pdf"])
        assert response.status_code == 200, (role, response.status_code)
        assert response.data == report


def test_the_same_bytes_are_stored_once(client, county, evidence_dir):
    photo = jpeg(shade=99)
    first = file_with_evidence(client, county, (photo, "a.jpg"))
    second = file_with_evidence(client, county, (photo, "b.jpg"))
    assert [p.name for p in stored(evidence_dir)] == [sha(photo)]
    # Each finding lists and serves it under its own name.
    assert list(links(client.get(f"/findings/{first}").text)) == ["a.jpg"]
    response = client.get(f"/findings/{second}/evidence/{sha(photo)}")
    assert response.status_code == 200 and "b.jpg" in response.headers["Content-Disposition"]


def test_a_file_name_is_shown_as_text(client, county):
    finding_id = file_with_evidence(client, county, (png(), "<b onmouseover=alert(1)>照片.png"))
    page = client.get(f"/findings/{finding_id}").text
    assert "&lt;b onmouseover=alert(1)&gt;照片.png" in page
    assert "<b onmouseover" not in page


# ------------------------------------------------------------------ download refused (404, nothing recorded)
def test_only_those_who_see_the_finding_may_download(client, county):
    photo = jpeg(shade=5)
    finding_id = file_with_evidence(client, county, (photo, "现场.jpg"))
    url = f"/findings/{finding_id}/evidence/{sha(photo)}"
    before = county.duban.position()
    for user, role in (
        (county.unit_b, "unit"),  # another town's unit
        (county.cadre_2, "cadre"),  # a cadre the finding does not name
    ):
        act_as(client, user, role)
        response = client.get(url)
        assert response.status_code == 404, role
        assert response.data != photo and "找不到" in response.text
    act_as(client, county.cadre_1, "cadre")  # named
    assert client.get(url).data == photo
    act_as(client, county.discipline, "discipline")
    assert client.get(url).data == photo
    assert county.duban.position() == before


def test_a_forged_or_malformed_address_is_not_found(client, county):
    photo, other = jpeg(shade=11), png(shade=12)
    finding_id = file_with_evidence(client, county, (photo, "a.jpg"))
    elsewhere = file_with_evidence(client, county, (other, "b.png"))
    act_as(client, county.command, "command")
    before = county.duban.position()
    for url in (
        f"/findings/{finding_id}/evidence/{sha(other)}",  # attached to another finding
        f"/findings/{finding_id}/evidence/{sha(b'never uploaded')}",
        f"/findings/{finding_id}/evidence/{sha(photo).upper()}",
        f"/findings/{finding_id}/evidence/{sha(photo)[:-1]}",
        f"/findings/{finding_id}/evidence/..%2F..%2Fetc%2Fpasswd",
        f"/findings/{uuid4()}/evidence/{sha(photo)}",
        f"/findings/not-an-id/evidence/{sha(photo)}",
        f"/findings/{county.village_a1}/evidence/{sha(photo)}",  # a unit's id, not a finding's
        f"/findings/{elsewhere}/evidence/{sha(photo)}",
    ):
        assert client.get(url).status_code == 404, url
    assert county.duban.position() == before


def test_signing_in_is_required(client, county):
    photo = jpeg(shade=13)
    finding_id = file_with_evidence(client, county, (photo, "a.jpg"))
    with client.session_transaction() as session:
        session.clear()
    response = client.get(f"/findings/{finding_id}/evidence/{sha(photo)}")
    assert response.status_code in (302, 303, 401)
    assert response.data != photo


# ------------------------------------------------------------------ uploads refused (nothing recorded)
REFUSALS = [
    pytest.param([(pdf(), "证明.jpg")], "扩展名与文件内容不符", id="a-pdf-named-jpg"),
    pytest.param([(EXECUTABLE, "photo.png")], "不是JPEG、PNG照片或PDF文件", id="an-exe-renamed-png"),
    pytest.param([(SCRIPT, "run.sh")], "不是JPEG、PNG照片或PDF文件", id="a-script"),
    pytest.param([(png(), "../../etc/passwd.png")], "不能包含路径", id="dot-dot"),
    pytest.param([(png(), "a/b.png")], "不能包含路径", id="slash"),
    pytest.param([(png(), "a\\b.png")], "不能包含路径", id="backslash"),
    pytest.param([(png(), "a\\\\b.png")], "不能包含路径", id="escaped-backslash"),
    pytest.param([(png(), "C:\\Users\\x\\b.png")], "不能包含路径", id="windows-path"),
    pytest.param([(png(), "a\x1bb.png")], "控制字符", id="control-character"),
    pytest.param([(png(n), f"{n}.png") for n in range(11)], "最多上传10个", id="eleven-files"),
]


@pytest.mark.parametrize("attachments, message", REFUSALS)
def test_a_refused_filing_records_nothing_and_keeps_the_form(client, county, evidence_dir, attachments, message):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    form = filing(county, (jpeg(), "好照片.jpg"), *attachments, description="村民住房鉴定缺失")
    response = send(client, "/findings/new", form)
    assert response.status_code == 422
    html = response.text
    assert message in text_of(html, "form-error")
    # The error sits beside the file input; what was typed is kept; the files must be chosen again.
    assert html.index('id="form-error"') > html.index('name="attachments"')
    assert "村民住房鉴定缺失" in html and f'value="{county.village_a1}" selected' in html
    assert "请重新选择证据材料" in text_of(html, "attachments-choose-again")
    assert county.duban.position() == before
    assert stored(evidence_dir) == []


@pytest.mark.parametrize("attachments, message", REFUSALS)
def test_a_refused_rectification_records_nothing_and_keeps_the_form(client, county, evidence_dir, attachments, message):
    finding_id = county.file(county.village_a1)
    act_as(client, county.unit_a1, "unit")
    before = county.duban.position()
    response = submit(client, finding_id, *attachments, description="已重新鉴定并上墙公示")
    assert response.status_code == 422
    html = response.text
    assert message in text_of(html, "action-error")
    assert "已重新鉴定并上墙公示" in html and "鉴定表原件存村委会" in html
    assert "请重新选择证据材料" in text_of(html, "attachments-choose-again")
    assert county.duban.position() == before
    assert stored(evidence_dir) == []


def test_an_other_error_still_says_to_choose_the_files_again(client, county, evidence_dir):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    response = send(client, "/findings/new", filing(county, (jpeg(), "a.jpg"), description=" "))
    assert response.status_code == 422
    assert text_of(response.text, "form-error") == "请填写“问题描述”"
    assert "请重新选择证据材料" in response.text
    assert county.duban.position() == before  # the stored bytes are harmless; no event names them


def test_an_oversized_body_is_refused_before_anything_is_read(client, county, evidence_dir):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    big = b"\xff\xd8\xff" + b"0" * (31 * MB)
    response = send(client, "/findings/new", filing(county, (big, "大照片.jpg")))
    assert response.status_code == 413
    assert "每次合计不能超过30MB" in response.text and "未登记任何内容" in response.text
    assert county.duban.position() == before
    finding_id = county.file(county.village_a1)
    act_as(client, county.unit_a1, "unit")
    before = county.duban.position()
    assert submit(client, finding_id, (big, "大照片.jpg")).status_code == 413
    assert county.duban.position() == before
    assert [type(e).__name__ for e in county.duban.history(finding_id)] == ["Filed", "NoticeIssued"]
    assert stored(evidence_dir) == []


def test_an_oversized_file_is_refused(client, county, evidence_dir):
    act_as(client, county.inspector, "inspector")
    before = county.duban.position()
    eleven_megabytes = b"\x89PNG\r\n\x1a\n" + b"0" * (11 * MB)
    response = send(client, "/findings/new", filing(county, (eleven_megabytes, "大图.png")))
    assert response.status_code == 413
    assert "不能超过10MB" in text_of(response.text, "form-error")
    assert county.duban.position() == before
    assert county.duban.position() == before
    assert stored(evidence_dir) == []


def test_several_files_up_to_the_request_limit_are_taken(client, county, evidence_dir):
    # Three files of 9 MB: more than the app's 2 MB default, within the form's 30 MB.
    parts = [(b"%PDF-" + bytes([n]) * (9 * MB), f"扫描件{n}.pdf") for n in range(3)]
    finding_id = file_with_evidence(client, county, *parts)
    assert len(stored(evidence_dir)) == 3
    assert len(links(client.get(f"/findings/{finding_id}").text)) == 3


def test_other_forms_keep_the_small_limit(client, county):
    act_as(client, county.command, "command")
    before = county.duban.position()
    response = post(client, f"/units/{county.village_a1}/notice", {"note": "x" * (3 * MB)})
    assert response.status_code == 413 and "提交的内容过大" in response.text
    assert county.duban.position() == before
    assert client.application.config["MAX_CONTENT_LENGTH"] == 2 * MB


def test_the_forms_offer_the_file_input(client, county):
    act_as(client, county.inspector, "inspector")
    html = client.get("/findings/new").text
    assert 'enctype="multipart/form-data"' in html
    assert re.search(r'<input type="file" name="attachments" id="attachments" multiple', html)
    assert "证据材料（照片、PDF）" in html
    finding_id = county.file(county.village_a1)
    act_as(client, county.unit_a1, "unit")
    page = client.get(f"/findings/{finding_id}").text
    submit_form = page.split('id="action-submit"')[1].split("</form>")[0]
    assert 'enctype="multipart/form-data"' in submit_form and 'name="attachments"' in submit_form
    assert 'name="evidence"' in submit_form  # the text lines stay
