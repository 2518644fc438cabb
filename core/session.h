/* A session: one end of a tern connection. It owns the keys, the streams,
 * the datagram queue, ACK state, loss recovery and congestion control, and
 * the timers of that connection. It does no I/O and reads no clock: the
 * caller (a worker, or the simulator's driver) hands it received packets and
 * the time, asks it for packets to send, and calls it back at its deadline.
 *
 *   recv:  tern_session_recv_from(s, pkt, len, from, now)      core/session_recv.c
 *   send:  tern_session_write_to(s, buf, cap, now, &to) -> len core/session_send.c
 *   time:  tern_session_deadline(s) / tern_session_on_timeout(s, now)
 *
 * The session also owns the peer's address (core/path.h): it tells the
 * caller where each packet goes, and moves to a new address only once that
 * address is validated.
 *
 * A session is owned by exactly one thread for its life. */
#ifndef TERN_SESSION_H
#define TERN_SESSION_H

#include "ack.h"
#include "admit.h"
#include "cc.h"
#include "dgram.h"
#include "flow.h"
#include "pacer.h"
#include "path.h"
#include "recovery.h"
#include "stream.h"
#include "crypto/aead.h"
#include "crypto/handshake.h"
#include "crypto/replay.h"

enum tern_session_state {
	TERN_SESSION_HANDSHAKING, /* keys installed, peer not yet heard from */
	TERN_SESSION_ESTABLISHED,
	TERN_SESSION_CLOSING,  /* we sent CLOSE; waiting for its ACK or 3 PTO */
	TERN_SESSION_DRAINING, /* the peer closed; silent for 3 PTO */
	TERN_SESSION_CLOSED,
};

const char *tern_session_state_name(enum tern_session_state st);

struct tern_session;

/* Why a session ended, as its application sees it. */
struct tern_close_info {
	int err;            /* TERN_OK for a close by either side; TERN_ETIMEDOUT on idle
			   timeout; TERN_EPROTO when the peer broke the protocol */
	bool remote;        /* the peer sent the CLOSE */
	bool app;           /* code is the application's (CLOSE_APP) */
	uint64_t code;      /* close code */
	const char *reason; /* not NUL-terminated; valid during the callback */
	size_t reason_len;
};

/* Callbacks run on the session's owner thread, from inside recv/timeout
 * calls. They may call the session's send functions. */
struct tern_session_cbs {
	void *ctx;
	void (*established)(void *ctx, struct tern_session *s);
	void (*message)(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *msg,
	                size_t len);
	/* The peer finished a stream and every message on it was delivered. */
	void (*stream_fin)(void *ctx, struct tern_session *s, uint16_t stream);
	/* lane < 0: plain datagram; else unreliable-sequenced on that lane. */
	void (*datagram)(void *ctx, struct tern_session *s, int lane, const uint8_t *data,
	                 size_t len);
	/* A stream that returned TERN_EAGAIN can take data again
	 * (TERN_STREAM_DGRAM for the datagram queue). */
	void (*writable)(void *ctx, struct tern_session *s, uint16_t stream);
	void (*closed)(void *ctx, struct tern_session *s, const struct tern_close_info *ci);
};
#define TERN_STREAM_DGRAM UINT16_MAX
/* A DATAGRAM_SEQ frame's header at most (type, lane, sequence, length): a
 * datagram of tern_session_max_dgram bytes fits a packet with it. */
#define TERN_DGRAM_FRAME_MAX (1 + 2 + 8 + 2)

struct tern_session_cfg {
	enum tern_cipher cipher;
	const struct tern_cc_ops *cc; /* NULL = BBR */
	size_t max_packet;            /* UDP payload bytes; default 1452, min 1200 */
	uint16_t max_streams;         /* default 16, at most TERN_MAX_STREAMS */
	size_t stream_window;         /* per-stream receive window; default 256 KiB */
	size_t conn_window;           /* per-session receive window; default 1 MiB */
	size_t send_buffer;           /* per-stream send buffer; default 256 KiB */
	/* Autotuning ceilings (see tern_srecv_window_update_at): receive windows
	 * double while the peer is window-limited, a stream's send buffer
	 * follows 4 · cwnd. Defaults 16 MiB, 24 MiB, 16 MiB; a ceiling equal to
	 * its starting size turns autotuning off. */
	size_t stream_window_max, conn_window_max, send_buffer_max;
	size_t dgram_queue;          /* queued outgoing datagrams; default 64 */
	size_t max_in_flight_pkts;   /* sent-map bound; default 65536 */
	tern_time max_ack_delay;     /* default 25 ms */
	tern_time idle_timeout;      /* default 30 s; 0 = none */
	tern_time handshake_timeout; /* unconfirmed sessions end after (10 s); 0 = none */
	tern_time keepalive;         /* default 15 s; 0 = none */
	bool no_pacing;
	/* Packet protection (docs/protocol.md §5.4). A count of 0 means the
	 * cipher's default, resolved when the session is created:
	 *   key_update_packets: update the tx key after it sealed this many
	 *     packets (2^23 AES-256-GCM, 2^30 ChaCha20-Poly1305);
	 *   key_update_interval: update a tx key older than this (default 1 h;
	 *     0 = never);
	 *   aead_integrity_limit: packets that fail to open before the session
	 *     closes with AEAD_LIMIT (2^52 AES-256-GCM, 2^36 ChaCha20-Poly1305);
	 *   aead_confidentiality_limit: packets one key may ever seal (2^23
	 *     AES-256-GCM, 2^62 ChaCha20-Poly1305); the key is updated before
	 *     it, and a key that nears it without a confirmed update closes the
	 *     session with AEAD_LIMIT. */
	uint64_t key_update_packets;
	tern_time key_update_interval;
	uint64_t aead_integrity_limit;
	uint64_t aead_confidentiality_limit;
	/* The memory budget this session's stream buffers count against,
	 * shared with other sessions (an engine's; tests make their own).
	 * NULL: none. Not owned; must outlive the session. */
	struct tern_budget *budget;
};

/* Fills cfg with the defaults above. */
void tern_session_cfg_default(struct tern_session_cfg *cfg);

struct tern_session_stats {
	uint64_t pkts_sent, bytes_sent, pkts_recv, bytes_recv;
	uint64_t pkts_lost, pkts_retransmitted_bytes, pto_count;
	uint64_t msgs_sent, msgs_recv, dgrams_sent, dgrams_recv, dgrams_dropped_stale;
	uint64_t dgrams_lost; /* sent datagrams in packets declared lost */
	/* received packets dropped, by reason */
	uint64_t drop_malformed, drop_auth, drop_duplicate, drop_state;
	uint64_t spurious_losses, persistent_congestions;
	/* path validation (docs/protocol.md §6.10): PATH_CHALLENGEs sent,
	 * candidates validated and dropped unanswered, migrations; and packet
	 * numbers skipped against optimistic ACKs (§8.4) */
	uint64_t path_challenges, paths_validated, paths_failed, migrations, pns_skipped;
};

struct tern_stream {
	struct tern_stream_send tx;
	struct tern_stream_recv rx;
	bool want_writable;
	bool max_data_pending; /* MAX_STREAM_DATA owed */
	bool blocked_pending;  /* STREAM_DATA_BLOCKED owed */
	bool fin_reported;     /* stream_fin callback ran */
	bool assembly_wait;    /* in-order bytes wait for assembly room */
	uint64_t credited;     /* in-order bytes returned to connection credit */
	uint64_t charged;      /* bytes of the current message's assembly held against frx */
};

struct tern_session {
	enum tern_session_state state;
	bool initiator;
	bool closing_graceful; /* close requested; CLOSE once all data is acked */
	uint8_t local_cid[TERN_CID_LEN], peer_cid[TERN_CID_LEN];
	struct tern_session_cfg cfg;
	struct tern_session_cbs cbs;
	uint64_t largest_rx_pn; /* UINT64_MAX until a packet authenticates */

	/* Packet protection lifecycle (docs/protocol.md §5.4-§5.6). keys is the
	 * receive generation (keys.generation): keys.rx opens packets whose K bit
	 * is its low bit; keys.tx seals while tx_gen == keys.generation.
	 * keys_next is generation + 1, always precomputed: its rx trial-opens the
	 * peer's update, its tx seals once we updated first (tx_gen =
	 * keys.generation + 1). Receiving the next generation rotates: rx_prev =
	 * keys.rx, keys = keys_next, a new keys_next. All key memory is
	 * sodium_malloc'd and wiped on free. */
	struct tern_keys keys, keys_next;
	struct tern_aead *rx_prev; /* generation − 1's rx key; NULL once dropped */
	tern_time rx_prev_drop;    /* when rx_prev goes (3 PTO after the rotation) */
	uint64_t rx_first_pn;      /* lowest pn opened under keys.rx */
	uint64_t rx_largest_pn;    /* highest pn opened under keys.rx */
	uint64_t rx_opened_gen;    /* generation that opened the packet being processed */
	uint64_t tx_gen;           /* keys.generation or keys.generation + 1 */
	uint64_t tx_gen_first_pn;  /* first pn under tx_gen: its ACK confirms the update */
	uint64_t tx_gen_pkts;      /* packets sealed under tx_gen */
	tern_time tx_gen_start;    /* when tx_gen began (key_update_interval) */
	uint64_t auth_failures;    /* packets that failed to open, ever (integrity limit) */
	bool key_update_pending;   /* a KEY_UPDATE frame announcing tx_gen is owed */
	bool rx_gen_acked;         /* we sent an ACK since keys.generation began (§5.4) */
	struct tern_replay replay; /* pns that opened (checked before, set after AEAD) */

	struct tern_recovery rec;
	struct tern_ackgen ack;
	struct tern_pacer pacer;
	struct tern_flow_rx frx;
	struct tern_flow_tx ftx;
	struct tern_hs_params peer;   /* the peer's transport parameters */
	struct tern_stream **streams; /* nstreams slots, lazily allocated */
	uint16_t nstreams;            /* max(our max_streams, the peer's) */
	uint16_t streams_hi;          /* 1 + highest stream id in use */
	uint16_t rr;                  /* round-robin cursor over streams */
	uint64_t tx_buffered;         /* sum of the streams' tern_ssend_buffered */
	struct tern_dgram_queue dq;
	struct tern_dgram_lanes lanes;
	bool dq_want_writable;
	/* Messages assembled outside their stream's ring (session_mem.c): one
	 * stream at a time may assemble beyond the connection window
	 * (`assembling`, -1: none); the others' assembly bytes are held
	 * against it (frx.held), at most half of it. */
	int32_t assembling;
	uint16_t assembly_waiting; /* streams with assembly_wait set */
	bool assembly_retrying;    /* retry_assembly is running (no recursion) */
	struct tern_memacct mem;   /* stream buffers, counted against cfg.budget */
	/* The application's queue is full (io/handle.c): messages are still
	 * delivered, but no stream or connection credit goes back to the peer,
	 * so it can send at most what it was already granted. */
	bool credit_held;

	/* control frames owed */
	bool max_data_pending, data_blocked_pending, ping_pending, path_response_pending;
	unsigned probes;                           /* PTO probe packets owed (bypass cwnd) */
	uint8_t path_response[TERN_PATH_DATA_LEN]; /* owed on the peer's path */

	/* The peer's address and any candidate (path.h); rx_from: which of the
	 * two the packet being processed came from. */
	struct tern_path path;
	enum tern_path_from rx_from;
	/* Randomness for PATH_CHALLENGE data and packet-number skips:
	 * libsodium's CSPRNG, or a seeded generator (tern_session_seed_random). */
	bool seeded;
	uint64_t rng;

	/* close */
	struct tern_close_info close; /* what we send (CLOSING) or received */
	char close_reason[TERN_MAX_CLOSE_REASON];
	bool close_pending;       /* a CLOSE frame is owed */
	tern_time close_deadline; /* end of CLOSING/DRAINING */
	bool closed_reported;

	tern_time last_recv, last_eliciting_sent;
	/* Bytes we may still send before the peer's address is validated (3x
	 * what it sent us, RFC 9000 §8.1); UINT64_MAX once validated. */
	uint64_t amp_budget;
	/* A responder session's place in the control plane's admission counts
	 * (core/admit.h): half-open until the first authenticated packet,
	 * counted against its source until freed. Zero when not admitted. */
	struct tern_admit_ticket admit;
	struct tern_session_stats stats;
	char errbuf[128]; /* last API error message */
};

/* Creates a session from the handshake's outcome: keys (moved into the
 * session: *keys is zeroed, and freed on failure too) and the peer's
 * transport parameters (NULL: assume the peer runs our cfg). The initiator
 * speaks first. local_cid names this session in packets we receive; peer_cid
 * in packets we send. cfg may be NULL for defaults. Returns 0, TERN_EINVAL
 * (bad config; a message is in *err_msg if non-NULL), TERN_ENOMEM. */
int tern_session_new(struct tern_session **out, const struct tern_session_cfg *cfg,
                     const struct tern_session_cbs *cbs, bool initiator,
                     const uint8_t local_cid[TERN_CID_LEN], const uint8_t peer_cid[TERN_CID_LEN],
                     struct tern_keys *keys, const struct tern_hs_params *peer, tern_time now,
                     const char **err_msg);
/* A responder whose peer's address is not yet validated: it may send at most
 * 3x `received` bytes (the initiation's size, minus what the handshake
 * response used) until a packet from the peer authenticates. */
void tern_session_limit_amplification(struct tern_session *s, uint64_t budget);
/* The transport parameters a handshake announces for cfg. */
void tern_session_local_params(const struct tern_session_cfg *cfg, struct tern_hs_params *p);
/* Creates a session whose keys come from a pre-shared secret through
 * tern_keys_derive (tests, the simulator, and tools without a handshake);
 * both ends must run the same cfg. Returns as tern_session_new, plus
 * TERN_ECRYPTO. */
int tern_session_new_psk(struct tern_session **out, const struct tern_session_cfg *cfg,
                         const struct tern_session_cbs *cbs, bool initiator,
                         const uint8_t local_cid[TERN_CID_LEN],
                         const uint8_t peer_cid[TERN_CID_LEN], const uint8_t *secret,
                         size_t secret_len, tern_time now, const char **err_msg);
/* Frees every resource and wipes the keys. NULL is fine. */
void tern_session_free(struct tern_session *s);

/* Processes one received datagram addressed to this session (in place:
 * the payload is decrypted into pkt), which arrived from `from` (NULL: from
 * the peer's address). Returns 0 when processed, or a negative code when the
 * packet was dropped (and counted in stats). A packet that authenticates
 * from another address starts validating it (docs/protocol.md §6.10); the
 * session moves there only once it is validated: see tern_session_peer. */
int tern_session_recv_from(struct tern_session *s, uint8_t *pkt, size_t len,
                           const struct tern_addr *from, tern_time now);
/* tern_session_recv_from with from = NULL: for callers that track no
 * addresses (tests, tools); the session then never sees a new path. */
int tern_session_recv(struct tern_session *s, uint8_t *pkt, size_t len, tern_time now);
/* Writes the next packet to send into buf (cap ≥ cfg.max_packet) and its
 * destination into *to: the peer, or a candidate address being validated.
 * Returns its length, 0 when nothing is to be sent now (see
 * tern_session_deadline), or a negative TERN_E*. A caller that passes
 * addresses to tern_session_recv_from must write with this. */
int tern_session_write_to(struct tern_session *s, uint8_t *buf, size_t cap, tern_time now,
                          struct tern_addr *to);
/* tern_session_write_to for callers without addresses: writes only packets
 * for the peer. */
int tern_session_write(struct tern_session *s, uint8_t *buf, size_t cap, tern_time now);
/* Sets the peer's address (before the first packet; the handshake's). */
void tern_session_set_peer(struct tern_session *s, const struct tern_addr *peer);
/* The address packets go to: the peer's, changed only by a migration to a
 * validated address. */
static inline const struct tern_addr *tern_session_peer(const struct tern_session *s)
{
	return &s->path.peer;
}
/* Makes the session draw its random bytes (PATH_CHALLENGE data, skipped
 * packet numbers) from a generator seeded with seed instead of libsodium's
 * CSPRNG: for the simulator and tests, so that runs replay. Predictable:
 * never for a session on a real network. */
void tern_session_seed_random(struct tern_session *s, uint64_t seed);
/* The earliest time the session needs tern_session_on_timeout or has a
 * packet to write; TERN_TIME_NEVER when closed. */
tern_time tern_session_deadline(const struct tern_session *s, tern_time now);
/* Runs every expired timer (loss, PTO, idle, keepalive, close). */
void tern_session_on_timeout(struct tern_session *s, tern_time now);
/* True while the session has packets in flight that expect an ACK, stream
 * bytes not yet acknowledged, or datagrams queued: an ACK or a send is due
 * within about a round trip (the worker's idle policy polls meanwhile). */
static inline bool tern_session_busy(const struct tern_session *s)
{
	return s->state != TERN_SESSION_CLOSED &&
	       (s->rec.cc.bytes_in_flight || s->tx_buffered || s->dq.n);
}

/* Queues a whole message on stream (< cfg.max_streams). Returns 0,
 * TERN_EAGAIN (send buffer full: a writable callback follows),
 * TERN_ETOOBIG, TERN_EINVAL, TERN_ECLOSED, TERN_ENOMEM. */
int tern_session_send(struct tern_session *s, uint16_t stream, const void *msg, size_t len);
/* Ends a stream (< the peer's max_streams) after its queued messages.
 * Returns 0, TERN_EINVAL, TERN_ECLOSED (not open, or already finished),
 * TERN_ENOMEM. */
int tern_session_finish(struct tern_session *s, uint16_t stream);
/* Queues an unreliable datagram; lane ≥ 0 makes it unreliable-sequenced on
 * that lane. Returns 0, TERN_EAGAIN, TERN_ETOOBIG (larger than one packet
 * carries), TERN_EINVAL, TERN_ECLOSED. */
int tern_session_send_dgram(struct tern_session *s, int lane, const void *data, size_t len);
/* Largest datagram payload that fits in one packet. */
size_t tern_session_max_dgram(const struct tern_session *s);
/* Closes the session. graceful: deliver every queued message, then CLOSE
 * with NO_ERROR (app_code ignored). Otherwise CLOSE_APP(app_code, reason)
 * at once, dropping queued data; also after a graceful close that is still
 * waiting for its data to be acknowledged. Returns 0 or TERN_ECLOSED. */
int tern_session_close(struct tern_session *s, bool graceful, uint64_t app_code, const char *reason,
                       tern_time now);
/* The message of the last API error on this session ("" if none). */
const char *tern_session_errmsg(const struct tern_session *s);
/* Holds (true) or gives back (false) the receive credit of every stream and
 * of the connection: while held, delivered bytes are not re-granted; on
 * release the owed MAX_DATA / MAX_STREAM_DATA frames are queued (flush the
 * session). Backpressure for an application that consumes slowly. */
void tern_session_hold_credit(struct tern_session *s, bool hold);
/* Counters, including loss recovery's (PTOs, spurious losses, persistent
 * congestion). */
void tern_session_get_stats(const struct tern_session *s, struct tern_session_stats *out);
/* Bytes of heap the session holds (streams, queues, maps). */
size_t tern_session_mem(const struct tern_session *s);
/* Bytes of stream buffers the session holds (receive rings and bitmaps,
 * assembly buffers, send rings and message ends): what it counts against
 * cfg.budget. O(1). */
static inline uint64_t tern_session_buffers(const struct tern_session *s)
{
	return s->mem.bytes;
}
/* Bytes received on the streams and not yet delivered: in receive rings
 * (holes included) and assembly buffers. O(streams). */
uint64_t tern_session_rx_undelivered(const struct tern_session *s);
/* Closes the session at once with MEMORY (the budget is spent and this is
 * the greediest session) and frees its stream buffers, so the budget sees
 * them go now. A session already closing or draining keeps its close and
 * only loses its buffers (nothing is delivered from them any more). */
void tern_session_close_memory(struct tern_session *s, tern_time now);

/* ---- internal, shared by session*.c ---- */
struct tern_stream *tern_session_stream(struct tern_session *s, uint16_t id, bool create);
void tern_session_fail(struct tern_session *s, uint64_t code, const char *reason);
void tern_session_enter_closed(struct tern_session *s);
void tern_session_report_closed(struct tern_session *s);
tern_time tern_session_three_pto(const struct tern_session *s);
void tern_session_random(struct tern_session *s, uint8_t *out, size_t n);
void tern_session_on_acked(void *ctx, const struct tern_sent_pkt *p);
void tern_session_on_lost(void *ctx, const struct tern_sent_pkt *p);
tern_time tern_session_send_ready(const struct tern_session *s, tern_time now);
/* Nothing can leave until a packet arrives, whatever is owed: the
 * amplification limit is spent, or the sent map is full of packets the peer
 * has yet to acknowledge. Deadlines then wait for that packet, not for time
 * (a peer that never acknowledges would otherwise have its worker poll the
 * session at full speed). */
bool tern_session_send_blocked(const struct tern_session *s);
/* A stream's send buffer limit now. Every stream may buffer send_buffer
 * bytes; beyond that, streams share a budget of four congestion windows
 * (the flight, the bytes pinned behind a lost packet until its retransmission
 * is acknowledged, and the next round's data), at most send_buffer_max, so memory follows the path, not the stream count. */
static inline size_t tern_session_send_limit(const struct tern_session *s,
                                             const struct tern_stream *st)
{
	uint64_t budget = TERN_MIN(4 * s->rec.cc.cwnd, (uint64_t)s->cfg.send_buffer_max);
	uint64_t others = s->tx_buffered - tern_ssend_buffered(&st->tx);

	return (size_t)TERN_MAX(budget > others ? budget - others : 0,
	                        (uint64_t)s->cfg.send_buffer);
}
/* Key lifecycle (session.c): resolves the cfg limits and precomputes the next
 * generation (0, or TERN_E* from tern_keys_next); frees key state; drops the
 * previous rx key once its time is up. */
int tern_session_keys_init(struct tern_session *s, tern_time now);
void tern_session_keys_free(struct tern_session *s);
void tern_session_keys_tick(struct tern_session *s, tern_time now);
/* Assembly outside the rings (session_mem.c), around one
 * tern_srecv_deliver_room on stream id: the room it may use, then the
 * bookkeeping of what moved or was delivered (msg_start and msg_len as they
 * were before the call). _after returns true when room came back and
 * streams wait for it: the caller delivers on those again. */
uint64_t tern_session_assembly_room(const struct tern_session *s, uint16_t id);
bool tern_session_assembly_after(struct tern_session *s, uint16_t id, struct tern_stream *st,
                                 uint64_t msg_start, size_t msg_len);

#endif
