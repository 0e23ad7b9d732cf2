#!/usr/bin/env python3
"""Prints bench/e2e/run.sh's tables for one data set.

    report.py CUSTOMERS ORDERS RUN            one run's table and checks
    report.py CUSTOMERS ORDERS RUN RUN...     the medians over the runs

Each RUN directory holds what one repetition left: duck.*, polars.*,
sklearn.*, duckpub.*, polarspub.* (the peers) and strata.* (GNU time reports, stdout JSON, Strata's
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


def stage_seconds(e):
    """A "stage finished" log line's duration: duration_seconds now,
    duration in milliseconds before."""
    if "duration_seconds" in e:
        return e["duration_seconds"]
    return e["duration"] / 1000


def last_json(run, name):
    with open(f"{run}/{name}.out") as f:
        return json.loads(f.read().strip().splitlines()[-1])


def busy(run):
    out = []
    for name in ("duck", "polars", "sklearn", "strata", "duckpub", "polarspub"):
        try:
            with open(f"{run}/busy.{name}") as f:
                out.append(f.read().strip())
        except OSError:
            out.append("?")
    return "/".join(out)


def optional(run, name):
    """The JSON and GNU time figures of a peer process, or Nones when the
    run has none (a run from before Polars was a peer)."""
    try:
        return last_json(run, name), gnu_time(run, name)
    except (OSError, ValueError, AttributeError):
        return None, (NAN, NAN)


PEERS = ("DuckDB", "Polars")


def strata_stages(run):
    """Strata's stages as its log tells them, in order: (stage, seconds,
    peak MiB or NaN)."""
    out = []
    with open(f"{run}/strata.err") as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("message") == "stage finished":
                out.append((e["stage"], stage_seconds(e), e.get("peak_rss_mib", NAN)))
    return out


def figures(run):
    """The run's rows: (stage, (strata s, MiB), {peer: (s, MiB)}, what the
    peers do), then the checks' text. A peer a stage does not have is
    missing from its dict; "sklearn" is the pandas + scikit-learn half that
    both engines hand their features to."""
    duck, (duck_wall, duck_rss) = last_json(run, "duck"), gnu_time(run, "duck")
    sk, (sk_wall, sk_rss) = last_json(run, "sklearn"), gnu_time(run, "sklearn")
    pub, (_, pub_rss) = last_json(run, "duckpub"), gnu_time(run, "duckpub")
    pol, (pol_wall, pol_rss) = optional(run, "polars")
    ppub, (_, ppub_rss) = optional(run, "polarspub")
    st_wall, st_rss = gnu_time(run, "strata")
    stages = {name: (s, m) for name, s, m in strata_stages(run)}

    def st(*names):
        s = sum(stages[n][0] for n in names if n in stages)
        m = max((stages[n][1] for n in names if n in stages), default=NAN)
        return s, m

    def both(d, p):
        out = {"DuckDB": d}
        if p is not None:
            out["Polars"] = p
        return out

    rows = [
        ("read + RFM aggregate", st("extract", "features", "rfm"),
         both((duck["agg_s"] + duck["scores_s"], duck_rss), pol and (pol["agg_s"] + pol["scores_s"], pol_rss)),
         "agg + NTILE (DuckDB SQL; Polars lazy scan, group_by, ordinal ranks)"),
        ("hand-off to Python", (0.0, NAN),
         both((duck["handoff_s"] + sk["read_s"], NAN), pol and (pol["handoff_s"] + sk["read_s"], NAN)),
         "CSV out + pandas read (of DuckDB's CSV, timed once)"),
        ("scale + k-means", st("cluster"), {"sklearn": (sk["scale_s"] + sk["kmeans_s"], sk_rss)},
         "log1p, StandardScaler, KMeans (scikit-learn, after either engine)"),
        ("BG/NBD + Gamma-Gamma", st("clv"), {}, "no peer (no lifetimes here)"),
        ("cluster names", st("cluster_names"), {}, "no peer (profiles, names; after the CLV stage: they read P(alive))"),
        ("recommend", st("recommend"), {}, "no peer (no categories in this data)"),
        ("publish", st("publish"), both((pub["publish_s"], pub_rss), ppub and (ppub["publish_s"], ppub_rss)),
         f"each engine writing Strata's segments table ({pub['columns']} columns, {pub.get('codec', 'zstd')})"),
        ("  (peer's own table)", st("publish"),
         both((duck["publish_s"], duck_rss), pol and (pol["publish_s"], pol_rss)), "each engine writing its RFM table (10 columns)"),
    ]
    # Strata resets its high-water mark at each stage (/proc/self/clear_refs),
    # which GNU time's maximum resident size follows: the run's peak is the
    # largest stage's.
    st_rss = max([st_rss] + [m for _, m in stages.values() if m == m])
    rows.append(("whole run (process)", (st_wall, st_rss),
                 both((duck_wall + sk_wall, max(duck_rss, sk_rss)), pol and (pol_wall + sk_wall, max(pol_rss, sk_rss))),
                 "engine + sklearn processes, wall"))
    checks = []
    try:
        model = json.load(open(glob.glob(f"{run}/output/models/dt=*/model.json")[0]))
    except (IndexError, OSError):
        model = None
    if model and model.get("cluster"):
        rfm = [s for s in model["segments"] if s["segment_type"] == "rfm"]
        clv = sum(s.get("total_clv") or 0 for s in rfm)
        si = model["cluster"]["inertia"]
        monetary = sum(s['revenue'] for s in rfm)
        line = (f"segments table: strata {model['counts']['customers']} rows, clv total {clv:.2f}; "
                f"DuckDB's copy {pub['rows']} rows, clv total {pub['check_sum_clv']:.2f}")
        if ppub:
            line += f"; Polars' copy {ppub['rows']} rows, clv total {ppub['check_sum_clv']:.2f}"
        checks.append(line)
        checks.append(f"k-means inertia: strata {si:.1f}, scikit-learn {sk['inertia']:.1f} "
                      f"({100 * (si - sk['inertia']) / sk['inertia']:+.3f}%)")
        line = (f"customers: strata {model['counts']['customers']}, DuckDB {duck['customers']}"
                + (f", Polars {pol['customers']}" if pol else "")
                + f"; monetary total: strata {monetary:.2f}, DuckDB {duck['check_sum_monetary']:.2f}"
                + (f", Polars {pol['check_sum_monetary']:.2f}" if pol else ""))
        checks.append(line)
        ok = duck["customers"] == model["counts"]["customers"] and (not pol or pol["customers"] == duck["customers"])
        for v in [duck["check_sum_monetary"]] + ([pol["check_sum_monetary"]] if pol else []):
            ok = ok and abs(v - monetary) <= 1e-9 * max(1.0, abs(monetary)) + 0.01
        checks.append("checks: " + ("every peer agrees with Strata" if ok else "MISMATCH between Strata and a peer"))
    return rows, checks


def fmt(v, spec):
    width = int(re.match(r"\d+", spec).group(0))
    return "—".rjust(width) if v != v else format(v, spec)


def best(peers):
    """The fastest peer of a stage: (name, (s, MiB)), or (None, NaNs)."""
    have = [(n, v) for n, v in peers.items() if v[0] == v[0]]
    if not have:
        return None, (NAN, NAN)
    return min(have, key=lambda nv: nv[1][0])


def table(rows):
    print(f"{'stage':<22} {'strata s':>9} {'DuckDB s':>9} {'Polars s':>9} {'best s':>9} {'ratio':>6} "
          f"{'strata MiB':>10} {'DuckDB MiB':>10} {'Polars MiB':>10}  best peer: what the peers do")
    for name, (ss, sm), peers, what in rows:
        bn, (bs, _) = best(peers)
        ratio = ss / bs if bs == bs and bs > 0 else NAN
        d, p = peers.get("DuckDB", (NAN, NAN)), peers.get("Polars", (NAN, NAN))
        if "sklearn" in peers:
            d = p = (NAN, peers["sklearn"][1])
        print(f"{name:<22} {fmt(ss, '9.3f')} {fmt(d[0], '9.3f')} {fmt(p[0], '9.3f')} {fmt(bs, '9.3f')} {fmt(ratio, '6.2f')} "
              f"{fmt(sm, '10.0f')} {fmt(d[1], '10.0f')} {fmt(p[1], '10.0f')}  {bn or '—'}: {what}")
    print("ratio = strata / the best peer of the stage; MiB = peak resident size (scale + k-means: scikit-learn's under both).")


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else NAN


def strata_only(customers, orders, run):
    """A run without peers (E2E_STRATA_ONLY=1, for sizes the peers do not
    fit on the machine beside others' work): Strata's stages alone."""
    wall, rss = gnu_time(run, "strata")
    print(f"\n{customers} customers, {orders} orders: Strata alone (machine busy before: "
          f"{busy(run).split('/')[3]}%)")
    print(f"{'stage':<22} {'strata s':>9} {'peak MiB':>9}")
    for name, secs, m in strata_stages(run):
        rss = max(rss, m) if m == m else rss
        print(f"{name:<22} {secs:>9.3f} {fmt(m, '9.0f')}")
    print(f"{'whole run (process)':<22} {wall:>9.3f} {rss:>9.0f}")


def main():
    customers, orders, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if not glob.glob(f"{runs[0]}/duck.time"):
        for r in runs:
            strata_only(customers, orders, r)
        return
    if len(runs) == 1:
        rows, checks = figures(runs[0])
        print(f"\n{customers} customers, {orders} orders (machine busy before each process, "
              f"duck/polars/sklearn/strata/duckpub/polarspub: {busy(runs[0])}%)")
        table(rows)
        for c in checks:
            print(c)
        return
    all_rows = [figures(r)[0] for r in runs]
    print(f"\n{customers} customers, {orders} orders: medians of {len(runs)} runs "
          "(odd runs the peers first, even runs Strata first); ratio = ratio of the medians")
    rows = []
    for i, (name, _, peers0, what) in enumerate(all_rows[0]):
        strata = [r[i][1] for r in all_rows]
        peers = {}
        for peer in peers0:
            vals = [r[i][2][peer] for r in all_rows if peer in r[i][2]]
            peers[peer] = (median(s for s, _ in vals), median(m for _, m in vals))
        rows.append((name, (median(s for s, _ in strata), median(m for _, m in strata)), peers, what))
    table(rows)
    print("ranges (s):")
    for i, (name, _, peers0, _) in enumerate(all_rows[0]):
        ss = sorted(r[i][1][0] for r in all_rows)
        parts = [f"strata {ss[0]:.3f}-{ss[-1]:.3f}"]
        for peer in peers0:
            ps = sorted(r[i][2][peer][0] for r in all_rows if peer in r[i][2] and r[i][2][peer][0] == r[i][2][peer][0])
            if ps:
                parts.append(f"{peer} {ps[0]:.3f}-{ps[-1]:.3f}")
        if len(parts) > 1:
            print(f"  {name.strip():<20} " + ", ".join(parts))


main()
