#!/usr/bin/env bash
# A long tail of categories (issue 26): Strata's extraction and features on
# an orders table whose category column has thousands of levels, timed with
# and without the category column mapped. It generates the orders once
# (bench/longtail -gen: customer_id, ts, amount and a Zipf-distributed
# product over the levels, Parquet), then times, back to back in the same
# script run, each under GNU time (peak RSS) with 2 threads:
#
#   plain     bench/longtail -orders F             (no category column)
#   category  bench/longtail -orders F -category   (product as the category)
#
# and prints a table: the sizes, each side's wall and CPU seconds, their
# ratios (category / plain) and each process's peak RSS. A second table
# does the same for a whole `strata run` (extract ... publish, bench/e2e's
# configuration) with and without the category mapped. The target is a
# wall ratio of at most 1.5.
#
#   bench/longtail/run.sh [CUSTOMERS LINES [LEVELS]]   (default 1000000 20000000 5000)
#
# Environment:
#   STRATA_BENCH_DIR     scratch for data and binary (default $TMPDIR/strata-bench)
#   STRATA_BENCH_WHOLE   0 skips the whole-run table (default 1)
#   STRATA_BENCH_INNER   timings inside each process, the fastest reported
#                        (default 3: a shared machine's noise only slows)
#   STRATA_BENCH_REPEAT  timed pairs (default 3); odd pairs run plain first,
#                        even pairs category first; the medians and their
#                        ratio follow
#   STRATA_BENCH_LOCK    lock file taken around each timed run so that only
#                        one benchmark uses the machine at a time (default
#                        /tmp/strata-bench.lock); set it empty if you already
#                        hold the lock
#   STRATA_BENCH_MAX_BUSY  before each timed run, wait (up to 10 min) until
#                        other processes use less than this % of the CPUs
#                        (default 15); the busy % seen is printed per row
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${STRATA_BENCH_DIR:-${TMPDIR:-/tmp}/strata-bench}
repeat=${STRATA_BENCH_REPEAT:-3}
inner=${STRATA_BENCH_INNER:-3}
lock=${STRATA_BENCH_LOCK-/tmp/strata-bench.lock}
max_busy=${STRATA_BENCH_MAX_BUSY:-15}
customers=${1:-1000000}
lines=${2:-20000000}
levels=${3:-5000}

die() { echo "run.sh: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
command -v go >/dev/null || die "Go is needed to build the Strata side"
if [ -n "$lock" ]; then command -v flock >/dev/null || die "flock is needed (util-linux), or set STRATA_BENCH_LOCK="; fi

mkdir -p "$dir/longtail"
bin="$dir/strata-longtail"
(cd "$repo" && go build -o "$bin" ./bench/longtail) || die "building bench/longtail failed"
export GOMAXPROCS=2

# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"

data="$dir/longtail/orders_${customers}_${lines}_${levels}.parquet"
if [ ! -s "$data" ]; then
	echo "run.sh: generating $customers customers, $lines lines, $levels levels" >&2
	"$bin" -gen "$data.tmp" -customers "$customers" -lines "$lines" -levels "$levels"
	mv "$data.tmp" "$data"
fi

# side NAME: one timed run; prints "wall cpu rss_mib busy".
side() {
	local flag=() b
	[ "$1" = category ] && flag=(-category)
	b=$(wait_quiet)
	locked /usr/bin/time -v -o "$dir/longtail/$1.time" "$bin" -orders "$data" -workers 2 -repeat "$inner" "${flag[@]}" >"$dir/longtail/$1.json"
	local rss
	rss=$(awk -F': ' '/Maximum resident/ {print int($2/1024)}' "$dir/longtail/$1.time")
	python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3f %.3f" % (r["total_s"], r["cpu_s"]), sys.argv[2], sys.argv[3])' \
		"$dir/longtail/$1.json" "$rss" "$b"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# table TIMER: $repeat pairs of TIMER plain and TIMER category, alternating
# which goes first, a row each, then the medians and their ratio.
table() {
	local timer=$1 rep p_s p_c p_m p_b c_s c_c c_m c_b pw=() cw=()
	printf '%-9s %-9s %-6s %-4s %9s %9s %9s %9s %8s %8s %9s %9s %5s\n' customers lines levels pair \
		plain_s cat_s plain_cpu cat_cpu ratio cpu_ratio plain_mib cat_mib busy
	for rep in $(seq 1 "$repeat"); do
		if [ $((rep % 2)) -eq 1 ]; then
			read -r p_s p_c p_m p_b < <("$timer" plain)
			read -r c_s c_c c_m c_b < <("$timer" category)
		else
			read -r c_s c_c c_m c_b < <("$timer" category)
			read -r p_s p_c p_m p_b < <("$timer" plain)
		fi
		pw+=("$p_s") cw+=("$c_s")
		printf '%-9s %-9s %-6s %-4s %9s %9s %9s %9s %8.2f %8.2f %9s %9s %5s\n' "$customers" "$lines" "$levels" "$rep" \
			"$p_s" "$c_s" "$p_c" "$c_c" "$(echo "$c_s / $p_s" | bc -l)" "$(echo "$c_c / $p_c" | bc -l)" "$p_m" "$c_m" "$((p_b > c_b ? p_b : c_b))"
	done
	local pm cm
	pm=$(median "${pw[@]}") cm=$(median "${cw[@]}")
	printf 'median    plain %.3f s, category %.3f s, ratio %.2f (target <= 1.5)\n' "$pm" "$cm" "$(echo "$cm / $pm" | bc -l)"
}

table side

# The same question for a whole `strata run` (extract, features, RFM,
# BG/NBD + Gamma-Gamma, k-means, publish) on the same file, with and without
# product mapped as the category: what the issue's "the same run" is. The
# configuration is bench/e2e's (no bounds, fixed k); the category run also
# publishes the category shares. Set STRATA_BENCH_WHOLE=0 to skip it.
[ "${STRATA_BENCH_WHOLE:-1}" = 1 ] || exit 0
strata="$dir/strata-longtail-run"
(cd "$repo" && go build -o "$strata" ./cmd/strata) || die "building strata failed"
in="$dir/longtail/in_${customers}_${lines}_${levels}"
mkdir -p "$in/orders"
[ -e "$in/orders/part-0.parquet" ] || ln "$data" "$in/orders/part-0.parquet" 2>/dev/null || cp "$data" "$in/orders/part-0.parquet"
for s in plain category; do
	sed -e "s|\${E2E_INPUT}|$in|; s|\${E2E_OUTPUT}|$dir/longtail/out-$s|; s|\${E2E_COMPRESSION:-zstd}|zstd|; s|\${E2E_K:-8}|8|; s|\${E2E_NINIT:-10}|10|" \
		"$repo/bench/e2e/strata.yaml" >"$dir/longtail/$s.yaml"
done
sed -i 's|^      amount: amount$|      amount: amount\n      category: product|' "$dir/longtail/category.yaml"
grep -q 'category: product' "$dir/longtail/category.yaml" || die "could not map the category in $dir/longtail/category.yaml"

# run NAME: one timed `strata run`; prints "wall cpu rss_mib busy".
run() {
	local b
	b=$(wait_quiet)
	locked /usr/bin/time -f '%e %U %S %M' -o "$dir/longtail/$1.run.time" \
		"$strata" run --config "$dir/longtail/$1.yaml" --as-of 2024-12-31 --force --log-level error >/dev/null
	awk -v b="$b" '{printf "%.3f %.3f %d %s\n", $1, $2 + $3, $4 / 1024, b}' "$dir/longtail/$1.run.time"
}

echo
echo "whole strata run (extract ... publish), same file:"
table run
