#!/bin/sh
# Congestion controllers side by side on issue 7's four paths: for each path
# and each of newreno, cubic and bbr, one tern-bench bulk run through
# tern-impair on loopback (real sockets, real time) and one tern-sim run of
# the same path (the deterministic simulator, virtual time), printed as a
# markdown table with the fraction of the link each delivered. Both measure
# verified bytes over the first SECONDS from the first packet, slow start
# included (the simulator's transfer is sized to outlast them).
#
#   bench/cc_matrix.sh [BUILDDIR] [SECONDS]    (defaults: build, 10)
#
# The impairment applies to both directions (tern-impair --both), as on a
# real lossy path where ACKs are lost too; the simulator gets the same spec
# per direction. Real-time figures need the CPU: tern-bench's client and
# server and tern-impair are three busy processes, and on a machine with
# fewer free cores than that the link is not what limits them; the table
# shows each side's CPU seconds so that is visible.
set -eu
build=${1:-build}
secs=${2:-10}
bench="$build/apps/tern-bench"
sim="$build/apps/tern-sim"
for exe in "$bench" "$sim" "$build/apps/tern-impair"; do
	[ -x "$exe" ] || { echo "cc_matrix: $exe is not built (ninja -C $build)" >&2; exit 1; }
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
date -u "+# %Y-%m-%d %H:%M UTC, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >"$out"
for path in 'rate=1gbit,delay=5ms' 'rate=1gbit,delay=5ms,loss=1%' \
	'rate=1gbit,delay=5ms,loss=5%' 'rate=100mbit,delay=25ms,loss=2%,reorder=1%'; do
	case $path in rate=1gbit*) link=1000 bytes=4G ;; *) link=100 bytes=400M ;; esac
	for cc in newreno cubic bbr; do
		real=$(timeout $((secs * 4 + 60)) "$bench" bulk --cc "$cc" --seconds "$secs" \
			--json --impair "$path" 2>/dev/null | grep '"test":"bulk"' || true)
		simline=$("$sim" --profile "$path" --reverse "$path" --bytes "$bytes" --streams 1 \
			--msg 65536 --dgrams 0 --cipher aes-256-gcm --cc "$cc" --limit "$secs" 2>&1 |
			grep '^goodput' || true)
		printf '%s\t%s\t%s\t%s\t%s\n' "$path" "$cc" "$link" "$simline" "$real" >>"$out"
	done
done
python3 - "$out" <<'EOF'
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()
print(lines[0])
print("| path | cc | tern-bench via tern-impair, Mbit/s (% of link) | lost | CPU s client/server | tern-sim, % of link |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for l in lines[1:]:
    path, cc, link, simline, real = (l.split("\t") + [""] * 5)[:5]
    m = re.search(r"\(([\d.]+)% of", simline)
    simpct = m.group(1) + "%" if m else "failed"
    try:
        d = json.loads(real)
        mbps = d["gbps"] * 1000
        realtxt = "%.0f (%.1f%%)" % (mbps, 100 * mbps / float(link))
        lost = str(d["lost"])
        cpu = "%.2f/%.2f" % (d["client"]["cpu_s"], d["server"]["cpu_s"])
        if not d["ok"]:
            realtxt += " FAILED: " + str(d["error"])
    except (ValueError, KeyError):
        realtxt, lost, cpu = "failed", "-", "-"
    print("| `%s` | %s | %s | %s | %s | %s |" % (path, cc, realtxt, lost, cpu, simpct))
EOF
