#!/usr/bin/env python3
"""Prints bench/e2e/run.sh's table for one data set from the files the run
left in DATA: duck.*, sklearn.*, duckpub.* (the peer) and strata.* (GNU time reports,
stdout JSON, Strata's JSON log lines with each stage's duration and peak
memory)."""
import json
import re
import sys

data, customers, orders, busy = sys.argv[1:5]


def gnu_time(name):
    with open(f"{data}/{name}.time") as f:
        t = f.read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return wall, rss


def last_json(name):
    with open(f"{data}/{name}.out") as f:
        return json.loads(f.read().strip().splitlines()[-1])


duck, (duck_wall, duck_rss) = last_json("duck"), gnu_time("duck")
sk, (sk_wall, sk_rss) = last_json("sklearn"), gnu_time("sklearn")
pub, (_, pub_rss) = last_json("duckpub"), gnu_time("duckpub")
st_wall, st_rss = gnu_time("strata")
stages = {}
with open(f"{data}/strata.err") as f:
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("message") == "stage finished":
            stages[e["stage"]] = (e["duration"] / 1000, e.get("peak_rss_mib", float("nan")))
model = None
try:
    import glob
    model = json.load(open(glob.glob(f"{data}/output/models/dt=*/model.json")[0]))
except (IndexError, OSError):
    pass


def st(*names):
    s = sum(stages[n][0] for n in names if n in stages)
    m = max((stages[n][1] for n in names if n in stages), default=float("nan"))
    return s, m


rows = [
    ("read + RFM aggregate", st("extract", "features", "rfm"), (duck["agg_s"] + duck["scores_s"], duck_rss),
     "DuckDB agg + NTILE"),
    ("hand-off to Python", (0.0, float("nan")), (duck["handoff_s"] + sk["read_s"], float("nan")),
     "DuckDB CSV out + pandas read"),
    ("scale + k-means", st("cluster"), (sk["scale_s"] + sk["kmeans_s"], sk_rss), "log1p, StandardScaler, KMeans"),
    ("BG/NBD + Gamma-Gamma", st("clv"), (float("nan"), float("nan")), "no peer (no lifetimes here)"),
    ("recommend", st("recommend"), (float("nan"), float("nan")), "no peer (no categories in this data)"),
    ("publish", st("publish"), (pub["publish_s"], pub_rss),
     f"DuckDB COPY of Strata's segments table ({pub['columns']} columns, {pub.get('codec', 'zstd')})"),
    ("  (peer's own table)", st("publish"), (duck["publish_s"], duck_rss),
     "DuckDB COPY of its RFM table (10 columns)"),
]


def fmt(v, spec):
    width = int(re.match(r"\d+", spec).group(0))
    return "—".rjust(width) if v != v else format(v, spec)


print(f"\n{customers} customers, {orders} orders (machine busy before each run: {busy}%)")
print(f"{'stage':<22} {'strata s':>9} {'peer s':>9} {'ratio':>6} {'strata MiB':>10} {'peer MiB':>9}  peer")
for name, (ss, sm), (ps, pm), what in rows:
    ratio = ss / ps if ps == ps and ps > 0 else float("nan")
    print(f"{name:<22} {fmt(ss, '9.3f')} {fmt(ps, '9.3f')} {fmt(ratio, '6.2f')} {fmt(sm, '10.0f')} {fmt(pm, '9.0f')}  {what}")
peer_total = duck_wall + sk_wall
# Strata resets its high-water mark at each stage (/proc/self/clear_refs),
# which GNU time's maximum resident size follows: the run's peak is the
# largest stage's.
st_rss = max([st_rss] + [m for _, m in stages.values() if m == m])
print(f"{'whole run (process)':<22} {st_wall:9.3f} {peer_total:9.3f} {st_wall / peer_total:6.2f} {st_rss:10.0f} {max(duck_rss, sk_rss):9.0f}"
      "  both peer processes, wall")
if model and model.get("cluster"):
    si = model["cluster"]["inertia"]
    clv = sum(s.get("total_clv") or 0 for s in model["segments"] if s["segment_type"] == "rfm")
    print(f"segments table: strata {model['counts']['customers']} rows, clv total {clv:.2f}; "
          f"DuckDB's copy {pub['rows']} rows, clv total {pub['check_sum_clv']:.2f}")
    print(f"k-means inertia: strata {si:.1f}, scikit-learn {sk['inertia']:.1f} ({100 * (si - sk['inertia']) / sk['inertia']:+.3f}%); "
          f"customers strata {model['counts']['customers']}, DuckDB {duck['customers']}; "
          f"monetary total strata {sum(s['revenue'] for s in model['segments'] if s['segment_type'] == 'rfm'):.2f}, DuckDB {duck['check_sum_monetary']:.2f}")
