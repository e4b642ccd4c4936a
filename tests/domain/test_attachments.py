"""Evidence files on a finding (证据材料): the records the inspector's filing and
the unit's rectification carry, and every way a record is refused (nothing
recorded). Events stored before attachments existed still load, with none."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoder

from domain.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    AttachmentTooLarge,
    EmptyAttachment,
    ExtensionDoesNotMatch,
    InvalidAttachmentHash,
    InvalidAttachmentName,
    MalformedAttachment,
    TooManyAttachments,
    UnknownMediaType,
    clean_name,
    media_type_for_name,
)
from domain.finding import OPEN, SUBMITTED, Finding
from tests.domain.helpers import SUBMIT_AT, assert_event, emitted, file_finding, finding_in, refused


def record(n: int = 0, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sha256": hashlib.sha256(f"file {n}".encode()).hexdigest(),
        "name": f"现场照片{n}.jpg",
        "media_type": "image/jpeg",
        "size": 1000 + n,
    }
    values.update(overrides)
    return values


PHOTO = record(1)
SCAN = record(2, name="鉴定表.PDF", media_type="application/pdf")


# ------------------------------------------------------------------ recorded
def test_the_inspectors_evidence_is_recorded_with_the_filing(world):
    finding = file_finding(world, attachments=[PHOTO, {**SCAN, "name": "  鉴定表.PDF "}])
    [filed] = emitted(finding)
    assert type(filed) is Finding.Filed
    assert filed.attachments == [PHOTO, SCAN]
    assert finding.attachment_hashes == {PHOTO["sha256"], SCAN["sha256"]}


def test_the_units_evidence_is_recorded_with_its_rectification(world):
    finding = finding_in(world, OPEN)
    png = record(3, name="整改后.png", media_type="image/png")
    finding.submit_rectification("已补齐", ("台账第3页",), world.village_unit, SUBMIT_AT, attachments=[png])
    [event] = emitted(finding)
    assert_event(
        event,
        Finding.RectificationSubmitted,
        actor=world.village_unit,
        now=SUBMIT_AT,
        aggregate=finding,
        description="已补齐",
        evidence=["台账第3页"],
        attachments=[png],
    )
    assert finding.status == SUBMITTED
    assert png["sha256"] in finding.attachment_hashes


def test_without_files_nothing_changes(world):
    finding = file_finding(world)
    [filed] = emitted(finding)
    assert filed.attachments == []
    assert finding.attachment_hashes == frozenset()


def test_the_same_content_twice_is_one_piece_of_evidence(world):
    finding = file_finding(world, attachments=[PHOTO, {**PHOTO, "name": "副本.jpg"}])
    [filed] = emitted(finding)
    assert filed.attachments == [PHOTO]


def test_a_very_long_name_is_shortened_keeping_its_ending():
    name = clean_name("照" * 300 + ".jpeg")
    assert len(name) == 120 and name.endswith(".jpeg")


@pytest.mark.parametrize(
    "name, media_type",
    [("a.jpg", "image/jpeg"), ("A.JPEG", "image/jpeg"), ("b.png", "image/png"), ("c.Pdf", "application/pdf"),
     ("d.gif", None), ("e.exe", None), ("pdf", None)],
)  # fmt: skip
def test_the_ending_a_name_claims(name, media_type):
    assert media_type_for_name(name) == media_type


# ------------------------------------------------------------------ refused
BAD_RECORDS = [
    (record(sha256="ABC"), InvalidAttachmentHash),
    (record(sha256=PHOTO["sha256"].upper()), InvalidAttachmentHash),
    (record(sha256=PHOTO["sha256"] + "0"), InvalidAttachmentHash),
    (record(media_type="text/html", name="a.html"), UnknownMediaType),
    (record(media_type="application/x-sh", name="a.jpg"), UnknownMediaType),
    (record(size=0), EmptyAttachment),
    (record(size=-5), EmptyAttachment),
    (record(size=MAX_ATTACHMENT_BYTES + 1), AttachmentTooLarge),
    (record(size="1000"), MalformedAttachment),
    (record(size=True), MalformedAttachment),
    (record(name="../../etc/passwd.jpg"), InvalidAttachmentName),
    (record(name="a/b.jpg"), InvalidAttachmentName),
    (record(name="a\\b.jpg"), InvalidAttachmentName),
    (record(name="a..jpg"), InvalidAttachmentName),
    (record(name="a\x00.jpg"), InvalidAttachmentName),
    (record(name="a\nb.jpg"), InvalidAttachmentName),
    (record(name="photo\u202egpj.exe"), InvalidAttachmentName),
    (record(name="   "), InvalidAttachmentName),
    (record(name="报告.pdf"), ExtensionDoesNotMatch),
    (record(name="报告"), ExtensionDoesNotMatch),
    ({"sha256": PHOTO["sha256"], "name": "a.jpg", "media_type": "image/jpeg"}, MalformedAttachment),
    ("a.jpg", MalformedAttachment),
]


@pytest.mark.parametrize("bad, error", BAD_RECORDS)
def test_a_bad_record_is_refused_at_filing(world, bad, error):
    with pytest.raises(error) as info:
        file_finding(world, attachments=[PHOTO, bad])
    assert type(info.value) is error
    assert info.value.status in (413, 422)
    assert info.value.message  # Chinese, for the page


@pytest.mark.parametrize("bad, error", BAD_RECORDS)
def test_a_bad_record_is_refused_at_submission(world, bad, error):
    finding = finding_in(world, OPEN)
    refused(finding, error, finding.submit_rectification, "已整改", (), world.village_unit, SUBMIT_AT, attachments=[bad])


def test_at_most_ten_files_an_event(world):
    with pytest.raises(TooManyAttachments):
        file_finding(world, attachments=[record(n) for n in range(MAX_ATTACHMENTS + 1)])
    finding = finding_in(world, OPEN)
    refused(
        finding, TooManyAttachments, finding.submit_rectification, "已整改", (), world.village_unit, SUBMIT_AT,
        attachments=[record(n) for n in range(MAX_ATTACHMENTS + 1)],
    )  # fmt: skip
    finding.submit_rectification(
        "已整改", (), world.village_unit, SUBMIT_AT, attachments=[record(n) for n in range(MAX_ATTACHMENTS)]
    )
    assert len(finding.attachment_hashes) == MAX_ATTACHMENTS


def test_the_messages_are_chinese():
    assert "路径" in InvalidAttachmentName.message
    assert "JPEG" in UnknownMediaType.message and "PDF" in UnknownMediaType.message
    assert "10" in TooManyAttachments.message


# ------------------------------------------------------------------ old events
def _stored_as_version_1(event: Any, mapper: Mapper) -> StoredEvent:
    """The event as it was stored before attachments existed."""
    stored = mapper.to_stored_event(event)
    state = mapper.transcoder.decode(stored.state)
    assert state.pop("class_version") == 2
    del state["attachments"]
    return StoredEvent(stored.originator_id, stored.originator_version, stored.topic, mapper.transcoder.encode(state))


def _mapper() -> Mapper:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    transcoder: Transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def test_events_stored_before_attachments_load_with_none(world):
    mapper = _mapper()
    finding = finding_in(world, OPEN)
    finding.submit_rectification("已整改", (), world.village_unit, SUBMIT_AT, attachments=[PHOTO])
    [submitted] = emitted(finding)
    filed = file_finding(world, attachments=[SCAN])
    [filed_event] = emitted(filed)
    old = mapper.to_domain_event(_stored_as_version_1(filed_event, mapper))
    assert type(old) is Finding.Filed and old.attachments == []
    assert old.mutate(None).attachment_hashes == frozenset()
    loaded = mapper.to_domain_event(_stored_as_version_1(submitted, mapper))
    assert type(loaded) is Finding.RectificationSubmitted
    assert loaded.attachments == [] and loaded.description == "已整改"
    # A new event keeps its attachments through the store.
    again = mapper.to_domain_event(mapper.to_stored_event(filed_event))
    assert again.attachments == [SCAN]
