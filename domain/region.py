"""A region (市/省级): the counties a city's or a province's office oversees.

A deployment holds many counties (each a tenant: its own units, users, rulebook
and document series). A region groups some of them for an office above the
counties (上级指挥部), whose people read across the member counties and rank
them, and write nothing in any of them. Regions, like counties, are the
deployment's own business: only the system registers and changes them (the
``flask region-*`` commands), never a county's office.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput, MissingField
from domain.events import SYSTEM, Actor, DubanEvent

#: What a region is (市级, 省级).
REGION_LEVELS = {"city": "市级", "province": "省级"}


class UnknownRegion(DomainError):
    status = 404
    message = "找不到该上级指挥部（地区）"


class NotACounty(InvalidInput):
    message = "只能把县（没有上级单位的“县”类单位）纳入地区"


class CountyAlreadyMember(DomainError):
    status = 409
    message = "该县已在本地区之内"


class CountyNotMember(DomainError):
    status = 409
    message = "该县不在本地区之内"


class Region(Aggregate):
    class Event(DubanEvent):
        pass

    class Registered(Event, Aggregate.Created):
        name: str
        level: str

    class Renamed(Event):
        name: str

        def apply(self, region: Region) -> None:
            region.name = self.name

    class CountyAdded(Event):
        county_id: UUID

        def apply(self, region: Region) -> None:
            region.county_ids = (*region.county_ids, self.county_id)

    class CountyRemoved(Event):
        county_id: UUID
        reason: str

        def apply(self, region: Region) -> None:
            region.county_ids = tuple(c for c in region.county_ids if c != self.county_id)

    def __init__(self, name: str, level: str):
        self.name = name
        self.level = level
        #: Member counties, in the order they joined.
        self.county_ids: tuple[UUID, ...] = ()

    @property
    def level_label(self) -> str:
        return REGION_LEVELS.get(self.level, self.level)

    def includes(self, county_id: UUID | str | None) -> bool:
        return county_id is not None and str(county_id) in {str(c) for c in self.county_ids}

    @classmethod
    def register(
        cls, *, name: str, level: str, actor: Actor, now: datetime, region_id: UUID | None = None
    ) -> Region:
        actor.require_role(SYSTEM)
        name = name.strip()
        if not name:
            raise MissingField("地区名称")
        if level not in REGION_LEVELS:
            raise InvalidInput("地区级别只能是市级（city）或省级（province）")
        return cls._create(
            cls.Registered, id=region_id or uuid4(), timestamp=now, actor_id=actor.user_id,
            actor_role=actor.role, name=name, level=level,
        )  # fmt: skip

    def rename(self, name: str, actor: Actor, now: datetime) -> None:
        actor.require_role(SYSTEM)
        name = name.strip()
        if not name:
            raise MissingField("地区名称")
        self.trigger_event(self.Renamed, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, name=name)

    def add_county(self, county_id: UUID, is_county: bool, actor: Actor, now: datetime) -> None:
        """``is_county``: the service looked the unit up (the domain does no reading)."""
        actor.require_role(SYSTEM)
        if not is_county:
            raise NotACounty()
        if self.includes(county_id):
            raise CountyAlreadyMember()
        self.trigger_event(
            self.CountyAdded, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, county_id=county_id
        )

    def remove_county(self, county_id: UUID, reason: str, actor: Actor, now: datetime) -> None:
        actor.require_role(SYSTEM)
        if not self.includes(county_id):
            raise CountyNotMember()
        if not reason.strip():
            raise MissingField("移出原因")
        self.trigger_event(
            self.CountyRemoved, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, county_id=county_id,
            reason=reason.strip(),
        )  # fmt: skip
