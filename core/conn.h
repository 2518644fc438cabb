/* struct tern_conn: what the public API calls a session. It wraps a
 * struct tern_session with the handler the application gave, its user
 * pointer, what the handshake told us, and the worker bookkeeping (timer,
 * dirty-list link). The session's callbacks land in conn.c, which turns
 * them into the handler's. */
#ifndef TERN_CONN_H
#define TERN_CONN_H

#include "worker.h"

struct tern_conn {
	struct tern_session *s;
	struct tern_worker *w;
	struct tern_handler h;
	void *user;
	struct tern_hs_session_info info;
	bool initiator;
	bool accepted;    /* on_accept/on_connect ran */
	bool closed_seen; /* on_closed ran */
	bool in_dirty;
	bool busy; /* counted in the worker's `busy`: data in flight or queued */
	struct tern_conn *dirty_next;
	struct tern_timer timer;
	uint64_t key; /* local CID as the table key */
};

/* Wraps an installed session; returns NULL on allocation failure. */
struct tern_conn *tern_conn_new(struct tern_worker *w, const struct tern_install *in);
/* Runs on_closed if not yet, frees the session and the conn. */
void tern_conn_free(struct tern_conn *c);
/* The session reached its established state as a responder: accept. */
void tern_conn_established(struct tern_conn *c);

#endif
