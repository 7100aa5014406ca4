"""The area tree of one district: district → 22 towns → pieces → 734 basic grids → unit grids.

Town codes and names are Daxing's real NBS 统计用区划代码 (without the four special zones
4xx). Grid counts per town follow the facts where known (亦庄 21 communities + 5 villages,
黄村 10 + 31) and are plausible elsewhere; they add up to 188 community, 469 village and
77 park grids. Grid codes follow the NBS pattern (town9 + 001-199 community, 200-399
village, 400-499 park); unit grids follow DB11/T 2157 (grid12 + 3-digit sequence).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DISTRICT_CODE = "110115"
DISTRICT_NAME = "大兴区"

URBAN, FRINGE, RURAL = "urban_new_town", "fringe", "rural"
COMMUNITY, VILLAGE, PARK = "community", "village", "park"
GRID_TYPES = (COMMUNITY, VILLAGE, PARK)
_FIRST_CODE = {COMMUNITY: 1, VILLAGE: 200, PARK: 400}


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    parent: str | None
    level: str
    grid_type: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class Town:
    """A town or street: its 3-digit NBS suffix, name, region and grid counts."""

    suffix: str
    name: str
    region: str
    communities: int
    villages: int
    parks: int

    @property
    def grids(self) -> int:
        return self.communities + self.villages + self.parks


# suffix, NBS name, region, communities, villages, parks
TOWNS: tuple[Town, ...] = (
    Town("001", "兴丰街道", URBAN, 16, 0, 0),
    Town("002", "林校路街道", URBAN, 12, 0, 0),
    Town("003", "清源街道", URBAN, 17, 0, 0),
    Town("004", "亦庄地区", FRINGE, 21, 5, 12),
    Town("005", "黄村地区", FRINGE, 10, 31, 6),
    Town("006", "旧宫地区", FRINGE, 15, 9, 5),
    Town("007", "西红门地区", FRINGE, 12, 22, 8),
    Town("008", "瀛海地区", FRINGE, 6, 24, 6),
    Town("009", "观音寺街道", URBAN, 12, 4, 0),
    Town("010", "天宫院街道", URBAN, 9, 6, 0),
    Town("011", "高米店街道", URBAN, 13, 0, 0),
    Town("012", "荣华街道", FRINGE, 8, 0, 4),
    Town("013", "博兴街道", FRINGE, 7, 0, 4),
    Town("103", "青云店镇", RURAL, 4, 44, 4),
    Town("104", "采育镇", RURAL, 4, 50, 5),
    Town("105", "安定镇", RURAL, 3, 32, 3),
    Town("106", "礼贤镇", RURAL, 3, 40, 4),
    Town("107", "榆垡镇", RURAL, 4, 52, 3),
    Town("108", "庞各庄镇", RURAL, 4, 48, 4),
    Town("109", "北臧村镇", RURAL, 2, 22, 3),
    Town("110", "魏善庄镇", RURAL, 3, 42, 4),
    Town("111", "长子营镇", RURAL, 3, 38, 2),
)

# community names the facts list (亦庄, June 2020); the rest are made up in the same style
_KNOWN_COMMUNITIES = {
    "004": (
        "贵园北里",
        "贵园东里",
        "贵园南里",
        "富源里",
        "泰河园",
        "晓康",
        "广德苑",
        "星岛",
        "三羊里",
        "鹿华苑一里",
        "鹿华苑二里",
        "鹿华苑三里",
        "鹿华苑四里",
        "鹿海园",
    ),
}

_WORDS = "康盛和丰宁华泰兴瑞清林海安福祥金嘉悦明景秀裕德顺鑫源怡翠欣荣乐春馨永隆昌"
_COMMUNITY_ENDS = ("园", "里", "苑", "家园", "花园", "新村", "嘉园", "东里", "西里", "北里", "南里", "佳苑")
_SURNAMES = "张李王赵刘孙马韩魏董朱崔郭何杨高宋郑冯潘田梁曹袁彭石"
_VILLAGE_BASES = ("各庄", "家务", "庄", "营", "垡", "辛庄", "店", "屯", "堡", "台", "甸", "坨", "场", "园")
_DIRECTIONS = "东西南北前后大小上中下"
_PLACE_BASES = ("辛庄", "营", "垡", "店", "屯", "白疃", "芦城", "黑垡", "沙窝", "鹅房", "河津", "梨园", "马坊", "枣园")
_PARK_ENDS = ("产业园", "工业园", "物流园", "科技园", "创业园", "工业区", "经济园")


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")


class _Names:
    """Unique plausible names for communities, villages and parks, drawn from one RNG."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def _unique(self, make) -> str:
        for _ in range(10_000):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("name pool exhausted")

    def community(self) -> str:
        r = self.rng
        return self._unique(lambda: r.choice(_WORDS) + r.choice(_WORDS) + r.choice(_COMMUNITY_ENDS) + "社区")

    def village(self) -> str:
        r = self.rng

        def make() -> str:
            if r.random() < 0.5:
                return r.choice(_SURNAMES) + r.choice(_VILLAGE_BASES) + "村"
            return r.choice(_DIRECTIONS) + r.choice(_PLACE_BASES) + "村"

        return self._unique(make)

    def park(self) -> str:
        r = self.rng
        return self._unique(lambda: r.choice(_WORDS) + r.choice(_WORDS) + r.choice(_PARK_ENDS))

    def take(self, name: str) -> str:
        self.used.add(name)
        return name


def town_code(town: Town, district: str = DISTRICT_CODE) -> str:
    return district + town.suffix


def build_areas(rng: random.Random) -> list[Area]:
    """Every area of Daxing in pre-order (children by code), district first."""
    names = _Names(rng)
    areas = [Area(DISTRICT_CODE, DISTRICT_NAME, None, "district")]
    for town in TOWNS:
        code = town_code(town)
        areas.append(Area(code, town.name, DISTRICT_CODE, "town", region=town.region))
        grids: list[tuple[str, str, str]] = []  # code, name, type
        known = list(_KNOWN_COMMUNITIES.get(town.suffix, ()))
        for kind, count in ((COMMUNITY, town.communities), (VILLAGE, town.villages), (PARK, town.parks)):
            for i in range(count):
                if kind == COMMUNITY:
                    name = names.take(known.pop(0) + "社区") if known else names.community()
                else:
                    name = names.village() if kind == VILLAGE else names.park()
                grids.append((f"{code}{_FIRST_CODE[kind] + i:03d}", name, kind))
        pieces = max(2, min(6, -(-town.grids // 12)))
        for p in range(pieces):
            piece = f"{code}{p + 1:02d}"
            areas.append(Area(piece, f"{town.name}第{_chinese_number(p + 1)}片", code, "piece"))
            for grid_code, grid_name, kind in grids[p * len(grids) // pieces : (p + 1) * len(grids) // pieces]:
                areas.append(Area(grid_code, grid_name, piece, "grid", grid_type=kind))
                low, high = {COMMUNITY: (3, 8), VILLAGE: (2, 6), PARK: (2, 5)}[kind]
                for u in range(1, rng.randint(low, high) + 1):
                    areas.append(Area(f"{grid_code}{u:03d}", f"{grid_name}第{u}单元网格", grid_code, "unit"))
    return areas
