#!/usr/bin/env bash
# Strata end to end against the pipeline a data team would assemble
# instead, on the same data in the same script run (issue 10):
#
#   data    the shared generator's transactions (1M customers / 20M orders,
#           5M / 100M by default), written once as one Parquet file
#   strata  `strata run` from Parquet: extract, features, RFM, BG/NBD +
#           Gamma-Gamma, k-means (fixed k), publish
#   peer    DuckDB (npm @duckdb/node-api): the RFM aggregation and scores,
#           the scored table written as Parquet, the features handed off as
#           CSV; then pandas + scikit-learn: read, log1p + StandardScaler,
#           KMeans (Lloyd, same k and restarts); and, for the publish
#           stage like for like, DuckDB writing the segments table Strata
#           published (peer_publish.cjs)
#   polars  a second peer for the same two stages: Polars (npm
#           nodejs-polars, pinned, installed by go run ./bench/e2e/polars)
#           doing DuckDB's aggregation, scores and Parquet output
#           (peer_rfm_polars.cjs) and writing Strata's segments table
#           (peer_publish_polars.cjs); the table shows each peer and the
#           best of them per stage
#
# Each side runs under GNU time with 2 threads, back to back, after the
# machine is quiet. The table: wall seconds per stage for each side and
# their ratio, peak memory per stage (Strata's from its own stage logs,
# the peer's per process), totals.
#
#   bench/e2e/run.sh                      # 1000000:20000000 5000000:100000000
#   bench/e2e/run.sh 1000000:20000000     # CUSTOMERS:ORDERS...
#
# Environment: STRATA_SHARED_BENCH (default /work/shared/bench),
# STRATA_BENCH_DIR (scratch, default $TMPDIR/strata-bench), STRATA_BENCH_REPEAT
# (runs of both sides per size, alternating which goes first, then a table
# of the medians; default 1), STRATA_BENCH_LOCK
# (default /tmp/strata-bench.lock; empty if you hold it), STRATA_BENCH_MAX_BUSY
# (default 15), E2E_K (default 8), E2E_NINIT (default 10), E2E_COMPRESSION
# (Strata's output.compression and the codec of DuckDB's copy of its
# segments table; default zstd), PYTHON, STRATA_POLARS_DIR (where the pinned
# Polars packages are installed; default ~/.cache/strata-test/polars),
# E2E_STRATA_ONLY (1: Strata alone, no peers; for 20M customers / 400M
# orders on a machine shared with others, where the peers' memory is not
# there to take).
#
# The data come from the shared generator's numbers written straight into
# memory-mapped .npy files (gen_large.py: the same bytes as
# gen_transactions.py, which holds 24 bytes an order in memory, 9.6 GB at
# 400M orders).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/bench/e2e"
shared=${STRATA_SHARED_BENCH:-/work/shared/bench}
dir=${STRATA_BENCH_DIR:-${TMPDIR:-/tmp}/strata-bench}/e2e
lock=${STRATA_BENCH_LOCK-/tmp/strata-bench.lock}
max_busy=${STRATA_BENCH_MAX_BUSY:-15}
python=${PYTHON:-/usr/bin/python3}
export E2E_K=${E2E_K:-8} E2E_NINIT=${E2E_NINIT:-10} E2E_COMPRESSION=${E2E_COMPRESSION:-zstd}
repeat=${STRATA_BENCH_REPEAT:-1}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000:20000000 5000000:100000000)

die() { echo "run.sh: $*" >&2; exit 1; }
[ -f "$shared/gen_transactions.py" ] || die "no gen_transactions.py in $shared (set STRATA_SHARED_BENCH)"
[ -x /usr/bin/time ] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
"$python" -c 'import numpy, pandas, sklearn' 2>/dev/null ||
	die "$python cannot import numpy/pandas/sklearn (apt-get install python3-numpy python3-pandas python3-sklearn)"
command -v go >/dev/null || die "Go is needed to build Strata"
command -v node >/dev/null || die "node is needed for the DuckDB peer"
if [ -n "$lock" ]; then command -v flock >/dev/null || die "flock is needed (util-linux), or set STRATA_BENCH_LOCK="; fi

mkdir -p "$dir"
(cd "$repo" && go build -o "$dir/strata" ./cmd/strata && go build -o "$dir/e2e" ./bench/e2e) || die "build failed"
duck=$(cd "$repo" && go run ./internal/duckdbtest/install) || die "installing DuckDB failed"
polars=$(cd "$repo" && go run ./bench/e2e/polars) || die "installing Polars failed"
export NODE_PATH="${duck##* in }/node_modules:${polars##* in }/node_modules"
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 GOMAXPROCS=2 POLARS_MAX_THREADS=2

# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"
# timed NAME CMD...: CMD under the lock and GNU time; stdout to NAME.out,
# stderr to NAME.err, GNU time's report to NAME.time.
timed() {
	local name=$1
	shift
	locked /usr/bin/time -v -o "$name.time" "$@" >"$name.out" 2>"$name.err"
}

# warm: read the input once so that the timed process finds it in the
# page cache. Every side gets it before each of its processes: a 20M input
# (4.3 GB) otherwise competes with the other data sets for the cache, and
# one side would be timed reading from disk and the other not.
warm() { cat "$pq" >/dev/null; }

# peer_rfm RUN: the peer pipeline (DuckDB, then pandas + scikit-learn).
peer_rfm() {
	local run=$1
	warm
	wait_quiet >"$run/busy.duck"
	echo "run.sh: $size peer: DuckDB" >&2
	timed "$run/duck" node "$here/peer_rfm.cjs" "$pq" "$run/peer" 2
	warm
	wait_quiet >"$run/busy.polars"
	echo "run.sh: $size peer: Polars" >&2
	timed "$run/polars" node "$here/peer_rfm_polars.cjs" "$pq" "$run/peer" 2
	wait_quiet >"$run/busy.sklearn"
	echo "run.sh: $size peer: pandas + scikit-learn" >&2
	# OpenBLAS core-type overrides some machines set slow numpy down; the
	# peer gets its best case (see ../shared/bench/README.md).
	timed "$run/sklearn" env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$python" "$here/peer_cluster.py" "$run/peer/features.csv" "$E2E_K" "$E2E_NINIT"
}

# strata_run RUN: Strata end to end, then DuckDB writing the segments
# table Strata published (the like-for-like peer of the publish stage).
strata_run() {
	local run=$1
	warm
	wait_quiet >"$run/busy.strata"
	echo "run.sh: $size strata" >&2
	E2E_INPUT="$data/input" E2E_OUTPUT="$run/output" timed "$run/strata" \
		"$dir/strata" run --config "$here/strata.yaml" --as-of 2024-12-31 --log-level info
	wait_quiet >"$run/busy.duckpub"
	echo "run.sh: $size peer: DuckDB writing Strata's segments table" >&2
	local segs
	segs=$(ls "$run"/output/segments/dt=*/part-*.parquet)
	timed "$run/duckpub" node "$here/peer_publish.cjs" "$segs" "$run/peer" 2 "$E2E_COMPRESSION"
	wait_quiet >"$run/busy.polarspub"
	echo "run.sh: $size peer: Polars writing Strata's segments table" >&2
	timed "$run/polarspub" node "$here/peer_publish_polars.cjs" "$segs" "$run/peer" 2 "$E2E_COMPRESSION"
}

for size in "${sizes[@]}"; do
	customers=${size%%:*} orders=${size##*:}
	data="$dir/c${customers}_o${orders}"
	mkdir -p "$data/input/orders"
	pq="$data/input/orders/tx.parquet"
	if [ ! -f "$pq" ]; then
		echo "run.sh: generating $orders orders of $customers customers" >&2
		"$python" "$here/gen_large.py" --shared "$shared" --rows "$orders" --customers "$customers" --out "$data" >&2
		"$dir/e2e" -tx "$data/tx_$orders" -out "$pq"
		rm -f "$data/tx_${orders}"_*.npy
	fi
	runs=()
	for rep in $(seq "$repeat"); do
		run="$data/run$rep"
		rm -rf "$run" "$data/peer" "$data/output"
		mkdir -p "$run/peer"
		# Odd repetitions run the peer first, even ones Strata: on this VM
		# a process started after another pays for fresh memory at a rate
		# that swings from one minute to the next.
		if [ "${E2E_STRATA_ONLY:-0}" = 1 ]; then
			warm
			wait_quiet >"$run/busy.strata"
			echo "run.sh: $size strata (alone)" >&2
			E2E_INPUT="$data/input" E2E_OUTPUT="$run/output" timed "$run/strata" \
				"$dir/strata" run --config "$here/strata.yaml" --as-of 2024-12-31 --log-level info
		elif [ $((rep % 2)) = 1 ]; then
			peer_rfm "$run"
			strata_run "$run"
		else
			strata_run "$run"
			peer_rfm "$run"
		fi
		"$python" "$here/report.py" "$customers" "$orders" "$run"
		runs+=("$run")
	done
	if [ "$repeat" -gt 1 ]; then
		"$python" "$here/report.py" "$customers" "$orders" "${runs[@]}"
	fi
done
