#!/bin/sh
# tern-keygen end to end (docs/tern-keygen.md): keys and their public halves
# (against RFC 7748 §6.1), mode 0600, no silent overwrite, tickets minted and
# verified (and the docs/handshake.md §10 vector ticket verified), and bad
# input refused with exit status 2 naming the flag. Usage: test_keygen.sh
# PATH/TO/tern-keygen. Runs in a private temporary directory.
set -eu

case $1 in /*) K=$1 ;; *) K=$(pwd)/$1 ;; esac
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
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
status() { # status CMD...: prints the exit status, output discarded
	set +e
	"$@" >/dev/null 2>&1
	echo $?
	set -e
}

# RFC 7748 §6.1, Alice: private and public key in base64.
echo 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=' >alice
check "pubkey of RFC 7748 key (stdin)" 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=' "$("$K" pubkey <alice)"
check "pubkey -i" 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=' "$("$K" pubkey -i alice)"

pub=$("$K" genkey -o priv)
check "genkey private key mode" 600 "$(stat -c %a priv)"
check "genkey prints the public key" "$pub" "$("$K" pubkey -i priv)"
check "key file is one line" 1 "$(wc -l <priv | tr -d ' ')"
check "key file is 44 chars of base64" 44 "$(tr -d '\n' <priv | wc -c | tr -d ' ')"
before=$(cat priv)
check "genkey refuses to overwrite" 1 "$(status "$K" genkey -o priv)"
check "refused overwrite left the key" "$before" "$(cat priv)"
chmod 644 priv
pub2=$("$K" genkey -o priv --force)
check "--force replaced the key" "$pub2" "$("$K" pubkey -i priv)"
check "--force made it 0600 again" 600 "$(stat -c %a priv)"
check "two keys differ" 1 "$([ "$pub" != "$pub2" ] && echo 1 || echo 0)"

"$K" ticket-key -o tk
check "ticket key mode" 600 "$(stat -c %a tk)"
check "ticket-key refuses to overwrite" 1 "$(status "$K" ticket-key -o tk)"

"$K" ticket --key tk --pid 42 --expires 3600 --client-pub "$pub2" --now 1700000000 >t
check "ticket is 89 bytes of base64" 120 "$(tr -d '\n' <t | wc -c | tr -d ' ')"
check "ticket verifies" "pid 42 expires 1700003600" \
	"$("$K" ticket-verify --key tk --client-pub "$pub2" --now 1700000000 <t | tr '\n' ' ' | sed 's/ $//')"
check "ticket valid until just before expiry" 0 \
	"$(status "$K" ticket-verify --key tk --client-pub "$pub2" --now 1700003599 -i t)"
check "ticket expired at expiry" 1 \
	"$(status "$K" ticket-verify --key tk --client-pub "$pub2" --now 1700003600 -i t)"
check "ticket bound to its client key" 1 \
	"$(status "$K" ticket-verify --key tk --client-pub "$pub" --now 1700000000 -i t)"
"$K" ticket-key -o tk2
check "ticket bound to its ticket key" 1 \
	"$(status "$K" ticket-verify --key tk2 --client-pub "$pub2" --now 1700000000 -i t)"
"$K" ticket --key tk --pid 7 --expires 2030-01-31T12:00:00Z --client-pub "$pub2" >t2
check "ticket --expires DATE" "pid 7 expires 1896091200" \
	"$("$K" ticket-verify --key tk --client-pub "$pub2" --now 1700000000 -i t2 | tr '\n' ' ' | sed 's/ $//')"
"$K" ticket --key tk --pid 8 --expires 2d --client-pub "$pub2" --now 1000 >t3
check "ticket --expires with a unit" "pid 8 expires 173800" \
	"$("$K" ticket-verify --key tk --client-pub "$pub2" --now 1000 -i t3 | tr '\n' ' ' | sed 's/ $//')"

# The docs/handshake.md §10 vector ticket under the vector key.
echo 'oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=' >vk
echo 'AQABAgMEBQYHCAkKCwwNDg8QERITFBUWF4GSJ9Eu26gep6oTzo5PdDhU3xsooqaJeZS0EgKsJglPWeTQNevofdcJWkn9SVdAk7uk/3ECkwbXulBhfqo/KmQ=' >vt
check "vector ticket verifies" "pid 42 expires 1700003600" \
	"$("$K" ticket-verify --key vk --client-pub 'B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=' --now 1700000000 -i vt | tr '\n' ' ' | sed 's/ $//')"

# Usage errors: exit 2 and the flag named on stderr.
usage() { # usage NAME FLAG CMD...
	name=$1 flag=$2
	shift 2
	set +e
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	check "$name: exit status" 2 "$rc"
	case $err in *"$flag"*) ;; *) check "$name: names $flag" "$flag" "$err" ;; esac
}
usage "genkey without -o" "-o FILE" "$K" genkey
usage "bad --pid" "--pid" "$K" ticket --key tk --pid x --expires 1h --client-pub "$pub2"
usage "bad --expires" "--expires" "$K" ticket --key tk --pid 1 --expires soon --client-pub "$pub2"
usage "past --expires" "--expires" "$K" ticket --key tk --pid 1 --expires @5 --client-pub "$pub2" --now 10
usage "bad --client-pub" "--client-pub" "$K" ticket --key tk --pid 1 --expires 1h --client-pub abc
usage "bad --now" "--now" "$K" ticket-verify --key tk --client-pub "$pub2" --now yesterday
usage "option of another command" "--pid" "$K" pubkey --pid 3
usage "unknown command" "genkey" "$K" frobnicate
check "not a key on stdin" 1 "$(echo garbage | status "$K" pubkey)"
check "missing --key file" 1 "$(status "$K" ticket --key nope --pid 1 --expires 1h --client-pub "$pub2")"
check "--help exits 0" 0 "$(status "$K" --help)"

echo "keygen: $checks checks, $fails failed" >&2
[ "$fails" -eq 0 ]
