"""Locate benchmark: points -> unit grids on the Daxing grid map, our index beside shapely 2's vectorised STRtree.

    .venv/bin/python bench/locate.py            # 5 runs of each figure, 1,000,000 points: about a minute
    .venv/bin/python bench/locate.py --quick    # 1 run, 100,000 points

Measured side by side in one process, on the same map and the same points (uniform in the map's
bounding box, so some fall off the map, plus every polygon's vertices: points on borders):
  build      the index (Locator) from the parsed map; shapely's STRtree build beside it
  batch      our kernel (locate_many, one thread) vs STRtree.query(points, predicate=...) for
             "intersects" (covers, for a point: the border counts) and "within"; agreement: the
             area each gives a point under the border rule (the smaller code), over all points
  single     one point from Python: Locator.locate vs STRtree.query(Point, "intersects"), p50/p99
  service    a case with only a location vs the same case with its area code: Responder.answer
             (p50 of each, the difference), and the batch path (JSON bodies of 1,000 in, answers out)
Every figure is the median of --runs; ratios are medians of per-run ratios. HTTP: bench/http.py
(a batch with locations beside the same batch with codes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

# run as a script, this file's folder comes first on sys.path, where bench/http.py would shadow the
# standard library's `http`: the project root goes in its place
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

import numpy as np
import orjson
import shapely

from dispatch.api.intake import IncomingCase, Location
from dispatch.api.responder import Tally, build_responder
from dispatch.core.locator import Locator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAXING = os.path.join(ROOT, "rules", "daxing")
DECIMALS = 6  # a GPS fix's precision (0.1 m): what a handset sends


def located_cases(rs, cases: list[dict], seed: int = 5) -> list[dict]:
    """The same cases with a location (a point of a unit grid under the case's area, rounded to 6
    decimals) in place of the area: what bench/http.py posts beside the cases with codes. `rs` a RuleSet."""
    gm = rs.gridmap
    index = {code: k for k, code in enumerate(gm.codes)}
    rng = np.random.default_rng(seed)
    inside = shapely.point_on_surface(gm.geometries)
    out = []
    for c in cases:
        units = [a for a in rs.areas.order[rs.areas.pos(c["area"]) : rs.areas.end(c["area"])] if a in index]
        k = index[units[int(rng.integers(len(units)))]]
        p = inside[k]
        located = {key: value for key, value in c.items() if key != "area"}
        located["location"] = {"longitude": round(p.x, DECIMALS), "latitude": round(p.y, DECIMALS)}
        out.append(located)
    return out


def _points(gm, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = shapely.total_bounds(gm.geometries)
    corners = shapely.get_coordinates(gm.geometries)
    pts = np.vstack([rng.uniform((x0, y0), (x1, y1), (max(n - len(corners), 0), 2)), corners])
    return pts[rng.permutation(len(pts))][:n]


def _best(codes: np.ndarray, point_idx: np.ndarray, geom_idx: np.ndarray, n: int) -> np.ndarray:
    """The border rule over shapely's (point, polygon) pairs: the smallest code per point (-1: none)."""
    order = np.lexsort((codes[geom_idx], point_idx))
    p, g = point_idx[order], geom_idx[order]
    first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.empty(0, bool)
    out = np.full(n, -1)
    out[p[first]] = g[first]
    return out


def _timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def _percentiles(fn, args: list, repeat: int = 3) -> tuple[float, float]:
    samples = []
    clock = time.perf_counter_ns
    for _ in range(repeat):
        for a in args:
            t = clock()
            fn(*a)
            samples.append(clock() - t)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="1 run, 100,000 points")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.points = 1, 100_000
    responder = build_responder(DAXING)
    d = responder.dispatcher
    gm = d.ruleset.gridmap
    depths = [d.ruleset.areas.depth(c) for c in gm.codes]
    r: dict = {"points": args.points, "runs": args.runs, "features": len(gm)}

    build, locator = _timed(lambda: Locator(gm.codes, gm.geometries, depths), args.runs)
    tree_build, tree = _timed(lambda: shapely.STRtree(gm.geometries), args.runs)
    r["build_s"], r["strtree_build_s"], r["index_mib"] = build, tree_build, locator.nbytes / 2**20

    pts = _points(gm, args.points, 1)
    xs, ys = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
    geoms = shapely.points(pts)
    codes = np.asarray(gm.codes)
    locator.locate_many(xs[:10], ys[:10])  # compiled before timing
    ours, shp, within = [], [], []
    for _ in range(args.runs):  # one run: each side once, so a slow spell slows both
        t = time.perf_counter()
        got = locator.locate_many(xs, ys)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        pairs = tree.query(geoms, predicate="intersects")
        shp.append(time.perf_counter() - t)
        t = time.perf_counter()
        tree.query(geoms, predicate="within")
        within.append(time.perf_counter() - t)
    want = _best(codes, pairs[0], pairs[1], len(pts))
    r["batch"] = {
        "ours_points_per_s": len(pts) / statistics.median(ours),
        "strtree_intersects_points_per_s": len(pts) / statistics.median(shp),
        "strtree_within_points_per_s": len(pts) / statistics.median(within),
        "ratio_vs_intersects": statistics.median(s / o for o, s in zip(ours, shp, strict=True)),
        "ratio_vs_within": statistics.median(w / o for o, w in zip(ours, within, strict=True)),
        "agree": int((got == want).sum()),
        "on_map": int((want >= 0).sum()),
    }

    few = [(float(x), float(y)) for x, y in pts[:20000]]
    r["single_ours_us"] = _percentiles(locator.locate, few)
    r["single_strtree_us"] = _percentiles(
        lambda x, y: tree.query(shapely.Point(x, y), predicate="intersects"), few[:5000]
    )

    # the service: a case with its area code vs the same case with a location only
    sample = [row for row in _sample_cases(2000)]
    with_location = located_cases(responder.ruleset, sample)
    coded = [IncomingCase(c["id"], c["event"], c["area"], c["source"], c["reported_at"]) for c in sample]
    placed = [
        IncomingCase(
            c["id"],
            c["event"],
            None,
            c["source"],
            c["reported_at"],
            Location(c["location"]["longitude"], c["location"]["latitude"], 0),
        )
        for c in with_location
    ]
    for case in coded[:50] + placed[:50]:
        responder.answer(case)
    code_us = _percentiles(responder.answer, [(c,) for c in coded], repeat=5)
    place_us = _percentiles(responder.answer, [(c,) for c in placed], repeat=5)
    r["service_single_us"] = {"area": code_us, "location": place_us, "extra_p50_us": place_us[0] - code_us[0]}
    bodies = {
        "area": [orjson.dumps({"cases": sample[i : i + 1000]}) for i in range(0, 2000, 1000)],
        "location": [orjson.dumps({"cases": with_location[i : i + 1000]}) for i in range(0, 2000, 1000)],
    }
    rates: dict = {"area": [], "location": []}
    for _ in range(args.runs):
        for name, group in bodies.items():
            t = time.perf_counter()
            for _ in range(5):
                for body in group:
                    assert responder.batch_from_body(body, 10_000, Tally.empty()) is not None
            rates[name].append(10 * 1000 / (time.perf_counter() - t))
    r["service_batch_cases_per_s"] = {k: statistics.median(v) for k, v in rates.items()}
    r["service_batch_ratio"] = statistics.median(lo / a for a, lo in zip(rates["area"], rates["location"], strict=True))
    print(render(r))
    out = os.path.join(ROOT, "bench", "out")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "locate.json"), "w") as f:
        json.dump(r, f, indent=2)
    return 0


def _sample_cases(n: int) -> list[dict]:
    import csv

    with open(os.path.join(DAXING, "cases-sample.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [{k: row[k] for k in ("id", "event", "area", "source", "reported_at")} for row in rows]


def render(r: dict) -> str:
    b = r["batch"]
    s = r["service_single_us"]
    return "\n".join(
        [
            f"Daxing grid map: {r['features']:,} unit grids; {r['points']:,} points (uniform in the bounding box, and every vertex); median of {r['runs']}",
            f"build     our index {r['build_s'] * 1000:.0f} ms ({r['index_mib']:.1f} MiB); shapely STRtree {r['strtree_build_s'] * 1000:.0f} ms",
            (
                f"batch     ours {b['ours_points_per_s'] / 1e6:.1f} M points/s; STRtree.query intersects "
                f"{b['strtree_intersects_points_per_s'] / 1e6:.2f} M/s (ours {b['ratio_vs_intersects']:.1f}x), "
                f"within {b['strtree_within_points_per_s'] / 1e6:.2f} M/s (ours {b['ratio_vs_within']:.1f}x)"
            ),
            f"agree     {b['agree']:,} of {r['points']:,} points get the same area as shapely's intersects + the border rule ({b['on_map']:,} on the map)",
            f"single    ours p50 {r['single_ours_us'][0]:.2f} us, p99 {r['single_ours_us'][1]:.2f} us; STRtree.query(Point) p50 {r['single_strtree_us'][0]:.2f} us, p99 {r['single_strtree_us'][1]:.2f} us",
            (
                f"service   one case, Responder.answer: area code p50 {s['area'][0]:.2f} us (p99 {s['area'][1]:.2f}), "
                f"location only p50 {s['location'][0]:.2f} us (p99 {s['location'][1]:.2f}): {s['extra_p50_us']:.2f} us more"
            ),
            (
                f"          batches of 1,000 from JSON bytes: area codes {r['service_batch_cases_per_s']['area'] / 1e6:.2f} "
                f"M cases/s, locations {r['service_batch_cases_per_s']['location'] / 1e6:.2f} M cases/s "
                f"({r['service_batch_ratio']:.0%})"
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
