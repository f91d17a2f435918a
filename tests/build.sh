#!/usr/bin/env bash
# Configure (once) and build kiln into BUILD_DIR (default: build); further
# arguments go to `meson setup`. On a terminal ninja shows its progress;
# otherwise its output is kept and shown only when the build fails (with
# the compiler's errors, which ninja prints on stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [[ ! -f $dir/build.ninja ]]; then
	if ! meson setup "$dir" "$@" >"$log" 2>&1; then
		cat "$log"
		echo "build: meson setup $dir failed" >&2
		exit 1
	fi
fi
if [[ -t 1 ]]; then
	ninja -C "$dir"
elif ! ninja -C "$dir" >"$log" 2>&1; then
	cat "$log"
	echo "build: ninja -C $dir failed" >&2
	exit 1
fi
