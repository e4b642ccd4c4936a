"""Verifying the stored history (核验历史): the audit chain recomputed from the
store, compared with what the chain view recorded when it first read each event.

``verify_history`` streams the store in log order, hashes every event as stored
(``domain.audit.event_digest``) and links the chain from GENESIS. It compares
the recomputed chain with the view's **checkpoints** (one per block of
``CHECKPOINT_EVERY`` positions): a matching checkpoint proves the whole prefix
up to it, so the view's per-event rows are read only for the block where the
chain first differs (and for the tail after the last checkpoint). There the
store and the recorded events are merged by position, and the first difference
is classified with the recorded identity (originator, version) and look-ups in
the store and in the view:

- the store lacks a recorded position: the recorded event is elsewhere in the
  store (``reordered``) or nowhere (``removed``);
- the same event (originator, version) with another digest: ``changed``;
- another event at the position: neither the recorded one is still in the store
  nor was the store's one ever recorded (``changed``: replaced); the store's one
  is new and the recorded one moved on (``inserted``); the store's one was
  recorded elsewhere and the recorded one is gone (``removed``, later events
  renumbered); both are elsewhere (``reordered``);
- an event at a position the chain never recorded though it read past it:
  ``inserted`` (or ``reordered`` if the chain recorded it elsewhere).

Events after the chain's recorded head are hashed too (the head covers them)
but not compared: they were written after the view last read the log.

``check_anchor`` recomputes the chain from GENESIS up to an anchor's position,
independently of the view, and compares the head with the anchor's.

Reading the store: a plain SQL cursor over the store's table rather than the
recorder's ``select_notifications``. Both are backend-correct (the statements
are the recorder's own, on its own table and connection pool); the cursor skips
building a ``Notification`` and a ``UUID`` per event, which made a full read
about twice as fast (see bench/README.md, "Audit chain"). The digest is computed
over exactly what ``select_notifications`` would hand the chain projection.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from domain.audit import GENESIS, Anchor

Progress = Callable[[int, int], None]

KINDS = {"changed": "被修改", "removed": "被删除", "inserted": "被插入", "reordered": "顺序被调换"}


def short_topic(topic: str) -> str:
    """``domain.finding:Finding.Filed`` -> ``Finding.Filed``."""
    return topic.rsplit(":", 1)[-1]


# Reading the store as stored
class StoreReader:
    """The store's events as stored, read with plain SQL on the recorder's own
    table and connections (SQLite: ``rowid`` is the position; PostgreSQL:
    ``notification_id``)."""

    def __init__(self, duban: Any):
        self.recorder = duban.recorder
        self.datastore = self.recorder.datastore
        self.postgres = type(self.recorder).__module__.startswith("eventsourcing.postgres")
        table = self.recorder.events_table_name
        if self.postgres:
            self.table = f'"{self.datastore.schema}"."{table}"'
            self._page = (
                f"SELECT notification_id, topic, originator_id::text, originator_version, state FROM {self.table}"
                " WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
            )
            self._locate = f"SELECT notification_id FROM {self.table} WHERE originator_id = %s AND originator_version = %s"
        else:
            self.table = table
            self._page = (
                # CAST: a row edited by hand may hold text where the recorder writes a blob;
                # it is hashed as the bytes it holds, not refused by the driver's text decoding.
                f"SELECT rowid, topic, originator_id, originator_version, CAST(state AS BLOB) FROM {table}"
                " WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
            )
            self._locate = f"SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?"

    def max_position(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def page(self, after: int, stop: int, limit: int) -> list[tuple[int, str, str, int, bytes]]:
        """Up to ``limit`` events after position ``after`` up to ``stop``: (position, topic,
        originator id as ``str(UUID)``, version, state bytes as stored)."""
        if self.postgres:
            from psycopg.rows import tuple_row

            with self.datastore.get_connection() as connection, connection.cursor(row_factory=tuple_row) as cursor:
                cursor.execute(self._page, (after, stop, limit), prepare=True)
                return cursor.fetchall()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._page, (after, stop, limit))
            return [(r[0], r[1], _hyphenated(r[2]), r[3], r[4]) for r in cursor.fetchall()]

    def pages(self, after: int, stop: int, size: int) -> Iterator[list[tuple[int, str, str, int, bytes]]]:
        while after < stop:
            rows = self.page(after, stop, size)
            if not rows:
                return
            yield rows
            after = rows[-1][0]

    def locate(self, originator_id: str, version: int) -> int | None:
        """Where the store now keeps this event (None if nowhere)."""
        if self.postgres:
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(self._locate, (str(originator_id), int(version)))
                row = cursor.fetchone()
            return int(row["notification_id"]) if row else None
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._locate, (UUID(str(originator_id)).hex, int(version)))
            row = cursor.fetchone()
        return int(row[0]) if row else None


def _hyphenated(stored: str) -> str:
    """SQLite keeps ``UUID.hex``; the digest is over ``str(UUID)`` as the recorder hands it out."""
    if len(stored) == 32 and stored == stored.lower():
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    try:
        return str(UUID(str(stored)))
    except ValueError:  # edited by hand into something that is no id: hashed as it is, so it differs
        return str(stored)


# The report
@dataclass(frozen=True)
class EventRef:
    """An event named by its identity: originator, version, topic."""

    originator_id: str
    version: int
    topic: str

    def describe(self) -> str:
        return f"{short_topic(self.topic)}，对象 {self.originator_id} 第{self.version}版"


@dataclass(frozen=True)
class Break:
    """The first place where the store differs from the chain as recorded."""

    position: int
    kind: str  # changed | removed | inserted | reordered
    #: What the chain recorded at this position (None: nothing).
    recorded: EventRef | None
    #: What the store has at this position now (None: nothing).
    stored: EventRef | None
    #: Where the recorded event is in the store now (None: nowhere, or not asked).
    recorded_now_at: int | None = None
    #: Where the chain recorded the event the store now has here (None: never).
    stored_was_at: int | None = None

    @property
    def event(self) -> EventRef:
        """The event the break is about: the recorded one, else the store's."""
        return self.recorded or self.stored  # type: ignore[return-value]

    @property
    def originator_id(self) -> str:
        return self.event.originator_id

    @property
    def version(self) -> int:
        return self.event.version

    @property
    def topic(self) -> str:
        return self.event.topic

    def describe(self) -> str:
        r, s = self.recorded, self.stored
        if self.kind == "changed":
            if r and s and (r.originator_id, r.version) != (s.originator_id, s.version):
                how = f"该位置的事件被替换（原为 {r.describe()}；现为 {s.describe()}）"
            else:
                how = f"该事件被修改（{self.event.describe()}，存储内容与入链时不同）"
        elif self.kind == "removed":
            how = f"该事件被删除（原为 {r.describe() if r else '—'}）"
            if self.stored_was_at is not None:
                how += f"，其后的事件被重新编号（现在此处的事件原为第{self.stored_was_at}号）"
        elif self.kind == "inserted":
            how = f"插入了审计链中没有的事件（{s.describe() if s else '—'}）"
            if self.recorded_now_at is not None:
                how += f"，原第{self.position}号事件被后移至第{self.recorded_now_at}号"
        else:
            parts = []
            if self.recorded_now_at is not None:
                parts.append(f"原第{self.position}号事件（{r.describe() if r else '—'}）现位于第{self.recorded_now_at}号")
            if self.stored_was_at is not None:
                parts.append(f"现在此处的事件（{s.describe() if s else '—'}）原为第{self.stored_was_at}号")
            how = "事件顺序被调换（" + "；".join(parts) + "）"
        return f"第{self.position}号事件处发现篡改：{how}"


@dataclass(frozen=True)
class VerificationReport:
    """What a full verification found. ``position``/``head``/``events``: the last
    position found intact, the chain there (hex) and how many events up to it."""

    intact: bool
    position: int
    head: str
    events: int
    #: The chain view's head position the store was compared against (0: none).
    chained_up_to: int
    #: Events after ``chained_up_to``: hashed into ``head`` but not compared.
    unchained: int
    #: False if no chain view was available: the head is the store's, nothing compared.
    compared: bool = True
    first_break: Break | None = None

    @property
    def outcome(self) -> str:
        if not self.compared:
            return "unchecked"
        return "intact" if self.intact else "broken"

    def describe(self) -> str:
        if not self.compared:
            return (
                f"审计链视图不可用，未作比对：按事件库现状计算至第{self.position}号事件，"
                f"共{self.events}个事件，链头 {self.head}"
            )
        if self.first_break is not None:
            text = self.first_break.describe()
            if self.position:
                text += f"。此前的历史完整：至第{self.position}号事件，共{self.events}个事件，链头 {self.head}"
            return text
        text = f"历史完整：已核验至第{self.position}号事件，共{self.events}个事件，链头 {self.head}"
        if self.unchained:
            text += (
                f"（其中第{self.chained_up_to}号之后的{self.unchained}个事件写入晚于审计链的记录，"
                "已计入链头，尚未与审计链比对）"
            )
        return text

    def record_fields(self) -> dict[str, Any]:
        """The facts recorded with the run (see ``Duban.record_verification``)."""
        b = self.first_break
        return {
            "check": "full", "outcome": self.outcome, "position": self.position, "head": self.head,
            "events": self.events, "chained_up_to": self.chained_up_to, "unchained": self.unchained,
            "break_kind": b.kind if b else "", "break_position": b.position if b else 0,
            "break_detail": asdict(b) if b else {}, "anchor": "", "summary": self.describe(),
        }  # fmt: skip


@dataclass(frozen=True)
class AnchorCheck:
    """Whether the store still hashes to an anchor's head at its position."""

    anchor: Anchor
    #: The store reaches the anchor's position.
    reached: bool
    holds: bool
    #: The last event at or before the anchor's position, the chain there, how many events.
    position: int
    head: str
    events: int
    #: The store's last position when checked.
    store_position: int = 0

    @property
    def outcome(self) -> str:
        if not self.reached:
            return "short"
        return "holds" if self.holds else "fails"

    def describe(self) -> str:
        n = self.anchor.position
        if not self.reached:
            return (
                f"存证 {self.anchor} 无法核验：事件库最新位置为第{self.store_position}号，未达到第{n}号"
                "（如该存证出自本系统，说明其后的事件已被删除）"
            )
        if self.holds:
            return f"存证相符：第{n}号及以前的历史未被改写（共{self.events}个事件，链头 {self.head}）"
        return (
            f"存证不符：第{n}号及以前的历史已被改写（现按事件库重算的链头为 {self.head}，"
            f"与存证 {self.anchor.head} 不同）"
        )

    def record_fields(self) -> dict[str, Any]:
        return {
            "check": "anchor", "outcome": self.outcome, "position": self.position, "head": self.head,
            "events": self.events, "chained_up_to": 0, "unchained": 0, "break_kind": "", "break_position": 0,
            "break_detail": {}, "anchor": str(self.anchor), "summary": self.describe(),
        }  # fmt: skip


# Hashing fast: the same arithmetic as domain.audit (a test holds them equal), with
# the framing of each topic kept and one sha256 call per digest and per link.
def _hasher() -> Callable[[str, str, int, bytes], bytes]:
    sha256 = hashlib.sha256
    topics: dict[str, bytes] = {}

    def digest(topic: str, originator_id: str, version: int, state: bytes) -> bytes:
        framed = topics.get(topic)
        if framed is None:
            encoded = topic.encode()
            framed = topics[topic] = len(encoded).to_bytes(8, "big") + encoded
        originator = originator_id.encode()
        number = str(version).encode()
        return sha256(
            b"".join((framed, len(originator).to_bytes(8, "big"), originator, len(number).to_bytes(8, "big"), number,
                      len(state).to_bytes(8, "big"), state))
        ).digest()  # fmt: skip

    return digest


def _link(previous: bytes, position: int, digest: bytes, sha256: Any = hashlib.sha256) -> bytes:
    return sha256(previous + position.to_bytes(8, "big") + digest).digest()


# Verifying
@dataclass(slots=True)
class _Seen:
    position: int
    topic: str
    originator_id: str
    version: int
    digest: bytes
    chain: bytes  # after this event
    events: int  # counted up to and with this event

    def ref(self) -> EventRef:
        return EventRef(self.originator_id, self.version, self.topic)


@dataclass
class _Verified:
    position: int = 0
    chain: bytes = GENESIS
    events: int = 0
    pending: list[_Seen] = field(default_factory=list)


def verify_history(duban: Any, chain: Any | None, *, progress: Progress | None = None, page: int = 5000) -> VerificationReport:
    """Recompute the chain over the store and compare it with the chain view
    (``AuditChainQuery``; None: not available, compute the head only)."""
    store = StoreReader(duban)
    stop = store.max_position()
    recorded_head = chain.head() if chain is not None else None
    limit = recorded_head.position if recorded_head is not None else 0
    checkpoints = sorted(
        (c.position, bytes.fromhex(c.chain)) for c in (chain.checkpoints(limit=2**62) if chain is not None else [])
        if c.position <= limit
    )  # fmt: skip
    next_checkpoint = 0
    verified = _Verified()
    current, events, last = GENESIS, 0, 0
    digest_of, pending = _hasher(), verified.pending
    upcoming = checkpoints[0][0] if checkpoints else None
    for rows in store.pages(0, stop, page):
        for position, topic, originator_id, version, state in rows:
            digest = digest_of(topic, originator_id, version, state)
            current = _link(current, position, digest)
            events += 1
            if position <= limit:
                pending.append(_Seen(position, topic, originator_id, version, digest, current, events))
            if upcoming is None or position < upcoming:
                last = position
                continue
            while next_checkpoint < len(checkpoints) and position >= checkpoints[next_checkpoint][0]:
                at, expected = checkpoints[next_checkpoint]
                if at != position or expected != current:  # the break lies after the last good checkpoint
                    found = _first_difference(store, chain, verified, limit)
                    if found is not None:
                        return _broken(verified, found, limit)
                next_checkpoint += 1
                verified = _Verified(position, current, events)
                pending = verified.pending
            upcoming = checkpoints[next_checkpoint][0] if next_checkpoint < len(checkpoints) else None
            last = position
        if progress:
            progress(last, stop)
    if chain is not None:
        found = _first_difference(store, chain, verified, limit)
        if found is not None:
            return _broken(verified, found, limit)
    if progress:
        progress(stop, stop)
    return VerificationReport(
        intact=True,
        position=last,
        head=current.hex(),
        events=events,
        chained_up_to=limit,
        unchained=_count_after(events, verified, limit),
        compared=chain is not None,
    )


def _count_after(events: int, verified: _Verified, limit: int) -> int:
    """How many of ``events`` lie after position ``limit``."""
    within = verified.pending[-1].events if verified.pending else verified.events
    return events - within


def _broken(verified: _Verified, found: tuple[Break, _Seen | None], limit: int) -> VerificationReport:
    brk, good = found
    position, chain, events = (good.position, good.chain, good.events) if good else (
        verified.position, verified.chain, verified.events)  # fmt: skip
    return VerificationReport(
        intact=False, position=position, head=chain.hex(), events=events, chained_up_to=limit, unchained=0,
        first_break=brk,
    )  # fmt: skip


def _first_difference(store: StoreReader, chain: Any, verified: _Verified, limit: int) -> tuple[Break, _Seen | None] | None:
    """Merge the store's events after the last proven point with the recorded
    ones (up to the chain's head) by position; the first difference, classified,
    and the last store event before it that matched."""
    recorded = (r for r in chain.iter_recorded(after=verified.position) if r.position <= limit)
    rec = next(recorded, None)
    good: _Seen | None = None
    for seen in verified.pending:
        if rec is not None and rec.position < seen.position:
            return _missing(store, chain, rec, seen), good
        if rec is None or seen.position < rec.position:
            return _extra(chain, seen), good
        if seen.digest.hex() != rec.digest:
            return _different(store, chain, seen, rec), good
        good = seen
        rec = next(recorded, None)
    if rec is not None:  # recorded events the store no longer has at their positions, at the end
        return _missing(store, chain, rec, None), good
    return None


def _ref(recorded: Any) -> EventRef:
    return EventRef(str(recorded.originator_id), int(recorded.originator_version), recorded.topic)


def _missing(store: StoreReader, chain: Any, rec: Any, seen: _Seen | None) -> Break:
    """The store has nothing at a position the chain recorded."""
    now_at = store.locate(rec.originator_id, rec.originator_version)
    return Break(rec.position, "reordered" if now_at is not None else "removed", _ref(rec), None, now_at, None)


def _extra(chain: Any, seen: _Seen) -> Break:
    """The store has an event at a position the chain, having read past it, never recorded."""
    was_at = chain.position_of(seen.originator_id, seen.version)
    return Break(seen.position, "reordered" if was_at is not None else "inserted", None, seen.ref(), None, was_at)


def _different(store: StoreReader, chain: Any, seen: _Seen, rec: Any) -> Break:
    recorded, stored = _ref(rec), seen.ref()
    if (recorded.originator_id, recorded.version) == (stored.originator_id, stored.version):
        return Break(seen.position, "changed", recorded, stored, seen.position, seen.position)
    now_at = store.locate(rec.originator_id, rec.originator_version)
    was_at = chain.position_of(seen.originator_id, seen.version)
    if now_at is None and was_at is None:
        kind = "changed"  # replaced by an event the chain never saw
    elif was_at is None:
        kind = "inserted" if now_at is not None and now_at > seen.position else "reordered"
    elif now_at is None:
        kind = "removed"  # and the later events renumbered
    else:
        kind = "reordered"
    return Break(seen.position, kind, recorded, stored, now_at, was_at)


def check_anchor(duban: Any, anchor: Anchor, progress: Progress | None = None, page: int = 5000) -> AnchorCheck:
    """Recompute the chain from GENESIS over the store up to the anchor's
    position (the chain view is not consulted) and compare the heads."""
    store = StoreReader(duban)
    top = store.max_position()
    stop = min(top, anchor.position)
    current, events, last = GENESIS, 0, 0
    digest_of = _hasher()
    for rows in store.pages(0, stop, page):
        for position, topic, originator_id, version, state in rows:
            current = _link(current, position, digest_of(topic, originator_id, version, state))
            events += 1
            last = position
        if progress:
            progress(last, stop)
    reached = top >= anchor.position
    head = current.hex()
    return AnchorCheck(anchor, reached, reached and anchor.matches(head), last, head, events, top)


def run_and_record(
    duban: Any, chain: Any | None, actor: Any, run_id: UUID, anchor: Anchor | None = None,
    progress: Progress | None = None,
) -> tuple[VerificationReport | AnchorCheck, Any]:
    """Run a full verification (or an anchor check) and record its result as a
    ``HistoryVerified`` event with the actor; returns the result and what was recorded."""
    result: VerificationReport | AnchorCheck
    result = check_anchor(duban, anchor, progress) if anchor is not None else verify_history(duban, chain, progress=progress)
    recorded = duban.record_verification(run_id=run_id, actor=actor, **result.record_fields())
    return result, recorded
