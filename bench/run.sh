#!/bin/sh
# Runs every micro-benchmark in bench/ (Google Benchmark), writing one JSON
# file per area to BUILDDIR/bench/results/ and a markdown summary beside
# them; with --update-docs, also rewrites the "## Micro-benchmarks" section
# of docs/benchmarks.md from those files.
#
#   bench/run.sh [BUILDDIR] [--update-docs]     (BUILDDIR defaults to build)
#
# The build dir needs libbenchmark (Debian: libbenchmark-dev) and g++;
# configure it with `meson setup BUILDDIR` (-Dbenchmarks=auto finds them).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
update=${2:-}
results="$build/bench/results"
meson compile -C "$build"
rm -rf "$results"
mkdir -p "$results"
date > "$results/date.txt"
meson test -C "$build" --benchmark --num-processes 1 --print-errorlogs
python3 "$src/bench/report.py" "$results" "bench/run.sh $build" > "$results/summary.md"
echo "summary: $results/summary.md"
if [ "$update" = "--update-docs" ]; then
	python3 "$src/bench/report.py" "$results" "bench/run.sh BUILDDIR --update-docs" \
		--update "$src/docs/benchmarks.md" > /dev/null
	echo "updated: $src/docs/benchmarks.md"
fi
