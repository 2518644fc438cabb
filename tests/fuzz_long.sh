#!/bin/sh
# Long fuzzing: builds the libFuzzer targets (clang, ASan+UBSan) and runs each
# for 10 M executions, one target after another on one core, from the seeds in
# tests/fuzz-corpus/. CI keeps its short pass (10 s per target, meson test
# --suite fuzz); this is issue 13's proof that every target reaches 10 M
# executions clean (docs/architecture.md §10).
#
#   tests/fuzz_long.sh [BUILD_DIR]                   (default build-fuzz)
#   FUZZ_TARGETS="wire profile" FUZZ_SECONDS=600 tests/fuzz_long.sh
#
# FUZZ_RUNS      executions per target (10000000)
# FUZZ_SECONDS   stop a target after this many seconds even if short of
#                FUZZ_RUNS (0, the default: no cap); the summary says so
# FUZZ_TARGETS   which targets (all: wire session profile handshake dpdk_net)
# FUZZ_TIMEOUT   seconds one input may take before it counts as a hang (25;
#                raise it if the run may be paused, e.g. with SIGSTOP)
# NINJA_JOBS     ninja -j for the build (ninja's default when unset)
#
# Inputs that grow coverage go to BUILD_DIR/fuzz-long/TARGET/ (the checked-in
# seeds are read, never written). A crash, leak or timeout leaves
# BUILD_DIR/fuzz-long/TARGET-crash-* (or leak-*, timeout-*), which replays with
# BUILD_DIR/tests/fuzz_TARGET FILE; its log is BUILD_DIR/fuzz-long/TARGET.log.
# Prints one line per target with its executions; exits 0 only if every
# target ran its FUZZ_RUNS clean.
set -u
cd "$(dirname "$0")/.." || exit 1
build=${1:-build-fuzz}
runs=${FUZZ_RUNS:-10000000}
secs=${FUZZ_SECONDS:-0}
targets=${FUZZ_TARGETS:-wire session profile handshake dpdk_net}
timeout=${FUZZ_TIMEOUT:-25}

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=enabled -Db_sanitize=address,undefined \
		-Db_lundef=false >/dev/null || exit 1
fi
ninja -C "$build" ${NINJA_JOBS:+-j "$NINJA_JOBS"} >/dev/null || exit 1

out=$build/fuzz-long
status=0
for t in $targets; do
	mkdir -p "$out/$t"
	log=$out/$t.log
	start=$(date +%s)
	"$build/tests/fuzz_$t" -runs="$runs" -max_total_time="$secs" -timeout="$timeout" \
		-print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 \
		-artifact_prefix="$out/$t-" "$out/$t" "tests/fuzz-corpus/$t" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	execs=${execs:-0}
	if [ "$rc" -ne 0 ]; then
		verdict="FAILED (exit $rc): see $log"
		status=1
	elif [ "$execs" -lt "$runs" ]; then
		verdict="clean, stopped by the ${secs} s cap short of $runs"
		status=1
	else
		verdict=clean
	fi
	echo "fuzz-$t: $execs executions in ${took} s, $verdict"
done
exit $status
