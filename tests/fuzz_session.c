/* libFuzzer target for the session engine (core/session*.c), driven as the
 * responder B of a pre-shared-secret session whose initiator A is played by
 * the fuzzer.
 *
 * Why it is shaped so: the AEAD stops random bytes at the door, so a fuzzer
 * that only feeds raw datagrams never gets past open_packet. This harness
 * holds A's keys (tern_keys_derive with the same secret and CIDs) and seals
 * the fuzzer's bytes as frame payloads under A's next packet number, so B
 * parses them and the fuzzer reaches stream reassembly, flow control, ACK
 * processing and closing. Raw records still exercise header and AEAD
 * rejection. Between records B's application acts, virtual time advances,
 * B's timers run and B writes what it may; every packet B writes is opened
 * with A's keys and must authenticate and parse, and its ACKs may only name
 * packets A sealed. A's packets may come from four addresses (A's own and
 * three others): B may send to an address other than its peer only probes
 * (PATH_CHALLENGE / PATH_RESPONSE), only to its candidate, and at most 3x
 * what that address sent until it answered; the harness answers B's last
 * challenge to an address in ACK records from it. B's buffer accounting
 * must equal its buffers and its budget's count, which returns to zero when
 * B goes. After B's timers ran and it wrote all it would, its deadline must
 * lie in the future within SETTLE_ROUNDS rounds at one instant: a session
 * that says "now" and writes nothing has its worker poll it at full speed.
 * A violated check traps.
 *
 * Input: one config byte, then records [kind][len lo][len hi][len bytes]:
 *   kind & 3:        0 frames sealed by A; 1 the same behind an ACK of B's
 *                    packets (first byte: how many of the newest to leave
 *                    unacknowledged) and the PATH_RESPONSE owed to the
 *                    record's address; 2 raw bytes; 3 an action of B's app
 *   (kind >> 2) & 7: how far virtual time moves after the record (time_steps)
 *   (kind >> 5) & 7: packet number for sealed records (pn_for); modes 1-3:
 *                    the next number, sent from address 1-3 instead of A's
 * tests/fuzz_seed.c writes the seed corpus in this format. */
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "wire.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_INPUT (1 << 16)
#define WRITES_PER_ROUND 64
#define APP_BIG_UNIT 1024 /* app op 5 sends len * this many bytes */
#define BUDGET_LIMIT (24u << 10)
#define AMP_START 1500
/* Timer and write rounds at one instant before B must have nothing owed
 * that it cannot send (a PTO far in the past backs off once per round) */
#define SETTLE_ROUNDS 128

enum cfg_bits {
	CFG_SMALL_WINDOWS = 1 << 0,
	CFG_NEWRENO = 1 << 1,
	CFG_AES = 1 << 2,
	CFG_ECHO = 1 << 3, /* B's callbacks send back what they receive */
	CFG_NO_PACING = 1 << 4,
	CFG_SHORT_IDLE = 1 << 5,
	/* B's buffers count against a small budget; when it is full the
	 * harness closes B with MEMORY, as a worker closes its greediest */
	CFG_BUDGET = 1 << 6,
	/* B starts as a responder whose peer is unproven: it may send
	 * AMP_START bytes until A's first packet authenticates */
	CFG_AMP = 1 << 7,
};

enum rec_kind { REC_SEALED, REC_SEALED_ACK, REC_RAW, REC_APP };

static const uint8_t secret[32] = "tern fuzz pre-shared secret....";
static const uint8_t cid_a[TERN_CID_LEN] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};
static const uint8_t cid_b[TERN_CID_LEN] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8};
static const tern_time time_steps[8] = {
        0, 100, 1000ull, 10 * 1000ull, 50 * 1000ull, 300 * 1000ull, 2 * TERN_SEC, 40 * TERN_SEC};

#define NADDRS 4 /* A's address and three others its packets may come from */
#define MAX_GAPS 16

static const struct tern_addr addrs[NADDRS] = {
        {.family = 4, .port = 1000, .ip = {10, 0, 0, 1}},
        {.family = 4, .port = 1001, .ip = {10, 0, 0, 1}},
        {.family = 4, .port = 4000, .ip = {10, 9, 9, 9}},
        {.family = 6, .port = 1000, .ip = {0xfe, 0x80, [15] = 1}},
};

/* A's side of the session: its keys (per cipher, derived once) and what it
 * has sent and seen. */
struct peer {
	struct tern_keys *keys;
	uint64_t next_pn, last_pn; /* last_pn: UINT64_MAX until A seals one */
	uint64_t b_largest;        /* largest pn B sent, UINT64_MAX if none */
	tern_time now;
	bool echo;
	/* packet numbers B skipped (the newest MAX_GAPS), left out of ACKs */
	uint64_t gaps[MAX_GAPS];
	unsigned ngaps;
	/* B's last PATH_CHALLENGE to each address, answered by ACK records */
	uint8_t challenge[NADDRS][TERN_PATH_DATA_LEN];
	bool challenged[NADDRS];
};

static struct tern_keys keys_chacha, keys_aes;
static bool have_aes;
static struct tern_budget budget; /* B's, reset per input */

static void init_once(void)
{
	static bool done;

	if (done)
		return;
	done = true;
	REQUIRE(tern_crypto_init() == 0);
	REQUIRE(tern_keys_derive(&keys_chacha, TERN_CIPHER_CHACHA20_POLY1305, secret,
	                         sizeof(secret), cid_a, cid_b, true) == 0);
	have_aes = tern_crypto_aes_available();
	if (have_aes)
		REQUIRE(tern_keys_derive(&keys_aes, TERN_CIPHER_AES256_GCM, secret, sizeof(secret),
		                         cid_a, cid_b, true) == 0);
}

/* ---- B's callbacks ---- */

static void on_message(void *ctx, struct tern_session *s, uint16_t stream, const uint8_t *msg,
                       size_t len)
{
	struct peer *a = ctx;

	REQUIRE(stream < s->cfg.max_streams && len <= TERN_MAX_MESSAGE);
	if (a->echo)
		(void)tern_session_send(s, stream, msg, TERN_MIN(len, 200));
}

static void on_datagram(void *ctx, struct tern_session *s, int lane, const uint8_t *data,
                        size_t len)
{
	struct peer *a = ctx;

	REQUIRE(lane < TERN_MAX_DGRAM_LANES && len <= TERN_MAX_PACKET);
	if (a->echo)
		(void)tern_session_send_dgram(s, lane, data, len);
}

static void on_closed(void *ctx, struct tern_session *s, const struct tern_close_info *ci)
{
	struct peer *a = ctx;

	REQUIRE(ci->reason_len <= TERN_MAX_CLOSE_REASON);
	if (a->echo) /* a closed session refuses everything */
		REQUIRE(tern_session_send(s, 0, "x", 1) < 0);
}

static struct tern_session *make_b(struct peer *a, uint8_t flags)
{
	struct tern_session_cbs cbs = {
	        .ctx = a, .message = on_message, .datagram = on_datagram, .closed = on_closed};
	struct tern_session_cfg cfg;
	struct tern_session *b;

	tern_session_cfg_default(&cfg);
	if (flags & CFG_SMALL_WINDOWS) {
		cfg.max_streams = 4;
		cfg.stream_window = 4096;
		cfg.conn_window = 8192;
		cfg.send_buffer = 4096;
		cfg.dgram_queue = 4;
		cfg.max_in_flight_pkts = 64;
	}
	if (flags & CFG_NEWRENO)
		cfg.cc = &tern_cc_newreno;
	cfg.no_pacing = flags & CFG_NO_PACING;
	if (flags & CFG_SHORT_IDLE) {
		cfg.idle_timeout = TERN_SEC;
		cfg.keepalive = 300 * 1000ull;
	}
	a->keys = &keys_chacha;
	if ((flags & CFG_AES) && have_aes) {
		cfg.cipher = TERN_CIPHER_AES256_GCM;
		a->keys = &keys_aes;
	}
	a->echo = flags & CFG_ECHO;
	tern_budget_init(&budget, flags & CFG_BUDGET ? BUDGET_LIMIT : 0);
	cfg.budget = &budget;
	REQUIRE(tern_session_new_psk(&b, &cfg, &cbs, false, cid_b, cid_a, secret, sizeof(secret),
	                             a->now, NULL) == 0);
	if (flags & CFG_AMP)
		tern_session_limit_amplification(b, AMP_START);
	tern_session_set_peer(b, &addrs[0]);
	tern_session_seed_random(b, 1); /* so that a crash replays */
	return b;
}

/* ---- what B writes: it must open with A's keys and parse ---- */

static void check_b_ack(const struct peer *a, const struct tern_frame *f)
{
	struct tern_ack_iter it;
	struct tern_ack_range r;

	tern_ack_iter_init(&it, f);
	while (tern_ack_iter_next(&it, &r))
		REQUIRE(a->last_pn != UINT64_MAX && r.hi < a->next_pn);
}

static int addr_index(const struct tern_addr *to)
{
	for (int i = 0; i < NADDRS; i++)
		if (tern_addr_eq(to, &addrs[i]))
			return i;
	return -1;
}

/* A packet to an address other than B's peer: a probe for the candidate,
 * within the amplification limit until the candidate answered. */
static void check_b_probe(struct peer *a, const struct tern_session *b, int to,
                          const struct tern_frame *f)
{
	REQUIRE(b->path.probing && tern_addr_eq(&addrs[to], &b->path.cand));
	REQUIRE(b->path.cand_valid || b->path.cand_tx <= TERN_PATH_AMP_FACTOR * b->path.cand_rx);
	REQUIRE(f->type == TERN_FRAME_PATH_CHALLENGE || f->type == TERN_FRAME_PATH_RESPONSE);
	if (f->type == TERN_FRAME_PATH_CHALLENGE) {
		memcpy(a->challenge[to], f->u.path.data, TERN_PATH_DATA_LEN);
		a->challenged[to] = true;
	}
}

static void check_b_packet(struct peer *a, const struct tern_session *b, uint8_t *pkt, size_t len,
                           const struct tern_addr *dst)
{
	int to = addr_index(dst);
	bool probe = !tern_addr_eq(dst, &b->path.peer);
	struct tern_data_hdr h;
	struct tern_frame f;
	const uint8_t *p, *end;
	uint64_t pn;
	int n;

	REQUIRE(tern_wire_data_hdr_decode(pkt, len, &h) == 0);
	REQUIRE(memcmp(h.dcid, cid_a, TERN_CID_LEN) == 0);
	pn = tern_wire_pn_expand(a->b_largest, h.pn_trunc, h.pn_len);
	/* B numbers from 0 and skips at most one number at a time */
	REQUIRE(a->b_largest == UINT64_MAX ? pn == 0 : pn > a->b_largest && pn - a->b_largest <= 2);
	if (a->b_largest != UINT64_MAX && pn - a->b_largest == 2) {
		if (a->ngaps == MAX_GAPS)
			memmove(a->gaps, a->gaps + 1, --a->ngaps * sizeof(*a->gaps));
		a->gaps[a->ngaps++] = pn - 1;
	}
	n = tern_aead_open(a->keys->rx, pn, pkt, h.hdr_len, pkt + h.hdr_len, len - h.hdr_len);
	REQUIRE(n >= 0);
	a->b_largest = pn;
	p = pkt + h.hdr_len;
	end = p + n;
	REQUIRE(to >= 0);
	while (p < end) {
		REQUIRE(tern_frame_decode(&p, end, &f) == 0);
		if (probe)
			check_b_probe(a, b, to, &f);
		if (f.type == TERN_FRAME_ACK)
			check_b_ack(a, &f);
	}
}

/* Returns how many packets B wrote. */
static int b_writes(struct peer *a, struct tern_session *b)
{
	static uint8_t buf[TERN_MAX_PACKET];
	struct tern_addr to;
	int i, n;

	for (i = 0; i < WRITES_PER_ROUND; i++) {
		n = tern_session_write_to(b, buf, sizeof(buf), a->now, &to);
		if (n <= 0)
			break;
		REQUIRE((size_t)n <= b->cfg.max_packet);
		check_b_packet(a, b, buf, (size_t)n, &to);
	}
	return i;
}

/* ---- A's packets ---- */

static uint64_t pn_for(struct peer *a, unsigned mode)
{
	uint64_t pn = a->next_pn;

	if (mode == 4 && a->last_pn != UINT64_MAX)
		pn = a->last_pn; /* a duplicate */
	else if (mode == 5)
		pn = a->next_pn + 2; /* a gap */
	else if (mode == 6 && a->next_pn >= 3)
		pn = a->next_pn - 3; /* late, possibly a duplicate */
	if (pn >= a->next_pn)
		a->next_pn = pn + 1;
	return pn;
}

/* Which address a sealed record comes from: pn modes 1-3 name one. */
static int from_of(unsigned mode)
{
	return mode >= 1 && mode <= 3 ? (int)mode : 0;
}

/* The PATH_RESPONSE to B's last challenge to address k; 0 if none. */
static size_t auto_response(struct peer *a, int k, uint8_t *p, size_t cap)
{
	if (!a->challenged[k])
		return 0;
	a->challenged[k] = false;
	return tern_frame_encode_path(p, cap, true, a->challenge[k]);
}

/* Payload of an ACK of B's packets but the newest `hole` ones; 0 if none. */
static size_t auto_ack(const struct peer *a, uint8_t hole, uint8_t *p, size_t cap)
{
	struct tern_ack_range r[MAX_GAPS + 1];
	size_t n = 0, written;
	uint64_t hi;

	if (a->b_largest == UINT64_MAX || a->b_largest < hole % 8)
		return 0;
	hi = a->b_largest - hole % 8;
	for (unsigned i = a->ngaps; i-- > 0 && n < MAX_GAPS;) { /* honest: not B's skips */
		if (a->gaps[i] > hi)
			continue;
		if (a->gaps[i] < hi)
			r[n++] = (struct tern_ack_range){a->gaps[i] + 1, hi};
		if (a->gaps[i] == 0)
			return n ? tern_frame_encode_ack(p, cap, r, n, 0, &written) : 0;
		hi = a->gaps[i] - 1;
	}
	r[n++] = (struct tern_ack_range){0, hi};
	return tern_frame_encode_ack(p, cap, r, n, 0, &written);
}

static void send_sealed(struct peer *a, struct tern_session *b, const uint8_t *d, size_t len,
                        uint8_t kind)
{
	size_t cap = TERN_DATA_HEADER_MAX + TERN_MAX_PACKET + TERN_AEAD_TAG_LEN, hl, pl = 0;
	unsigned mode = (kind >> 5) & 7;
	uint64_t pn = pn_for(a, mode);
	uint8_t *pkt = malloc(cap);
	int n;

	REQUIRE(pkt);
	hl = tern_wire_data_hdr_encode(pkt, cap, cid_b, pn, mode == 7 ? a->last_pn : UINT64_MAX, 0);
	REQUIRE(hl > 0);
	if ((kind & 3) == REC_SEALED_ACK && len > 0) {
		pl = auto_ack(a, d[0], pkt + hl, TERN_MAX_PACKET);
		pl += auto_response(a, from_of(mode), pkt + hl + pl, TERN_MAX_PACKET - pl);
		d++, len--;
	}
	len = TERN_MIN(len, TERN_MAX_PACKET - pl);
	memcpy(pkt + hl + pl, d, len);
	n = tern_aead_seal(a->keys->tx, pn, pkt, hl, pkt + hl, pl + len, cap - hl);
	REQUIRE(n > 0);
	a->last_pn = pn;
	/* An exact-size copy, so ASan sees a read past the end. */
	uint8_t *exact = malloc(hl + (size_t)n);
	REQUIRE(exact);
	memcpy(exact, pkt, hl + (size_t)n);
	(void)tern_session_recv_from(b, exact, hl + (size_t)n, &addrs[from_of(mode)], a->now);
	free(exact);
	free(pkt);
}

static void send_raw(struct peer *a, struct tern_session *b, const uint8_t *d, size_t len)
{
	uint8_t *pkt = malloc(len ? len : 1);

	REQUIRE(pkt);
	memcpy(pkt, d, len);
	(void)tern_session_recv_from(b, pkt, len, &addrs[0], a->now);
	free(pkt);
}

/* An abrupt close with the record as a (NUL-terminated) reason. */
static int app_close(struct peer *a, struct tern_session *b, const uint8_t *d, size_t len)
{
	char reason[TERN_MAX_CLOSE_REASON + 64];

	len = TERN_MIN(len, sizeof(reason) - 1);
	memcpy(reason, d, len);
	reason[len] = '\0';
	return tern_session_close(b, false, d[0], reason, a->now);
}

/* B's application: d[0] picks the call, d[1] the stream or lane. */
static void app_act(struct peer *a, struct tern_session *b, const uint8_t *d, size_t len)
{
	static uint8_t big[255 * APP_BIG_UNIT];
	uint16_t id = len > 1 ? d[1] % 20 : 0; /* sometimes beyond max_streams */
	int rc = 0;

	if (len == 0)
		return;
	switch (d[0] % 7) {
	case 0:
		rc = tern_session_send(b, id, d, len);
		break;
	case 1:
		rc = tern_session_send_dgram(b, len > 1 ? (int)d[1] - 1 : -1, d, len);
		break;
	case 2:
		rc = tern_session_finish(b, id);
		break;
	case 3:
		rc = tern_session_close(b, true, 0, NULL, a->now);
		break;
	case 4:
		rc = app_close(a, b, d, len);
		break;
	case 5:
		rc = tern_session_send(b, id, big, (size_t)(len > 2 ? d[2] : 1) * APP_BIG_UNIT);
		break;
	default:
		(void)tern_session_max_dgram(b);
		(void)tern_session_mem(b);
		break;
	}
	REQUIRE(rc <= 0);
}

/* A full budget closes B (it is the greediest of its sessions) and frees
 * its buffers at once; B's accounting always matches its buffers. */
static void b_memory(struct peer *a, struct tern_session *b)
{
	uint64_t held = 0;

	if (tern_budget_full(&budget)) {
		tern_session_close_memory(b, a->now);
		REQUIRE(tern_session_buffers(b) == 0);
	}
	for (unsigned i = 0; i < b->nstreams; i++) {
		const struct tern_stream *st = b->streams[i];
		if (st)
			held += tern_srecv_mem(&st->rx) + st->tx.cap +
			        st->tx.ends_cap * sizeof(*st->tx.ends);
	}
	REQUIRE(tern_session_buffers(b) == held && tern_budget_used(&budget) == held);
}

/* B's timers, then what B writes, until B has nothing more to do at this
 * instant. Calling on_timeout before the deadline is allowed (it runs only
 * expired timers), so it runs every round. */
static void b_runs(struct peer *a, struct tern_session *b, tern_time step)
{
	unsigned i;

	a->now += step;
	b_memory(a, b);
	for (i = 0; i < SETTLE_ROUNDS; i++) {
		tern_session_on_timeout(b, a->now);
		if (b_writes(a, b) == 0 && tern_session_deadline(b, a->now) > a->now)
			break;
	}
	REQUIRE(i < SETTLE_ROUNDS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	struct peer a = {.last_pn = UINT64_MAX, .b_largest = UINT64_MAX, .now = 0};
	struct tern_session *b;

	if (size < 1 || size > MAX_INPUT)
		return 0;
	init_once();
	b = make_b(&a, data[0]);
	b_writes(&a, b);
	while (end - p >= 3) {
		uint8_t kind = p[0];
		size_t len = TERN_MIN((size_t)(p[1] | p[2] << 8), (size_t)(end - p - 3));

		p += 3;
		if ((kind & 3) <= REC_SEALED_ACK)
			send_sealed(&a, b, p, len, kind);
		else if ((kind & 3) == REC_RAW)
			send_raw(&a, b, p, len);
		else
			app_act(&a, b, p, len);
		p += len;
		b_runs(&a, b, time_steps[(kind >> 2) & 7]);
	}
	b_runs(&a, b, 0);
	tern_session_free(b);
	REQUIRE(tern_budget_used(&budget) == 0);
	return 0;
}
