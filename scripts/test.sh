#!/usr/bin/env bash
# The whole test suite: what CI runs, what a newcomer runs.
#
# It installs what the tests need into caches, saying what and why:
#   - versitygw, pinned: a real S3 server for the S3 backend's tests
#     (go install, into $(go env GOPATH)/bin; no root);
#   - DuckDB's npm package: an independent reader of the Parquet we write;
#   - playwright-core (npm, pinned) driving a headless Chromium that opens
#     the run report. Chromium is Debian's package: found at
#     /usr/bin/chromium, or wherever CHROMIUM=/path/to/chromium says. Only
#     when neither exists does the script install it with apt-get, which
#     needs root; it waits up to 5 minutes for another apt/dpkg (an
#     unattended upgrade) to release the package manager's lock instead of
#     failing. With every tool present it needs no root at all.
# then runs vet, the tests, and the race detector on the packages with
# worker pools, and lists the ten slowest tests at the end (the full
# `go test -json` stream is kept in $TEST_JSON, default
# .cache/test.json). Tests that need a real S3 server start versitygw
# themselves on a free 127.0.0.1 port with a temporary directory, and stop
# it.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "test.sh: node and npm are required (DuckDB reader)" >&2; exit 1; }

# Each step says when it started: where a slow run spends its time.
step() { echo "== $1 (at ${SECONDS}s)"; }

step "install test dependencies"
scripts/install-versitygw.sh
# DuckDB is installed by the tests on first use; doing it here keeps the
# download out of any test's time.
go run ./internal/duckdbtest/install
# Headless Chromium (Debian's) opens the run report in a test, driven by the
# pinned npm playwright-core, which downloads no browser of its own.
if [[ -n "${CHROMIUM:-}" ]]; then
	[[ -x "$CHROMIUM" ]] || { echo "test.sh: CHROMIUM=$CHROMIUM is not an executable" >&2; exit 1; }
	echo "using Chromium at $CHROMIUM (CHROMIUM)"
elif [[ -x /usr/bin/chromium ]]; then
	echo "using Chromium at /usr/bin/chromium"
else
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "installing Debian's chromium (apt-get; the report test opens the HTML report in it)"
		# Another apt/dpkg (unattended-upgrades on a fresh machine) may hold
		# the lock: wait for it rather than fail.
		apt=(apt-get -o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
		"${apt[@]}" update -qq
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends chromium >/dev/null
	else
		echo "test.sh: Chromium is required for the report test: apt-get install chromium (as root), or set CHROMIUM=/path/to/chromium" >&2
		exit 1
	fi
fi
go run ./internal/browsertest/install

step "go vet"
go vet ./...

step "go test"
# -json to a file for the slowest-tests summary; the summary prints the
# usual ok / FAIL lines and failing tests' output as go test would.
TEST_JSON="${TEST_JSON:-.cache/test.json}"
mkdir -p "$(dirname "$TEST_JSON")"
go build -o .cache/testsummary ./internal/testsummary
go test -json -count=1 -timeout 15m ./... | tee "$TEST_JSON" | .cache/testsummary -slowest 10

step "go test -race (packages with goroutines)"
# Every package whose own (non-test) code starts goroutines, uses an
# errgroup or a sync.WaitGroup's Go, found afresh each run so that a new
# worker pool is covered without anyone remembering to list it; plus the
# packages the old list named explicitly.
race_pkgs=()
while read -r pkg dir; do
	if grep -lE '^\s*go (func|[A-Za-z_.]+\()|errgroup\.|\.Go\(' "$dir"/*.go 2>/dev/null | grep -qv '_test\.go$'; then
		race_pkgs+=("$pkg")
	fi
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
race_pkgs+=(./pipeline/objstore ./pipeline/tables)
echo "${race_pkgs[*]}"
go test -count=1 -race -timeout 15m "${race_pkgs[@]}"
echo "== all tests passed (in ${SECONDS}s)"
