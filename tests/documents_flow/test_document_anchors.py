"""Anchors on documents (issue 7): every issued circular and notice prints the
audit chain's head at the position of the event that issued it (历史存证
``H@N``), and records it in its registration event. Checked here against the
chain recomputed from the store itself (``domain.audit`` over the stored
notifications), not against the chain view that the job read."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain.audit import GENESIS, event_digest, link
from domain.circular import Circular
from domain.finding import Finding
from domain.unit_notice import UnitNotice
from projections.runner import Follower
from tests.documents_flow.conftest import Office, pdf_text, sha256
from workers import jobs
from workers.documents.content import circular_document, finding_notice_document, unit_notice_document
from workers.documents.render import render_pdf, RENDERER

OTHER_ANCHOR = "0" * 64 + "@1"


def position_in_store(office: Office, aggregate_id: UUID, version: int) -> int:
    """Where the store holds this event (scanning the log, as the verifier does)."""
    for notification in notifications(office, office.app.position()):
        if notification.originator_id == aggregate_id and notification.originator_version == version:
            return int(notification.id)
    raise AssertionError(f"{aggregate_id} v{version} is not in the store")


def notifications(office: Office, up_to: int):  # type: ignore[no-untyped-def]
    after = 0
    while after < up_to:
        page = office.app.recorder.select_notifications(start=after, limit=500, stop=up_to, inclusive_of_start=False)
        if not page:
            return
        yield from page
        after = page[-1].id


def head_from_store(office: Office, position: int) -> str:
    """The chain head after the last event at or before ``position``, recomputed from the stored bytes."""
    chain = GENESIS
    for n in notifications(office, position):
        chain = link(chain, int(n.id), event_digest(n.topic, n.originator_id, n.originator_version, n.state))
    return chain.hex()


def issuing(office: Office, aggregate_id: UUID, event_class: type):  # type: ignore[no-untyped-def]
    return next(e for e in office.app.history(aggregate_id) if isinstance(e, event_class))


def registration(office: Office, aggregate_id: UUID, event_class: type):  # type: ignore[no-untyped-def]
    [event] = [e for e in office.app.history(aggregate_id) if isinstance(e, event_class)]
    return event


def test_circulars_and_notices_print_and_record_the_chain_head_at_their_issue(office: Office):
    app, c = office.app, office.county
    finding = c.file(cadre_ids=[c.cadre_id])
    office.settle()
    app.clock.advance(hours=1)
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q1",
        body="对以下单位予以全县通报批评。", finding_ids=[finding], unit_ids=[c.village_a], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    notice = app.issue_unit_notice(c.town_id, [finding], c.inspector).id
    office.settle()

    kinds = [
        (finding, Finding.NoticeIssued, Finding.NoticeDocumentRegistered, lambda: app.finding(finding).notice_documents[1],
         lambda anchor="": finding_notice_document(app, finding, anchor=anchor), lambda: jobs.render_finding_notice(str(finding), 1)),
        (circular, Circular.Issued, Circular.DocumentRegistered, lambda: app.circular(circular).document_sha256,
         lambda anchor="": circular_document(app, circular, office.scores, anchor=anchor), lambda: jobs.render_circular(str(circular))),
        (notice, UnitNotice.Issued, UnitNotice.DocumentRegistered, lambda: app.unit_notice(notice).document_sha256,
         lambda anchor="": unit_notice_document(app, notice, anchor=anchor), lambda: jobs.render_unit_notice(str(notice))),
    ]  # fmt: skip
    anchors = set()
    for source, issued_class, registered_class, registered_sha, build, job in kinds:
        position = position_in_store(office, source, issuing(office, source, issued_class).originator_version)
        anchor = f"{head_from_store(office, position)}@{position}"
        anchors.add(anchor)

        # The registration event carries it; the registry shows it, and where the document was issued.
        event = registration(office, source, registered_class)
        assert (event.anchor_head, event.anchor_position) == (anchor.split("@")[0], position)
        assert event.renderer == RENDERER
        row = office.documents.for_source(str(source))
        assert row.anchor == anchor and row.issued_position == position

        # Printed on the paper, as registered.
        registered = registered_sha()
        pdf = office.store.read(registered)
        assert f"历史存证：{anchor}" in pdf_text(pdf)

        # Printed again (from the history, or by its job for a lost file): the recorded anchor, the same bytes,
        # whatever anchor is handed in.
        assert sha256(render_pdf(build(OTHER_ANCHOR).document)) == registered
        office.store.path(registered).unlink()
        position_before = app.position()
        assert job() == "restored"
        assert office.store.read(registered) == pdf and app.position() == position_before
    assert len(anchors) == 3


def test_a_document_registered_before_anchors_prints_again_without_one(office: Office):
    """An old store: the circular was printed and registered by the code before anchors."""
    app, c = office.app, office.county
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发", period="2026Q1",
        body="决定通报批评。", finding_ids=[], unit_ids=[c.village_b], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    built = circular_document(app, circular)  # as printed then: no anchor
    assert built.document.anchor == "" and built.registration["anchor_head"] == ""
    pdf = render_pdf(built.document)
    office.store.put(pdf)
    app.register_circular_document(circular, sha256=sha256(pdf), size=len(pdf), renderer=RENDERER,
                                   letterhead=built.letterhead.as_dict())  # fmt: skip
    office.settle()  # the policy's job finds it registered

    event = registration(office, circular, Circular.DocumentRegistered)
    assert (event.anchor_head, event.anchor_position) == ("", 0)
    row = office.documents.for_source(str(circular))
    assert row.anchor == "" and row.anchor_head is None and row.issued_position is not None
    assert "历史存证" not in pdf_text(pdf)
    assert render_pdf(circular_document(app, circular, anchor=OTHER_ANCHOR).document) == pdf
    office.store.path(sha256(pdf)).unlink()
    assert jobs.render_circular(str(circular)) == "restored"
    assert office.store.read(sha256(pdf)) == pdf


def test_a_documents_job_waits_for_the_chain_then_fails_to_be_retried(office: Office, monkeypatch):
    app, c = office.app, office.county
    office.audit_follower.stop()  # the projector is behind
    monkeypatch.setattr(jobs, "ANCHOR_WAIT_SECONDS", 0.2)
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="通报", prefix="米脱指发", period="2026Q1", body="通报。",
        finding_ids=[], unit_ids=[c.village_b], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    position = app.position()
    with pytest.raises(jobs.ChainNotReady):
        jobs.render_circular(str(circular))
    assert app.position() == position and app.circular(circular).document_sha256 is None
    assert list(office.store.directory.rglob("*.pdf")) == []

    # The retry, once the chain has read the issue.
    Follower(app, office.audit_follower.projection).catch_up()
    assert jobs.render_circular(str(circular)) == "registered"
    issued_at = position_in_store(office, circular, issuing(office, circular, Circular.Issued).originator_version)
    event = registration(office, circular, Circular.DocumentRegistered)
    assert (event.anchor_head, event.anchor_position) == (head_from_store(office, issued_at), issued_at)


def test_the_sweep_leaves_a_document_to_a_later_sweep_until_the_chain_has_read_its_issue(office: Office):
    app, c = office.app, office.county
    office.audit_follower.stop()  # the projector is behind
    circular = app.draft_circular(
        county_id=c.county_id, kind="criticism", title="通报", prefix="米脱指发", period="2026Q1", body="通报。",
        finding_ids=[], unit_ids=[c.village_b], actor=c.command,
    ).id  # fmt: skip
    app.issue_circular(circular, c.command)
    Follower(app, next(f.projection for f in office.followers if f.projection.name == "documents")).catch_up()
    app.clock.advance(minutes=11)  # its job lost: the sweep's turn
    assert jobs.sweep_documents() == {"documents": 0, "documents_failed": 0, "documents_waiting": 1}
    assert app.circular(circular).document_sha256 is None

    Follower(app, office.audit_follower.projection).catch_up()
    assert jobs.sweep_documents() == {"documents": 1, "documents_failed": 0, "documents_waiting": 0}
    assert app.circular(circular).document_anchor.endswith(
        f"@{office.documents.for_source(str(circular)).issued_position}"
    )
