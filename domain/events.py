"""What every Duban event shares, and the value vocabularies of the domain.

Events are facts in the past tense. Each one says who did it (the actor's id and
the role they acted in) and when (the library's ``timestamp``, taken from the
injectable clock, always a UTC instant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.errors import NotPermitted, NotYourUnit, WrongCounty

#: China has kept UTC+8 without daylight saving since 1991; a fixed offset keeps
#: the domain free of the tz database (which is file I/O).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_date(instant: datetime) -> date:
    """The calendar date in Asia/Shanghai at a UTC instant."""
    return instant.astimezone(CHINA).date()


class DubanEvent(Aggregate.Event):
    """Base of every event: who did it, in which role."""

    actor_id: str
    actor_role: str


# Roles (DOMAIN.md: People and roles)
INSPECTOR = "inspector"
UNIT = "unit"
CADRE = "cadre"
COMMAND = "command"
DISCIPLINE = "discipline"
#: A city's or a province's office (市/省级脱贫攻坚指挥部, 上级指挥部): reads across
#: the counties of its region and ranks them; acts on none of them.
REGION = "region"
SYSTEM = "system"

ROLES = {
    INSPECTOR: "督查员",
    UNIT: "责任单位",
    CADRE: "帮扶责任人",
    COMMAND: "指挥部办公室",
    DISCIPLINE: "纪检监察",
    REGION: "上级指挥部",
    SYSTEM: "系统",
}

#: The roles a county's own people hold (a county's office grants these, never REGION).
COUNTY_ROLES = (INSPECTOR, UNIT, CADRE, COMMAND, DISCIPLINE)

CATEGORIES = {
    "missing": "缺项",
    "omitted": "漏项",
    "nonstandard": "不规范",
    "outdated": "更新不及时",
    "inconsistent": "不一致",
    "noncorresponding": "不对应",
    "other": "其他",
}

SOURCES = {
    "inspection": "督查",
    "extraction": "抽查",
    "mutual": "互查",
    "routine": "日常检查",
}

SEVERITIES = {
    "general": "一般",
    "serious": "较重",
    "grave": "严重",
}

UNIT_KINDS = {
    "county": "县",
    "zone": "战区",
    "town": "街镇",
    "village": "行政村",
    "department": "行业部门",
    "office": "指挥部办公室",
    "discipline": "纪检监察机关",
}

#: Which kind of unit may sit under which.
ALLOWED_PARENT_KINDS = {
    "county": (),
    "zone": ("county",),
    "town": ("zone",),
    "village": ("town",),
    "department": ("county",),
    "office": ("county",),
    "discipline": ("county",),
}


@dataclass(frozen=True)
class Actor:
    """The person a command is carried out for, as the service resolved them."""

    user_id: str
    role: str
    county_id: UUID | None = None
    unit_id: UUID | None = None
    name: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    #: A regional office's person: the region whose counties they read (their
    #: county_id is None, so every county's commands refuse them).
    region_id: UUID | None = None

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            allowed = "、".join(ROLES[r] for r in roles)
            raise NotPermitted(f"此操作只能由{allowed}执行")

    def require_county(self, county_id: UUID) -> None:
        if self.role != SYSTEM and self.county_id != county_id:
            raise WrongCounty()

    def require_unit_in(self, unit_path: tuple[UUID, ...]) -> None:
        """A unit user acts for its own unit and the units below it."""
        if self.unit_id not in unit_path:
            raise NotYourUnit()


SYSTEM_ACTOR = Actor(user_id="system", role=SYSTEM, roles=frozenset({SYSTEM}))
