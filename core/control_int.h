/* The control plane's state, shared by control.c (responder, plumbing) and
 * control_client.c (initiator). Not part of any API. */
#ifndef TERN_CONTROL_INT_H
#define TERN_CONTROL_INT_H

#include "control.h"

#define REPLAY_WAYS 4

struct replay_entry {
	uint8_t pub[TERN_HS_KEY_LEN];
	uint8_t ts[TERN_HS_TIMESTAMP_LEN];
	bool used;
};

/* A response we sent, kept resp_cache_ttl for the initiator's retries and
 * duplicates (control.c). Keyed by (source address, initiator's CID): the
 * client's attempt series as seen from where it receives. 232 bytes. */
struct resp_entry {
	struct tern_addr src;
	uint8_t cid[TERN_CID_LEN];      /* the initiation's sender CID */
	uint8_t pub[TERN_HS_KEY_LEN];   /* the initiator's proven static key */
	uint8_t mac1[TERN_HS_MAC_LEN];  /* the answered initiation's mac1: duplicates */
	uint8_t resp[TERN_HS_RESP_LEN]; /* the response, as sent */
	uint16_t init_len, vport;
	uint8_t stream_type, resends;
	bool used;
	uint32_t next; /* hash chain; RESP_NONE ends it */
	tern_time expires;
};

struct tern_control {
	struct tern_control_cfg cfg;
	struct tern_control_ops ops;
	struct tern_hs_keypair identity;
	struct tern_hs_mac_keys mac;
	struct tern_cookie *cookie;
	struct tern_ratelimit *rl;        /* under load */
	struct tern_ratelimit *source_rl; /* always */
	struct tern_admit *admit;
	struct replay_entry *replay; /* replay_entries, REPLAY_WAYS-way sets */
	size_t replay_sets;
	uint64_t replay_key;
	unsigned replay_victim;
	struct resp_entry *resp; /* resp_cache_entries, a ring: resp_head is the oldest */
	uint32_t *resp_buckets;  /* resp_nbuckets chain heads */
	size_t resp_head;
	uint32_t resp_nbuckets; /* a power of two >= resp_cache_entries */
	uint64_t resp_key;      /* secret: chains an attacker cannot aim at */
	uint8_t next_worker;
	int arrival;                /* worker the packet being processed arrived on; -1: unknown */
	tern_time under_load_until; /* cookies required until then */
	tern_time busy_since, busy; /* the current load window, and time busy in it */
	struct tern_control_stats stats;
	struct tern_control_client *client; /* control_client.c; made on first connect */
};

#endif
