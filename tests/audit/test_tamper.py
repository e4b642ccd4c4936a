"""Tampering with the store by plain SQL, as someone with the database password
could, on a real SQLite file and a real PostgreSQL schema: each change is
found at its position and named (changed, removed, inserted, reordered); an
untouched store is intact, and events written after the chain last read the
log are hashed but not taken for tampering."""

from __future__ import annotations

import pytest

from domain.audit import GENESIS, event_digest, link, parse_anchor
from domain.service import Duban
from projections.audit_verify import check_anchor, verify_history
from tests.audit.conftest import Intruder
from tests.integration.county import County

Chain = tuple


def history(county: County, chain: Chain, findings: int = 6) -> int:
    """Some findings on the county, and the chain caught up; the log's head."""
    for n in range(findings):
        county.file(check_item=f"检查项{n}")
    follower, _ = chain
    follower.catch_up()
    return county.app.position()


def recomputed(duban: Duban, upto: int | None = None) -> str:
    head = GENESIS
    for n in duban.recorder.select_notifications(start=1, limit=1_000_000):
        if upto is not None and n.id > upto:
            break
        head = link(head, n.id, event_digest(n.topic, n.originator_id, n.originator_version, n.state))
    return head.hex()


def test_an_untouched_history_is_intact(duban: Duban, county: County, chain: Chain) -> None:
    head = history(county, chain)
    seen: list[tuple[int, int]] = []
    report = verify_history(duban, chain[1], progress=lambda p, t: seen.append((p, t)), page=7)
    assert report.intact and report.first_break is None
    assert report.position == head and report.events == head and report.chained_up_to == head
    assert report.head == chain[1].head().chain == recomputed(duban)
    assert report.unchained == 0
    assert seen and seen[-1] == (head, head)
    assert report.describe().startswith(f"历史完整：已核验至第{head}号事件，共{head}个事件，链头 {report.head}")


def test_events_written_after_the_chain_read_the_log_are_not_tampering(
    duban: Duban, county: County, chain: Chain
) -> None:
    chained = history(county, chain)
    county.file(check_item="新的检查项")
    report = verify_history(duban, chain[1])
    assert report.intact
    assert report.chained_up_to == chained and report.position == duban.position() > chained
    assert report.unchained == duban.position() - chained
    assert report.head == recomputed(duban)
    assert f"第{chained}号之后的{report.unchained}个事件" in report.describe()


def test_without_a_chain_view_the_head_is_computed_but_nothing_compared(duban: Duban, county: County) -> None:
    report = verify_history(duban, None)
    assert report.outcome == "unchecked" and report.first_break is None
    assert report.head == recomputed(duban) and report.position == duban.position()
    assert "审计链视图不可用" in report.describe()


def test_a_changed_event(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    history(county, chain)
    target = 19  # in a middle block
    originator, version, topic, _ = intruder.row(target)
    intruder.change_state(target)
    report = verify_history(duban, chain[1])
    assert not report.intact
    brk = report.first_break
    assert brk is not None and (brk.position, brk.kind) == (target, "changed")
    assert brk.topic == topic and brk.version == version
    assert report.position == target - 1 and report.head == recomputed(duban, upto=target - 1)
    assert report.describe().startswith(f"第{target}号事件处发现篡改：该事件被修改")


def test_an_event_edited_into_text_or_a_non_id(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    """SQLite keeps whatever type a hand-written UPDATE gives it: the verifier hashes
    it as it is and reports the change, instead of failing on the driver's decoding."""
    if intruder.postgres:
        pytest.skip("PostgreSQL's typed columns refuse text in a bytea and a non-id in a uuid column")
    history(county, chain)
    intruder.sql("UPDATE {table} SET state = 'x' || state WHERE {pos} = ?", (23,))
    brk = verify_history(duban, chain[1]).first_break
    assert brk is not None and (brk.position, brk.kind) == (23, "changed")
    intruder.sql("UPDATE {table} SET originator_id = 'zz' WHERE {pos} = ?", (19,))
    brk = verify_history(duban, chain[1]).first_break
    assert brk is not None and (brk.position, brk.kind) == (19, "changed")


def test_a_removed_event(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    history(county, chain)
    target = 21
    _, version, topic, _ = intruder.row(target)
    intruder.delete(target)
    report = verify_history(duban, chain[1])
    brk = report.first_break
    assert brk is not None and (brk.position, brk.kind, brk.topic, brk.version) == (target, "removed", topic, version)
    assert "该事件被删除" in report.describe()


def test_an_inserted_event(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    history(county, chain)
    target = 17
    intruder.insert_at(target, like=30)
    report = verify_history(duban, chain[1])
    brk = report.first_break
    assert brk is not None and (brk.position, brk.kind) == (target, "inserted")
    assert brk.stored is not None and brk.recorded_now_at == target + 1
    assert "插入了审计链中没有的事件" in report.describe()


def test_two_events_swapped(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    history(county, chain)
    first, second = 12, 26
    intruder.swap(first, second)
    report = verify_history(duban, chain[1])
    brk = report.first_break
    assert brk is not None and (brk.position, brk.kind) == (first, "reordered")
    assert brk.recorded_now_at == second and brk.stored_was_at == second
    assert "事件顺序被调换" in report.describe()


def test_the_last_event_removed(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    head = history(county, chain)
    _, version, topic, _ = intruder.row(head)
    intruder.delete(head)
    report = verify_history(duban, chain[1])
    brk = report.first_break
    assert brk is not None and (brk.position, brk.kind, brk.topic) == (head, "removed", topic)
    assert report.position == head - 1


def test_a_removed_event_with_the_later_ones_renumbered(
    duban: Duban, county: County, chain: Chain, intruder: Intruder
) -> None:
    history(county, chain)
    target = 20
    intruder.delete(target)
    intruder.shift(target + 1, -1)
    brk = verify_history(duban, chain[1]).first_break
    assert brk is not None and (brk.position, brk.kind, brk.stored_was_at) == (target, "removed", target + 1)


def test_an_event_replaced_by_another(duban: Duban, county: County, chain: Chain, intruder: Intruder) -> None:
    history(county, chain)
    target = 15
    intruder.sql("UPDATE {table} SET originator_version = originator_version + 100 WHERE {pos} = ?", (target,))
    brk = verify_history(duban, chain[1]).first_break
    assert brk is not None and (brk.position, brk.kind) == (target, "changed")
    assert "该位置的事件被替换" in brk.describe()


# Anchors: a chain head at a position, as printed on paper
def test_an_anchor_holds_after_more_events(duban: Duban, county: County, chain: Chain) -> None:
    history(county, chain)
    at = chain[1].head_at(22)
    assert at is not None
    anchor = parse_anchor(f"{at.chain[:20]}@22")
    county.file(check_item="之后的检查项")
    result = check_anchor(duban, anchor)
    assert result.reached and result.holds and result.outcome == "holds"
    assert result.position == 22 and result.head == at.chain
    assert result.describe().startswith("存证相符")


def test_an_anchor_fails_after_a_rewrite_before_it(
    duban: Duban, county: County, chain: Chain, intruder: Intruder
) -> None:
    history(county, chain)
    anchor = parse_anchor(f"{chain[1].head_at(22).chain}@22")  # type: ignore[union-attr]
    intruder.change_state(9)
    result = check_anchor(duban, anchor)
    assert result.reached and not result.holds and result.outcome == "fails"
    assert "存证不符" in result.describe()


def test_an_anchor_holds_after_a_rewrite_after_it(
    duban: Duban, county: County, chain: Chain, intruder: Intruder
) -> None:
    history(county, chain)
    anchor = parse_anchor(f"{chain[1].head_at(22).chain}@22")  # type: ignore[union-attr]
    intruder.change_state(23)
    intruder.delete(25)
    assert check_anchor(duban, anchor).holds


def test_an_anchor_beyond_the_store(duban: Duban, county: County, chain: Chain) -> None:
    head = history(county, chain)
    result = check_anchor(duban, parse_anchor(f"{'ab' * 8}@{head + 5}"))
    assert not result.reached and not result.holds and result.outcome == "short"
    assert "未达到" in result.describe()


@pytest.mark.parametrize("page", [1, 5000])
def test_the_page_size_does_not_matter(
    duban: Duban, county: County, chain: Chain, intruder: Intruder, page: int
) -> None:
    history(county, chain)
    intruder.change_state(27)
    brk = verify_history(duban, chain[1], page=page).first_break
    assert brk is not None and (brk.position, brk.kind) == (27, "changed")
