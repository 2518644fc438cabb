#!/bin/sh
# Builds bench/sockperf.c the way an application is built, against an
# installed libtern (`meson install` into a scratch prefix, then cc with
# `pkg-config --cflags --libs tern`, public headers only), and runs it.
#   bench/sockperf.sh [BUILDDIR] [sockperf arguments...]
# Nothing else may run on the machine meanwhile (docs/benchmarks.md).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
prefix=$(mktemp -d /tmp/tern-prefix.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
meson install -C "$build" --destdir "$prefix" --quiet >/dev/null
root="$prefix$(meson introspect "$build" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')"
pc=$(find "$root" -name tern.pc | head -1)
libdir=$(dirname "$(dirname "$pc")")
sed -i "s|^prefix=.*|prefix=$root|" "$pc" # the scratch prefix stands in for the real one
export PKG_CONFIG_PATH="$(dirname "$pc")"
cc -O2 -Wall -Wextra -Werror -o "$prefix/sockperf" "$src/bench/sockperf.c" \
	$(pkg-config --cflags --libs tern)
LD_LIBRARY_PATH="$libdir" "$prefix/sockperf" "$@"
