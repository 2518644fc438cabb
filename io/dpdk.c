/* The DPDK backend's setup (see io/dpdk.h): the EAL once per process, then
 * one port: queue pairs, one mbuf pool per NUMA socket with a worker on it
 * (each queue's rings and pool on its worker's socket), RSS with a
 * symmetric key, checksum offloads when the port has them, the multicast
 * groups IPv6 neighbour discovery needs; and the counters as text. Every
 * failure an operator can meet has its own message naming the cause and
 * the fix (docs/deploying.md lists them); a missing offload or RSS is a
 * warning with a fallback, never fatal. */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "io/dpdk_int.h"

#define DEFAULT_DESC 1024
#define MBUF_CACHE 256
#define MAX_EAL_ARGS 64

_Static_assert(TERN_DPDK_SOCKET_ANY == SOCKET_ID_ANY, "io/dpdk_numa.h follows DPDK");

static pthread_mutex_t eal_lock = PTHREAD_MUTEX_INITIALIZER;
static bool eal_up;

static int say(char *buf, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	if (buf && len) {
		va_start(ap, fmt);
		vsnprintf(buf, len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void warn_add(char *warn, size_t len, const char *msg)
{
	size_t used;

	if (!warn || !len)
		return;
	used = strlen(warn);
	snprintf(warn + used, len - used, "%s%s", used ? "; " : "", msg);
}

static int eal_error(char *err, size_t errlen)
{
	int e = rte_errno;

	if (e == ENOMEM)
		return say(err, errlen, TERN_ENOMEM,
		           "dpdk: the EAL could not reserve memory (%s): no free hugepages? "
		           "Reserve some (dpdk-hugepages.py --setup 2G) or, for tests, pass "
		           "--no-huge -m 512",
		           rte_strerror(e));
	if (e == EACCES) /* 22.11 sets it when hugepage discovery fails */
		return say(err, errlen, TERN_ESTATE,
		           "dpdk: the EAL found no usable hugepages (%s; the EAL says why above): "
		           "run as root, mount hugetlbfs and reserve hugepages (dpdk-hugepages.py "
		           "--setup 2G), or for tests pass --no-huge -m 512",
		           rte_strerror(e));
	if (e == EALREADY)
		return say(err, errlen, TERN_ESTATE,
		           "dpdk: the EAL is already initialised in this process by someone "
		           "else");
	return say(err, errlen, e == EINVAL ? TERN_EINVAL : TERN_ESTATE,
	           "dpdk: EAL initialisation failed (%s): check the EAL arguments (the EAL's "
	           "own log above names the one it refused; a second process needs its own "
	           "--file-prefix)",
	           e ? rte_strerror(e) : "no reason given");
}

/* rte_eal_init pins the calling thread to the main lcore; the engine pins
 * its own threads, so the caller's affinity is put back afterwards. */
static int eal_init(const struct tern_dpdk_cfg *cfg, char *err, size_t errlen)
{
	char *argv[MAX_EAL_ARGS + 2];
	cpu_set_t saved;
	bool have_mask;
	int argc = 0, rc = 0;

	pthread_mutex_lock(&eal_lock);
	if (eal_up)
		goto out;
	if (cfg->neal_args > MAX_EAL_ARGS) {
		rc = say(err, errlen, TERN_EINVAL, "dpdk: %u EAL arguments; at most %d",
		         cfg->neal_args, MAX_EAL_ARGS);
		goto out;
	}
	argv[argc++] = (char *)"tern";
	for (unsigned i = 0; i < cfg->neal_args; i++)
		argv[argc++] =
		        (char *)cfg->eal_args[i]; /* the EAL permutes argv, not the strings */
	argv[argc] = NULL;
	have_mask = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
	if (rte_eal_init(argc, argv) < 0) {
		rc = eal_error(err, errlen);
		goto out;
	}
	if (have_mask)
		pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	eal_up = true;
out:
	pthread_mutex_unlock(&eal_lock);
	return rc;
}

static void fill_nif(struct tern_dpdk_port *p, const struct tern_dpdk_cfg *cfg)
{
	struct tern_net_if *n = &p->nif;
	struct rte_ether_addr mac;

	rte_eth_macaddr_get(p->port_id, &mac);
	memcpy(n->mac, mac.addr_bytes, TERN_ETH_ALEN);
	n->vlan = cfg->vlan;
	n->port = cfg->udp_port;
	if (!n->port) {
		uint32_t r = (uint32_t)rte_rand();
		n->port = (uint16_t)(49152 + r % 16384);
	}
	n->has4 = cfg->addr4.family == 4;
	n->has6 = cfg->addr6.family == 6;
	n->prefix4 = cfg->prefix4 ? cfg->prefix4 : 24;
	n->prefix6 = cfg->prefix6 ? cfg->prefix6 : 64;
	memcpy(n->ip4, cfg->addr4.ip, 4);
	memcpy(n->ip6, cfg->addr6.ip, 16);
	n->has_gw4 = cfg->gw4.family == 4;
	n->has_gw6 = cfg->gw6.family == 6;
	memcpy(n->gw4, cfg->gw4.ip, 4);
	memcpy(n->gw6, cfg->gw6.ip, 16);
	tern_net_if_init(n);
}

static int check_cfg(const struct tern_dpdk_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->queues == 0 || cfg->queues > TERN_DPDK_MAX_QUEUES)
		return say(err, errlen, TERN_EINVAL,
		           "dpdk: %u queues; use 1 to 64 (one per worker)", cfg->queues);
	if (cfg->addr4.family != 4 && cfg->addr6.family != 6)
		return say(err, errlen, TERN_EINVAL,
		           "dpdk: no address: the DPDK backend owns the port's IP addresses; set "
		           "bind to the port's IPv4 or IPv6 address (not a wildcard)");
	if (cfg->prefix4 > 32 || cfg->prefix6 > 128 || cfg->vlan > 4094)
		return say(err, errlen, TERN_EINVAL,
		           "dpdk: prefix lengths are at most 32 / 128 and VLAN IDs at most 4094");
	return 0;
}

static int find_port(uint16_t port_id, struct rte_eth_dev_info *info, char *err, size_t errlen)
{
	int rc;

	if (!rte_eth_dev_is_valid_port(port_id))
		return say(
		        err, errlen, TERN_EINVAL,
		        "dpdk: port %u does not exist: the EAL found %u port(s) (numbered from 0); "
		        "check -a <PCI address> / --vdev in the EAL arguments and that the NIC is "
		        "bound to vfio-pci (dpdk-devbind.py --status)",
		        port_id, rte_eth_dev_count_avail());
	rc = rte_eth_dev_info_get(port_id, info);
	if (rc < 0)
		return say(err, errlen, TERN_ESTATE,
		           "dpdk: port %u: cannot read its capabilities (%s)", port_id,
		           rte_strerror(-rc));
	return 0;
}

/* 0x6d5a repeated: Toeplitz with this key hashes (a, b) and (b, a) alike. */
static uint8_t rss_key[64];

static void offloads(struct tern_dpdk_port *p, const struct rte_eth_dev_info *info,
                     struct rte_eth_conf *conf, char *warn, size_t warnlen)
{
	uint64_t tx4 = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM, txu = RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	uint64_t rxc = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;

	p->tx_ip_csum = (info->tx_offload_capa & tx4) != 0;
	p->tx_udp_csum = (info->tx_offload_capa & txu) != 0;
	conf->txmode.offloads = (p->tx_ip_csum ? tx4 : 0) | (p->tx_udp_csum ? txu : 0);
	p->rx_csum = (info->rx_offload_capa & rxc) == rxc;
	conf->rxmode.offloads = p->rx_csum ? rxc : 0;
	if (!p->tx_udp_csum)
		warn_add(warn, warnlen,
		         "dpdk: the port has no TX UDP checksum offload: tern computes checksums "
		         "in software (CPU per byte sent; a NIC with the offload saves it)");
	if (!p->rx_csum)
		warn_add(warn, warnlen,
		         "dpdk: the port has no RX checksum offload: tern verifies checksums in "
		         "software (CPU per byte received)");
}

static void rss(struct tern_dpdk_port *p, const struct rte_eth_dev_info *info,
                struct rte_eth_conf *conf, char *warn, size_t warnlen)
{
	uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info->flow_type_rss_offloads;
	size_t klen = info->hash_key_size ? info->hash_key_size : 40;

	if (p->nq < 2)
		return;
	if (!hf || klen > sizeof(rss_key)) {
		warn_add(warn, warnlen,
		         "dpdk: the port has no RSS: the PMD spreads packets its own way and "
		         "workers hand each to its owner (slower); use a NIC with RSS or one "
		         "worker");
		return;
	}
	for (size_t i = 0; i < sizeof(rss_key); i += 2) {
		rss_key[i] = 0x6d;
		rss_key[i + 1] = 0x5a;
	}
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rx_adv_conf.rss_conf = (struct rte_eth_rss_conf){
	        .rss_key = rss_key, .rss_key_len = (uint8_t)klen, .rss_hf = hf};
	p->rss = true;
}

static int make_pool(struct tern_dpdk_port *p, const struct tern_dpdk_cfg *cfg, unsigned k,
                     unsigned nq, unsigned rxd, unsigned txd, char *err, size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	int socket = p->pool_socket[k];
	unsigned n = cfg->mbufs;

	if (!n)
		n = nq * (rxd + txd + 2 * TERN_DPDK_CTL_MAX + MBUF_CACHE) + 2048;
	snprintf(name, sizeof(name), "tern_p%u_%u", p->port_id, k);
	p->pools[k] =
	        rte_pktmbuf_pool_create(name, n, MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (!p->pools[k] && socket < 0)
		return say(err, errlen, TERN_ENOMEM,
		           "dpdk: cannot allocate %u mbufs (%s): too little hugepage memory; "
		           "reserve more (dpdk-hugepages.py --setup 2G) or raise -m",
		           n, rte_strerror(rte_errno));
	if (!p->pools[k])
		return say(err, errlen, TERN_ENOMEM,
		           "dpdk: cannot allocate %u mbufs on NUMA socket %d (%s): too little "
		           "hugepage memory on that socket; reserve more there (dpdk-hugepages.py "
		           "--node %d --setup 2G) or raise -m / its share of --socket-mem",
		           n, socket, rte_strerror(rte_errno), socket);
	return 0;
}

/* One pool per NUMA socket that has a queue's worker on it (io/dpdk_numa.h). */
static int make_pools(struct tern_dpdk_port *p, const struct tern_dpdk_cfg *cfg, unsigned rxd,
                      unsigned txd, char *err, size_t errlen)
{
	struct tern_dpdk_pool_plan plan;
	int rc;

	tern_dpdk_plan_pools(p->nq, cfg->cores, cfg->ncores, p->socket, tern_dpdk_cpu_socket, NULL,
	                     &plan);
	for (unsigned k = 0; k < plan.npools; k++) {
		p->pool_socket[k] = plan.socket[k];
		rc = make_pool(p, cfg, k, plan.queues[k], rxd, txd, err, errlen);
		if (rc < 0)
			return rc;
		p->npools = k + 1;
	}
	for (unsigned i = 0; i < p->nq; i++) {
		p->q[i] = (struct tern_dpdk_queue){.p = p,
		                                   .port_id = p->port_id,
		                                   .qid = (uint16_t)i,
		                                   .socket = plan.socket[plan.pool_of[i]],
		                                   .pool = p->pools[plan.pool_of[i]],
		                                   .wake_fd = -1};
		tern_net_ratelimit_init(&p->q[i].echo_limit, cfg->echo_rate, cfg->echo_burst);
	}
	return 0;
}

static int setup_queues(struct tern_dpdk_port *p, uint16_t rxd, uint16_t txd, char *err,
                        size_t errlen)
{
	int rc;

	for (unsigned i = 0; i < p->nq; i++) {
		struct tern_dpdk_queue *q = &p->q[i];
		rc = rte_eth_rx_queue_setup(p->port_id, (uint16_t)i, rxd, (unsigned)q->socket, NULL,
		                            q->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(p->port_id, (uint16_t)i, txd,
			                            (unsigned)q->socket, NULL);
		if (rc < 0)
			return say(err, errlen, TERN_ESTATE,
			           "dpdk: port %u queue %u setup failed (%s)", p->port_id, i,
			           rte_strerror(-rc));
	}
	return 0;
}

/* IPv6 neighbour discovery arrives on multicast groups: join them, or take
 * all multicast when the port cannot filter. */
static void join_groups(struct tern_dpdk_port *p)
{
	struct rte_ether_addr mc[3] = {{{0x33, 0x33, 0, 0, 0, 1}}};
	const uint8_t *a[2] = {p->nif.ip6, p->nif.ll6};

	if (!p->nif.has6)
		return;
	for (int i = 0; i < 2; i++) {
		uint8_t m[6] = {0x33, 0x33, 0xff, a[i][13], a[i][14], a[i][15]};
		memcpy(mc[i + 1].addr_bytes, m, 6);
	}
	if (rte_eth_dev_set_mc_addr_list(p->port_id, mc, 3) < 0)
		rte_eth_allmulticast_enable(p->port_id); /* best effort: af_packet sees all */
}

static int configure(struct tern_dpdk_port *p, const struct tern_dpdk_cfg *cfg,
                     const struct rte_eth_dev_info *info, char *warn, size_t warnlen, char *err,
                     size_t errlen)
{
	struct rte_eth_conf conf;
	uint16_t rxd = (uint16_t)(cfg->rx_desc ? cfg->rx_desc : DEFAULT_DESC);
	uint16_t txd = (uint16_t)(cfg->tx_desc ? cfg->tx_desc : DEFAULT_DESC);
	int rc;

	memset(&conf, 0, sizeof(conf));
	offloads(p, info, &conf, warn, warnlen);
	rss(p, info, &conf, warn, warnlen);
	rc = rte_eth_dev_configure(p->port_id, (uint16_t)p->nq, (uint16_t)p->nq, &conf);
	if (rc < 0)
		return say(err, errlen, TERN_ESTATE,
		           "dpdk: port %u (%s) refused its configuration (%s)", p->port_id,
		           p->driver, rte_strerror(-rc));
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	rc = make_pools(p, cfg, rxd, txd, err, errlen);
	if (rc == 0)
		rc = setup_queues(p, rxd, txd, err, errlen);
	if (rc < 0)
		return rc;
	rc = rte_eth_dev_start(p->port_id);
	if (rc < 0)
		return say(err, errlen, TERN_ESTATE, "dpdk: port %u (%s) did not start (%s)",
		           p->port_id, p->driver, rte_strerror(-rc));
	p->started = true;
	join_groups(p);
	return 0;
}

static int open_port(struct tern_dpdk_port *p, const struct tern_dpdk_cfg *cfg, char *warn,
                     size_t warnlen, char *err, size_t errlen)
{
	struct rte_eth_dev_info info;
	int rc = find_port(cfg->port_id, &info, err, errlen);

	if (rc < 0)
		return rc;
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name ? info.driver_name : "?");
	if (info.max_rx_queues < cfg->queues || info.max_tx_queues < cfg->queues)
		return say(
		        err, errlen, TERN_EINVAL,
		        "dpdk: port %u (%s) has %u RX and %u TX queues but %u workers need one "
		        "pair each: use at most %u workers (with net_af_packet, raise its qpairs=)",
		        cfg->port_id, p->driver, info.max_rx_queues, info.max_tx_queues,
		        cfg->queues, TERN_MIN(info.max_rx_queues, info.max_tx_queues));
	p->socket = rte_eth_dev_socket_id(cfg->port_id); /* -1 (SOCKET_ID_ANY): unknown */
	if (p->socket < 0)
		p->socket = TERN_DPDK_SOCKET_ANY;
	fill_nif(p, cfg);
	return configure(p, cfg, &info, warn, warnlen, err, errlen);
}

int tern_dpdk_open(const struct tern_dpdk_cfg *cfg, struct tern_dpdk_port **out, char *warn,
                   size_t warnlen, char *err, size_t errlen)
{
	struct tern_dpdk_port *p;
	int rc;

	*out = NULL;
	if (warn && warnlen)
		*warn = '\0';
	rc = check_cfg(cfg, err, errlen);
	if (rc == 0)
		rc = eal_init(cfg, err, errlen);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (p)
		p->q = rte_zmalloc("tern_dpdk_q", cfg->queues * sizeof(*p->q), RTE_CACHE_LINE_SIZE);
	if (!p || !p->q) {
		free(p);
		return say(err, errlen, TERN_ENOMEM, "dpdk: out of memory");
	}
	p->port_id = cfg->port_id;
	p->nq = cfg->queues;
	rte_spinlock_init(&p->nlock);
	tern_neigh_init(&p->neigh, NULL);
	rc = open_port(p, cfg, warn, warnlen, err, errlen);
	if (rc < 0) {
		tern_dpdk_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

static void neigh_drop(void *ctx, void *pkt)
{
	(void)ctx;
	rte_pktmbuf_free(pkt);
}

void tern_dpdk_close(struct tern_dpdk_port *p)
{
	struct tern_neigh_io io = {.drop = neigh_drop};

	if (!p)
		return;
	tern_neigh_clear(&p->neigh, &io);
	if (p->started) {
		rte_eth_dev_stop(p->port_id);
		rte_eth_dev_close(p->port_id); /* frees the mbufs the rings held */
	}
	for (unsigned i = 0; p->q && i < p->nq; i++)
		rte_pktmbuf_free_bulk(p->q[i].ctl, p->q[i].nctl);
	for (unsigned k = 0; k < p->npools; k++)
		rte_mempool_free(p->pools[k]);
	rte_free(p->q);
	free(p);
}

struct tern_dpdk_queue *tern_dpdk_queue(struct tern_dpdk_port *p, unsigned i)
{
	return i < p->nq ? &p->q[i] : NULL;
}

uint16_t tern_dpdk_udp_port(const struct tern_dpdk_port *p)
{
	return p->nif.port;
}

void tern_dpdk_mac(const struct tern_dpdk_port *p, uint8_t mac[6])
{
	memcpy(mac, p->nif.mac, 6);
}

void tern_dpdk_thread_enter(void)
{
	if (rte_lcore_id() == LCORE_ID_ANY)
		rte_thread_register(); /* fails only when every lcore slot is taken */
}

void tern_dpdk_thread_leave(void)
{
	rte_thread_unregister();
}

void tern_dpdk_queue_watch_wakeup(struct tern_dpdk_queue *q, int efd)
{
	q->wake_fd = efd;
}
