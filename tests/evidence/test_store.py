"""The evidence store (one read-only file per content hash, outside the web root),
the content check, and turning uploaded files into attachment records."""

from __future__ import annotations

import hashlib
import io
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage

from app.evidence.content import sniff
from app.evidence.store import REPO_ROOT, DamagedEvidence, EvidenceStore, UnsafeEvidenceDirectory
from app.evidence.uploads import FIELD, EvidenceNotStored, receive
from domain.attachments import (
    MAX_ATTACHMENT_BYTES,
    AttachmentTooLarge,
    EmptyAttachment,
    ExtensionDoesNotMatch,
    InvalidAttachmentName,
    TooManyAttachments,
    UnknownMediaType,
)
from tests.evidence.samples import EXECUTABLE, HTML, SCRIPT, jpeg, pdf, png


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    return EvidenceStore(tmp_path / "evidence")


def files_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


# ------------------------------------------------------------------ the store
def test_a_file_is_kept_under_its_hash_read_only(store):
    data = png()
    sha256 = store.put(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    path = store.path(sha256)
    assert path == store.directory / sha256[:2] / sha256
    assert path.read_bytes() == data and store.read(sha256) == data
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0  # nobody may write it
    assert files_in(store.directory) == [path]  # no temporary file left beside it


def test_the_same_bytes_are_stored_once(store):
    data = pdf()
    first = store.put(data)
    inode = store.path(first).stat().st_ino
    assert store.put(data) == first
    assert store.path(first).stat().st_ino == inode  # not even rewritten
    assert len(files_in(store.directory)) == 1
    store.put(jpeg())
    assert len(files_in(store.directory)) == 2


def test_writers_racing_with_the_same_bytes_leave_one_file(store):
    data = jpeg(shade=7)
    with ThreadPoolExecutor(8) as pool:
        hashes = set(pool.map(lambda _: store.put(data), range(16)))
    assert len(hashes) == 1
    assert files_in(store.directory) == [store.path(hashes.pop())]


@pytest.mark.parametrize("name", ["../etc/passwd", "A" * 64, "a" * 63, "", "0" * 64 + "/x", "..", "0" * 63 + "g"])
def test_only_a_hash_names_a_file(store, name):
    with pytest.raises(ValueError):
        store.path(name)


def test_a_damaged_file_is_not_served(store):
    sha256 = store.put(png())
    path = store.path(sha256)
    path.chmod(0o644)
    path.write_bytes(b"\x89PNG\r\n\x1a\nsomething else")
    with pytest.raises(DamagedEvidence):
        store.read(sha256)


def test_the_directory_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DUBAN_EVIDENCE_DIR", str(tmp_path / "files"))
    assert EvidenceStore.from_env().directory == (tmp_path / "files").resolve()
    monkeypatch.delenv("DUBAN_EVIDENCE_DIR")
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    assert EvidenceStore.from_env().directory == (tmp_path / "var" / "evidence").resolve()


@pytest.mark.parametrize(
    "directory", [REPO_ROOT / "templates" / "evidence", REPO_ROOT / "static", Path("/srv/www/static/uploads")]
)
def test_never_under_a_served_folder(directory):
    with pytest.raises(UnsafeEvidenceDirectory):
        EvidenceStore(directory)


# ------------------------------------------------------------------ the content
@pytest.mark.parametrize(
    "data, media_type",
    [(jpeg(), "image/jpeg"), (png(), "image/png"), (pdf(), "application/pdf"),
     (SCRIPT, None), (HTML, None), (EXECUTABLE, None), (b"", None), (b"\xff\xd8", None), (b"GIF89a", None)],
)  # fmt: skip
def test_the_type_is_judged_by_content(data, media_type):
    assert sniff(data) == media_type


# ------------------------------------------------------------------ uploads
def upload(data: bytes, name: str) -> FileStorage:
    return FileStorage(io.BytesIO(data), filename=name, name=FIELD)


def test_uploaded_files_become_records(store):
    photo, scan = jpeg(), pdf()
    records = receive([upload(photo, " 现场照片.JPG"), upload(scan, "鉴定表.pdf"), upload(b"", "")], store)
    assert records == [
        {"sha256": hashlib.sha256(photo).hexdigest(), "name": "现场照片.JPG", "media_type": "image/jpeg", "size": len(photo)},
        {"sha256": hashlib.sha256(scan).hexdigest(), "name": "鉴定表.pdf", "media_type": "application/pdf", "size": len(scan)},
    ]  # fmt: skip
    assert all(store.read(r["sha256"]) for r in records)


REFUSED = [
    ([("证明.jpg", pdf())], ExtensionDoesNotMatch),  # a .jpg that is a PDF
    ([("photo.png", EXECUTABLE)], UnknownMediaType),  # an .exe renamed .png
    ([("run.sh", SCRIPT)], UnknownMediaType),
    ([("page.png", HTML)], UnknownMediaType),
    ([("scan.pdf", png())], ExtensionDoesNotMatch),
    ([("noext", png())], ExtensionDoesNotMatch),
    ([("../../etc/passwd.png", png())], InvalidAttachmentName),
    ([("a/b.png", png())], InvalidAttachmentName),
    ([("a\\b.png", png())], InvalidAttachmentName),
    ([("a\x07b.png", png())], InvalidAttachmentName),
    ([("empty.png", b"")], EmptyAttachment),
    ([("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * MAX_ATTACHMENT_BYTES)], AttachmentTooLarge),
    ([(f"p{n}.png", png(n)) for n in range(11)], TooManyAttachments),
]


@pytest.mark.parametrize("files, error", REFUSED)
def test_a_refused_upload_stores_nothing(store, files, error):
    good = ("good.png", png(shade=1))  # a good file beside the bad one is not kept either
    with pytest.raises(error) as info:
        receive([upload(data, name) for name, data in [good, *files]], store)
    assert info.value.field == FIELD
    assert info.value.status in (413, 422)
    assert files_in(store.directory) == []


def test_a_file_that_cannot_be_stored_refuses_the_upload(store, monkeypatch):
    def disk_full(data: bytes) -> str:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "put", disk_full)
    with pytest.raises(EvidenceNotStored) as info:
        receive([upload(png(), "a.png")], store)
    assert info.value.status == 503
