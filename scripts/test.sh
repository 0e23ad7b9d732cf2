#!/usr/bin/env bash
# The whole test suite: what CI runs, what a newcomer runs.
#
# It installs what the tests need (a pinned versitygw S3 server, DuckDB's
# npm package as an independent Parquet reader) into caches, then runs vet,
# the tests, and the race detector on the packages with worker pools.
# Tests that need a real S3 server start versitygw themselves on a free
# 127.0.0.1 port with a temporary directory, and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "test.sh: node and npm are required (DuckDB reader)" >&2; exit 1; }

echo "== install test dependencies"
scripts/install-versitygw.sh
# DuckDB is installed by the tests on first use; doing it here keeps the
# download out of any test's time.
go run ./internal/duckdbtest/install
# Headless Chromium (Debian's) opens the run report in a test, driven by the
# pinned npm playwright-core, which downloads no browser of its own.
if [[ -z "${CHROMIUM:-}" && ! -x /usr/bin/chromium ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "installing Debian's chromium"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
	else
		echo "test.sh: Chromium is required for the report test: apt-get install chromium, or set CHROMIUM" >&2
		exit 1
	fi
fi
go run ./internal/browsertest/install

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 15m ./...

echo "== go test -race (packages with goroutines)"
# Every package whose own (non-test) code starts goroutines or uses an
# errgroup, found afresh each run so that a new worker pool is covered
# without anyone remembering to list it; plus the packages the old list
# named explicitly.
race_pkgs=()
while read -r pkg dir; do
	if grep -lE '^\s*go (func|[A-Za-z_.]+\()|errgroup\.' "$dir"/*.go 2>/dev/null | grep -qv '_test\.go$'; then
		race_pkgs+=("$pkg")
	fi
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
race_pkgs+=(./pipeline/objstore ./pipeline/tables)
echo "${race_pkgs[*]}"
go test -count=1 -race -timeout 15m "${race_pkgs[@]}"
echo "== all tests passed"
