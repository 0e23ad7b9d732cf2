#!/usr/bin/env python3
"""Prints bench/e2e/run.sh's tables for one data set.

    report.py CUSTOMERS ORDERS RUN            one run's table and checks
    report.py CUSTOMERS ORDERS RUN RUN...     the medians over the runs

Each RUN directory holds what one repetition left: duck.*, sklearn.*,
duckpub.* (the peer) and strata.* (GNU time reports, stdout JSON, Strata's
JSON log lines with each stage's duration and peak memory), busy.* (how
busy the machine was before each process), and Strata's output/."""
import glob
import json
import re
import statistics
import sys

NAN = float("nan")


def gnu_time(run, name):
    with open(f"{run}/{name}.time") as f:
        t = f.read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return wall, rss


def last_json(run, name):
    with open(f"{run}/{name}.out") as f:
        return json.loads(f.read().strip().splitlines()[-1])


def busy(run):
    out = []
    for name in ("duck", "sklearn", "strata", "duckpub"):
        try:
            with open(f"{run}/busy.{name}") as f:
                out.append(f.read().strip())
        except OSError:
            out.append("?")
    return "/".join(out)


def figures(run):
    """The run's rows: (stage, (strata s, MiB), (peer s, MiB), what the peer does),
    then the whole run's, then the checks' text."""
    duck, (duck_wall, duck_rss) = last_json(run, "duck"), gnu_time(run, "duck")
    sk, (sk_wall, sk_rss) = last_json(run, "sklearn"), gnu_time(run, "sklearn")
    pub, (_, pub_rss) = last_json(run, "duckpub"), gnu_time(run, "duckpub")
    st_wall, st_rss = gnu_time(run, "strata")
    stages = {}
    with open(f"{run}/strata.err") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("message") == "stage finished":
                stages[e["stage"]] = (e["duration"] / 1000, e.get("peak_rss_mib", NAN))

    def st(*names):
        s = sum(stages[n][0] for n in names if n in stages)
        m = max((stages[n][1] for n in names if n in stages), default=NAN)
        return s, m

    rows = [
        ("read + RFM aggregate", st("extract", "features", "rfm"), (duck["agg_s"] + duck["scores_s"], duck_rss),
         "DuckDB agg + NTILE"),
        ("hand-off to Python", (0.0, NAN), (duck["handoff_s"] + sk["read_s"], NAN), "DuckDB CSV out + pandas read"),
        ("scale + k-means", st("cluster"), (sk["scale_s"] + sk["kmeans_s"], sk_rss), "log1p, StandardScaler, KMeans"),
        ("BG/NBD + Gamma-Gamma", st("clv"), (NAN, NAN), "no peer (no lifetimes here)"),
        ("recommend", st("recommend"), (NAN, NAN), "no peer (no categories in this data)"),
        ("publish", st("publish"), (pub["publish_s"], pub_rss),
         f"DuckDB COPY of Strata's segments table ({pub['columns']} columns, {pub.get('codec', 'zstd')})"),
        ("  (peer's own table)", st("publish"), (duck["publish_s"], duck_rss), "DuckDB COPY of its RFM table (10 columns)"),
    ]
    # Strata resets its high-water mark at each stage (/proc/self/clear_refs),
    # which GNU time's maximum resident size follows: the run's peak is the
    # largest stage's.
    st_rss = max([st_rss] + [m for _, m in stages.values() if m == m])
    rows.append(("whole run (process)", (st_wall, st_rss), (duck_wall + sk_wall, max(duck_rss, sk_rss)),
                 "both peer processes, wall"))
    checks = []
    try:
        model = json.load(open(glob.glob(f"{run}/output/models/dt=*/model.json")[0]))
    except (IndexError, OSError):
        model = None
    if model and model.get("cluster"):
        rfm = [s for s in model["segments"] if s["segment_type"] == "rfm"]
        clv = sum(s.get("total_clv") or 0 for s in rfm)
        si = model["cluster"]["inertia"]
        checks.append(f"segments table: strata {model['counts']['customers']} rows, clv total {clv:.2f}; "
                      f"DuckDB's copy {pub['rows']} rows, clv total {pub['check_sum_clv']:.2f}")
        checks.append(f"k-means inertia: strata {si:.1f}, scikit-learn {sk['inertia']:.1f} "
                      f"({100 * (si - sk['inertia']) / sk['inertia']:+.3f}%); "
                      f"customers strata {model['counts']['customers']}, DuckDB {duck['customers']}; "
                      f"monetary total strata {sum(s['revenue'] for s in rfm):.2f}, DuckDB {duck['check_sum_monetary']:.2f}")
    return rows, checks


def fmt(v, spec):
    width = int(re.match(r"\d+", spec).group(0))
    return "—".rjust(width) if v != v else format(v, spec)


def table(rows):
    print(f"{'stage':<22} {'strata s':>9} {'peer s':>9} {'ratio':>6} {'strata MiB':>10} {'peer MiB':>9}  peer")
    for name, (ss, sm), (ps, pm), what in rows:
        ratio = ss / ps if ps == ps and ps > 0 else NAN
        print(f"{name:<22} {fmt(ss, '9.3f')} {fmt(ps, '9.3f')} {fmt(ratio, '6.2f')} {fmt(sm, '10.0f')} {fmt(pm, '9.0f')}  {what}")


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else NAN


def main():
    customers, orders, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if len(runs) == 1:
        rows, checks = figures(runs[0])
        print(f"\n{customers} customers, {orders} orders (machine busy before each process: {busy(runs[0])}%)")
        table(rows)
        for c in checks:
            print(c)
        return
    all_rows = [figures(r)[0] for r in runs]
    print(f"\n{customers} customers, {orders} orders: medians of {len(runs)} runs "
          "(odd runs the peer first, even runs Strata first); ratio = ratio of the medians")
    rows = []
    for i, (name, _, _, what) in enumerate(all_rows[0]):
        strata = [r[i][1] for r in all_rows]
        peer = [r[i][2] for r in all_rows]
        rows.append((name, (median(s for s, _ in strata), median(m for _, m in strata)),
                     (median(s for s, _ in peer), median(m for _, m in peer)), what))
    table(rows)
    print("ranges (s):")
    for i, (name, _, _, _) in enumerate(all_rows[0]):
        ss = sorted(r[i][1][0] for r in all_rows)
        ps = sorted(r[i][2][0] for r in all_rows if r[i][2][0] == r[i][2][0])
        if ps:
            print(f"  {name.strip():<20} strata {ss[0]:.3f}-{ss[-1]:.3f}, peer {ps[0]:.3f}-{ps[-1]:.3f}")


main()
