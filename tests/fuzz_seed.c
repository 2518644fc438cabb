/* Writes the seed corpus of tests/fuzz_session.c into a directory, and with
 * a second directory the frame payloads alone, as seeds for fuzz_wire.c:
 *
 *   fuzz_seed tests/fuzz-corpus/session tests/fuzz-corpus/wire
 *
 * Each seed is a small scripted conversation in the harness's input format
 * (see the top of fuzz_session.c): frames A seals for B, encoded with the
 * wire encoders, mixed with B's application calls and time steps, so the
 * fuzzer starts from inputs that already reach streams, ACKs, datagrams,
 * credit frames and closing. Rerun it when the input format changes. */
#include <stdio.h>
#include <string.h>

#include "wire.h"

/* Record kinds and time steps of fuzz_session.c. */
enum { SEALED = 0, SEALED_ACK = 1, RAW = 2, APP = 3 };
enum { T0 = 0, T100US = 1, T1MS = 2, T10MS = 3, T50MS = 4, T300MS = 5, T2S = 6, T40S = 7 };
/* Config bits of fuzz_session.c. */
enum { SMALL = 1, NEWRENO = 2, ECHO = 8, BUDGET = 64, AMP = 128 };
/* App ops of fuzz_session.c. */
enum { OP_SEND, OP_DGRAM, OP_FINISH, OP_CLOSE, OP_ABORT, OP_BIG };

struct seed {
	uint8_t buf[16384];
	size_t len;
};

static const char *wire_dir; /* NULL: no fuzz_wire seeds */
static unsigned wire_count;

static int write_file(const char *dir, const char *name, const uint8_t *d, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(d, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

/* A sealed record's frames, as fuzz_wire sees a payload. */
static void wire_seed(const uint8_t *d, size_t n)
{
	char name[32];

	if (!wire_dir || n == 0)
		return;
	snprintf(name, sizeof(name), "frames-%02u", wire_count++);
	(void)write_file(wire_dir, name, d, n);
}

static void begin(struct seed *s, uint8_t cfg)
{
	s->len = 0;
	s->buf[s->len++] = cfg;
}

/* pn_mode: 0 next, 1-3 next from another address, 4 duplicate, 5 gap, 6 late,
 * 7 short pn encoding */
static void rec(struct seed *s, unsigned kind, unsigned step, unsigned pn_mode, const uint8_t *d,
                size_t n)
{
	s->buf[s->len++] = (uint8_t)(kind | step << 2 | pn_mode << 5);
	s->buf[s->len++] = (uint8_t)n;
	s->buf[s->len++] = (uint8_t)(n >> 8);
	memcpy(s->buf + s->len, d, n);
	s->len += n;
	if (kind == SEALED)
		wire_seed(d, n);
}

static void app(struct seed *s, unsigned step, uint8_t op, uint8_t id, uint8_t arg)
{
	uint8_t d[3] = {op, id, arg};

	rec(s, APP, step, 0, d, sizeof(d));
}

static size_t stream(uint8_t *p, uint64_t id, uint64_t off, const char *text, bool fin)
{
	size_t dl;

	return tern_frame_encode_stream(p, 1400, id, off, (const uint8_t *)text, strlen(text), fin,
	                                true, true, &dl);
}

static int save(const struct seed *s, const char *dir, const char *name)
{
	return write_file(dir, name, s->buf, s->len);
}

static int seed_streams(const char *dir)
{
	struct seed s;
	uint8_t f[1400];
	size_t n;

	begin(&s, ECHO);
	n = stream(f, 0, 0, "hello", false);
	rec(&s, SEALED, T1MS, 0, f, n);
	n = stream(f, 1, 5, "world", true); /* second half first */
	rec(&s, SEALED, T1MS, 0, f, n);
	n = stream(f, 1, 0, "hello", false);
	rec(&s, SEALED, T10MS, 7, f, n);
	rec(&s, SEALED, T1MS, 4, f, n); /* a duplicate packet */
	app(&s, T10MS, OP_SEND, 2, 0);
	f[0] = 0; /* hole: ack everything */
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T50MS, 0, f, 2);
	return save(&s, dir, "streams");
}

static int seed_acks(const char *dir)
{
	struct seed s;
	uint8_t f[2] = {2, TERN_FRAME_PING};

	begin(&s, NEWRENO);
	rec(&s, SEALED, T1MS, 0, f + 1, 1);
	app(&s, T10MS, OP_BIG, 0, 40);       /* 40 KiB: many packets */
	rec(&s, SEALED_ACK, T10MS, 0, f, 2); /* leaves the newest 2 unacked */
	app(&s, T10MS, OP_BIG, 1, 20);
	rec(&s, SEALED_ACK, T300MS, 5, f, 2);
	f[0] = 0;
	rec(&s, SEALED_ACK, T2S, 0, f, 2);
	rec(&s, SEALED_ACK, T10MS, 0, f, 2);
	return save(&s, dir, "acks");
}

static int seed_datagrams(const char *dir)
{
	static const uint8_t msg[] = "datagram";
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, ECHO);
	n = tern_frame_encode_datagram(f, sizeof(f), msg, sizeof(msg));
	n += tern_frame_encode_datagram_seq(f + n, sizeof(f) - n, 3, 2, msg, sizeof(msg));
	n += tern_frame_encode_datagram_seq(f + n, sizeof(f) - n, 3, 1, msg, 4); /* stale */
	rec(&s, SEALED, T1MS, 0, f, n);
	app(&s, T1MS, OP_DGRAM, 0, 0);
	app(&s, T1MS, OP_DGRAM, 5, 0);
	return save(&s, dir, "datagrams");
}

static int seed_credit(const char *dir)
{
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, SMALL);
	n = tern_frame_encode_credit(f, sizeof(f), TERN_FRAME_MAX_DATA, 0, 1 << 20);
	n += tern_frame_encode_credit(f + n, sizeof(f) - n, TERN_FRAME_MAX_STREAM_DATA, 1, 65536);
	n += tern_frame_encode_credit(f + n, sizeof(f) - n, TERN_FRAME_DATA_BLOCKED, 0, 8192);
	n += tern_frame_encode_credit(f + n, sizeof(f) - n, TERN_FRAME_STREAM_DATA_BLOCKED, 2,
	                              4096);
	rec(&s, SEALED, T1MS, 0, f, n);
	app(&s, T10MS, OP_BIG, 1, 16); /* beyond B's 4 KiB send buffer */
	app(&s, T10MS, OP_SEND, 1, 0);
	f[0] = 0;
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T10MS, 0, f, 2);
	n = stream(f, 3, 9000, "beyond the window", false); /* flow-control violation */
	rec(&s, SEALED, T10MS, 0, f, n);
	return save(&s, dir, "credit");
}

static int seed_close_remote(const char *dir)
{
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, 0);
	n = stream(f, 0, 0, "last words", true);
	n += tern_frame_encode_close(f + n, sizeof(f) - n, true, 7, "bye", 3);
	rec(&s, SEALED, T1MS, 0, f, n);
	n = tern_frame_encode_ping(f, sizeof(f));
	rec(&s, SEALED, T300MS, 0, f, n);
	rec(&s, SEALED, T2S, 0, f, n);
	return save(&s, dir, "close-remote");
}

static int seed_close_local(const char *dir)
{
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, 0);
	n = stream(f, 0, 0, "request", false);
	rec(&s, SEALED, T1MS, 0, f, n);
	app(&s, T1MS, OP_SEND, 0, 0);
	app(&s, T1MS, OP_CLOSE, 0, 0);
	f[0] = 0;
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T10MS, 0, f, 2);
	n = tern_frame_encode_close(f, sizeof(f), false, TERN_CLOSE_NO_ERROR, "", 0);
	rec(&s, SEALED, T300MS, 0, f, n);
	app(&s, T0, OP_ABORT, 0, 0);
	return save(&s, dir, "close-local");
}

static int seed_path_and_idle(const char *dir)
{
	static const uint8_t token[TERN_PATH_DATA_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t garbage[] = {
	        0x41, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0x00, 0xde, 0xad, 0xbe, 0xef,
	        0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0};
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, 32); /* short idle timeout */
	n = tern_frame_encode_path(f, sizeof(f), false, token);
	n += tern_frame_encode_path(f + n, sizeof(f) - n, true, token);
	n += tern_frame_encode_padding(f + n, sizeof(f) - n, 20);
	rec(&s, SEALED, T10MS, 0, f, n);
	rec(&s, RAW, T10MS, 0, garbage, sizeof(garbage)); /* fails authentication */
	rec(&s, SEALED, T40S, 0, f, n);
	return save(&s, dir, "path-idle");
}

/* A moves to address 1: B challenges it, the ACK record from there answers,
 * B migrates and sends there. Then a probing packet with a PATH_CHALLENGE
 * from address 2 (answered in a probe to it), A's old address back (a
 * stranger now), and address 3, which never answers, past the deadline. */
static int seed_path_migrate(const char *dir)
{
	static const uint8_t token[TERN_PATH_DATA_LEN] = {8, 7, 6, 5, 4, 3, 2, 1};
	uint8_t ping_ack[2] = {0, TERN_FRAME_PING};
	struct seed s;
	uint8_t f[256];
	size_t n;

	begin(&s, ECHO);
	n = stream(f, 0, 0, "before the move", false);
	rec(&s, SEALED, T10MS, 0, f, n);
	rec(&s, SEALED_ACK, T10MS, 1, ping_ack, sizeof(ping_ack)); /* from 1: challenged */
	rec(&s, SEALED_ACK, T10MS, 1, ping_ack, sizeof(ping_ack)); /* answers: migrated */
	n = stream(f, 0, 15, "after the move", false);
	rec(&s, SEALED, T10MS, 1, f, n);
	app(&s, T10MS, OP_SEND, 0, 0);
	n = tern_frame_encode_path(f, sizeof(f), false, token);
	n += tern_frame_encode_padding(f + n, sizeof(f) - n, 40);
	rec(&s, SEALED, T10MS, 2, f, n); /* probing only: answered at 2 */
	rec(&s, SEALED_ACK, T50MS, 0, ping_ack, sizeof(ping_ack));
	rec(&s, SEALED, T300MS, 3, ping_ack + 1, 1);
	rec(&s, SEALED, T2S, 1, ping_ack + 1, 1);
	rec(&s, SEALED_ACK, T2S, 1, ping_ack, sizeof(ping_ack));
	return save(&s, dir, "path-migrate");
}

/* Tiny packets from a new address: each buys B three times its size in
 * probes, no more; B's bulk data stays on A's path. */
static int seed_path_amplify(const char *dir)
{
	uint8_t ping = TERN_FRAME_PING;
	struct seed s;

	begin(&s, NEWRENO);
	rec(&s, SEALED, T1MS, 0, &ping, 1);
	app(&s, T1MS, OP_BIG, 0, 60);
	for (unsigned i = 0; i < 6; i++)
		rec(&s, SEALED, i < 3 ? T100US : T300MS, 3, &ping, 1);
	rec(&s, SEALED, T2S, 0, &ping, 1);
	return save(&s, dir, "path-amplify");
}

/* Reassembly in the worst order (issue 13 item 2): one-byte fragments of
 * two-byte messages, every message end first from the top down, then the
 * data from the top down; then the start of a message that never ends. */
static int seed_streams_top_down(const char *dir)
{
	uint8_t f[64], x = 'x';
	struct seed s;
	size_t dl;

	begin(&s, 0);
	for (unsigned i = 0; i < 64; i++) {
		uint64_t off = i < 32 ? 63 - 2 * i : 62 - 2 * (i - 32);
		size_t n = tern_frame_encode_stream(f, sizeof(f), 3, off, &x, 1, false, off % 2,
		                                    true, &dl);
		rec(&s, SEALED, T100US, 0, f, n);
	}
	rec(&s, SEALED, T1MS, 0, f,
	    tern_frame_encode_stream(f, sizeof(f), 4, 0, (const uint8_t *)"no end", 6, false, false,
	                             true, &dl));
	f[0] = 0;
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T50MS, 0, f, 2);
	return save(&s, dir, "streams-top-down");
}

/* A small memory budget (CFG_BUDGET): streams open one by one until their
 * rings fill it, and the harness closes B with MEMORY. */
static int seed_budget(const char *dir)
{
	uint8_t f[64];
	struct seed s;
	size_t n;

	begin(&s, BUDGET | SMALL | ECHO);
	for (uint64_t id = 0; id < 4; id++) {
		n = stream(f, id, 0, "fill", false);
		rec(&s, SEALED, T1MS, 0, f, n);
	}
	app(&s, T1MS, OP_BIG, 0, 3);
	f[0] = 0;
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T300MS, 0, f, 2);
	return save(&s, dir, "budget-close");
}

/* Messages of half a stream window or more on three streams, none
 * finished: one assembles past the window, the others are held against the
 * connection window; then one ends and gives its room back. */
static int seed_assembly_held(const char *dir)
{
	static uint8_t data[1400];
	uint8_t f[1500];
	struct seed s;
	size_t dl, n;

	memset(data, 'a', sizeof(data));
	begin(&s, SMALL);
	for (uint64_t id = 0; id < 3; id++) {
		for (uint64_t off = 0; off < 2800; off += 1400) {
			n = tern_frame_encode_stream(f, sizeof(f), id, off, data, sizeof(data),
			                             false, false, true, &dl);
			rec(&s, SEALED, T1MS, 0, f, n);
		}
	}
	n = tern_frame_encode_stream(f, sizeof(f), 1, 2800, data, 10, false, true, true, &dl);
	rec(&s, SEALED, T10MS, 0, f, n);
	f[0] = 0;
	f[1] = TERN_FRAME_PING;
	rec(&s, SEALED_ACK, T50MS, 0, f, 2);
	return save(&s, dir, "assembly-held");
}

/* A peer that never acknowledges: B's one data packet stays unacked while
 * its ACKs of A's PINGs fill the sent map (64 packets with SMALL); B must
 * wait, not spin, until an ACK comes. */
static int seed_sent_map_full(const char *dir)
{
	uint8_t ping = TERN_FRAME_PING, ack[2] = {0, TERN_FRAME_PING};
	struct seed s;

	begin(&s, SMALL);
	rec(&s, SEALED, T1MS, 0, &ping, 1);
	app(&s, T1MS, OP_SEND, 0, 0);
	for (unsigned i = 0; i < 150; i++)
		rec(&s, SEALED, i % 50 ? T100US : T2S, 0, &ping, 1);
	rec(&s, SEALED_ACK, T10MS, 0, ack, sizeof(ack));
	return save(&s, dir, "sent-map-full");
}

/* B under the amplification limit (CFG_AMP) before A's first packet: a
 * datagram larger than the room left waits, stream data goes within the
 * limit; A's packet lifts it. */
static int seed_amp_limit(const char *dir)
{
	uint8_t dgram[1100] = {OP_DGRAM, 0}, ack[2] = {0, TERN_FRAME_PING};
	struct seed s;

	begin(&s, AMP);
	app(&s, T0, OP_BIG, 0, 4);
	rec(&s, APP, T1MS, 0, dgram, sizeof(dgram));
	app(&s, T10MS, OP_SEND, 1, 0);
	rec(&s, SEALED, T10MS, 0, ack + 1, 1);
	rec(&s, SEALED_ACK, T10MS, 0, ack, sizeof(ack));
	return save(&s, dir, "amp-limit");
}

int main(int argc, char **argv)
{
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: fuzz_seed SESSION_DIR [WIRE_DIR]\n");
		return 2;
	}
	wire_dir = argc == 3 ? argv[2] : NULL;
	return seed_streams(argv[1]) | seed_acks(argv[1]) | seed_datagrams(argv[1]) |
	       seed_credit(argv[1]) | seed_close_remote(argv[1]) | seed_close_local(argv[1]) |
	       seed_path_and_idle(argv[1]) | seed_path_migrate(argv[1]) |
	       seed_path_amplify(argv[1]) | seed_streams_top_down(argv[1]) | seed_budget(argv[1]) |
	       seed_assembly_held(argv[1]) | seed_sent_map_full(argv[1]) | seed_amp_limit(argv[1]);
}
