"""The shape of a generated county: names of the county, its towns, villages and
people, drawn deterministically from a ``random.Random``.

Shaped like the seed (米脂县): two war zones, about 10 towns, about 200 villages,
8 sector departments, a command office with its inspectors and a discipline
commission. Every name is invented; logins carry the county's number so that
they are unique across a province.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from app.demo import DEPARTMENTS, GIVEN, SURNAMES

#: Characters for invented place names (two characters + 县/镇; surname + 家 + ending + 村).
PLACE_FIRST = "安宝保昌成定丰富广和华吉佳嘉江金靖康乐临隆龙美宁平庆仁瑞善神顺泰通文武西祥新兴延阳永裕长正志中"
PLACE_SECOND = "川城店丰沟谷河湖华泉山石水台滩堂田湾乡阳峪原岳寨州庄"
VILLAGE_ENDINGS = ("沟", "岔", "峁", "坪", "湾", "畔", "渠", "砭", "塬", "洼", "山", "庄", "河", "梁", "台", "铺")
ZONE_NAMES = ("东战区", "西战区")

OFFICE_NAME = "县脱贫攻坚指挥部办公室"
DISCIPLINE_NAME = "县纪委监委"


@dataclass(frozen=True)
class Person:
    key: str  # stable key for the user's id
    login: str
    name: str
    unit: str  # unit key
    role: str


@dataclass
class Shape:
    """The organisation of one county (keys are stable and used for ids)."""

    index: int
    name: str
    code: str
    document_prefix: str
    #: zone name -> town names
    zones: dict[str, list[str]] = field(default_factory=dict)
    #: town name -> village names
    villages: dict[str, list[str]] = field(default_factory=dict)
    departments: tuple[str, ...] = DEPARTMENTS
    people: list[Person] = field(default_factory=list)


def county_name(index: int) -> tuple[str, str]:
    """A two-character name (+ 县) unique for the first 1,500 or so indexes, and its document prefix."""
    n1, n2 = len(PLACE_FIRST), len(PLACE_SECOND)
    first = PLACE_FIRST[(index * 7) % n1]
    second = PLACE_SECOND[(index + (index * 7) // n1) % n2]
    name = f"{first}{second}县"
    if index >= n1 * n2:
        name = f"{first}{second}{index}县"
    return name, f"{first}{second}脱指发"


def make_shape(index: int, rng: random.Random, towns: int = 10, villages: int = 200, cadres_per_village: int = 2) -> Shape:
    name, prefix = county_name(index)
    shape = Shape(index=index, name=name, code=f"61{index:04d}", document_prefix=prefix)
    town_names: list[str] = []
    while len(town_names) < towns:
        candidate = rng.choice(PLACE_FIRST) + rng.choice(PLACE_SECOND) + rng.choice(("镇", "镇", "镇", "街道"))
        if candidate not in town_names:
            town_names.append(candidate)
    half = (towns + 1) // 2
    shape.zones = {ZONE_NAMES[0]: town_names[:half], ZONE_NAMES[1]: town_names[half:]}
    # ~villages, shared out unevenly (15 to 25 a town when there are 10 towns)
    weights = [rng.uniform(0.75, 1.25) for _ in town_names]
    total = sum(weights)
    counts = [max(1, round(villages * w / total)) for w in weights]
    counts[-1] = max(1, counts[-1] + villages - sum(counts))
    seen: set[str] = set()
    for town, count in zip(town_names, counts):
        names: list[str] = []
        while len(names) < count:
            surname = rng.choice(SURNAMES)[0]
            candidate = f"{surname}家{rng.choice(VILLAGE_ENDINGS)}村"
            if candidate in seen:
                candidate = f"{surname}{rng.choice(PLACE_FIRST)}{rng.choice(VILLAGE_ENDINGS)}村"
            if candidate in seen:
                continue
            seen.add(candidate)
            names.append(candidate)
        shape.villages[town] = names
    shape.people = _people(shape, rng, cadres_per_village)
    return shape


def _people(shape: Shape, rng: random.Random, cadres_per_village: int) -> list[Person]:
    logins: dict[str, int] = {}
    people: list[Person] = []

    def person(unit: str, role: str, key: str) -> None:
        surname, s_py = rng.choice(SURNAMES)
        given = rng.sample(GIVEN, 2 if rng.random() < 0.75 else 1)
        base = f"c{shape.index:03d}.{s_py}{''.join(p for _, p in given)}"
        logins[base] = logins.get(base, 0) + 1
        login = base if logins[base] == 1 else f"{base}{logins[base]}"
        people.append(Person(key, login, surname + "".join(g for g, _ in given), unit, role))

    from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT

    for i in range(3):
        person(OFFICE_NAME, COMMAND, f"command:{i}")
    for i in range(12):
        person(OFFICE_NAME, INSPECTOR, f"inspector:{i}")
    for i in range(2):
        person(DISCIPLINE_NAME, DISCIPLINE, f"discipline:{i}")
    for towns in shape.zones.values():
        for town in towns:
            person(town, UNIT, f"unit:{town}")
            person(town, CADRE, f"cadre:{town}")
            for village in shape.villages[town]:
                person(village, UNIT, f"unit:{village}")
                for i in range(cadres_per_village):
                    person(village, CADRE, f"cadre:{village}:{i}")
    for department in shape.departments:
        person(department, UNIT, f"unit:{department}")
    return people
