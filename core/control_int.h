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

struct tern_control {
	struct tern_control_cfg cfg;
	struct tern_control_ops ops;
	struct tern_hs_keypair identity;
	struct tern_hs_mac_keys mac;
	struct tern_cookie *cookie;
	struct tern_ratelimit *rl;
	struct replay_entry *replay; /* replay_entries, REPLAY_WAYS-way sets */
	size_t replay_sets;
	uint64_t replay_key;
	unsigned replay_victim;
	uint8_t next_worker;
	int arrival;                /* worker the packet being processed arrived on; -1: unknown */
	tern_time under_load_until; /* cookies required until then */
	struct tern_control_stats stats;
	struct tern_control_client *client; /* control_client.c; made on first connect */
};

#endif
