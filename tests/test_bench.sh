#!/bin/sh
# tern-bench end to end, briefly: every mode over loopback with tiny sizes
# (each result must be ok, every bulk byte verified), --json lines that
# parse, the table, two hosts (--server/--client on loopback), --impair,
# --plot, and bad flags named with their fix. Usage: test_bench.sh TERN_BENCH
# With a second argument "dpdk" it checks the DPDK backend instead (the
# bench-dpdk test): --backend both over net_memif, two hosts played with
# memif, and DPDK's refusals; exit 77 (skip, with the reason) when this
# tern-bench has no DPDK.
set -u
BENCH=$1
DIR=$(mktemp -d /tmp/test_bench.XXXXXX)
trap 'rm -rf "$DIR"; [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
command -v python3 >/dev/null || { echo "python3 is needed to check the JSON; skipping"; exit 77; }

TINY="--seconds 0.5 --bytes 2M --count 300 --sessions 20"

# Every JSON line parses; each result is ok; bulk/rate verified what they sent.
check_json() { # file, expected number of results
	python3 - "$1" "$2" <<'EOF' || fail "JSON check of $1"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = [r for r in rows if r["test"] != "reference"]
assert len(res) == int(sys.argv[2]), f"{len(res)} results, expected {sys.argv[2]}"
assert rows[-1]["test"] == "reference" and rows[-1]["open_gbps"] > 0, rows[-1]
for r in res:
    assert r["ok"] and r["errors"] == 0, r
    if r["test"] in ("bulk", "rate"):
        assert r["bytes"] > 0 and r["bytes"] == r["msgs"] * r["params"]["size"], r
    if r["test"] == "pingpong":
        assert r["latency_us"]["n"] > 0 and r["latency_us"]["p50"] <= r["latency_us"]["max"], r
    if r["test"] in ("handshake", "sessions"):
        assert r["msgs"] > 0, r
print("json ok:", ", ".join(r["test"] + "/" + r["impl"] for r in res))
EOF
}

bad() { # expected text, args...
	want=$1; shift
	"$BENCH" "$@" >/dev/null 2>"$DIR/bad.err"; rc=$?
	[ "$rc" -eq 2 ] || fail "'$*' exited $rc, not 2"
	grep -q -- "$want" "$DIR/bad.err" || fail "'$*' said '$(cat "$DIR/bad.err")', not '$want'"
}

# Each (test, backend) pair of the JSON results, sorted: "bulk/dpdk bulk/io_uring ...".
pairs() { python3 -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join(sorted(r["test"] + "/" + r["backend"] for r in rows if r["test"] != "reference")))' "$1"; }

dpdk_main() {
	"$BENCH" --backend dpdk --client 127.0.0.1 >/dev/null 2>"$DIR/probe.err"
	if grep -q "this build has no DPDK" "$DIR/probe.err"; then
		echo "SKIP: this tern-bench was built without DPDK: $(cat "$DIR/probe.err")"; exit 77
	fi
	before=$(ls /var/run/dpdk 2>/dev/null | grep -c '^tern-bench-')
	# 1. io_uring and DPDK side by side in one run, every result verified.
	if "$BENCH" --backend both bulk rate pingpong handshake $TINY --json >"$DIR/both.json" \
		2>"$DIR/both.err"; then
		check_json "$DIR/both.json" 11
		want="bulk/dpdk bulk/io_uring bulk/kernel handshake/dpdk handshake/io_uring"
		want="$want pingpong/dpdk pingpong/io_uring pingpong/kernel rate/dpdk rate/io_uring rate/kernel"
		[ "$(pairs "$DIR/both.json")" = "$want" ] || fail "--backend both ran $(pairs "$DIR/both.json")"
	else
		cat "$DIR/both.err"; fail "--backend both exited $?"
	fi
	# 2. The table: a column per backend and their ratio.
	"$BENCH" --backend both bulk pingpong --seconds 0.3 --bytes 1M --count 200 --no-tcp \
		>"$DIR/both.out" 2>"$DIR/both.err" || fail "table run: $(cat "$DIR/both.err")"
	grep -q "io_uring *DPDK *TCP *DPDK/uring" "$DIR/both.out" || fail "no side-by-side header"
	grep -q "net_memif" "$DIR/both.out" || fail "the setup line does not name memif"
	[ "$(ls /var/run/dpdk 2>/dev/null | grep -c '^tern-bench-')" = "$before" ] ||
		fail "EAL runtime directories left in /var/run/dpdk"
	# 3. Two hosts played with memif: the operator's own EAL arguments after --.
	eal="--no-huge -m 256 --no-pci --no-telemetry --log-level=lib.eal:error"
	sock="$DIR/memif.sock"
	"$BENCH" --server 127.0.0.1:0 --backend dpdk --dpdk-addr 10.81.0.1 -- $eal \
		--file-prefix=tb$$-s --vdev=net_memif0,role=server,socket="$sock" 2>"$DIR/srv.err" &
	SRV=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q "port" "$DIR/srv.err" 2>/dev/null && break; sleep 0.2; done
	PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$DIR/srv.err")
	if [ -n "$PORT" ]; then
		"$BENCH" --client "127.0.0.1:$PORT" --backend dpdk --dpdk-addr 10.81.0.2 bulk pingpong \
			--seconds 0.3 --bytes 1M --count 200 --json -- $eal --file-prefix=tb$$-c \
			--vdev=net_memif0,role=client,socket="$sock" >"$DIR/remote.json" 2>"$DIR/remote.err" ||
			fail "client run: $(cat "$DIR/remote.err")"
		check_json "$DIR/remote.json" 4
		[ "$(pairs "$DIR/remote.json")" = "bulk/dpdk bulk/kernel pingpong/dpdk pingpong/kernel" ] ||
			fail "two-host DPDK ran $(pairs "$DIR/remote.json")"
	else
		fail "--server --backend dpdk printed no port: $(cat "$DIR/srv.err")"
	fi
	kill "$SRV"; wait "$SRV" 2>/dev/null; SRV=
	rm -rf /var/run/dpdk/tb$$-s /var/run/dpdk/tb$$-c
	# 4. Refusals name the reason and the fix.
	bad "needs this host's DPDK port address" --backend dpdk --client 127.0.0.1
	bad "needs the port's EAL arguments" --backend dpdk --client 127.0.0.1 --dpdk-addr 10.0.0.2
	if [ "$(awk '/HugePages_Total/ { print $2 }' /proc/meminfo)" = 0 ]; then
		bad "no hugepages are reserved.*dpdk-hugepages.py" --backend dpdk --client 127.0.0.1 \
			--dpdk-addr 10.0.0.2 -- -a 0000:00:1f.0
	fi
	bad "--dpdk-addr: applies with --server/--client" --backend dpdk --dpdk-addr 10.0.0.1
	bad "--impair: tern-impair .* cannot sit in a DPDK path" --backend both --impair delay=1ms
	[ "$FAILS" -eq 0 ] && echo "bench-dpdk: all checks passed"
	exit $((FAILS > 0))
}
[ "${2:-}" = dpdk ] && dpdk_main

# 1. All five modes, tern and TCP where TCP applies: 3 x 2 + 2 results.
if "$BENCH" all $TINY --json >"$DIR/all.json" 2>"$DIR/all.err"; then
	check_json "$DIR/all.json" 8
else
	if grep -q "io_uring" "$DIR/all.err"; then cat "$DIR/all.err"; echo "no io_uring here; skipping"; exit 77; fi
	cat "$DIR/all.err"; fail "tern-bench all exited $?"
fi

# 2. The table (plain output), with ChaCha20 and two streams.
"$BENCH" bulk rate --seconds 0.3 --bytes 1M --count 200 --streams 2 --cipher chacha20-poly1305 \
	>"$DIR/table.out" 2>"$DIR/table.err" || fail "table run: $(cat "$DIR/table.err")"
for want in "bulk goodput, Gbit/s" "small messages, M msgs/s" "targets " "cycles ="; do
	grep -q "$want" "$DIR/table.out" || fail "the table lacks '$want'"
done

# 3. Two hosts, played on loopback: a standing server and a client of it.
"$BENCH" --server 127.0.0.1:0 2>"$DIR/srv.err" &
SRV=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q "port" "$DIR/srv.err" 2>/dev/null && break; sleep 0.2; done
PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$DIR/srv.err")
if [ -n "$PORT" ]; then
	"$BENCH" --client "127.0.0.1:$PORT" bulk pingpong --seconds 0.3 --bytes 1M --count 200 \
		--json >"$DIR/remote.json" 2>"$DIR/remote.err" || fail "client run: $(cat "$DIR/remote.err")"
	check_json "$DIR/remote.json" 4
else
	fail "--server printed no port: $(cat "$DIR/srv.err")"
fi
kill "$SRV"; SRV=

# 4. --impair: through tern-impair when it is built beside tern-bench.
if [ -x "$(dirname "$BENCH")/tern-impair" ]; then
	"$BENCH" bulk --bytes 1M --seconds 2 --impair 'delay=1ms,loss=1%' --json \
		>"$DIR/imp.json" 2>"$DIR/imp.err" || fail "--impair run: $(cat "$DIR/imp.err")"
	check_json "$DIR/imp.json" 1
else
	"$BENCH" bulk --bytes 1M --impair 'delay=1ms' 2>"$DIR/imp.err" >/dev/null
	grep -q "tern-impair is not built" "$DIR/imp.err" || fail "--impair without tern-impair"
fi

# 5. --plot: an SVG with gnuplot, a clear message without it.
if command -v gnuplot >/dev/null; then
	"$BENCH" pingpong --count 200 --seconds 0.3 --plot "$DIR/p.svg" >/dev/null 2>&1
	grep -q "<svg" "$DIR/p.svg" || fail "--plot wrote no SVG"
else
	"$BENCH" pingpong --count 200 --seconds 0.3 --plot "$DIR/p.svg" >/dev/null 2>"$DIR/plot.err"
	grep -q "gnuplot is not installed" "$DIR/plot.err" || fail "--plot without gnuplot"
fi

# 6. Bad flags: exit 2, and the message names the flag and the fix.
bad "--size: use 1 byte to 1M" --size 0
bad "--size: use 1 byte to 1M" --size 2G
bad "--size: needs a value" --size
bad "--bogus: unknown flag" --bogus
bad "--backend: use uring, dpdk or both" --backend xdp
bad "--: EAL arguments after '--' apply only with --backend dpdk" bulk -- --no-huge
bad "--cipher: use aes-256-gcm or chacha20-poly1305" --cipher rot13
bad "--cc: use cubic, newreno or bbr" --cc vegas
bad "--streams: use 1 to 15" --streams 16
bad "--seconds: use seconds" --seconds -1
bad "--count: use a positive count" --count many
bad "--workers: use 1 to 64" --workers 0
bad "--latency-mode: use auto, on or off" --latency-mode maybe
bad "mode 'bulky': unknown" bulky
bad "--plot: name an .svg file" --plot out.png
bad "--client: '300.1.1.1' is not an address" --client 300.1.1.1
bad "--size: ping-pong messages are at most 64K" pingpong --size 100K

[ "$FAILS" -eq 0 ] && echo "bench: all checks passed"
exit $((FAILS > 0))
