"""The dispatch rules of one district, layer by layer, as a 权属梳理 (ownership survey) writes them.

Layers, most general first: district defaults per item or subcategory (who owns what), grid
type splits (villages → the town government), town overrides (rural towns handle locally;
A/B/C deadline classes by region), basic-grid and unit-grid exceptions (parks, old
communities without property management, villages being cleared, river villages), source
rules (`safety`, `12345`, `supervisor`), seasonal windows (heating, flood, snow, a change of
lead department) and a few priority overrides. Some items stay uncovered on purpose (unclear
ownership: the seat operators decide), so that about 7% of case volume is not automatic.

A RuleBook refuses a second rule with the same precedence key, so the result is free of
conflicts and duplicates by construction.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from dispatch.synth.areas import COMMUNITY, DISTRICT_CODE, FRINGE, PARK, RURAL, URBAN, VILLAGE, Area
from dispatch.synth.catalogue import Event
from dispatch.synth.departments import Department

LOCAL = "@local"
D = DISTRICT_CODE


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


HEATING = (("2025-11-15", "2026-03-16"), ("2026-11-15", "2027-03-16"))
FLOOD = (("2025-06-01", "2025-09-16"), ("2026-06-01", "2026-09-16"))
NATIONAL_DAY = ("2026-09-25", "2026-10-09")
TWO_SESSIONS = ("2026-03-01", "2026-03-16")
GB47678_IN_FORCE = "2026-07-01"

LAWS = {
    "srhw": "《北京市市容环境卫生条例》",
    "ljgl": "《北京市生活垃圾管理条例》",
    "wfjs": "《北京市禁止违法建设若干规定》",
    "cxgh": "《北京市城乡规划条例》",
    "dqwr": "《北京市大气污染防治条例》",
    "swr": "《北京市水污染防治条例》",
    "zs": "《中华人民共和国噪声污染防治法》",
    "hh": "《北京市河湖保护管理条例》",
    "ps": "《北京市排水和再生水管理办法》",
    "rq": "《北京市燃气管理条例》",
    "gr": "《北京市供热采暖管理办法》",
    "xf": "《北京市消防条例》",
    "aq": "《北京市安全生产条例》",
    "whp": "《危险化学品安全管理条例》",
    "tzsb": "《中华人民共和国特种设备安全法》",
    "wy": "《北京市物业管理条例》",
    "jsjb": "《北京市接诉即办工作条例》",
    "lh": "《北京市绿化条例》",
    "gsmm": "《北京市古树名木保护管理条例》",
    "gg": "《北京市户外广告设施、牌匾标识和标语宣传品设置管理条例》",
    "tc": "《北京市机动车停车条例》",
    "fjdc": "《北京市非机动车管理条例》",
    "tj": "《北京市人民调解条例》",
    "zl": "《北京市房屋租赁管理若干规定》",
    "jzz": "《居住证暂行条例》",
    "ww": "《中华人民共和国文物保护法》",
    "jz": "《社会救助暂行办法》",
    "cjr": "《中华人民共和国残疾人保障法》",
    "ldbz": "《保障农民工工资支付条例》",
    "ldjc": "《劳动保障监察条例》",
    "sgxc": "《北京市建设工程施工现场管理办法》",
    "dl": "《城市道路管理条例》",
    "jt": "《中华人民共和国道路交通安全法》",
    "wza": "《中华人民共和国无障碍环境建设法》",
    "jzf": "《中华人民共和国建筑法》",
    "wzwz": "《无证无照经营查处办法》",
    "llqt": "《城市生活无着的流浪乞讨人员救助管理办法》",
    "shf": "《中华人民共和国水法》",
    "gf": "《中华人民共和国固体废物污染环境防治法》",
    "yxkj": "《工贸企业有限空间作业安全规定》",
    "jzsg": "《建设工程安全生产管理条例》",
    "fc": "《工贸企业粉尘防爆安全规定》",
    "tdcb": "《中华人民共和国农村土地承包经营纠纷调解仲裁法》",
    "tdgl": "《中华人民共和国土地管理法》",
    "nbzb": "《企业事业单位内部治安保卫条例》",
    "kd": "《快递暂行条例》",
    "jjyl": "《北京市居家养老服务条例》",
    "sb": "《中华人民共和国社会保险法》",
    "jy": "《中华人民共和国就业促进法》",
    "jdbsc": "《北京市街道办事处条例》",
}
COMPONENT_PRACTICE = "工作惯例：部件按权属单位派遣（责随权走）"
LOCAL_PRACTICE = "工作惯例：属地管理、属地兜底"
FALLBACK_BASIS = "DB11/T 2157-2023：无责任主体的按属地兜底"

# subcategory (or category) → lead department, co-handlers, basis key
# basis: a LAWS key, "m" = the lead's 三定方案, "p" = component ownership, "l" = 属地 practice
_OWNERS = """
01001 zls - p
01002 ps - p
01003 ps - p
01004 ps - p
01005 gd - p
01006 ld - p
01007 tx-dx tx-lt;tx-yd p
01010 rl - p
01011 rq - p
01013 xf zls p
01018 @local hwzx p
01026 szss - p
01027 tx-dx tx-lt;tx-yd p
01028 gd - p
01030 gd - p
01031 tx-tt - p
01037 ld - p
01040 cgw - m
01046 ty - p
01048 gd - p
01049 rq - rq
01054 cgw gd m
01057 rq - rq
01061 rl - gr
01073 shuiwu ps ps
01076 szss scjg tzsb
02001 tc - tc
02004 gj - p
02006 szss - dl
02007 szss - dl
02009 glfj shuiwu dl
02010 jgzd jt jt
02012 mz - m
02014 jgzd - jt
02017 jgzd jt jt
02020 jt - m
02022 jgzd - jt
02025 jt - fjdc
02033 jt - m
02034 zjw cl wza
02038 ga mz m
02043 jt - m
03001 hwzx - srhw
03002 hwzx - srhw
03003 hwzx - srhw
03004 hwzx - ljgl
03005 hwzx - ljgl
03006 cgw cgzf gg
03007 cgw cgzf gg
03008 @local - l
03014 hwzx - srhw
03016 hwzx - srhw
04001 yl - gsmm
04002 yl - lh
04003 yl - lh
04004 yl - lh
04006 cgw - m
04007 yl - lh
04008 yl - lh
04013 yl - lh
05002 zjw - m
05003 shangwu yj m
05009 whly - ww
06001 @local cgzf wfjs
06002 cgzf - cxgh
06004 cgw @local srhw
06007 cgzf - srhw
06008 cgw tx-dx srhw
06009 cgzf - srhw
06010 hwzx - srhw
06011 hwzx cgzf srhw
06012 hwzx - srhw
06013 szss - dl
06014 cgzf hwzx srhw
06016 jgzd - jt
06017 yl - lh
06019 hwzx - srhw
06020 cgzf sthj dqwr
06021 yl - lh
06022 yl - lh
06025 shuiwu hzb hh
06027 cgzf sthj dqwr
06028 cgzf ga zs
06029 cgzf - dqwr
06030 cgzf shuiwu swr
06033 wj sthj m
06034 jgzd cgzf jt
06036 cgzf - srhw
06037 hwzx - srhw
06040 cgzf - tc
06041 cgw @local ljgl
06042 hwzx - ljgl
06045 yl cgzf lh
07001 cgzf hwzx srhw
07002 cgzf - srhw
07003 cgw cgzf gg
07004 jw - m
07006 cgw cgzf gg
07007 @local cgzf gg
07008 cgw - gg
08001 cgzf zjw zs
08002 cgzf jgzd dl
08003 cgzf szss dl
08004 zjw sthj dqwr
08005 cgzf - sgxc
08006 cgzf - sgxc
08007 zjw - sgxc
08008 zjw - sgxc
08011 cgzf jgzd dqwr
08012 zjw cgzf sgxc
08013 cgzf zjw sgxc
08016 zjw ghzr jzf
09001 cgzf - wzwz
09002 shangwu cgzf m
09003 mz ga llqt
09004 shangwu cgzf m
09005 cgzf - srhw
09006 cgzf - srhw
09009 jgzd - jt
09010 jt @local fjdc
09011 cgzf jt fjdc
09012 xf - xf
09015 scjg cgzf wzwz
09016 tc cgzf tc
09020 shangwu scjg m
09021 cgzf shuiwu srhw
09022 cgzf - srhw
10001 cgw @local srhw
10002 cgw gd;tx-dx srhw
11001 szss ps dl
11002 zls - p
11003 ps - ps
11004 ps shuiwu ps
11005 yl - lh
11006 rl - gr
12001 shuiwu cgzf hh
12002 shuiwu @local hh
12003 ps - ps
12004 shuiwu yj m
12005 shuiwu - shf
13001 sthj - dqwr
13002 sthj shuiwu swr
13003 sthj - gf
13004 sthj - zs
13005 @local sthj dqwr
13006 sthj jx dqwr
14001 yj - whp
14002 yj - whp
14003 yj scjg whp
14004 jgzd yj whp
14005 yj sthj whp
15001 xf - xf
15002 xf - xf
15003 xf @local xf
15004 xf - xf
15005 xf - xf
15006 xf @local xf
16001 rq xf;@local rq
16002 cgw rq rq
16003 cgw scjg rq
16004 rq cgw rq
16005 rq - rq
17001 yj - yxkj
17002 yj - yxkj
17003 yj - yxkj
17004 yj - yxkj
18001 ajz zjw jzsg
18002 ajz zjw jzsg
18003 ajz zjw jzsg
18004 ajz zjw jzsg
18005 ajz zjw jzsg
19001 scjg tzsb tzsb
19002 scjg tzsb tzsb
19003 scjg tzsb tzsb
19004 scjg - tzsb
19005 scjg tzsb tzsb
20001 yj - fc
20002 yj - aq
20003 yj - aq
20004 yj shangwu aq
21001 sf - tj
21002 sf fl tj
21003 rs ldjc ldbz
21004 zjw sf wy
21005 ny - tdcb
21006 @local sf l
22001 ga - nbzb
22002 jt ga m
22003 ga - m
22004 ga jdb m
22005 yz ga kd
22006 ga - m
23 lgb - jzz
23002 ga lgb jzz
23004 lgb rs m
24 lgb - zl
24003 mf lgb m
25001 mz ll jjyl
25002 shangwu - m
25003 @local - l
25004 whly ty m
25005 shb - m
25006 wj - m
26001 mz - jz
26002 mz - jz
26003 mz - jz
26004 cl - cjr
26005 mz fl m
27001 jyzx rs jy
27002 rs yb sb
27003 ldjc - ldjc
27004 rs - jy
28001 @local zjw wy
28002 zjw @local wy
28003 zjw - wy
28004 zjw - wy
28005 cgw rl gr
29001 @local - l
29002 @local - l
29003 @local shuiwu l
29004 @local - l
29005 ghzr @local tdgl
"""

# no rule on purpose: ownership unclear (不明井盖, 桥下空间, 僵尸车, 废弃设施 ...); the seat operators decide
UNCOVERED = frozenset(
    _codes("""
    01023 01034 09017 06012004 09010004 06036004 09011003 06028004 09009005 21004003 07004003
    06004004 06004003 06025003 25002003 23004003 02025002 25005002 11005003 11004003 10002003
    06008003 06019002 06034003 01028004 03007004 03006004 01027004 12002003 21001004 06016003
    06045002 09004003 23003003 13003003 29004004 06012005 06011004 02038003 06017003
    07003004 28003002 06041004 09005004 06001005 06007003 07007003 06001004 06014004
    """)
)

# covered only where the grid type says so: elsewhere (and for town-level reports) no rule
PARTIAL_GRID_TYPE = {
    "28001": COMMUNITY,
    "29001": VILLAGE,
    "29002": VILLAGE,
    "29003": VILLAGE,
    "29004": VILLAGE,
    "06010005": VILLAGE,
}
# covered only by town rules in rural towns (straw burning is a rural matter)
RURAL_ONLY = frozenset({"13005"})
# one rule at priority 10 pre-empts every area and source: leaks go to the utility first
PRIORITY_ITEMS = {"16001": ("rq", ("xf", LOCAL)), "14001003": ("xf", ("yj", LOCAL)), "14004002": ("xf", ("yj", LOCAL))}
# categories whose subcategories inherit one category-level default
CATEGORY_DEFAULTS = frozenset({"24"})

# villages (and their streets) are the town government's in these subcategories
VILLAGE_LOCAL = _codes("""
06010 06011 06012 06013 06017 06019 06036 06042 06025 06041 07001 07007 09001 09005 09006 03001 03005 04002
01037 10001 06014 06037
""")
# rural towns (and some fringe towns) handle these themselves; urban streets do not
RURAL_LOCAL = _codes("""
06010 06011 06012 06013 06014 06017 06019 06020 06036 06040 06042 06045 07001 07002 09001 09004 09005 09006
09010 09020 09021 09022 03001 03002 03004 03005 03016 04002 04003 04007 04013 01037 10001 25003 12002 06025
06037 06041 06034 06007 06009 06029 06030 07008 02043 02020 02033 01046 04008 03014 06021 06022 09002 09016
""")
# A/B/C deadline classes (核心区 / 一般区 / 外围): urban streets faster, rural towns slower
DEADLINE_CLASS_CATEGORIES = ("03", "06", "07", "08", "09", "10", "11", "12", "13")
TOWN_GOVERNANCE = _codes("21001 21002 21004 21005 22001 22003 23001 23003 24001 24002 25001 26003")
PARK_SAFETY = _codes("14001 14002 15004 15005 17001 17004 18001 18003 20001 20002 20003 20004 13001 13002")
OLD_COMMUNITY = _codes("28002 06036 15003 06042 25003 22001")
CLEARANCE_VILLAGE = _codes("06001 06010 06011 06036 29004 24002")
RIVER_VILLAGE = _codes("12001 12002 06025 12004")
HEATING_SUBS = _codes("28005 11006 01061 01010")
FLOOD_SUBS = _codes("01003 01004 01073 11003 11004 12003 12004")
HOTLINE_UTILITY = _codes("01001 01005 01010 01011 11002 11006 16005 28005")
HOTLINE_TOWN = _codes("25001 25003 25006 26001 26003 21001 21002 23001 24001 24002 28002 21006 22001 25004")
SUPERVISOR = _codes("06010 06012 06042 07001 09006 09005 06036")
UNIT_SPOTS = (  # subcategory, lead, co-handlers, what the unit grid holds
    ("09011", "jt", ("cgzf",), "地铁站出入口单元网格：共享单车由区交通局牵头"),
    ("09010", "jt", (LOCAL,), "地铁站出入口单元网格：非机动车由区交通局牵头"),
    ("06012", "glfj", (), "公路桥区单元网格：由公路分局保洁"),
    ("09001", "cgzf", ("ga",), "医院周边单元网格：城管执法与公安联勤"),
    ("06010", "glfj", ("hwzx",), "高速公路沿线单元网格：由公路分局负责"),
)

# the deadlines of the standards (§1.5): 2 and 4 work hours; 1, 2, 5, 7, 15 and 20 work days (× 24 h)
_LADDER = (2.0, 4.0, 24.0, 48.0, 120.0, 168.0, 360.0, 480.0)


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One rule as the files say it; `file` is decided later from the rule's subject."""

    event: str
    area: str
    department: str
    grid_type: str = ""
    source: str = ""
    co_handlers: tuple[str, ...] = ()
    deadline_hours: float | None = None
    valid_from: str = ""
    valid_to: str = ""
    priority: int = 0
    basis: str = ""
    note: str = ""

    @property
    def windowed(self) -> bool:
        return bool(self.valid_from or self.valid_to)

    def key(self) -> tuple:
        """The selectors on which two rules can tie (DESIGN.md, rule semantics)."""
        return (self.priority, self.event, self.area, self.grid_type, self.source, self.windowed)


@dataclass
class RuleBook:
    """Rules in the order written; a rule that would tie with an earlier one is not taken."""

    rows: list[RuleRow] = field(default_factory=list)
    plain: dict = field(default_factory=dict)  # (event, area) → the plain rule there (no filter, priority 0)
    _keys: set = field(default_factory=set)
    _windows: dict = field(default_factory=dict)

    def add(self, row: RuleRow) -> bool:
        key = row.key()
        if not row.windowed:
            if key in self._keys:
                return False
            self._keys.add(key)
            if key[0] == 0 and not (row.grid_type or row.source):
                self.plain[(row.event, row.area)] = row
        else:
            lo, hi = row.valid_from or "0000-00-00", row.valid_to or "9999-99-99"
            spans = self._windows.setdefault(key, [])
            if any(lo < b and a < hi for a, b in spans):
                return False
            spans.append((lo, hi))
        self.rows.append(row)
        return True


@dataclass(frozen=True, slots=True)
class Owner:
    department: str
    co_handlers: tuple[str, ...]
    basis: str


def _owners(departments: dict[str, Department]) -> dict[str, Owner]:
    def dept(code: str) -> str:
        return code if code == LOCAL else f"dx-{code}"

    owners = {}
    for line in _OWNERS.strip().splitlines():
        code, lead, co, basis = line.split()
        lead = dept(lead)
        cos = () if co == "-" else tuple(dept(c) for c in co.split(";"))
        if basis == "m":
            text = f"{departments[lead].name}三定方案"
        elif basis == "p":
            text = COMPONENT_PRACTICE
        elif basis == "l":
            text = LOCAL_PRACTICE
        else:
            text = LAWS[basis]
        owners[code] = Owner(lead, cos, text)
    return owners


class District:
    """What the rule layers read: the taxonomy by level, the towns and grids, the owners."""

    def __init__(self, events: Iterable[Event], areas: Iterable[Area], departments: Iterable[Department]):
        self.events = {e.code: e for e in events}
        self.departments = {d.code: d for d in departments}
        self.owners = _owners(self.departments)
        self.children: dict[str, list[str]] = {}
        for e in self.events.values():
            if e.parent:
                self.children.setdefault(e.parent, []).append(e.code)
        self.categories = sorted(c for c, e in self.events.items() if e.parent is None)
        areas = list(areas)
        self.areas = {a.code: a for a in areas}
        self.towns = [a for a in areas if a.level == "town"]
        self.grids = [a for a in areas if a.level == "grid"]
        self.units: dict[str, list[Area]] = {}
        for a in areas:
            if a.level == "unit":
                self.units.setdefault(a.parent, []).append(a)
        self.town_of: dict[str, str] = {}
        for a in areas:
            if a.level == "piece":
                self.town_of[a.code] = a.parent
            elif a.level == "grid":
                self.town_of[a.code] = self.town_of[a.parent]

    def parent(self, area: str) -> str | None:
        return None if area == "*" else self.areas[area].parent

    def subs(self, category: str) -> list[str]:
        return self.children.get(category, [])

    def items(self, sub: str) -> list[str]:
        return self.children.get(sub, [])

    def owner(self, code: str) -> Owner:
        """The lead for an item, subcategory or category: the nearest owned ancestor."""
        while code not in self.owners:
            code = self.events[code].parent
        return self.owners[code]

    def covered(self, item: str) -> bool:
        return item not in UNCOVERED and item[:5] not in UNCOVERED

    def in_priority(self, code: str) -> bool:
        return any(code.startswith(p) or p.startswith(code) for p in PRIORITY_ITEMS)


class Layers:
    """The rule layers over one district, drawing every choice from one RNG in a fixed order."""

    def __init__(self, district: District, rng: random.Random):
        self.d = district
        self.rng = rng
        self.book = RuleBook()
        self.mode: dict[str, str] = {}  # subcategory → "sub" (one rule) or "item" (a rule per item)

    # -- helpers ----------------------------------------------------------------------

    def targets(self, sub: str) -> list[str]:
        """The event codes a rule about `sub` is written for: the subcategory, or each covered item."""
        if self.mode.get(sub) == "sub":
            return [sub]
        return [
            i
            for i in self.d.items(sub)
            if self.d.covered(i) and not self.d.in_priority(i) and i not in PARTIAL_GRID_TYPE
        ]

    def deadline(self, code: str) -> float:
        e = self.d.events[code]
        return e.deadline_hours if e.deadline_hours is not None else 24.0

    def stepped(self, item: str, steps: int) -> float | None:
        """The item's deadline moved `steps` rungs along the ladder; None for urgent items or no change."""
        e = self.d.events[item]
        if e.urgent or e.level != 3:
            return None
        hours = self.deadline(item)
        rung = min(range(len(_LADDER)), key=lambda i: abs(_LADDER[i] - hours))
        value = _LADDER[max(0, min(len(_LADDER) - 1, rung + steps))]
        return None if value == hours else value

    def add(self, **kw) -> bool:
        """Take a rule unless it would only repeat the plain rule it refines (same event, enclosing area)."""
        row = RuleRow(**kw)
        plain = not (row.priority or row.grid_type or row.source or row.windowed)
        area = self.d.parent(row.area) if plain else row.area
        while area:
            general = self.book.plain.get((row.event, area))
            if general is not None:
                if _outcome(general) == _outcome(row):
                    return False
                break
            area = self.d.parent(area)
        return self.book.add(row)

    # -- layers -----------------------------------------------------------------------

    def choose_modes(self) -> None:
        share = {"municipal": 0.3, "safety": 0.35, "governance": 0.5, "social": 0.5, "local": 0.0}
        for cat in self.d.categories:
            system = self.d.events[cat].command_system or "municipal"
            for sub in self.d.subs(cat):
                whole = all(self.d.covered(i) for i in self.d.items(sub)) and sub not in UNCOVERED
                clean = (
                    whole and not self.d.in_priority(sub) and not any(i in PARTIAL_GRID_TYPE for i in self.d.items(sub))
                )
                p = 1.0 if cat in CATEGORY_DEFAULTS else 0.6 if cat <= "05" else share.get(system, 0.3)
                self.mode[sub] = "sub" if clean and self.rng.random() < p else "item"

    def defaults(self) -> None:
        """District-wide: every covered item reaches a rule at area 110115."""
        for cat in self.d.categories:
            if cat in CATEGORY_DEFAULTS:
                o = self.d.owners[cat]
                self.add(
                    event=cat,
                    area=D,
                    department=o.department,
                    co_handlers=o.co_handlers,
                    basis=o.basis,
                    note="大类默认责任单位",
                )
            for sub in self.d.subs(cat):
                if sub in UNCOVERED or sub in PARTIAL_GRID_TYPE or sub in RURAL_ONLY:
                    continue
                o = self.d.owner(sub)
                if self.mode[sub] == "sub":
                    if not (cat in CATEGORY_DEFAULTS and sub not in self.d.owners):
                        self.add(
                            event=sub,
                            area=D,
                            department=o.department,
                            co_handlers=o.co_handlers,
                            basis=o.basis,
                            note="小类默认责任单位",
                        )
                    # variants for some items, never all: the subcategory rule must still win somewhere
                    varied = [i for i in self.d.items(sub) if self.rng.random() < 0.12]
                    for item in varied[: len(self.d.items(sub)) - 1]:
                        self._variant(item, o)
                    continue
                for item in self.targets(sub):
                    if self.rng.random() < 0.15:
                        self._variant(item, o)
                    else:
                        self.add(event=item, area=D, department=o.department, co_handlers=o.co_handlers, basis=o.basis)
        for code, (lead, cos) in sorted(PRIORITY_ITEMS.items()):
            o = self.d.owner(code)
            self.add(
                event=code,
                area=D,
                department=f"dx-{lead}",
                priority=10,
                co_handlers=tuple(c if c == LOCAL else f"dx-{c}" for c in cos),
                basis=o.basis,
                note="泄漏险情：不论区域和来源，专业单位先行处置",
            )

    def _variant(self, item: str, o: Owner) -> None:
        """An item whose district rule differs from its subcategory's: a deadline or a co-handler."""
        faster = self.stepped(item, -1)
        if faster is not None and self.rng.random() < 0.6:
            self.add(
                event=item,
                area=D,
                department=o.department,
                co_handlers=o.co_handlers,
                deadline_hours=faster,
                basis=o.basis,
                note="本区处置时限严于立案标准",
            )
            return
        self.add(
            event=item,
            area=D,
            department=o.department,
            co_handlers=(*o.co_handlers, "dx-zhzx"),
            basis=o.basis,
            note="需协调的事项，指挥中心协办",
        )

    def partial(self) -> None:
        """Subcategories covered for one grid type only, and rural-only ones."""
        for code, grid_type in sorted(PARTIAL_GRID_TYPE.items()):
            o = self.d.owner(code)
            lead, cos = o.department, o.co_handlers
            if grid_type == VILLAGE and lead != LOCAL:
                lead, cos = LOCAL, (lead,)
            codes = [code] if len(code) == 8 or self.mode[code] == "sub" else self.targets(code)
            for t in codes:
                self.add(
                    event=t,
                    area=D,
                    grid_type=grid_type,
                    department=lead,
                    co_handlers=cos,
                    basis=o.basis,
                    note=f"仅{_GRID_LABEL[grid_type]}适用",
                )
        for sub in sorted(RURAL_ONLY):
            o = self.d.owner(sub)
            for town in self.d.towns:
                if town.region == RURAL:
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=town.code,
                            department=LOCAL,
                            co_handlers=o.co_handlers,
                            basis=o.basis,
                            note="农村地区由镇政府负责",
                        )

    def village_split(self) -> None:
        for sub in VILLAGE_LOCAL:
            o = self.d.owner(sub)
            if o.department == LOCAL:
                continue
            for t in self.targets(sub):
                self.add(
                    event=t,
                    area=D,
                    grid_type=VILLAGE,
                    department=LOCAL,
                    co_handlers=(o.department,),
                    basis=LOCAL_PRACTICE,
                    note="村庄范围由乡镇政府负责，行业部门协办",
                )

    def park_split(self) -> None:
        for sub in PARK_SAFETY:
            o = self.d.owner(sub)
            for t in self.targets(sub):
                self.add(
                    event=t,
                    area=D,
                    grid_type=PARK,
                    department=o.department,
                    co_handlers=tuple(dict.fromkeys((*o.co_handlers, LOCAL))),
                    basis=o.basis,
                    note="园区企业集中，属地园区管理机构协办",
                )

    def town_matrix(self) -> None:
        """Town overrides: rural towns handle street-level matters; A/B/C deadline classes by region."""
        towns = self.d.towns
        for sub in RURAL_LOCAL:
            o = self.d.owner(sub)
            if o.department == LOCAL:
                continue
            p = {RURAL: 0.92, FRINGE: 0.65, URBAN: 0.0}
            chosen = [t for t in towns if self.rng.random() < p[t.region]]
            for town in chosen[: len(towns) - 1]:
                assisted = self.rng.random() < 0.4
                cos, note = (
                    ((o.department,), f"{town.name}属地负责，行业部门协办")
                    if assisted
                    else ((), f"{town.name}属地负责")
                )
                for t in self.targets(sub):
                    self.add(
                        event=t, area=town.code, department=LOCAL, co_handlers=cos, basis=LOCAL_PRACTICE, note=note
                    )
        for cat in DEADLINE_CLASS_CATEGORIES:
            for sub in self.d.subs(cat):
                if self.mode[sub] != "item" or sub in PARTIAL_GRID_TYPE or sub in RURAL_ONLY or sub in UNCOVERED:
                    continue
                o = self.d.owner(sub)
                for item in self.targets(sub):
                    for town in towns:
                        # A类 (core) is the streets' communities only; their villages stay B类
                        if town.region == URBAN and self.rng.random() < 0.9:
                            steps, grid_type, label = -1, COMMUNITY, "A类区域（核心区社区）处置时限"
                        elif town.region == RURAL and self.rng.random() < 0.7:
                            steps, grid_type, label = 1, "", "C类区域处置时限"
                        else:
                            continue
                        hours = self.stepped(item, steps)
                        if hours is not None:
                            self.add(
                                event=item,
                                area=town.code,
                                grid_type=grid_type,
                                department=o.department,
                                co_handlers=o.co_handlers,
                                deadline_hours=hours,
                                basis=o.basis,
                                note=label,
                            )

    def town_mediation(self) -> None:
        """Rural and fringe towns settle disputes and register residents through their own offices."""
        p = {RURAL: 0.8, FRINGE: 0.5, URBAN: 0.15}
        for sub in TOWN_GOVERNANCE:
            o = self.d.owner(sub)
            if o.department == LOCAL:
                continue
            for town in self.d.towns[1:]:  # the district seat (兴丰街道) is served by the bureaus directly
                if self.rng.random() < p[town.region]:
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=town.code,
                            department=LOCAL,
                            co_handlers=(o.department,),
                            basis=LAWS["jdbsc"] if town.name.endswith("街道") else LOCAL_PRACTICE,
                            note="乡镇（街道）司法所、综治中心就地化解",
                        )

    def grid_exceptions(self) -> None:
        rng = self.rng
        communities = [g for g in self.d.grids if g.grid_type == COMMUNITY]
        villages = [g for g in self.d.grids if g.grid_type == VILLAGE]
        parks = [g for g in self.d.grids if g.grid_type == PARK]
        for grid in communities:
            if rng.random() < 0.5:
                for sub in OLD_COMMUNITY:
                    o = self.d.owner(sub)
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=grid.code,
                            department=LOCAL,
                            co_handlers=("dx-wyzx",),
                            basis=LAWS["wy"],
                            note="无物业老旧小区：街道（乡镇）兜底管理",
                        )
        for grid in parks:
            for sub in sorted(rng.sample(PARK_SAFETY, rng.randint(3, 7))):
                o = self.d.owner(sub)
                for t in self.targets(sub):
                    self.add(
                        event=t,
                        area=grid.code,
                        department=LOCAL,
                        co_handlers=(o.department,),
                        basis="工作惯例：园区管理机构先行处置",
                        note=f"{grid.name}园区管委会负责",
                    )
        for grid in villages:
            roll = rng.random()
            if roll < 0.1:
                for sub in CLEARANCE_VILLAGE:
                    o = self.d.owner(sub)
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=grid.code,
                            department=LOCAL,
                            co_handlers=("dx-cgzf",),
                            basis=LAWS["wfjs"],
                            note="拆迁腾退村：由乡镇统筹，城管执法协办",
                        )
            elif roll < 0.32:
                for sub in RIVER_VILLAGE:
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=grid.code,
                            department="dx-hzb",
                            co_handlers=(LOCAL,),
                            basis=LAWS["hh"],
                            note="沿河村庄：河长制办公室牵头",
                        )
        fallback = [g for g in parks if rng.random() < 0.15]
        for grid in fallback:
            self.add(
                event="*",
                area=grid.code,
                department=LOCAL,
                basis=FALLBACK_BASIS,
                note="园区内无明确权属的事项由属地兜底",
            )

    def unit_exceptions(self) -> None:
        rng = self.rng
        fringe = {t.code for t in self.d.towns if t.region in (URBAN, FRINGE)}
        grids = [g for g in self.d.grids if self.d.town_of[g.code] in fringe and g.grid_type == COMMUNITY]
        for sub, lead, cos, note in UNIT_SPOTS:
            for grid in sorted(rng.sample(grids, 6), key=lambda g: g.code):
                unit = rng.choice(self.d.units[grid.code])
                for t in self.targets(sub)[:2]:
                    self.add(
                        event=t,
                        area=unit.code,
                        department=f"dx-{lead}",
                        co_handlers=tuple(c if c == LOCAL else f"dx-{c}" for c in cos),
                        basis=self.d.owner(sub).basis,
                        note=note,
                    )

    def sources(self) -> None:
        d = self.d
        for cat in d.categories:
            if d.events[cat].command_system != "safety":
                continue
            for sub in d.subs(cat):
                o = d.owner(sub)
                for t in self.targets(sub):
                    cos = tuple(c for c in dict.fromkeys((*o.co_handlers, o.department, LOCAL)) if c != "dx-yj")
                    self.add(
                        event=t,
                        area=D,
                        source="safety",
                        department="dx-yj",
                        co_handlers=cos,
                        basis="区应急管理局三定方案",
                        note="安全生产系统上报：应急管理局统筹，行业部门和属地协办",
                    )
        for cat in d.categories:
            if d.events[cat].command_system not in ("social", "governance"):
                continue
            for sub in d.subs(cat):
                if sub in PARTIAL_GRID_TYPE:
                    continue
                o = d.owner(sub)
                for t in self.targets(sub):
                    if self.rng.random() < 0.5:
                        continue
                    hours = 168.0 if len(t) == 8 and not self.d.events[t].urgent and self.deadline(t) > 168 else None
                    self.add(
                        event=t,
                        area=D,
                        source="12345",
                        department=o.department,
                        co_handlers=(*o.co_handlers, "dx-zwfw"),
                        deadline_hours=hours,
                        basis=LAWS["jsjb"],
                        note="12345接诉即办：政务服务局督办",
                    )
        for sub in HOTLINE_UTILITY:
            o = d.owner(sub)
            for t in self.targets(sub):
                if len(t) != 8 or d.events[t].urgent or self.deadline(t) <= 24:
                    continue
                self.add(
                    event=t,
                    area=D,
                    source="12345",
                    department=o.department,
                    co_handlers=o.co_handlers,
                    deadline_hours=24.0,
                    basis=LAWS["jsjb"],
                    note="水电气热诉求24小时办结",
                )
        for sub in HOTLINE_TOWN:
            o = d.owner(sub)
            if o.department == LOCAL:
                continue
            for town in d.towns[1:]:  # the district seat (兴丰街道) is served by the bureaus directly
                if self.rng.random() < 0.45:
                    for t in self.targets(sub):
                        self.add(
                            event=t,
                            area=town.code,
                            source="12345",
                            department=LOCAL,
                            co_handlers=(o.department,),
                            basis=LAWS["jsjb"],
                            note="接诉即办：街乡吹哨、部门报到",
                        )
        for sub in SUPERVISOR:
            o = d.owner(sub)
            for t in self.targets(sub)[:3]:
                self.add(
                    event=t,
                    area=D,
                    source="supervisor",
                    department=o.department,
                    co_handlers=(*o.co_handlers, "dx-zhzx"),
                    basis=o.basis,
                    note="监督员上报：指挥中心跟踪督办",
                )

    def seasons(self) -> None:
        d = self.d
        for lo, hi in HEATING:
            for sub in HEATING_SUBS:
                for t in self.targets(sub):
                    hours = None if len(t) != 8 or d.events[t].urgent or self.deadline(t) <= 24 else 24.0
                    self.add(
                        event=t,
                        area=D,
                        department="dx-rl",
                        co_handlers=("dx-cgw",),
                        deadline_hours=hours,
                        valid_from=lo,
                        valid_to=hi,
                        basis=LAWS["gr"],
                        note="采暖季：热力公司负责，城管委监督",
                    )
                    if sub == "28005":
                        self.add(
                            event=t,
                            area=D,
                            grid_type=VILLAGE,
                            department=LOCAL,
                            co_handlers=("dx-gd",),
                            valid_from=lo,
                            valid_to=hi,
                            basis=LAWS["gr"],
                            note="采暖季：农村煤改电取暖由乡镇负责，供电公司协办",
                        )
            for town in d.towns:
                lead, cos = (LOCAL, ("dx-cgw",)) if town.region != URBAN else ("dx-hwzx", (LOCAL,))
                for t in self.targets("10001"):
                    self.add(
                        event=t,
                        area=town.code,
                        department=lead,
                        co_handlers=cos,
                        valid_from=lo,
                        valid_to=hi,
                        basis=LAWS["srhw"],
                        note="冬季扫雪铲冰：属地负责",
                    )
        for lo, hi in FLOOD:
            for sub in FLOOD_SUBS:
                for t in self.targets(sub):
                    hours = None
                    if len(t) == 8 and not d.events[t].urgent and self.deadline(t) > 2:
                        hours = 2.0
                    self.add(
                        event=t,
                        area=D,
                        department="dx-ps",
                        co_handlers=("dx-shuiwu", LOCAL),
                        deadline_hours=hours,
                        valid_from=lo,
                        valid_to=hi,
                        basis=LAWS["ps"],
                        note="汛期：排水集团抢险，水务局和属地协办",
                    )
            for town in d.towns:
                if town.region == RURAL:
                    for t in self.targets("12004"):
                        self.add(
                            event=t,
                            area=town.code,
                            department=LOCAL,
                            co_handlers=("dx-shuiwu",),
                            valid_from=lo,
                            valid_to=hi,
                            basis=LAWS["ps"],
                            note="汛期：农村防汛属地负责",
                        )
        for t in self.targets("09011"):
            self.add(
                event=t,
                area=D,
                department="dx-jt",
                co_handlers=("dx-cgzf",),
                valid_from=GB47678_IN_FORCE,
                basis=LAWS["fjdc"],
                note="自2026-07-01起共享单车由区交通局牵头",
            )
        lo, hi = NATIONAL_DAY
        for town in d.towns[:3]:
            for sub in ("09006", "09001"):
                for t in self.targets(sub):
                    self.add(
                        event=t,
                        area=town.code,
                        department="dx-cgzf",
                        co_handlers=(LOCAL,),
                        priority=10,
                        deadline_hours=1.0,
                        valid_from=lo,
                        valid_to=hi,
                        basis="区城管执法局三定方案",
                        note="国庆重大活动保障：城管执法直接处置",
                    )
        lo, hi = TWO_SESSIONS
        for t in self.targets("06010"):
            self.add(
                event=t,
                area=d.towns[0].code,
                department="dx-hwzx",
                priority=10,
                deadline_hours=2.0,
                valid_from=lo,
                valid_to=hi,
                basis=LAWS["srhw"],
                note="全国两会期间环境保障",
            )


def _outcome(row: RuleRow) -> tuple:
    return (row.department, row.co_handlers, row.deadline_hours)


_GRID_LABEL = {COMMUNITY: "社区", VILLAGE: "村庄", PARK: "园区"}


def build_rules(
    events: Iterable[Event], areas: Iterable[Area], departments: Iterable[Department], rng: random.Random
) -> list[RuleRow]:
    """Every rule of one district (Daxing's codes), in the order the layers wrote them."""
    layers = Layers(District(events, areas, departments), rng)
    layers.choose_modes()
    layers.defaults()
    layers.partial()
    layers.village_split()
    layers.park_split()
    layers.town_matrix()
    layers.town_mediation()
    layers.grid_exceptions()
    layers.unit_exceptions()
    layers.sources()
    layers.seasons()
    return layers.book.rows
