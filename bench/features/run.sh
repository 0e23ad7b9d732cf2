#!/usr/bin/env bash
# Strata's extraction + behavioural features against DuckDB's aggregate on
# the shared synthetic transactions (issue 6). For each row count (default
# 10000000 50000000) it generates the data once (CSV, then Parquet via
# DuckDB's COPY, as ../shared/bench/bench_rfm_duckdb.cjs does), then times,
# back to back in the same script run, each under GNU time (peak RSS) with
# 2 threads:
#
#   duckdb  node bench_rfm_duckdb.cjs CSV PARQUET 2   (its agg_s is the
#           GROUP BY aggregate; agg_total_s adds the NTILE scores)
#   strata  bench/features -orders PARQUET -workers 2 (extract: read,
#           check, aggregate; compute: the finished feature table)
#
# and prints a table: rows, DuckDB's aggregate seconds, Strata's seconds
# (extract + compute), their ratio, and each process's peak RSS.
#
#   bench/features/run.sh [ROWS...]
#
# Environment:
#   STRATA_SHARED_BENCH  the shared peer scripts (default /work/shared/bench)
#   STRATA_BENCH_DIR     scratch for data and binary (default $TMPDIR/strata-bench)
#   STRATA_BENCH_REPEAT  timed pairs per row count (default 1); every pair is a row,
#                        odd pairs run DuckDB first and even pairs Strata first,
#                        and with more than one the medians and their ratio follow
#   STRATA_BENCH_LOCK    lock file taken around each timed run so that only
#                        one benchmark uses the machine at a time (default
#                        /tmp/strata-bench.lock); set it empty if you already
#                        hold the lock, e.g. flock /tmp/strata-bench.lock run.sh
#   STRATA_BENCH_MAX_BUSY  before each timed run, wait (up to 10 min) until
#                        other processes use less than this % of the CPUs
#                        (default 15); the busy % seen is printed per row
#   STRATA_BENCH_ARGS    extra flags for the Strata side (e.g. -clv)
#   PYTHON               the generator's interpreter (default /usr/bin/python3,
#                        Debian's, with python3-numpy)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${STRATA_SHARED_BENCH:-/work/shared/bench}
dir=${STRATA_BENCH_DIR:-${TMPDIR:-/tmp}/strata-bench}
repeat=${STRATA_BENCH_REPEAT:-1}
lock=${STRATA_BENCH_LOCK-/tmp/strata-bench.lock}
max_busy=${STRATA_BENCH_MAX_BUSY:-15}
python=${PYTHON:-/usr/bin/python3}
extra=${STRATA_BENCH_ARGS:-}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000000 50000000)

die() { echo "run.sh: $*" >&2; exit 1; }
[ -f "$shared/gen_transactions.py" ] && [ -f "$shared/bench_rfm_duckdb.cjs" ] ||
	die "no gen_transactions.py/bench_rfm_duckdb.cjs in $shared (set STRATA_SHARED_BENCH)"
[ -x /usr/bin/time ] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
"$python" -c 'import numpy' 2>/dev/null || die "$python cannot import numpy (apt-get install python3-numpy)"
command -v go >/dev/null || die "Go is needed to build the Strata side"
command -v node >/dev/null || die "node is needed for the DuckDB side"
if [ -n "$lock" ]; then command -v flock >/dev/null || die "flock is needed (util-linux), or set STRATA_BENCH_LOCK="; fi

mkdir -p "$dir/tx"
bin="$dir/strata-features"
(cd "$repo" && go build -o "$bin" ./bench/features) || die "building bench/features failed"
# The project's pinned DuckDB (npm @duckdb/node-api), installed on first use.
duck=$(cd "$repo" && go run ./internal/duckdbtest/install) || die "installing DuckDB failed"
export NODE_PATH="${duck##* in }/node_modules"

export GOMAXPROCS=2

# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"

# timed LOG OUT CMD... runs CMD under the lock and GNU time; stdout to OUT.
timed() {
	local log=$1 out=$2
	shift 2
	locked /usr/bin/time -v -o "$log" "$@" >"$out"
}

run_duck() {
	echo "run.sh: rows=$1 duckdb (rep $2)" >&2
	timed "$dir/duck.time" "$dir/duck.json" node "$shared/bench_rfm_duckdb.cjs" "$csv" "$pq" 2
}
run_strata() {
	echo "run.sh: rows=$1 strata (rep $2)" >&2
	# shellcheck disable=SC2086
	timed "$dir/strata.time" "$dir/strata.json" "$bin" -orders "$pq" -workers 2 $extra
}

rows=()
for n in "${sizes[@]}"; do
	csv="$dir/tx/tx_$n.csv" pq="$dir/tx/tx_$n.parquet"
	if [ ! -f "$csv" ] && [ ! -f "$pq" ]; then
		echo "run.sh: generating $n transactions" >&2
		"$python" "$shared/gen_transactions.py" --rows "$n" --out "$dir/tx" --csv >&2
	fi
	if [ ! -f "$pq" ]; then
		# The peer script converts CSV to Parquet (zstd, 1M-row groups)
		# when the Parquet file is missing; that first run is not timed.
		echo "run.sh: converting $n transactions to Parquet" >&2
		locked node "$shared/bench_rfm_duckdb.cjs" "$csv" "$pq" 2 >/dev/null
	fi
	for ((rep = 1; rep <= repeat; rep++)); do
		# Odd pairs run DuckDB first, even ones Strata: on this VM the
		# process that runs second after a pause pays differently for
		# fresh memory, and alternating cancels the order out of the
		# medians.
		if ((rep % 2 == 1)); then
			b1=$(wait_quiet)
			run_duck "$n" "$rep"
			b2=$(wait_quiet)
			run_strata "$n" "$rep"
		else
			b2=$(wait_quiet)
			run_strata "$n" "$rep"
			b1=$(wait_quiet)
			run_duck "$n" "$rep"
		fi
		rows+=("$("$python" - "$dir" "$b1" "$b2" <<'PY'
import json, re, sys
d, b1, b2 = sys.argv[1:4]
def load(name):
    with open(f"{d}/{name}.json") as f:
        j = json.loads(f.read().strip().splitlines()[-1])
    with open(f"{d}/{name}.time") as f:
        t = f.read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
    return j, rss / 1024
dk, dk_rss = load("duck")
st, st_rss = load("strata")
ok = abs(dk["check_sum_monetary"] - st["check_sum_monetary"]) < 0.01 and dk["customers"] == st["customers"]
print(f'{st["rows"]:>9} {dk["customers"]:>9} {dk["agg_s"]:>8.3f} {dk["agg_total_s"]:>9.3f} {st["total_s"]:>8.3f} '
      f'{st["extract_s"]:>8.3f} {st["compute_s"]:>8.3f} {st["total_s"] / dk["agg_s"]:>6.3f} '
      f'{dk_rss:>7.0f} {st_rss:>7.0f} {"ok" if ok else "DIFFER":>6} {b1:>4}/{b2:<4}')
PY
)")
	done
done

printf '%9s %9s %8s %9s %8s %8s %8s %6s %7s %7s %6s %9s\n' \
	rows customers duck_agg duck_+ntile strata extract compute ratio duckMiB strMiB sums busy%
printf '%s\n' "${rows[@]}"
echo "seconds as each program reports them (DuckDB: its GROUP BY aggregate, then with the NTILE scores; Strata: extract"
echo "(read, check, aggregate per customer) + compute (the finished feature table)); ratio = strata / duck_agg;"
echo "MiB = peak RSS of the whole process (GNU time -v); sums: customer count and total monetary value agree;"
echo "busy% = machine CPU before each run."
if ((repeat > 1)); then
	echo
	echo "medians over the $repeat pairs (odd pairs DuckDB first, even pairs Strata first):"
	printf '%s\n' "${rows[@]}" | "$python" -c '
import collections, statistics, sys
by = collections.defaultdict(list)
for line in sys.stdin:
    f = line.split()
    by[int(f[0])].append((float(f[2]), float(f[4]), float(f[8]), float(f[9])))
print("%9s %8s %8s %6s %7s %7s" % ("rows", "duck_agg", "strata", "ratio", "duckMiB", "strMiB"))
for n, v in by.items():
    d, s = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
    print(f"{n:>9} {d:>8.3f} {s:>8.3f} {s / d:>6.3f} {max(x[2] for x in v):>7.0f} {max(x[3] for x in v):>7.0f}")
'
fi
