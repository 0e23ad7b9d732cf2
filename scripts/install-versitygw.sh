#!/usr/bin/env bash
# Installs the pinned versitygw (a real S3 server) into $(go env GOPATH)/bin,
# which pipeline/objstore/s3/s3test runs for the S3 backend's tests.
# Idempotent: does nothing when the pinned version is already installed.
set -euo pipefail

VERSION="${VERSITYGW_VERSION:-v1.8.0}"
MODULE="github.com/versity/versitygw"

gobin="$(go env GOBIN)"
if [[ -z "$gobin" ]]; then
	gobin="$(go env GOPATH)/bin"
fi
bin="$gobin/versitygw"

# go version -m reads the module version stamped into the binary, which is
# more reliable than parsing the program's own --version output.
installed_version() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" && $2 == "'"$MODULE"'" { print $3; exit }'
}

if [[ -x "$bin" && "$(installed_version "$bin")" == "$VERSION" ]]; then
	echo "versitygw $VERSION already installed at $bin"
	exit 0
fi

echo "installing versitygw $VERSION into $gobin"
GOFLAGS=-mod=mod go install "$MODULE/cmd/versitygw@$VERSION"

got="$(installed_version "$bin")"
if [[ "$got" != "$VERSION" ]]; then
	echo "install-versitygw: $bin reports version ${got:-unknown}, want $VERSION" >&2
	exit 1
fi
echo "versitygw $VERSION installed at $bin"
