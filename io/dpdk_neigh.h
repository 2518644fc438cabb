/* The neighbour table of the DPDK backend: IPv4 (ARP) and IPv6 (NDP)
 * next hops to MAC addresses, with aging, retransmitted probes and a
 * bounded queue of packets waiting for a resolution. Pure, single-threaded
 * code with time passed in (io/dpdk_rxtx.c holds the port's lock around
 * every call); packets are opaque pointers the caller's callbacks send or
 * free, so the table never touches an mbuf.
 *
 * States follow RFC 4861 in miniature: INCOMPLETE (probing, packets
 * queue), REACHABLE (confirmed within `reachable`), STALE (still used, one
 * unicast probe per `retrans` while used until confirmed again; after
 * `max_probes` unanswered ones it is resolved afresh by broadcast; freed
 * after `gc` unconfirmed), FAILED (probes ran out: packets to it are
 * dropped for `failed_hold`). What ARP and ND messages may change follows
 * RFC 4861 §7.2.5 (tern_neigh_learn). Buckets are chosen by a keyed hash
 * (SipHash, a random key per table), so a station on the link cannot pick
 * addresses that crowd out the gateway's entry. */
#ifndef TERN_DPDK_NEIGH_H
#define TERN_DPDK_NEIGH_H

#include "core/common.h"
#include "crypto/shorthash.h"
#include "io/dpdk_net.h"

#define TERN_NEIGH_BUCKETS 256
#define TERN_NEIGH_WAYS 4
#define TERN_NEIGH_PENDING_MAX 256

enum tern_neigh_state {
	TERN_NB_FREE,
	TERN_NB_INCOMPLETE,
	TERN_NB_REACHABLE,
	TERN_NB_STALE,
	TERN_NB_FAILED
};

struct tern_neigh_entry {
	uint8_t state, family, probes;
	uint8_t mac[TERN_ETH_ALEN];
	uint8_t ip[16];
	tern_time updated; /* last confirmation (or creation, or failure) */
	tern_time probed;  /* last probe sent */
};

struct tern_neigh_cfg {
	tern_time reachable;   /* default 30 s */
	tern_time gc;          /* a STALE entry is freed after this long unconfirmed; 600 s */
	tern_time retrans;     /* between probes; 1 s */
	tern_time failed_hold; /* 3 s */
	unsigned max_probes;   /* 3 */
	unsigned pending_max;  /* packets waiting, all neighbours; <= TERN_NEIGH_PENDING_MAX; 128 */
};

/* What the table asks its caller to do. */
struct tern_neigh_io {
	void *ctx;
	void (*emit)(void *ctx, void *pkt, const uint8_t mac[TERN_ETH_ALEN]); /* send it now */
	void (*drop)(void *ctx, void *pkt);                                   /* free it */
	/* Send an ARP request / neighbour solicitation; mac NULL: broadcast. */
	void (*probe)(void *ctx, const struct tern_addr *ip, const uint8_t *mac);
};

struct tern_neigh_stats {
	uint64_t created, evicted, resolved, expired, failed;
	uint64_t queued, queue_full,
	        queue_failed; /* packets: waited / dropped full / dropped failed */
	uint64_t probes;
	uint64_t conflicts; /* messages claiming another MAC for a known neighbour: ignored */
};

struct tern_neigh {
	struct tern_neigh_cfg cfg;
	uint8_t key[TERN_SHORTHASH_KEYLEN]; /* the bucket hash's, random per table */
	struct tern_neigh_entry e[TERN_NEIGH_BUCKETS * TERN_NEIGH_WAYS];
	struct {
		void *pkt;
		uint16_t slot;
	} pend[TERN_NEIGH_PENDING_MAX];
	unsigned npend;
	struct tern_neigh_stats stats;
};

enum tern_neigh_result { TERN_NEIGH_FOUND, TERN_NEIGH_PENDING, TERN_NEIGH_UNREACHABLE };

/* Fills the defaults above. */
void tern_neigh_cfg_default(struct tern_neigh_cfg *cfg);
/* Starts empty with a fresh random hash key; cfg NULL takes the defaults. */
void tern_neigh_init(struct tern_neigh *nt, const struct tern_neigh_cfg *cfg);
/* Drops every pending packet through io->drop and empties the table. */
void tern_neigh_clear(struct tern_neigh *nt, const struct tern_neigh_io *io);

/* Looks up hop. FOUND: mac filled (a STALE entry is used and probed).
 * PENDING: resolution is under way (a new entry, or a STALE one whose MAC
 * stopped answering, sends its first broadcast probe);
 * queue the packet with tern_neigh_enqueue. UNREACHABLE: probing failed
 * recently; drop the packet. */
enum tern_neigh_result tern_neigh_resolve(struct tern_neigh *nt, const struct tern_addr *hop,
                                          tern_time now, uint8_t mac[TERN_ETH_ALEN],
                                          const struct tern_neigh_io *io);
/* Queues pkt for hop (after PENDING). Returns 0, or TERN_ELIMIT when the
 * queue is full (the caller keeps pkt and frees it). */
int tern_neigh_enqueue(struct tern_neigh *nt, const struct tern_addr *hop, void *pkt);
/* What a received ARP/ND message teaches about ip: mac (NULL when the
 * message carried none), with learn, its TERN_NET_LEARN_* flags, as RFC
 * 4861 §7.2.5 has it:
 * - no entry: created STALE only with CREATE and a mac;
 * - INCOMPLETE or FAILED: any mac completes it, REACHABLE if SOLICITED,
 *   else STALE; packets waiting for ip leave through io->emit;
 * - a known MAC: another mac replaces it only with OVERRIDE (STALE, or
 *   REACHABLE if SOLICITED); without, it is ignored and counted in
 *   stats.conflicts, and a REACHABLE entry turns STALE so the known MAC is
 *   probed before it is trusted again; the same mac (or none) with
 *   SOLICITED confirms (REACHABLE), otherwise nothing changes. */
void tern_neigh_learn(struct tern_neigh *nt, const struct tern_addr *ip, const uint8_t *mac,
                      unsigned learn, tern_time now, const struct tern_neigh_io *io);
/* Timers: re-probes, failures (their packets through io->drop), aging. */
void tern_neigh_tick(struct tern_neigh *nt, tern_time now, const struct tern_neigh_io *io);
/* The entry for ip, or NULL (for counters and tests). */
const struct tern_neigh_entry *tern_neigh_find(const struct tern_neigh *nt,
                                               const struct tern_addr *ip);

#endif
