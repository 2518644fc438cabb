/* tern — the embedding API.
 *
 * An engine owns N worker threads (one per core, each with its own UDP
 * socket on the same port through SO_REUSEPORT and its own io_uring) and one
 * control-plane thread that runs handshakes. Sessions ("connections",
 * struct tern_conn) live on exactly one worker for their whole life; every
 * callback of a tern_handler runs on that worker's thread, and the tern_conn
 * functions below may only be called from there (that is, from inside a
 * callback). Other threads use tern/handle.h.
 *
 * Typical server:
 *     struct tern_engine_cfg cfg;
 *     tern_engine_cfg_default(&cfg);
 *     cfg.bind.port = 4433;                   // plus cfg.identity from a key file
 *     tern_engine_new(&e, &cfg, err, sizeof err);
 *     tern_listen(e, 7, 0, &echo_handler);    // vport 7, stream type 0
 *     tern_engine_start(e);
 *     ...
 *     tern_engine_stop(e, 5 * 1000000);       // graceful drain
 *     tern_engine_free(e);
 *
 * Every function returns 0 or a negative TERN_E* code (tern/error.h); the
 * failing call's message is available from tern_engine_errmsg or
 * tern_conn_errmsg. The library never prints, aborts or exits: log lines go
 * to the cfg.log callback. */
#ifndef TERN_TERN_H
#define TERN_TERN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "tern/addr.h"
#include "tern/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_KEY_LEN 32
#define TERN_CONN_ID_LEN 8

struct tern_engine;
struct tern_conn;

enum tern_log_level { TERN_LOG_ERROR, TERN_LOG_WARN, TERN_LOG_INFO, TERN_LOG_DEBUG };
typedef void (*tern_log_fn)(void *ctx, enum tern_log_level level, const char *msg);

/* Which I/O backend the engine's workers poll. */
enum tern_backend_kind {
	TERN_BACKEND_URING = 0, /* kernel UDP sockets through io_uring (the default) */
	TERN_BACKEND_DPDK = 1,  /* a NIC port through DPDK: the kernel leaves the data path */
};

struct tern_engine_cfg {
	unsigned workers; /* worker threads, 1..64 (default 1) */
	const int *cores; /* pin worker i to cores[i % ncores]; NULL: no pinning */
	unsigned ncores;
	int control_core;      /* pin the control thread; -1: no pinning (default) */
	struct tern_addr bind; /* family 0: [::] dual-stack; port 0: ephemeral */
	bool ipv6_only;
	bool latency_mode; /* busy-poll: never sleep (lowest latency, burns a core) */
	/* Inline: no threads at all. The thread that calls into the engine
	 * drives it (the ENet model, for single-threaded programs and the
	 * socket API): tern_engine_poll, and every blocking handle and socket
	 * call, receive, send, run timers and handshakes; nothing happens
	 * between calls, so a program that goes quiet calls tern_engine_poll
	 * (a message sent is flushed when a packet fills, at the next call
	 * into the engine, or by the send itself when the engine was last
	 * polled more than 20 us before). One worker; io_uring only; the thread
	 * that first drives it is the only one that may (calls from another
	 * return TERN_ESTATE), and stops and frees it. Callbacks run on that
	 * thread, inside these calls. */
	bool inline_mode;
	bool gso, gro; /* UDP segmentation offloads (default on, fall back if absent) */
	bool sqpoll;   /* io_uring kernel-side submission polling */
	/* io_uring: SO_RCVBUF and SO_SNDBUF of each worker's socket (default
	 * 4 MiB, room for 4 ms at 8 Gbit/s while a worker is descheduled;
	 * forced past net.core.rmem_max/wmem_max when privileged, otherwise a
	 * cap is logged as a warning naming the sysctl). 0 = system default. */
	size_t socket_buffer;
	/* Identity: the static X25519 key pair. has_identity false: a fresh one
	 * is generated (fine for clients; servers load theirs, see
	 * tern_key_load). */
	bool has_identity;
	uint8_t identity_priv[TERN_KEY_LEN];
	/* Clients allowed to connect: NULL accepts any key (authentication by
	 * ticket, or none). Called on the control thread. */
	bool (*allow)(void *ctx, const uint8_t pub[TERN_KEY_LEN]);
	void *allow_ctx;
	const uint8_t *ticket_key; /* 32 bytes: tickets verified (tern_ticket_mint below) */
	bool ticket_required;
	/* Session defaults */
	const char *cc;       /* "bbr" (default), "cubic" or "newreno" */
	bool prefer_chacha;   /* never negotiate AES-256-GCM */
	uint16_t max_streams; /* streams per session (default 16) */
	size_t stream_window; /* bytes (default 256 KiB) */
	size_t conn_window;   /* bytes (default 1 MiB) */
	size_t send_buffer;   /* per stream (default 256 KiB) */
	/* Autotuning: receive windows double while the peer sends faster than
	 * they let it (up to these), the streams' send buffers follow four
	 * congestion windows. 0 = the defaults 16 MiB, 24 MiB, 16 MiB; set one to
	 * its starting size above to turn that autotuning off. */
	size_t stream_window_max, conn_window_max, send_buffer_max;
	uint64_t idle_timeout_us;      /* default 30 s; 0 = none */
	uint64_t keepalive_us;         /* default 15 s; 0 = none */
	uint64_t handshake_timeout_us; /* default 10 s */
	/* DoS defences (docs/handshake.md §6.1); a source is an IPv4 address or
	 * an IPv6 /64. Always: each source may start handshake_source_rate
	 * handshakes per second, bursts of handshake_source_burst; at most
	 * max_half_open sessions are half-open (accepted, not yet confirmed by
	 * the client's first packet) at once; a source holds at most
	 * max_sessions_per_source sessions. Defaults 100, 100, 1024, 1024.
	 * Under load, for a second after handshake_queue_depth initiations were
	 * queued for the control thread, half of max_half_open were half-open,
	 * or the control thread was busy handshake_busy_pct of the last second
	 * (0: never by busy time): initiations need a cookie (one extra round
	 * trip for real clients, none for spoofed ones) and each source gets
	 * handshake_rate per second, bursts of handshake_burst. Defaults 1024,
	 * 50, 20, 10. A server whose clients share one address (a benchmark, a
	 * large NAT) raises the per-source limits. */
	unsigned handshake_queue_depth;
	unsigned handshake_rate, handshake_burst;
	unsigned handshake_source_rate, handshake_source_burst;
	unsigned handshake_busy_pct;
	size_t max_half_open;
	unsigned max_sessions_per_source;
	size_t max_sessions; /* per worker (default 65536) */
	/* Memory budget: bytes of stream buffers (receive rings, message
	 * assembly, send rings) all sessions may hold together. While they
	 * hold this much, new sessions are refused (the client sees
	 * TERN_CONNECT_REFUSED_MEMORY) and the session holding most is closed
	 * with TERN_CLOSE_MEMORY. 0 (the default): a quarter of physical
	 * memory, 1 GiB if unknown; SIZE_MAX: no limit. */
	size_t max_memory;
	tern_log_fn log;
	void *log_ctx;
	/* ---- backend ----
	 * backend: TERN_BACKEND_URING (default) or TERN_BACKEND_DPDK. With DPDK
	 * (docs/deploying.md) each worker polls its own RX/TX queue pair of one
	 * ethdev port, and tern answers ARP, IPv6 neighbour discovery and ping
	 * for the port's addresses itself:
	 * - bind: the port's own IPv4 or IPv6 address and the UDP port (port 0:
	 *   random in 49152..65535); a wildcard is refused. gso, gro, sqpoll and
	 *   ipv6_only do not apply.
	 * - workers: at most the port's queue pairs (net_af_packet: its qpairs=).
	 * - eal_args/neal_args: the EAL arguments a DPDK application takes after
	 *   "--", without a program name, e.g. {"-l", "2-5", "-a",
	 *   "0000:3b:00.0"} or, with no hugepages (tests), {"--no-huge", "-m",
	 *   "512", "--no-pci", "--file-prefix=t1", "-l", "0",
	 *   "--vdev=net_af_packet0,iface=veth0"}. The EAL starts once per process:
	 *   a second DPDK engine in the same process reuses it and ignores these.
	 *   The strings must live until tern_engine_new returns.
	 * - dpdk_port: the ethdev port index (0: the first device the EAL found).
	 * - dpdk_addr2: a second address, of the other family (an IPv6 address
	 *   beside an IPv4 bind, or the reverse); family 0: none.
	 * - dpdk_prefix4/6: on-link prefix lengths (0: 24 and 64); destinations
	 *   outside go through dpdk_gw4/6 (family 0: no gateway, packets to them
	 *   are dropped and counted as tx_no_route).
	 * - dpdk_vlan: an 802.1Q VLAN ID (1..4094) to tag with and require; 0:
	 *   untagged. */
	enum tern_backend_kind backend;
	const char *const *eal_args;
	unsigned neal_args;
	uint16_t dpdk_port;
	struct tern_addr dpdk_addr2;
	uint8_t dpdk_prefix4, dpdk_prefix6;
	struct tern_addr dpdk_gw4, dpdk_gw6;
	uint16_t dpdk_vlan;
};

/* Fills the defaults documented above. */
void tern_engine_cfg_default(struct tern_engine_cfg *cfg);

/* Creates an engine: opens the sockets and rings, but starts no thread.
 * Returns 0, TERN_EINVAL (err names the bad field and the fix), TERN_ENOMEM,
 * TERN_ESTATE (a kernel feature is missing: err says which). */
int tern_engine_new(struct tern_engine **out, const struct tern_engine_cfg *cfg, char *err,
                    size_t errlen);
/* Starts the worker and control threads. Returns 0, TERN_ESTATE (already
 * started) or TERN_ENOMEM (thread creation failed). */
int tern_engine_start(struct tern_engine *e);
/* Graceful drain: closes every session gracefully (queued messages are
 * delivered first), waits up to drain_us for them, then stops the threads.
 * Callable from any thread but a worker's. Returns 0, or TERN_ETIMEDOUT if
 * some sessions had to be abandoned. */
int tern_engine_stop(struct tern_engine *e, uint64_t drain_us);
/* Frees the engine (stopping it first if needed). NULL is fine. */
void tern_engine_free(struct tern_engine *e);
/* Inline engines only: receives, runs timers and handshakes, and sends
 * what is due, waiting up to timeout_us (0: not at all) for something to
 * do. Returns the units of work done (0: none within the timeout), or
 * TERN_ESTATE (not started, the engine runs threads of its own, or another
 * thread drives it). */
int tern_engine_poll(struct tern_engine *e, uint64_t timeout_us);
/* The bound UDP port (useful with port 0). */
uint16_t tern_engine_port(const struct tern_engine *e);
/* The engine's static public key: what clients pass as server_pub. */
void tern_engine_public_key(const struct tern_engine *e, uint8_t pub[TERN_KEY_LEN]);
/* The message of the last failed engine call on this thread. */
const char *tern_engine_errmsg(const struct tern_engine *e);
/* The backend's counters as text, one "name value" per line (for DPDK:
 * link.up, link.speed_mbps, port.* hardware counters, per-queue q<i>.*
 * counters including every drop reason as q<i>.drop_<reason>, neigh.*; for
 * io_uring: w<i>.* socket counters). Callable from any thread while the
 * engine runs. Returns the length written (truncated to len - 1). */
size_t tern_engine_backend_stats(struct tern_engine *e, char *buf, size_t len);
/* The engine's own counters as text, one "name value" per line (docs/api.md
 * lists them): `sessions`; the handshake admission gauges `half_open`
 * (responder sessions not yet confirmed) and `admitted` (responder sessions
 * alive); `ctl.*`, the control plane's counters (initiations, drop_mac1,
 * drop_ratelimit, drop_half_open, drop_source_limit, cookie_replies_sent,
 * load_entered, ... and ctl.fail.<reason>); `mem.sessions`, heap bytes held
 * by the sessions and the workers' tables; `mem.budget_used` and
 * `mem.budget_limit`, the stream buffers against max_memory; `worker<i>.*`,
 * each worker's counters (unknown_cid, malformed, handshake_dropped,
 * ring_full, ...).
 * Callable from any thread; counters are at most a poll (or 1 ms, for an
 * idle worker) old; mem.sessions makes each running worker walk its
 * sessions, and waits up to 50 ms for them. The backend's counters are
 * tern_engine_backend_stats'. Returns the length written (truncated to
 * len - 1). */
size_t tern_engine_stats(struct tern_engine *e, char *buf, size_t len);

/* Why a session ended, or a connect failed. */
struct tern_close_reason {
	int err;            /* TERN_OK; TERN_ETIMEDOUT (idle, or a connect timed out);
	                      TERN_EPROTO (a protocol violation); TERN_ECLOSED (a connect
	                      refused: code says why, TERN_CONNECT_*) */
	bool remote;        /* the peer closed */
	bool app;           /* code is an application code */
	uint64_t code;      /* close code (tern/error.h TERN_CLOSE_* when !app) */
	const char *reason; /* text, not NUL-terminated; valid during the callback */
	size_t reason_len;
	const char *what; /* a short English description, NUL-terminated, static */
};

/* Callbacks, all on the session's worker thread. Any may be NULL. */
struct tern_handler {
	void *ctx;
	/* A client connected to a listener. Return false to refuse (the session
	 * is closed at once with TERN_CLOSE_NO_ERROR... as an application
	 * close with code 0). */
	bool (*on_accept)(void *ctx, struct tern_conn *c);
	/* Our connect succeeded. */
	void (*on_connect)(void *ctx, struct tern_conn *c);
	/* Our connect failed: no tern_conn exists. user is the connect's user. */
	void (*on_connect_failed)(void *ctx, void *user, const struct tern_close_reason *r);
	void (*on_message)(void *ctx, struct tern_conn *c, uint16_t stream, const void *msg,
	                   size_t len);
	void (*on_stream_fin)(void *ctx, struct tern_conn *c, uint16_t stream);
	/* lane < 0: plain datagram; otherwise unreliable-sequenced on that lane. */
	void (*on_datagram)(void *ctx, struct tern_conn *c, int lane, const void *data, size_t len);
	/* A stream (TERN_STREAM_DATAGRAMS: the datagram queue) that returned
	 * TERN_EAGAIN can take data again. */
	void (*on_writable)(void *ctx, struct tern_conn *c, uint16_t stream);
	/* The session ended; c is freed after this returns. */
	void (*on_closed)(void *ctx, struct tern_conn *c, const struct tern_close_reason *r);
};
#define TERN_STREAM_DATAGRAMS 0xffff

/* Why a connect failed (tern_close_reason.code in on_connect_failed). */
enum tern_connect_fail {
	TERN_CONNECT_BAD_SERVER_KEY = 3,     /* an answer came that did not authenticate */
	TERN_CONNECT_UNKNOWN_CLIENT_KEY = 4, /* the server's allow-list refused our key */
	TERN_CONNECT_REPLAY = 5,
	TERN_CONNECT_VERSION_MISMATCH = 6,
	TERN_CONNECT_TICKET_EXPIRED = 7,
	TERN_CONNECT_TICKET_FORGED = 8,
	TERN_CONNECT_INTERNAL = 10,
	TERN_CONNECT_REFUSED = 11,        /* nothing listens on that vport, or policy */
	TERN_CONNECT_REFUSED_MEMORY = 12, /* the server's memory budget (max_memory) is spent */
	TERN_CONNECT_TIMEOUT = 0x100,     /* no authenticated answer in time */
	TERN_CONNECT_REFUSED_UNDER_LOAD = 0x101,
};

/* Serves (vport, stream_type) with h (copied). Many listeners share one UDP
 * port. Thread-safe. Returns 0, TERN_EINVAL (already listening there),
 * TERN_ENOMEM. */
int tern_listen(struct tern_engine *e, uint16_t vport, uint8_t stream_type,
                const struct tern_handler *h);
/* Stops accepting on (vport, stream_type); existing sessions stay. */
int tern_unlisten(struct tern_engine *e, uint16_t vport, uint8_t stream_type);

struct tern_connect_opts {
	struct tern_addr addr; /* the server's address and UDP port */
	uint16_t vport;
	uint8_t stream_type;
	uint8_t server_pub[TERN_KEY_LEN];
	const uint8_t *ticket; /* NULL or ticket_len bytes (tern_ticket_mint below) */
	size_t ticket_len;
	const struct tern_handler *handler; /* copied */
	void *user; /* tern_conn_user() of the new session; on_connect_failed's user */
};
/* Starts a handshake; the handler's on_connect or on_connect_failed follows
 * on a worker. Many sessions may share the engine's one socket, to the same
 * or different servers and vports. Thread-safe. Returns 0, TERN_EINVAL,
 * TERN_ESTATE (engine not started), TERN_EAGAIN (too many handshakes in
 * flight), TERN_ENOMEM. */
int tern_connect(struct tern_engine *e, const struct tern_connect_opts *o);

/* ---- on a session (its worker thread only) ---- */

/* Queues a whole message (1 byte to 64 MiB, copied) on stream. Returns 0,
 * TERN_EAGAIN (send buffer full: on_writable follows), TERN_ETOOBIG,
 * TERN_EINVAL (stream beyond what the peer accepts, empty message),
 * TERN_ECLOSED. */
int tern_send(struct tern_conn *c, uint16_t stream, const void *msg, size_t len);
/* Ends a stream after its queued messages (the peer sees on_stream_fin). */
int tern_finish(struct tern_conn *c, uint16_t stream);
/* An unreliable datagram (at most tern_conn_max_datagram bytes). */
int tern_send_datagram(struct tern_conn *c, const void *data, size_t len);
/* An unreliable-sequenced datagram on lane 0..255: the peer never delivers
 * one older than the newest it has seen on that lane. */
int tern_send_datagram_seq(struct tern_conn *c, uint8_t lane, const void *data, size_t len);
size_t tern_conn_max_datagram(const struct tern_conn *c);
/* Closes at once with an application code and reason (the peer's
 * on_closed sees both); queued data is dropped. */
int tern_close(struct tern_conn *c, uint64_t app_code, const char *reason);
/* Delivers everything queued, then closes (the peer sees code 0). */
int tern_close_graceful(struct tern_conn *c);
void *tern_conn_user(const struct tern_conn *c);
void tern_conn_set_user(struct tern_conn *c, void *user);
const char *tern_conn_errmsg(const struct tern_conn *c);

struct tern_conn_info {
	uint16_t vport;
	uint8_t stream_type;
	uint8_t minor_version; /* negotiated protocol minor version */
	uint64_t pid;          /* from the client's ticket; 0 without one */
	uint8_t peer_key[TERN_KEY_LEN];
	struct tern_addr local, remote;
	uint8_t local_id[TERN_CONN_ID_LEN], remote_id[TERN_CONN_ID_LEN];
	const char *cipher, *cc, *state;
	uint64_t rtt_us, min_rtt_us, rtt_var_us;
	uint64_t cwnd, bytes_in_flight, pacing_rate, bandwidth; /* bytes, bytes/s */
	uint64_t bytes_sent, bytes_received, packets_sent, packets_received;
	uint64_t packets_lost, bytes_retransmitted, pto_count;
	uint64_t messages_sent, messages_received, datagrams_sent, datagrams_received;
	unsigned worker;
};
/* Fills info. Returns 0 or TERN_EINVAL. */
int tern_conn_info(const struct tern_conn *c, struct tern_conn_info *info);

/* ---- keys ---- */

/* Generates a key pair. Returns 0 or TERN_ECRYPTO. */
int tern_key_generate(uint8_t priv[TERN_KEY_LEN], uint8_t pub[TERN_KEY_LEN]);
/* Derives the public key. */
int tern_key_public(const uint8_t priv[TERN_KEY_LEN], uint8_t pub[TERN_KEY_LEN]);
/* Reads a private key file written by tern-keygen (base64 text, one line).
 * Returns 0 or TERN_EINVAL (err says why: unreadable, not a base64 32-byte
 * key, or readable by group/others). */
int tern_key_load(const char *path, uint8_t key[TERN_KEY_LEN], char *err, size_t errlen);
/* The same for a public key file (no permission check). */
int tern_key_load_public(const char *path, uint8_t key[TERN_KEY_LEN], char *err, size_t errlen);
/* ---- tickets: credentials an auth service mints and servers verify ---- */

#define TERN_TICKET_KEY_LEN 32
#define TERN_TICKET_MAX 256 /* the largest ticket a handshake carries */

/* Mints a ticket: pid and an expiry (unix seconds) bound to the client's
 * static public key, sealed (XChaCha20-Poly1305) under the ticket key the
 * auth service shares with the servers (tern_engine_cfg.ticket_key).
 * Returns the ticket's length, TERN_ENOSPC (cap too small) or TERN_ECRYPTO. */
int tern_ticket_mint(const uint8_t key[TERN_TICKET_KEY_LEN], uint64_t pid, uint64_t expiry,
                     const uint8_t client_pub[TERN_KEY_LEN], uint8_t *out, size_t cap);
/* Verifies a ticket as a server does: authentic under key, bound to
 * client_pub, not expired at now (unix seconds). Fills pid and expiry (either
 * may be NULL). Returns 0, TERN_EMALFORMED, TERN_ECRYPTO (forged, or minted
 * for another key) or TERN_ETIMEDOUT (expired). */
int tern_ticket_verify(const uint8_t key[TERN_TICKET_KEY_LEN], const uint8_t *ticket, size_t len,
                       uint64_t now, const uint8_t client_pub[TERN_KEY_LEN], uint64_t *pid,
                       uint64_t *expiry);

/* Parses a base64 public key as printed by tern-keygen. */
int tern_key_parse(const char *b64, uint8_t key[TERN_KEY_LEN]);

#ifdef __cplusplus
}
#endif
#endif
