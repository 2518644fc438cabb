#!/bin/sh
# The DPDK backend against the Linux kernel's own ARP, IPv4, IPv6, ICMP and
# UDP: two network namespaces joined by a veth pair. In one, tern runs on
# DPDK (net_af_packet on its end of the veth, no hugepages); in the other
# the kernel, and tern on io_uring. The kernel is the independent check of
# our headers and checksums: it pings us, resolves us (ARP and NDP), and
# carries verified bulk transfers both ways; then tern on DPDK resolves the
# kernel (our ARP requests and neighbour solicitations); bad frames are
# injected and must be dropped and counted exactly; ARP requests and
# neighbour advertisements claiming the kernel's addresses for another MAC
# must change nothing (transfers still reach the kernel afterwards), and a
# burst of pings must meet the echo rate limit. Then two workers on two
# queue pairs, the same over net_af_xdp where the kernel allows it, and a
# memif transfer between two DPDK processes. Then net_tap, whose kernel side
# is the tap interface itself: ping and transfers through it, with the
# port's TX checksum offload in use (tern's hardware-checksum path; the
# cases above cover the software one). Then an 802.1Q VLAN on a second veth:
# the kernel's side is a VLAN sub-interface (`type vlan`), or, where the
# kernel has no 802.1Q, a tap that tests/test_dpdk_vlan relays with the tag;
# ARP, ping and a transfer go through the tag, and untagged and other-VLAN
# frames are dropped and counted. Last, the apps: tern-server --backend dpdk
# serves a file that tern-cat, on io_uring, fetches with --get, checked by
# hash: on the veth, on the VLAN (--dpdk-vlan) and on net_tap.
#
#   test_dpdk.sh PEER INJECT VLAN [SERVER CAT]
#     (tests/test_dpdk_peer, tests/test_dpdk_inject, tests/test_dpdk_vlan,
#     apps/tern-server and apps/tern-cat; the last two default to PEER's
#     ../apps/ and their cases are skipped, with a note, where they were not
#     built)
#
# Exit 77 (skip, with the reason) only when not root or without network
# namespaces. Everything runs inside namespaces this script creates (or over
# a memif socket in its own temp dir), and is removed on every exit path.
set -u
PEER=$1
INJECT=$2
RELAY=$3
APPS=$(dirname "$PEER")/../apps
SERVER=${4:-$APPS/tern-server}
CAT=${5:-$APPS/tern-cat}
TAG=t$$
ND=tern-dpdk-$TAG     # the DPDK side
NK=tern-kern-$TAG     # the kernel side
NT=tern-tap-$TAG      # net_tap: DPDK and the kernel on the tap
VD=vd$TAG
VK=vk$TAG
VD2=vdv$TAG           # the VLAN case's veth pair
VK2=vkv$TAG
TT=tt$TAG             # net_tap's interface
TV=tv$TAG             # the relay's tap (kernel without 802.1Q)
TMP=$(mktemp -d /tmp/tern-dpdk.XXXXXX)
PIDS=""
FAILS=0
LAST_CPU=$(($(nproc) > 1 ? 1 : 0))

skip() { echo "SKIP: $*"; rm -rf "$TMP"; exit 77; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	ip netns del "$ND" 2>/dev/null
	ip netns del "$NK" 2>/dev/null
	ip netns del "$NT" 2>/dev/null
	rm -rf /var/run/dpdk/"$TAG"-*
	[ -n "${TERN_TEST_KEEP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, AF_PACKET)"
command -v ip >/dev/null || skip "needs iproute2 (ip)"
ip netns add "$ND" 2>/dev/null || skip "cannot create network namespaces here"
trap cleanup EXIT
trap 'exit 1' INT TERM
ip netns add "$NK" || { fail "netns"; exit 1; }

# The DPDK side's kernel interface carries no address and speaks neither
# ARP nor IPv6: the addresses belong to tern. The kernel side sends whole
# checksums (no TX offload), as a NIC-facing host would see them.
setup_veth() {
	ip link add "$VD" type veth peer name "$VK" &&
		ip link set "$VD" netns "$ND" && ip link set "$VK" netns "$NK" &&
		ip netns exec "$ND" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 &&
		ip -n "$ND" link set "$VD" arp off && ip -n "$ND" link set "$VD" up &&
		ip -n "$NK" addr add 10.77.0.2/24 dev "$VK" &&
		ip -n "$NK" addr add fd00:77::2/64 dev "$VK" nodad &&
		ip -n "$NK" link set "$VK" up && ip -n "$NK" link set lo up &&
		ip netns exec "$NK" ethtool -K "$VK" tx off >/dev/null 2>&1
}
setup_veth || { fail "veth setup"; exit 1; }

eal() { # $1: a name for the file prefix, $2: the vdev
	echo "--no-huge -m 256 --no-pci --file-prefix=$TAG-$1 -l 0-$LAST_CPU --log-level=lib.eal:error --vdev=$2"
}

# start_server NAME NETNS ARGS...: runs a server, waits for its ready file,
# sets SRV (pid), PORT and KEY. Returns 1 if it did not come up.
start_server() {
	name=$1 ns=$2
	shift 2
	rm -f "$TMP/$name.ready"
	if [ "$ns" = - ]; then
		"$PEER" server --ready "$TMP/$name.ready" --stats "$TMP/$name.stats" "$@" \
			>"$TMP/$name.log" 2>&1 &
	else
		ip netns exec "$ns" "$PEER" server --ready "$TMP/$name.ready" \
			--stats "$TMP/$name.stats" "$@" >"$TMP/$name.log" 2>&1 &
	fi
	SRV=$!
	PIDS="$PIDS $SRV"
	i=0
	while [ ! -s "$TMP/$name.ready" ] && [ $i -lt 200 ] && kill -0 "$SRV" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$TMP/$name.ready" ] || { sed 's/^/  | /' "$TMP/$name.log"; return 1; }
	PORT=$(cut -d' ' -f1 "$TMP/$name.ready")
	KEY=$(cut -d' ' -f2 "$TMP/$name.ready")
}

stop_server() { # $1: name
	kill -TERM "$SRV" 2>/dev/null
	wait "$SRV" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $SRV\b//")
	[ -s "$TMP/$1.stats" ] || fail "$1: no counters written"
}

# counter FILE NAME: the value of one counter (0 when absent)
counter() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1"; }

expect_eq() { # FILE NAME WANT
	got=$(counter "$1" "$2")
	[ "$got" = "$3" ] && ok "$2 = $3" || fail "$2 is $got, want $3"
}
expect_ge() { # FILE NAME MIN
	got=$(counter "$1" "$2")
	[ "$got" -ge "$3" ] && ok "$2 = $got (>= $3)" || fail "$2 is $got, want >= $3"
}

client() { # NAME NETNS ARGS...
	name=$1 ns=$2
	shift 2
	if [ "$ns" = - ]; then
		timeout 120 "$PEER" client --stats "$TMP/$name.stats" "$@" >"$TMP/$name.log" 2>&1
	else
		timeout 120 ip netns exec "$ns" "$PEER" client --stats "$TMP/$name.stats" "$@" \
			>"$TMP/$name.log" 2>&1
	fi
	rc=$?
	[ $rc = 0 ] && ok "$name: $(grep counted "$TMP/$name.log")" ||
		{ fail "$name: exit $rc"; sed 's/^/  | /' "$TMP/$name.log" | tail -15; }
	return $rc
}

mac_of() { ip -n "$1" -br link show "$2" | awk '{ print $3 }'; }

# ---- 1. tern on DPDK serves the kernel side ----
scenario_server() { # $1: vdev kind (af_packet / af_xdp)
	kind=$1
	echo "== DPDK server ($kind) <- kernel, tern on io_uring"
	start_server "srv-$kind" "$ND" --backend dpdk --bind 10.77.0.1:4433 --addr2 fd00:77::1 \
		--eal $(eal "srv-$kind" "net_${kind}0,iface=$VD") || return 1
	DMAC=$(mac_of "$ND" "$VD")
	ip -n "$NK" neigh flush dev "$VK"
	ip netns exec "$NK" ping -c 3 -i 0.2 -W 2 10.77.0.1 >/dev/null &&
		ok "ping 10.77.0.1 answered" || fail "ping 10.77.0.1"
	ip -n "$NK" neigh show 10.77.0.1 | grep -qi "lladdr $DMAC" &&
		ok "kernel resolved 10.77.0.1 to $DMAC (ARP)" || fail "kernel ARP for 10.77.0.1"
	ip netns exec "$NK" ping -6 -c 3 -i 0.2 -W 2 fd00:77::1 >/dev/null &&
		ok "ping fd00:77::1 answered" || fail "ping fd00:77::1"
	ip -n "$NK" -6 neigh show fd00:77::1 | grep -qi "lladdr $DMAC" &&
		ok "kernel resolved fd00:77::1 to $DMAC (NDP)" || fail "kernel NDP for fd00:77::1"
	client "cli4-$kind" "$NK" --connect "10.77.0.1:$PORT" --key "$KEY" --bytes 8000000
	client "cli6-$kind" "$NK" --connect "[fd00:77::1]:$PORT" --key "$KEY" --bytes 2000000
	I=$TMP/inject-$kind.txt
	ip netns exec "$NK" "$INJECT" "$VK" "$DMAC" 10.77.0.2 10.77.0.1 fd00:77::2 \
		fd00:77::1 "$PORT" 5 >"$I" || fail "inject"
	# the spoofed claims were ignored: tern still sends to the kernel's MAC
	client "cli4-after-$kind" "$NK" --connect "10.77.0.1:$PORT" --key "$KEY" --bytes 1000000
	client "cli6-after-$kind" "$NK" --connect "[fd00:77::1]:$PORT" --key "$KEY" --bytes 1000000
	sleep 0.5
	stop_server "srv-$kind"
	S=$TMP/srv-$kind.stats
	expect_ge "$S" q0.echo4 3
	expect_ge "$S" q0.echo6 3
	expect_ge "$S" q0.arp_requests_in 1
	expect_ge "$S" q0.ns_in 1
	expect_ge "$S" q0.rx_udp 1000
	expect_eq "$S" q0.drop_runt "$(counter "$I" runt)"
	expect_eq "$S" q0.drop_foreign_mac "$(counter "$I" foreign_mac)"
	expect_eq "$S" q0.drop_ip_csum "$(counter "$I" ip_csum)"
	expect_eq "$S" q0.drop_udp_csum "$(counter "$I" udp_csum)"
	expect_eq "$S" q0.drop_ip_options "$(counter "$I" ip_options)"
	expect_eq "$S" neigh.conflicts $(($(counter "$I" arp_spoof) + $(counter "$I" na_spoof)))
	# 400 requests in a few ms against a bucket of 50 refilled at 1000/s
	expect_ge "$S" q0.echo_limited $(($(counter "$I" echo_flood) / 2))
	# net_af_packet's socket asks the kernel to defragment (PACKET_FANOUT_FLAG_DEFRAG):
	# a lone IPv4 fragment waits there for the rest and never reaches the PMD.
	frags=$(counter "$I" ip_fragment6)
	[ "$kind" = af_packet ] || frags=$((frags + $(counter "$I" ip_fragment4)))
	expect_eq "$S" q0.drop_ip_fragment "$frags"
}

# ---- 2. tern on DPDK as the client: it resolves the kernel ----
scenario_client() {
	echo "== DPDK client -> kernel, tern on io_uring"
	start_server srv-uring "$NK" --backend uring --bind "[::]:5544" || {
		fail "io_uring server did not start"
		return 1
	}
	ip -n "$NK" neigh flush dev "$VK"
	client dcli4 "$ND" --backend dpdk --bind 10.77.0.1:0 --addr2 fd00:77::1 \
		--connect 10.77.0.2:5544 --key "$KEY" --bytes 4000000 \
		--eal $(eal dcli4 "net_af_packet0,iface=$VD")
	expect_ge "$TMP/dcli4.stats" neigh.probes 1
	expect_ge "$TMP/dcli4.stats" neigh.resolved 1
	ip -n "$NK" neigh show 10.77.0.1 | grep -qi "lladdr $(mac_of "$ND" "$VD")" &&
		ok "kernel learned 10.77.0.1 from our ARP request" || fail "kernel did not learn us"
	client dcli6 "$ND" --backend dpdk --bind "[fd00:77::1]:0" --addr2 10.77.0.1 \
		--connect "[fd00:77::2]:5544" --key "$KEY" --bytes 2000000 \
		--eal $(eal dcli6 "net_af_packet0,iface=$VD")
	expect_ge "$TMP/dcli6.stats" neigh.probes 1
	expect_ge "$TMP/dcli6.stats" q0.na_in 1
	stop_server srv-uring
}

# The NUMA node of a CPU as sysfs tells it (-1: unknown), independently of
# io/dpdk_numa.c.
cpu_node() {
	n=$(ls -d /sys/devices/system/cpu/cpu"$1"/node* 2>/dev/null | head -1)
	[ -n "$n" ] && echo "${n##*node}" || echo -1
}

# ---- 3. two workers on two queue pairs (net_af_packet qpairs=2, no RSS) ----
# Workers pinned to CPUs 0 and $LAST_CPU: each queue's mbuf pool must be on
# its worker's NUMA node, one pool per node in use.
scenario_queues() {
	echo "== DPDK server with 2 workers on 2 queue pairs <- kernel"
	start_server srv-mq "$ND" --backend dpdk --workers 2 --cores "0,$LAST_CPU" \
		--bind 10.77.0.1:4433 --addr2 fd00:77::1 \
		--eal $(eal srv-mq "net_af_packet0,iface=$VD,qpairs=2") || {
		fail "2-queue server did not start"
		return 1
	}
	client cli4-mq "$NK" --connect "10.77.0.1:$PORT" --key "$KEY" --bytes 4000000
	client cli6-mq "$NK" --connect "[fd00:77::1]:$PORT" --key "$KEY" --bytes 4000000
	stop_server srv-mq
	expect_eq "$TMP/srv-mq.stats" port.queues 2
	n0=$(cpu_node 0) n1=$(cpu_node "$LAST_CPU") ps=$(counter "$TMP/srv-mq.stats" port.socket)
	[ "$n0" = -1 ] && n0=$ps # unknown: the port's node (or -1, any)
	[ "$n1" = -1 ] && n1=$ps
	expect_eq "$TMP/srv-mq.stats" q0.socket "$n0"
	expect_eq "$TMP/srv-mq.stats" q1.socket "$n1"
	expect_eq "$TMP/srv-mq.stats" port.mbuf_pools "$([ "$n0" = "$n1" ] && echo 1 || echo 2)"
	expect_eq "$TMP/srv-mq.stats" pool0.socket "$n0"
	total=$(($(counter "$TMP/srv-mq.stats" q0.rx_udp) + $(counter "$TMP/srv-mq.stats" q1.rx_udp)))
	[ "$total" -ge 2000 ] && ok "both queues together took $total datagrams" ||
		fail "queues took $total datagrams"
}

# ---- 4. two DPDK processes over memif ----
scenario_memif() {
	echo "== DPDK server <- DPDK client over memif"
	sock=$TMP/memif.sock
	start_server srv-memif - --backend dpdk --bind 10.78.0.1:4433 \
		--eal $(eal srv-memif "net_memif0,role=server,socket=$sock") || {
		fail "memif server did not start"
		return 1
	}
	client cli-memif - --backend dpdk --bind 10.78.0.2:0 --connect "10.78.0.1:$PORT" \
		--key "$KEY" --bytes 16000000 \
		--eal $(eal cli-memif "net_memif0,role=client,socket=$sock")
	stop_server srv-memif
	expect_ge "$TMP/srv-memif.stats" q0.rx_udp 10000
}

scenario_server af_packet
[ -n "${ONLY_SERVER:-}" ] || scenario_client
[ -n "${ONLY_SERVER:-}" ] || scenario_queues
if [ -z "${ONLY_SERVER:-}" ] && ip netns exec "$ND" true && ip -n "$ND" link show "$VD" >/dev/null 2>&1; then
	# net_af_xdp needs kernel AF_XDP support; where the kernel refuses, say so.
	if start_server probe-xdp "$ND" --backend dpdk --bind 10.77.0.1:4433 \
		--eal $(eal probe-xdp "net_af_xdp0,iface=$VD") >/dev/null 2>&1; then
		stop_server probe-xdp
		scenario_server af_xdp
	else
		echo "note: net_af_xdp unavailable on this kernel:" \
			"$(grep -m1 -i 'xdp\|error' "$TMP/probe-xdp.log")"
	fi
fi
[ -n "${ONLY_SERVER:-}" ] || scenario_memif

# ---- 5. net_tap: the tap's kernel side is the peer; TX checksum offload ----
# The DPDK process creates the tap in its own namespace NT; the kernel's end
# of it gets the addresses. net_tap offers IPv4 and UDP TX checksum offload:
# every datagram tern sends must take the hardware-checksum path, and the
# kernel (which verifies them) must accept every one.
scenario_tap() {
	echo "== DPDK server on net_tap <- the tap's kernel side, tern on io_uring"
	ip netns add "$NT" && ip -n "$NT" link set lo up || {
		fail "tap namespace"
		return 1
	}
	start_server srv-tap "$NT" --backend dpdk --bind 10.80.0.1:4433 --addr2 fd00:80::1 \
		--eal $(eal srv-tap "net_tap0,iface=$TT") || {
		fail "net_tap server did not start"
		return 1
	}
	ip -n "$NT" addr add 10.80.0.2/24 dev "$TT" && ip -n "$NT" addr add fd00:80::2/64 dev "$TT" nodad &&
		ip -n "$NT" link set "$TT" up || fail "tap addresses"
	ip netns exec "$NT" ping -c 3 -i 0.2 -W 2 10.80.0.1 >/dev/null &&
		ok "ping 10.80.0.1 over net_tap answered" || fail "ping 10.80.0.1 over net_tap"
	ip netns exec "$NT" ping -6 -c 3 -i 0.2 -W 2 fd00:80::1 >/dev/null &&
		ok "ping fd00:80::1 over net_tap answered" || fail "ping fd00:80::1 over net_tap"
	client cli4-tap "$NT" --connect "10.80.0.1:$PORT" --key "$KEY" --bytes 8000000
	client cli6-tap "$NT" --connect "[fd00:80::1]:$PORT" --key "$KEY" --bytes 2000000
	stop_server srv-tap
	S=$TMP/srv-tap.stats
	expect_eq "$S" port.tx_udp_csum_offload 1
	expect_ge "$S" q0.tx_hw_csum 100
	expect_eq "$S" q0.tx_sw_csum 0
	expect_ge "$S" q0.echo4 3
	expect_ge "$S" q0.echo6 3
	expect_eq "$S" q0.drop_udp_csum 0
}

# ---- 6. an 802.1Q VLAN on a second veth pair ----
# The kernel's side: VK2.100 (`type vlan`) where the kernel has 802.1Q, else
# a tap ($TV) that tests/test_dpdk_vlan relays onto VK2 with tag 100. VK2
# itself has no address and no IPv6, so every untagged frame on the wire is
# one the test injected.
VLAN_KIF=""
setup_vlan() {
	ip link add "$VD2" type veth peer name "$VK2" &&
		ip link set "$VD2" netns "$ND" && ip link set "$VK2" netns "$NK" &&
		ip netns exec "$ND" sysctl -qw net.ipv6.conf."$VD2".disable_ipv6=1 &&
		ip -n "$ND" link set "$VD2" arp off && ip -n "$ND" link set "$VD2" up &&
		ip netns exec "$NK" sysctl -qw net.ipv6.conf."$VK2".disable_ipv6=1 &&
		ip -n "$NK" link set "$VK2" arp off && ip -n "$NK" link set "$VK2" up || return 1
	ip netns exec "$NK" ethtool -K "$VK2" tx off >/dev/null 2>&1
	if ip -n "$NK" link add link "$VK2" name "$VK2.100" type vlan id 100 2>/dev/null; then
		VLAN_KIF=$VK2.100
		echo "note: the kernel's 802.1Q tags (ip link add ... type vlan)"
	else
		rm -f "$TMP/relay.ready"
		ip netns exec "$NK" "$RELAY" "$TV" "$VK2" 100 "$TMP/relay.ready" >"$TMP/relay.out" 2>&1 &
		RELAYPID=$!
		PIDS="$PIDS $RELAYPID"
		i=0
		while [ ! -e "$TMP/relay.ready" ] && [ $i -lt 50 ] && kill -0 "$RELAYPID" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		[ -e "$TMP/relay.ready" ] || { sed 's/^/  | /' "$TMP/relay.out"; return 1; }
		VLAN_KIF=$TV
		echo "note: no 802.1Q in this kernel (CONFIG_VLAN_8021Q): tests/test_dpdk_vlan tags for it"
	fi
	ip netns exec "$NK" sysctl -qw net.ipv6.conf."$VLAN_KIF".disable_ipv6=1
	ip netns exec "$NK" ethtool -K "$VLAN_KIF" tx off >/dev/null 2>&1
	ip -n "$NK" addr add 10.79.0.2/24 dev "$VLAN_KIF" && ip -n "$NK" link set "$VLAN_KIF" up
}

scenario_vlan() {
	echo "== DPDK server on VLAN 100 <- kernel on VLAN 100, tern on io_uring"
	setup_vlan || {
		fail "VLAN setup"
		return 1
	}
	start_server srv-vlan "$ND" --backend dpdk --vlan 100 --bind 10.79.0.1:4433 \
		--eal $(eal srv-vlan "net_af_packet0,iface=$VD2") || {
		fail "VLAN server did not start"
		return 1
	}
	DMAC=$(mac_of "$ND" "$VD2")
	ip netns exec "$NK" ping -c 3 -i 0.2 -W 2 10.79.0.1 >/dev/null &&
		ok "ping 10.79.0.1 through VLAN 100 answered" || fail "ping 10.79.0.1 through VLAN 100"
	ip -n "$NK" neigh show 10.79.0.1 dev "$VLAN_KIF" | grep -qi "lladdr $DMAC" &&
		ok "kernel resolved 10.79.0.1 to $DMAC through the tag (ARP)" || fail "ARP through VLAN 100"
	client cli4-vlan "$NK" --connect "10.79.0.1:$PORT" --key "$KEY" --bytes 4000000
	I=$TMP/inject-vlan.txt
	ip netns exec "$NK" "$INJECT" "$VK2" "$DMAC" 10.79.0.2 10.79.0.1 fd00:79::2 fd00:79::1 \
		"$PORT" 5 100 >"$I" || fail "inject"
	sleep 0.5
	stop_server srv-vlan
	S=$TMP/srv-vlan.stats
	expect_eq "$S" port.vlan 100
	expect_ge "$S" q0.echo4 3
	expect_ge "$S" q0.arp_requests_in 1
	expect_ge "$S" q0.rx_udp 500
	expect_eq "$S" q0.drop_vlan $(($(counter "$I" vlan_untagged) + $(counter "$I" vlan_wrong)))
	[ "$(counter "$I" vlan_untagged)" = 5 ] && [ "$(counter "$I" vlan_wrong)" = 5 ] ||
		fail "injector sent $(tr '\n' ' ' <"$I")"
}

# The relay's view, when it ran: tern never sent an untagged or other-VLAN frame.
check_relay() {
	[ -n "${RELAYPID:-}" ] || return 0
	kill -TERM "$RELAYPID" 2>/dev/null
	wait "$RELAYPID" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $RELAYPID\b//")
	RELAYPID=""
	expect_ge "$TMP/relay.out" relayed_in 500
	expect_eq "$TMP/relay.out" refused 0
}

[ -n "${ONLY_SERVER:-}" ] || scenario_tap
[ -n "${ONLY_SERVER:-}" ] || scenario_vlan

# ---- 7. the apps: tern-server on DPDK, tern-cat on io_uring fetches a file ----
# app_fetch NAME NETNS_SERVER NETNS_CLIENT VDEV "SERVER FLAGS" DST...
app_fetch() {
	name=$1 nss=$2 nsc=$3 vdev=$4 flags=$5
	shift 5
	echo "== tern-server --backend dpdk $flags ($vdev) <- tern-cat --get (io_uring)"
	log=$TMP/app-$name.log
	: >"$log"
	ip netns exec "$nss" "$SERVER" --backend dpdk $flags --port 4433 --root "$TMP/root" \
		-- $(eal "app-$name" "$vdev") 2>"$log" &
	APPSRV=$!
	PIDS="$PIDS $APPSRV"
	i=0
	while ! grep -q "event=listening" "$log" && [ $i -lt 200 ] && kill -0 "$APPSRV" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q "event=listening" "$log" || {
		fail "tern-server --backend dpdk ($name) did not start"
		sed 's/^/  | /' "$log" | tail -15
		return 1
	}
	ok "tern-server --backend dpdk: $(grep -o 'event=listening.*addr=[^ ]*' "$log")"
	[ -z "${APP_SETUP:-}" ] || eval "$APP_SETUP"
	skey=$(sed -n 's/.*event=listening port=[0-9]* key=\([^ ]*\) .*/\1/p' "$log")
	want=$(sha256sum <"$TMP/root/blob" | cut -d' ' -f1)
	for dst in "$@"; do
		rm -f "$TMP/got"
		timeout 120 ip netns exec "$nsc" "$CAT" "$dst" 4433 --server-key "$skey" --get blob \
			--output "$TMP/got" 2>"$TMP/app-cat.log"
		rc=$?
		got=$(sha256sum <"$TMP/got" 2>/dev/null | cut -d' ' -f1)
		[ $rc = 0 ] && [ "$got" = "$want" ] && ok "tern-cat --get blob from $dst: sha256 matches" ||
			{ fail "tern-cat --get from $dst: exit $rc, sha256 $got"; sed 's/^/  | /' "$TMP/app-cat.log"; }
	done
	kill -TERM "$APPSRV" 2>/dev/null
	wait "$APPSRV"
	rc=$?
	PIDS=$(echo "$PIDS" | sed "s/ $APPSRV\b//")
	[ $rc = 0 ] && ok "tern-server drained and exited 0" || fail "tern-server exit $rc"
}

scenario_apps() {
	mkdir -p "$TMP/root" && head -c 3000000 /dev/urandom >"$TMP/root/blob" || {
		fail "apps: test file"
		return 1
	}
	app_fetch veth "$ND" "$NK" "net_af_packet0,iface=$VD" \
		"--bind 10.77.0.1 --dpdk-addr2 fd00:77::1" 10.77.0.1 fd00:77::1
	[ -n "$VLAN_KIF" ] && app_fetch vlan "$ND" "$NK" "net_af_packet0,iface=$VD2" \
		"--bind 10.79.0.1 --dpdk-vlan 100" 10.79.0.1
	# net_tap's interface appears with the server: address it once it is up.
	ip netns exec "$NT" true 2>/dev/null || return 0
	APP_SETUP='ip -n "$NT" addr add 10.80.0.2/24 dev "$TT" && ip -n "$NT" link set "$TT" up'
	app_fetch tap "$NT" "$NT" "net_tap0,iface=$TT" "--bind 10.80.0.1" 10.80.0.1
	APP_SETUP=""
}

if [ -x "$SERVER" ] && [ -x "$CAT" ]; then
	[ -n "${ONLY_SERVER:-}" ] || scenario_apps
else
	echo "note: tern-server or tern-cat not built ($SERVER, $CAT): their DPDK cases are skipped"
fi
check_relay

[ $FAILS = 0 ] && echo "PASS" || echo "$FAILS check(s) failed"
[ $FAILS = 0 ]
