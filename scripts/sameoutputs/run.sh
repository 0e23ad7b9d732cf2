#!/usr/bin/env bash
# run.sh OLD NEW: do two revisions publish the same bytes?
#
# Builds strata at OLD and NEW (git revisions), runs each on one generated
# input with the demo configuration — single-process and as a 3-shard run
# (fit, 3 × run --shard, finish), over two as-of dates so that the second
# has a previous run — and compares every published file (compare.py:
# Parquet byte for byte, text with the attempt ids, run ids and ETags
# masked, since local ETags hash inode numbers). For refactors that must
# not change outputs (issue 28); exits 1 when a file differs.
set -euo pipefail
old=${1:?usage: run.sh OLD NEW}
new=${2:?usage: run.sh OLD NEW}
customers=${CUSTOMERS:-30000}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/src-old" >/dev/null 2>&1 || true; git -C "$root" worktree remove --force "$work/src-new" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for side in old new; do
	rev=${!side}
	git -C "$root" worktree add -q --detach "$work/src-$side" "$rev"
	(cd "$work/src-$side" && go build -o "$work/strata-$side" ./cmd/strata)
done
"$work/strata-old" generate --dir "$work/input" --customers "$customers" --log-level error
sed "s|location: \${STRATA_DEMO_DIR:-./strata-demo}/input|location: $work/input|; s|location: \${STRATA_DEMO_DIR:-./strata-demo}/output|location: \${SAME_OUT}|" \
	"$root/configs/demo.yaml" >"$work/cfg.yaml"
for side in old new; do
	out="$work/out-$side"
	for day in 2025-05-31 2025-06-30; do
		SAME_OUT="$out/single" "$work/strata-$side" run --config "$work/cfg.yaml" --as-of "$day" --log-level error >/dev/null
		export SAME_OUT="$out/sharded"
		"$work/strata-$side" fit --config "$work/cfg.yaml" --as-of "$day" --log-level error >/dev/null
		for i in 0 1 2; do
			"$work/strata-$side" run --config "$work/cfg.yaml" --as-of "$day" --shard "$i/3" --log-level error >/dev/null
		done
		"$work/strata-$side" finish --config "$work/cfg.yaml" --as-of "$day" --shards 3 --log-level error >/dev/null
		unset SAME_OUT
	done
	# What differs by run, not by code: run ids and lease records.
	rm -rf "$out"/*/_strata/runs "$out"/*/_strata/locks
done
python3 "$root/scripts/sameoutputs/compare.py" "$work/out-old" "$work/out-new"
