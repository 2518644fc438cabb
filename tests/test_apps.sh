#!/bin/sh
# tern-server and tern-cat end to end on loopback (docs/tern-server.md,
# docs/tern-cat.md): a server started from an INI file with flags
# overriding it, its parseable "event=listening port=... key=..." line, an
# echo round trip of stdin, --send verified against the echo, a few MiB of
# random data fetched with --get and verified by SHA-256 (and cmp), path
# escapes refused by name ('..', absolute, a symlink out of the directory),
# a server killed with SIGKILL mid-transfer reported by tern-cat as an idle
# timeout, SIGUSR1 counters, a SIGTERM drain that exits 0, a world-readable
# key refused, and bad flags and config keys named in their messages.
#
# Usage: test_apps.sh TERN-SERVER TERN-CAT TERN-KEYGEN. Every process it
# starts is recorded and killed by PID on every exit path (trap); every
# client runs under timeout(1). Exit 77 (skip) where io_uring is refused.
set -eu

abspath() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
SRV=$(abspath "$1")
CAT=$(abspath "$2")
KEYGEN=$(abspath "$3")
D=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$D"
fails=0
checks=0

check() { # check NAME EXPECTED ACTUAL
	checks=$((checks + 1))
	if [ "$2" != "$3" ]; then
		echo "FAIL: $1: expected '$2', got '$3'" >&2
		fails=$((fails + 1))
	fi
}
contains() { # contains NAME FILE TEXT: FILE has the fixed string TEXT
	checks=$((checks + 1))
	if ! grep -qF -- "$3" "$2"; then
		echo "FAIL: $1: '$3' not in $2:" >&2
		sed 's/^/    /' "$2" >&2
		fails=$((fails + 1))
	fi
}
wait_for() { # wait_for FILE TEXT [TENTHS]: until FILE has TEXT (default 10 s)
	n=0
	while ! grep -qF -- "$2" "$1" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -le "${3:-100}" ] || return 1
		sleep 0.1
	done
}
wait_count() { # wait_count FILE TEXT N: until TEXT is on N lines of FILE (10 s)
	n=0
	while [ "$(grep -cF -- "$2" "$1" 2>/dev/null || true)" -lt "$3" ]; do
		n=$((n + 1))
		[ "$n" -le 100 ] || return 1
		sleep 0.1
	done
}
status() { # status CMD...: prints the exit status
	set +e
	"$@"
	echo $?
	set -e
}
wait_exit() { # wait_exit PID TENTHS: reaps PID, killing it after TENTHS; sets RC
	n=0
	while [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null || echo Z)" != Z ]; do
		n=$((n + 1))
		[ "$n" -le "$2" ] || kill -9 "$1" 2>/dev/null || true
		sleep 0.1
	done
	set +e
	wait "$1"
	RC=$?
	set -e
}
start_server() { # start_server LOG ARGS...: sets SPID, PORT, KEY
	log=$1
	shift
	"$SRV" "$@" 2>"$log" &
	SPID=$!
	PIDS="$PIDS $SPID"
	if ! wait_for "$log" "event=listening"; then
		if grep -q "io_uring\|Operation not permitted" "$log"; then
			echo "skip: the engine cannot run here: $(cat "$log")" >&2
			exit 77
		fi
		echo "FAIL: the server did not start:" >&2
		cat "$log" >&2
		exit 1
	fi
	PORT=$(sed -n 's/.*event=listening port=\([0-9]*\) key=.*/\1/p' "$log")
	KEY=$(sed -n 's/.*event=listening port=[0-9]* key=\([^ ]*\) .*/\1/p' "$log")
}

# ---- keys, files, config ----
"$KEYGEN" genkey -o server.key >server.pub
mkdir -p root/sub outside
head -c 3145728 /dev/urandom >root/sub/data.bin # 3 MiB
echo "secret" >outside/secret.txt
ln -s ../outside/secret.txt root/escape
ln -s sub/data.bin root/inside
truncate -s 1G root/big.bin # sparse: long enough to be killed mid-way
cat >srv.ini <<EOF
; tern-server test config: flags override it
[server]
key = server.key
bind = 127.0.0.1
port = 4433
idle-timeout = 30
[echo]
vport = 7000
[file]
root = root
EOF

# ---- start: config file, flags over it, the parseable line ----
start_server srv.log --config srv.ini --port 0 --echo-vport 7
contains "listening line names the echo vport the flag gave" srv.log "echo=7 "
check "listening line's key is the key file's" "$(cat server.pub)" "$KEY"
check "the flag's ephemeral port replaced the file's 4433" 1 "$([ "$PORT" != 4433 ] && [ "$PORT" -gt 0 ] && echo 1 || echo 0)"

tcat() { timeout 30 "$CAT" 127.0.0.1 "$PORT" --server-key "$@"; }

# ---- echo ----
printf 'hello, tern\nsecond line\n' >msg.txt
tcat "$KEY" <msg.txt >echo.out 2>echo.err || true
check "echo round trip of stdin" "$(cat msg.txt)" "$(cat echo.out)"
check "echo with the key from a file" 0 "$(status tcat server.pub --send root/sub/data.bin 2>send.err)"
contains "--send verified the echo" send.err "the echo is identical"
check "discard service" 0 "$(status tcat "$KEY" --vport 9 --send root/sub/data.bin 2>discard.err)"
contains "--send to discard" discard.err "nothing came back"

# ---- files ----
check "--get exit status" 0 "$(status tcat "$KEY" --get sub/data.bin --output got.bin 2>get.err)"
check "--get wrote the same bytes" 0 "$(status cmp -s root/sub/data.bin got.bin)"
contains "--get verified the hash" get.err "3145728 bytes, sha256 $(sha256sum root/sub/data.bin | cut -d' ' -f1) verified"
check "a symlink inside the root is served" 0 "$(status tcat "$KEY" --get inside --output got2.bin 2>/dev/null)"
check "... with the same bytes" 0 "$(status cmp -s root/sub/data.bin got2.bin)"

refused() { # refused NAME PATH ERROR
	check "$1: exit status" 1 "$(status tcat "$KEY" --get "$2" --output esc.out 2>esc.err)"
	contains "$1: named error" esc.err "the server refused: $3"
	check "$1: nothing left behind" 0 "$([ -e esc.out ] && echo 1 || echo 0)"
}
refused "'..' refused" ../outside/secret.txt "path-escape: '..' is not allowed"
refused "'..' in the middle refused" sub/../../outside/secret.txt "path-escape"
refused "absolute path refused" "$D/outside/secret.txt" "absolute-path"
refused "symlink out of the root refused" escape "path-escape: a symlink"
refused "missing file" nope.bin "not-found"
refused "directory" sub "not-a-file"
contains "server logs the refusal" srv.log "event=file-refused path=\"escape\" error=path-escape"

# ---- SIGUSR1: counters ----
wait_count srv.log "event=close" 11 || true # the server's side of every close
kill -USR1 "$SPID"
wait_for srv.log "event=counters" || true
contains "SIGUSR1 logs the counters" srv.log "file_served=2 file_refused=6"
contains "counters count sessions" srv.log "sessions_total=11 sessions_live=0"
wait_for srv.log "event=backend" || true
contains "SIGUSR1 logs the backend's counters" srv.log "w0.rx_packets="
contains "SIGUSR1 logs the control plane's counters" srv.log "ctl.initiations=11 "
contains "SIGUSR1 logs the handshake gauges" srv.log "half_open=0 admitted="
contains "SIGUSR1 logs the workers' counters" srv.log "worker0.handshake_dropped="

# ---- SIGTERM: a graceful drain with a client connected, exit 0 ----
mkfifo hold
"$CAT" 127.0.0.1 "$PORT" --server-key "$KEY" <hold >hold.out 2>hold.err &
CPID=$!
PIDS="$PIDS $CPID"
exec 3>hold # keep the client's stdin open
wait_count srv.log "event=accept" 12 || true
acc=$(grep -c "event=accept" srv.log)
kill -TERM "$SPID"
wait_exit "$SPID" 100
check "SIGTERM drains and exits 0" 0 "$RC"
contains "drain logged" srv.log "event=drain signal=Terminated"
contains "drain finished" srv.log "event=stopped drained=all"
wait_exit "$CPID" 100
check "the connected client saw the server close" 1 "$RC"
contains "client names the graceful close" hold.err "closed by the peer"
exec 3>&-
check "accepts before the drain" 12 "$acc"

# ---- SIGKILL mid-transfer: tern-cat reports a named error ----
start_server srv2.log --key server.key --bind 127.0.0.1 --port 0 --root root
"$CAT" 127.0.0.1 "$PORT" --server-key "$KEY" --idle-timeout 2 --get big.bin --output big.out \
	2>kill.err &
CPID=$!
PIDS="$PIDS $CPID"
n=0
while [ "$(stat -c %s big.out 2>/dev/null || echo 0)" -lt 1048576 ] && [ $n -lt 200 ]; do
	n=$((n + 1))
	sleep 0.05
done
kill -9 "$SPID"
wait_exit "$CPID" 100 # the idle timeout is 2 s; 10 s is the bound
check "tern-cat fails when the server dies" 1 "$RC"
contains "... naming the idle timeout" kill.err "the session ended before the transfer finished: idle timeout"
check "... and removes the partial output" 0 "$([ -e big.out ] && echo 1 || echo 0)"

# ---- refusals at startup: keys, flags, config keys ----
cp server.key open.key
chmod 644 open.key
check "world-readable key: exit status" 1 "$(status "$SRV" --key open.key --port 0 2>open.err)"
contains "world-readable key: message" open.err "chmod 600"
check "bad flag: exit status" 2 "$(status "$SRV" --bogus 2>flag.err)"
contains "bad flag named" flag.err "--bogus: unknown option"
check "bad value: exit status" 2 "$(status "$SRV" --port 99999 2>port.err)"
contains "bad value named" port.err "--port 99999: expected a UDP port"
printf '[server]\nport = 0\nprot = 5\n' >bad.ini
check "bad config key: exit status" 2 "$(status "$SRV" --config bad.ini 2>ini.err)"
contains "bad config key named with its line" ini.err "bad.ini:3: unknown key 'prot' in [server]"
printf '[server]\nworkers = 99\n' >bad2.ini
check "bad config value: exit status" 2 "$(status "$SRV" --config bad2.ini 2>ini2.err)"
contains "bad config value named" ini2.err "bad2.ini:2: key 'workers' in [server]: expected"
printf '[files]\nroot = x\n' >bad3.ini
check "bad config section: exit status" 2 "$(status "$SRV" --config bad3.ini 2>ini3.err)"
contains "bad config section named" ini3.err "bad3.ini:2: unknown section [files]"
check "tern-cat bad flag: exit status" 2 "$(status "$CAT" 127.0.0.1 1 --server-key "$KEY" --vport x 2>cflag.err)"
contains "tern-cat bad flag named" cflag.err "--vport x: expected a vport"
check "tern-cat bad server key: exit status" 2 "$(status "$CAT" 127.0.0.1 1 --server-key nokey 2>ckey.err)"
contains "tern-cat bad server key named" ckey.err "--server-key nokey: neither a readable file"

echo "apps: $checks checks, $fails failed" >&2
[ "$fails" -eq 0 ]
