"""The responsible units: 70 district departments and the 22 town/street governments.

Only a few district names are confirmed in public sources (domain-facts §2); the rest are
the conventional Beijing names and say so in the `note` column. Codes are ASCII and
stable: `dx-<pinyin initials>` for district units, `gov-<town code>` for local governments.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.synth.areas import TOWNS, Town, town_code

CONFIRMED = "name confirmed in public sources"
UNVERIFIED = "conventional name, unverified"
LOCAL_NOTE = "NBS town name; conventional office name"


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    command_system: str
    governs: str = ""
    note: str = ""


# code suffix, name, command system, confirmed?
_DISTRICT: tuple[tuple[str, str, str, bool], ...] = (
    ("cgw", "区城市管理委员会", "municipal", False),
    ("cgzf", "区城管执法局", "municipal", True),
    ("sthj", "区生态环境局", "municipal", True),
    ("shuiwu", "区水务局", "municipal", False),
    ("jt", "区交通局", "municipal", False),
    ("zjw", "区住房城乡建设委", "municipal", False),
    ("yl", "区园林绿化局", "municipal", False),
    ("ghzr", "区规划和自然资源分局", "municipal", False),
    ("hwzx", "区市容环境卫生中心", "municipal", False),
    ("glfj", "区公路分局", "municipal", False),
    ("ps", "区排水集团", "municipal", False),
    ("zls", "区自来水公司", "municipal", False),
    ("rl", "区热力公司", "municipal", False),
    ("rq", "区燃气集团大兴分公司", "municipal", False),
    ("gd", "区供电公司", "municipal", False),
    ("ld", "区路灯管理中心", "municipal", False),
    ("tx-dx", "中国电信大兴分公司", "municipal", False),
    ("tx-yd", "中国移动大兴分公司", "municipal", False),
    ("tx-lt", "中国联通大兴分公司", "municipal", False),
    ("tx-gh", "歌华有线大兴分公司", "municipal", False),
    ("tx-tt", "中国铁塔大兴分公司", "municipal", False),
    ("zhzx", "区城市管理指挥中心", "municipal", True),
    ("wgb", "区网格办", "municipal", True),
    ("tc", "区停车管理中心", "municipal", False),
    ("hzb", "区河长制办公室", "municipal", False),
    ("szss", "区市政设施管理中心", "municipal", False),
    ("gj", "公交集团大兴分公司", "municipal", False),
    ("yz", "区邮政管理局", "municipal", False),
    ("shangwu", "区商务局", "municipal", False),
    ("ny", "区农业农村局", "municipal", False),
    ("nyzf", "区农业综合执法大队", "municipal", False),
    ("qx", "区气象局", "municipal", False),
    ("fgw", "区发展改革委", "municipal", False),
    ("scjg", "区市场监管局", "safety", False),
    ("yj", "区应急管理局", "safety", False),
    ("xf", "区消防救援支队", "safety", False),
    ("ajz", "区建设工程安全质量监督站", "safety", False),
    ("jx", "区经济和信息化局", "safety", False),
    ("mf", "区民防局", "safety", False),
    ("tzsb", "区特种设备检测所", "safety", False),
    ("yjzx", "区应急指挥中心", "safety", False),
    ("zzb", "区综治办", "governance", True),
    ("zfw", "区委政法委", "governance", False),
    ("ga", "公安大兴分局", "governance", False),
    ("jgzd", "公安大兴分局交通支队", "governance", False),
    ("sf", "区司法局", "governance", False),
    ("xfb", "区信访办", "governance", False),
    ("lgb", "区流动人口和出租房屋服务管理办公室", "governance", False),
    ("jdb", "区禁毒办", "governance", False),
    ("mdtc", "区矛盾纠纷多元调处中心", "governance", False),
    ("shgw", "区委社会工委", "social", True),
    ("shb", "区社会办", "social", True),
    ("zwfw", "区政务服务局", "social", True),
    ("mz", "区民政局", "social", False),
    ("rs", "区人力社保局", "social", False),
    ("ldjc", "区劳动保障监察大队", "social", False),
    ("jyzx", "区就业服务中心", "social", False),
    ("wj", "区卫生健康委", "social", False),
    ("wsjd", "区卫生健康监督所", "social", False),
    ("jw", "区教委", "social", False),
    ("cl", "区残联", "social", False),
    ("fl", "区妇联", "social", False),
    ("tw", "团区委", "social", False),
    ("yb", "区医疗保障局", "social", False),
    ("tyjr", "区退役军人事务局", "social", False),
    ("ty", "区体育局", "social", False),
    ("whly", "区文化和旅游局", "social", False),
    ("ll", "区老龄办", "social", False),
    ("wyzx", "区物业管理服务中心", "social", False),
    ("cz", "区财政局", "social", False),
)


def local_government_name(town: Town) -> str:
    if town.name.endswith("街道"):
        return f"{town.name}办事处"
    if town.name.endswith("地区"):
        return f"{town.name}办事处"
    return f"{town.name}人民政府"


def local_code(town_area_code: str) -> str:
    return f"gov-{town_area_code}"


def build_departments() -> list[Department]:
    """District departments (in table order), then the 22 local governments by town code."""
    depts = [
        Department(f"dx-{suffix}", name, system, "", CONFIRMED if confirmed else UNVERIFIED)
        for suffix, name, system, confirmed in _DISTRICT
    ]
    for town in TOWNS:
        code = town_code(town)
        depts.append(Department(local_code(code), local_government_name(town), "local", code, LOCAL_NOTE))
    return depts
