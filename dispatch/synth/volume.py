"""How often each work item is reported: a Zipf-like weight per item, from the item codes alone.

Shared by the case generator (to draw items) and the rule generator (to leave a known share
of case volume uncovered). A few street-level items dominate, as in every city's grid data;
the rest get ranks in a fixed pseudo-random order, so the weights do not depend on any seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

# subcategories that dominate grid-patrol and hotline volume, most frequent first
HOT_SUBCATEGORIES = (
    "06010",  # 暴露垃圾
    "09009",  # 机动车乱停放
    "09006",  # 占道经营
    "07001",  # 非法小广告
    "06036",  # 乱堆杂物
    "09005",  # 店外经营
    "06042",  # 垃圾站（箱）满溢
    "09010",  # 非机动车乱停放
    "06012",  # 道路不洁
    "09001",  # 无照经营游商
    "07002",  # 街头散发广告
    "06011",  # 积存垃圾渣土
    "09011",  # 共享单车乱象
    "06014",  # 道路遗撒（洒）
    "08004",  # 工地扬尘
    "06001",  # 私搭乱建
    "06028",  # 噪声扰民
    "06017",  # 绿地脏乱
    "07007",  # 违规标语宣传品
    "06007",  # 沿街晾挂
)

ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 2.0
_ORDER_SEED = 47678  # fixed: the volume model is part of the data, not of a run


def item_ranks(items: Iterable[str]) -> dict[str, int]:
    """Rank (0 = most frequent) of each item code.

    Hot subcategories' first items lead, then their other items round by round, then every
    other item in a fixed shuffled order.
    """
    codes = sorted(set(items))
    by_sub: dict[str, list[str]] = {}
    for code in codes:
        by_sub.setdefault(code[:-3], []).append(code)
    hot = [s for s in HOT_SUBCATEGORIES if s in by_sub]
    ordered: list[str] = []
    depth = 0
    while any(depth < len(by_sub[s]) for s in hot):
        ordered.extend(by_sub[s][depth] for s in hot if depth < len(by_sub[s]))
        depth += 1
    taken = set(ordered)
    rest = [c for c in codes if c not in taken]
    random.Random(_ORDER_SEED).shuffle(rest)
    ordered.extend(rest)
    return {code: rank for rank, code in enumerate(ordered)}


def item_weights(items: Iterable[str]) -> dict[str, float]:
    """Share of case volume per item code; the shares sum to 1."""
    ranks = item_ranks(items)
    raw = {code: 1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT for code, rank in ranks.items()}
    total = sum(raw.values())
    return {code: w / total for code, w in sorted(raw.items())}
