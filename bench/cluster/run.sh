#!/usr/bin/env bash
# Strata k-means against scikit-learn's KMeans(algorithm="lloyd") on the
# shared synthetic customers (issue 5). For each N (default 100000 1000000
# 5000000) it generates the data once, then times sklearn's peer script and
# our bench/cluster binary, each under GNU time (peak RSS) with 2 threads,
# and prints a table: fit wall times, their ratio, inertias, their relative
# difference and peak memory. A second table compares whole processes
# (issue 31): the same sklearn run, from start to exit, against the one-file
# command `strata cluster` on the same data written as Parquet
# (customers_<N>.parquet, 10 DOUBLE columns, zstd, 122,880-row groups),
# k = 8, 10 inits, --scale zscore: wall and CPU seconds, their ratios,
# inertias and peak memory.
#
#   bench/cluster/run.sh [N...]
#
# Environment:
#   STRATA_SHARED_BENCH  the shared peer scripts (default /work/shared/bench)
#   STRATA_BENCH_DIR     scratch for data and binary (default $TMPDIR/strata-bench)
#   STRATA_BENCH_REPEAT  timed pairs per N (default 1); every pair is a row
#   STRATA_BENCH_LOCK    lock file taken around each timed run so that only
#                        one benchmark uses the machine at a time (default
#                        /tmp/strata-bench.lock); set it empty if you already
#                        hold the lock, e.g. flock /tmp/strata-bench.lock run.sh
#   STRATA_BENCH_MAX_BUSY  before each timed run, wait (up to 10 min) until
#                        other processes use less than this % of the CPUs
#                        (default 15); what they took during each run is
#                        printed per row (others%), and a pair during which
#                        they took more is measured again, up to
#   STRATA_BENCH_RETRIES times in all (default 3)
#   PYTHON               the peer's interpreter (default /usr/bin/python3,
#                        Debian's, with python3-sklearn)
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
shared=${STRATA_SHARED_BENCH:-/work/shared/bench}
dir=${STRATA_BENCH_DIR:-${TMPDIR:-/tmp}/strata-bench}
repeat=${STRATA_BENCH_REPEAT:-1}
lock=${STRATA_BENCH_LOCK-/tmp/strata-bench.lock}
max_busy=${STRATA_BENCH_MAX_BUSY:-15}
retries=${STRATA_BENCH_RETRIES:-3}
python=${PYTHON:-/usr/bin/python3}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 5000000)

die() { echo "run.sh: $*" >&2; exit 1; }
[ -f "$shared/gen_customers.py" ] && [ -f "$shared/bench_kmeans.py" ] ||
	die "no gen_customers.py/bench_kmeans.py in $shared (set STRATA_SHARED_BENCH)"
[ -x /usr/bin/time ] || die "GNU time is needed at /usr/bin/time (apt-get install time)"
"$python" -c 'import sklearn, threadpoolctl' 2>/dev/null ||
	die "$python cannot import sklearn (apt-get install python3-sklearn)"
command -v go >/dev/null || die "Go is needed to build the Strata side"
if [ -n "$lock" ]; then command -v flock >/dev/null || die "flock is needed (util-linux), or set STRATA_BENCH_LOCK="; fi

mkdir -p "$dir"
bin="$dir/strata-kmeans"
(cd "$repo" && go build -o "$bin" ./bench/cluster) || die "building bench/cluster failed"
cli="$dir/strata"
(cd "$repo" && go build -o "$cli" ./cmd/strata) || die "building cmd/strata failed"

export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 GOMAXPROCS=2

# shellcheck source=../lib.sh
. "$repo/bench/lib.sh"

# timed LOG OUT CMD... runs CMD under the lock and GNU time; stdout to OUT.
# It also records the machine's CPU counters just before and after CMD (in
# LOG.stat), from which the report works out how much CPU other processes
# took while CMD ran.
timed() {
	local log=$1 out=$2
	shift 2
	locked sh -c 'grep "^cpu " /proc/stat >"$0.stat"; /usr/bin/time -v -o "$0" "$@"; r=$?; grep "^cpu " /proc/stat >>"$0.stat"; exit $r' "$log" "$@" >"$out"
}

# report prints the table row of the last pair, then (last field) the
# larger CPU share, in %, that other processes took during either run.
report() {
	"$python" - "$dir" <<'PY'
import json, re, sys
d = sys.argv[1]
def load(name):
    with open(f"{d}/{name}.json") as f:
        txt = f.read().strip()
    try:
        j = json.loads(txt)  # strata cluster --format json: one indented object
    except ValueError:
        j = json.loads(txt.splitlines()[-1])
    with open(f"{d}/{name}.time") as f:
        tv = f.read()
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv).group(1))
    own = sum(float(re.search(p + r" time \(seconds\): ([\d.]+)", tv).group(1)) for p in ("User", "System"))
    # CPU share other processes took during the run: the machine's busy
    # time minus this process's, over all CPUs' time (jiffies of 1/100 s).
    with open(f"{d}/{name}.time.stat") as f:
        a, b = ([int(v) for v in line.split()[1:9]] for line in f.read().splitlines()[:2])
    delta = [y - x for x, y in zip(a, b)]
    total, idle = sum(delta), delta[3] + delta[4]
    others = max(0.0, 100 * (total - idle - 100 * own) / total) if total else 0.0
    return j, rss / 1024, others
sk, sk_rss, sk_o = load("kmeans-sklearn")
st, st_rss, st_o = load("kmeans-strata")
cl, cl_rss, cl_o = load("cluster-strata")
def whole(name):
    with open(f"{d}/{name}.time") as f:
        tv = f.read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", tv)
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    cpu = sum(float(re.search(p + r" time \(seconds\): ([\d.]+)", tv).group(1)) for p in ("User", "System"))
    return wall, cpu
skw, skc = whole("kmeans-sklearn")
clw, clc = whole("cluster-strata")
with open(f"{d}/whole.row", "w") as f:
    f.write(f'{sk["n"]:>9} {skw:>8.2f} {clw:>8.2f} {clw / skw:>6.3f} {skc:>8.2f} {clc:>8.2f} {clc / skc:>6.3f} '
            f'{sk["inertia"]:>16.1f} {cl["inertia"]:>16.1f} {sk_rss:>8.0f} {cl_rss:>8.0f} {sk_o:>4.0f}/{cl_o:<4.0f}\n')
rel = (st["inertia"] - sk["inertia"]) / sk["inertia"]
print(f'{sk["n"]:>9} {sk["fit_s"]:>9.3f} {st["fit_s"]:>9.3f} {st["fit_s"] / sk["fit_s"]:>6.3f} '
      f'{sk["inertia"]:>16.1f} {st["inertia"]:>16.1f} {100 * rel:>+10.5f}% '
      f'{sk_rss:>8.0f} {st_rss:>8.0f} {sk["n_iter"]:>4} {st["n_iter"]:>4} {sk_o:>4.0f}/{st_o:<4.0f} '
      f'{round(max(sk_o, st_o, cl_o))}')
PY
}

rows=()
wholes=()
for n in "${sizes[@]}"; do
	if [ ! -f "$dir/customers_$n.npy" ]; then
		echo "run.sh: generating $n customers" >&2
		"$python" "$shared/gen_customers.py" --n "$n" --out "$dir" >&2
	fi
	if [ ! -f "$dir/customers_$n.parquet" ]; then
		"$bin" -data "$dir" -n "$n" -write-parquet "$dir/customers_$n.parquet"
	fi
	for ((rep = 1; rep <= repeat; rep++)); do
		for ((try = 1; ; try++)); do
			wait_quiet >/dev/null
			echo "run.sh: n=$n sklearn (rep $rep)" >&2
			timed "$dir/kmeans-sklearn.time" "$dir/kmeans-sklearn.json" "$python" "$shared/bench_kmeans.py" --data "$dir" --n "$n" --case lloyd
			wait_quiet >/dev/null
			echo "run.sh: n=$n strata (rep $rep)" >&2
			timed "$dir/kmeans-strata.time" "$dir/kmeans-strata.json" "$bin" -data "$dir" -n "$n"
			wait_quiet >/dev/null
			echo "run.sh: n=$n strata cluster, whole process (rep $rep)" >&2
			timed "$dir/cluster-strata.time" "$dir/cluster-strata.json" "$cli" cluster --input "$dir/customers_$n.parquet" \
				--k 8 --n-init 10 --seed 0 --scale zscore --format json --log-level error
			out=$(report)
			others=${out##* }
			row=${out% *}
			# Someone else's job during either run skews the pair: measure
			# it again (a few times at most).
			if [ "$others" -lt "$max_busy" ] || [ "$try" -ge "$retries" ]; then
				break
			fi
			echo "run.sh: others used ${others}% of the CPU during the pair, measuring it again" >&2
		done
		rows+=("$row")
		wholes+=("$(cat "$dir/whole.row")")
	done
done

printf '%9s %9s %9s %6s %16s %16s %11s %8s %8s %4s %4s %9s\n' \
	n sklearn_s strata_s ratio sklearn_inertia strata_inertia rel_diff sk_MiB st_MiB skit stit others%
printf '%s\n' "${rows[@]}"
echo "fit wall times (s) as each program reports them; ratio = strata/sklearn; rel_diff = (strata - sklearn)/sklearn inertia;"
echo "MiB = peak RSS of the whole process (GNU time -v); it = n_iter of the best restart;"
echo "others% = share of the machine's CPU other processes used during each run (sklearn/strata): re-run rows where it is high."
echo
echo "whole processes: sklearn's bench_kmeans.py (load .npy, StandardScaler, KMeans) against strata cluster on the same data as Parquet"
echo "(read, z-score, k-means, silhouette on 10k rows, Calinski-Harabasz, Davies-Bouldin):"
printf '%9s %8s %8s %6s %8s %8s %6s %16s %16s %8s %8s %9s\n' \
	n sk_wall st_wall ratio sk_cpu st_cpu ratio sklearn_inertia strata_inertia sk_MiB st_MiB others%
printf '%s\n' "${wholes[@]}"
echo "wall and CPU (user + system) seconds of each whole process under GNU time; ratio = strata/sklearn."
