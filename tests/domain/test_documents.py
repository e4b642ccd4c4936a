"""Documents in the domain: verification codes, and a document's PDF hash
registered once (the same file again records nothing, another file is refused)."""

from __future__ import annotations

import hashlib
import re
from uuid import uuid4

import pytest

from domain.circular import Circular, DocumentSeries
from domain.documents import (
    CROCKFORD,
    DocumentAlreadyRegistered,
    DocumentNotIssued,
    InvalidDocumentAnchor,
    InvalidDocumentHash,
    format_code,
    normalize_code,
    notice_document_id,
    verification_code,
)
from domain.errors import NotPermitted, WrongCounty
from domain.events import SYSTEM_ACTOR
from domain.finding import Finding
from domain.unit_notice import NothingToRectify, UnitNotice
from tests.domain.helpers import NOTICE_AT, T0, assert_event, at, emitted, file_finding, make_deadline, refused, DEADLINE

SHA = hashlib.sha256(b"pdf").hexdigest()
HEAD = hashlib.sha256(b"chain head").hexdigest()
OTHER = hashlib.sha256(b"another pdf").hexdigest()
LETTERHEAD = {"authority_mark": "米脂县脱贫攻坚指挥部文件", "signatory": "米脂县脱贫攻坚指挥部办公室"}


# Verification codes
def test_a_code_is_ten_crockford_characters_derived_from_the_document_id_alone():
    document = uuid4()
    code = verification_code(document)
    assert len(code) == 10 and set(code) <= set(CROCKFORD)
    assert verification_code(str(document)) == code == verification_code(document)
    assert verification_code(uuid4()) != code
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}", format_code(code))


@pytest.mark.parametrize("typed", ["{formatted}", "{lower}", "{bare}", " {lower_bare} ", "{spaced}"])
def test_a_code_is_read_back_in_lower_case_without_dashes_or_with_spaces(typed):
    code = verification_code(uuid4())
    formatted = format_code(code)
    text = typed.format(formatted=formatted, lower=formatted.lower(), bare=code, lower_bare=code.lower(),
                        spaced=" ".join(formatted.split("-")))  # fmt: skip
    assert normalize_code(text) == code


def test_letters_that_look_like_digits_are_read_as_the_digits():
    assert normalize_code("O0IL-abcd-ef") == "0011ABCDEF"


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-J", "ABCD-EFGH-JKX", "ABCD-EFGH-JU", "测试测试测试测试测试"])
def test_anything_else_is_no_code(typed):
    assert normalize_code(typed) is None


def test_a_notice_document_id_depends_on_the_finding_and_its_deadline_number():
    finding = uuid4()
    assert notice_document_id(finding, 1) == notice_document_id(finding, 1)
    assert notice_document_id(finding, 1) != notice_document_id(finding, 2)
    assert notice_document_id(finding, 1) != notice_document_id(uuid4(), 1)


# Circulars
def _issued(world) -> Circular:
    circular = Circular.draft(
        county_id=world.county.id, kind="criticism", title="关于整改不到位情况的通报", prefix="米脱指发",
        period="2026Q1", body="经查……", finding_ids=(), unit_ids=(world.village.id,), actor=world.command, now=T0,
    )  # fmt: skip
    series = DocumentSeries.open(county_id=world.county.id, prefix="米脱指发", year=2026, actor=world.command, now=T0)
    circular.issue(series, world.rules, world.command, at(hours=1))
    circular.collect_events()
    return circular


def test_an_issued_circular_registers_its_pdf_once(world):
    circular = _issued(world)
    assert circular.register_document(sha256=SHA.upper(), size=1234, renderer="WeasyPrint 70",
                                      letterhead=LETTERHEAD, actor=SYSTEM_ACTOR, now=at(hours=2),
                                      anchor_head=HEAD.upper(), anchor_position=42)  # fmt: skip
    [event] = emitted(circular)
    assert_event(
        event, Circular.DocumentRegistered, actor=SYSTEM_ACTOR, now=at(hours=2), aggregate=circular,
        sha256=SHA, size=1234, verification_code=verification_code(circular.id), renderer="WeasyPrint 70",
        document_number="米脱指发〔2026〕1号", title="关于整改不到位情况的通报", letterhead=LETTERHEAD,
        anchor_head=HEAD, anchor_position=42,
    )  # fmt: skip
    assert circular.document_sha256 == SHA and circular.letterhead == LETTERHEAD
    assert circular.document_anchor == f"{HEAD}@42"
    # The same file again: nothing recorded.
    assert not circular.register_document(sha256=SHA, size=1234, renderer="x", letterhead={}, actor=SYSTEM_ACTOR,
                                          now=at(hours=3))  # fmt: skip
    assert emitted(circular) == []
    # Another file: never re-rendered in place.
    refused(circular, DocumentAlreadyRegistered, circular.register_document, sha256=OTHER, size=1, renderer="x",
            letterhead={}, actor=SYSTEM_ACTOR, now=at(hours=3))  # fmt: skip


def test_a_draft_has_no_document_and_only_the_system_or_the_county_office_registers(world):
    draft = Circular.draft(
        county_id=world.county.id, kind="ranking", title="排名通报", prefix="米脱指发", period="2026Q1", body="",
        finding_ids=(), unit_ids=(), actor=world.command, now=T0,
    )  # fmt: skip
    draft.collect_events()
    values = dict(sha256=SHA, size=10, renderer="x", letterhead={}, now=at(hours=1))
    refused(draft, DocumentNotIssued, draft.register_document, actor=SYSTEM_ACTOR, **values)
    circular = _issued(world)
    refused(circular, NotPermitted, circular.register_document, actor=world.village_unit, **values)
    refused(circular, WrongCounty, circular.register_document, actor=world.foreign_command, **values)
    refused(circular, InvalidDocumentHash, circular.register_document, actor=SYSTEM_ACTOR,
            **{**values, "sha256": "not a hash"})  # fmt: skip


# A finding's notice
def test_a_findings_notice_document_is_registered_once_after_the_notice(world):
    finding = file_finding(world)
    finding.collect_events()
    values = dict(deadline_number=1, sha256=SHA, size=99, renderer="r", document_number="", title="整改通知书",
                  letterhead=LETTERHEAD, actor=SYSTEM_ACTOR, now=at(hours=2))  # fmt: skip
    refused(finding, DocumentNotIssued, finding.register_notice_document, **values)
    finding.issue_notice(make_deadline(DEADLINE), (world.village.id,), world.inspector, NOTICE_AT)
    finding.collect_events()
    assert finding.register_notice_document(**values)
    [event] = emitted(finding)
    assert_event(
        event, Finding.NoticeDocumentRegistered, actor=SYSTEM_ACTOR, now=at(hours=2), aggregate=finding,
        deadline_number=1, sha256=SHA, size=99, verification_code=verification_code(notice_document_id(finding.id, 1)),
        renderer="r", document_number="", title="整改通知书", letterhead=LETTERHEAD, anchor_head="",
        anchor_position=0,
    )  # fmt: skip
    assert finding.notice_documents == {1: SHA} and finding.notice_anchors == {1: ""}
    assert not finding.register_notice_document(**values)
    refused(finding, DocumentAlreadyRegistered, finding.register_notice_document, **{**values, "sha256": OTHER})
    # Only the first notice is printed.
    refused(finding, DocumentNotIssued, finding.register_notice_document, **{**values, "deadline_number": 2})


# A unit's notice
def test_a_unit_notice_lists_findings_and_is_issued_by_the_office_or_an_inspector(world):
    first, second = uuid4(), uuid4()
    notice = UnitNotice.issue(county_id=world.county.id, unit_id=world.town.id, finding_ids=(first, second, first),
                              actor=world.inspector, now=T0)  # fmt: skip
    [event] = emitted(notice)
    assert_event(event, UnitNotice.Issued, actor=world.inspector, now=T0, aggregate=notice,
                 county_id=world.county.id, unit_id=world.town.id, finding_ids=[first, second], issued_on="2026-03-02")  # fmt: skip
    with pytest.raises(NothingToRectify):
        UnitNotice.issue(county_id=world.county.id, unit_id=world.town.id, finding_ids=(), actor=world.command, now=T0)
    with pytest.raises(NotPermitted):
        UnitNotice.issue(county_id=world.county.id, unit_id=world.town.id, finding_ids=(first,),
                         actor=world.town_unit, now=T0)  # fmt: skip
    with pytest.raises(WrongCounty):
        UnitNotice.issue(county_id=world.county.id, unit_id=world.town.id, finding_ids=(first,),
                         actor=world.foreign_inspector, now=T0)  # fmt: skip
    assert notice.register_document(sha256=SHA, size=5, renderer="r", document_number="", title="t",
                                    letterhead={}, actor=SYSTEM_ACTOR, now=at(hours=1))  # fmt: skip
    [registered] = emitted(notice)
    assert registered.verification_code == verification_code(notice.id)
    refused(notice, DocumentAlreadyRegistered, notice.register_document, sha256=OTHER, size=5, renderer="r",
            document_number="", title="t", letterhead={}, actor=SYSTEM_ACTOR, now=at(hours=2))  # fmt: skip


# Anchors (存证): the audit chain's head at the issuing event, recorded with the document
def test_each_kind_of_document_records_its_anchor_and_remembers_it(world):
    finding = file_finding(world)
    finding.issue_notice(make_deadline(DEADLINE), (world.village.id,), world.inspector, NOTICE_AT)
    finding.collect_events()
    assert finding.register_notice_document(deadline_number=1, sha256=SHA, size=9, renderer="r", document_number="",
                                            title="t", letterhead={}, actor=SYSTEM_ACTOR, now=at(hours=2),
                                            anchor_head=HEAD, anchor_position=7)  # fmt: skip
    [event] = emitted(finding)
    assert (event.anchor_head, event.anchor_position) == (HEAD, 7) and finding.notice_anchors == {1: f"{HEAD}@7"}
    notice = UnitNotice.issue(county_id=world.county.id, unit_id=world.town.id, finding_ids=(uuid4(),),
                              actor=world.inspector, now=T0)  # fmt: skip
    notice.collect_events()
    assert notice.document_anchor == ""
    assert notice.register_document(sha256=SHA, size=5, renderer="r", document_number="", title="t", letterhead={},
                                    actor=SYSTEM_ACTOR, now=at(hours=1), anchor_head=HEAD, anchor_position=123456789012)  # fmt: skip
    [event] = emitted(notice)
    assert (event.anchor_head, event.anchor_position) == (HEAD, 123456789012)
    assert notice.document_anchor == f"{HEAD}@123456789012"


@pytest.mark.parametrize(
    "head, position",
    [(HEAD[:63], 5), (HEAD + "0", 5), ("g" * 64, 5), (HEAD, 0), (HEAD, -1), ("", 5), (HEAD, True), (HEAD, "5")],
)
def test_a_malformed_anchor_is_refused_and_nothing_is_recorded(world, head, position):
    circular = _issued(world)
    refused(circular, InvalidDocumentAnchor, circular.register_document, sha256=SHA, size=1, renderer="x",
            letterhead={}, actor=SYSTEM_ACTOR, now=at(hours=2), anchor_head=head, anchor_position=position)  # fmt: skip
    assert circular.document_sha256 is None and circular.document_anchor == ""
    assert 400 <= InvalidDocumentAnchor.status < 500 and "存证" in InvalidDocumentAnchor.message


def test_a_registration_stored_before_anchors_decodes_without_one(world):
    """Events stored before anchors existed lack the two fields: they read as no anchor."""
    from eventsourcing.persistence import (
        DatetimeAsISO,
        DecimalAsStr,
        JSONTranscoder,
        Mapper,
        StoredEvent,
        UUIDAsHex,
    )

    circular = _issued(world)
    circular.register_document(sha256=SHA, size=1234, renderer="r", letterhead=LETTERHEAD, actor=SYSTEM_ACTOR,
                               now=at(hours=2))  # fmt: skip
    [event] = emitted(circular)
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):  # as the application registers them
        transcoder.register(transcoding)
    mapper = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(event)
    state = transcoder.decode(stored.state)
    assert state.pop("anchor_head") == "" and state.pop("anchor_position") == 0
    old = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, transcoder.encode(state))
    decoded = mapper.to_domain_event(old)
    assert (decoded.anchor_head, decoded.anchor_position) == ("", 0)
    fresh = _issued(world)  # an issued circular, as folded up to the old event
    decoded.apply(fresh)
    assert fresh.document_sha256 == SHA and fresh.document_anchor == ""
