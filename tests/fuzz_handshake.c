/* libFuzzer target for the handshake parsers: the responder's path
 * (tern_hs_check_mac1, tern_hs_initiation_consume, tern_cookie_check_mac2,
 * tern_cookie_reply_build, and with refusals on, tern_hs_initiation_consume_ex
 * and tern_hs_refusal_create) and the initiator's (tern_hs_response_consume,
 * tern_cookie_reply_parse, tern_hs_refusal_consume).
 *
 * The first input byte picks a mode; the rest is the message. mac1 is keyed
 * by public keys only, so in the "remac" modes the harness recomputes it as
 * an attacker would, letting the fuzzer past the cheap filter into the DH and
 * AEAD steps; the "xor" mode mutates a genuine initiation sparsely. Keys are
 * the test-vector keys (docs/handshake.md §10), so the seeds in
 * tests/fuzz-corpus/handshake are the vector messages, and mode bytes
 * (refused-policy 0x0f, refused-memory 0x17: a genuine initiation refused
 * with REFUSED or MEMORY, docs/handshake.md §8.1). Invariants that must
 * hold on every input trap when broken. */
#include <string.h>

#include "crypto/cookie.h"
#include "crypto/handshake.h"
#include "crypto/token.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tern_hs_keypair si, sr, ei;
static struct tern_hs_mac_keys mac_r, mac_i;
static struct tern_hs_init_config ic;
static struct tern_hs_initiator *initiator;
static struct tern_cookie *cookies;
static uint8_t ts[12], ticket_key[32], ticket[TERN_TOKEN_LEN];
static uint8_t genuine[TERN_HS_INIT_LEN];

static bool fresh_any(void *ctx, const uint8_t pub[32], const uint8_t t[12])
{
	(void)ctx;
	(void)pub;
	(void)t;
	return true;
}

static void keypair(struct tern_hs_keypair *kp, uint8_t first)
{
	uint8_t priv[32];

	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(first + i);
	REQUIRE(tern_hs_keypair_from_private(kp, priv) == 0);
}

static void new_initiator(void)
{
	size_t n;

	tern_hs_initiator_free(initiator);
	REQUIRE(tern_hs_initiation_create(&initiator, &ic, genuine, sizeof(genuine), &n, NULL) ==
	        0);
}

static void setup(void)
{
	uint8_t nonce[24];

	keypair(&si, 0x01);
	keypair(&sr, 0x41);
	keypair(&ei, 0x81);
	tern_hs_mac_keys_init(&mac_r, sr.pub);
	tern_hs_mac_keys_init(&mac_i, si.pub);
	tern_hs_tai64n(ts, 1700000000, 123456789);
	for (int i = 0; i < 32; i++)
		ticket_key[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)i;
	tern_token_mint(ticket_key, 42, 1700003600, si.pub, nonce, ticket, sizeof(ticket));
	ic = (struct tern_hs_init_config){
	        .local = &si,
	        .remote_pub = sr.pub,
	        .ephemeral = &ei,
	        .timestamp = ts,
	        .cid = {1, 2, 3, 4, 5, 6, 7, 8},
	        .vport = 7000,
	        .stream_type = 1,
	        .params = {262144, 1048576, 16, 25000, 30000},
	        .ticket = ticket,
	        .ticket_len = sizeof(ticket),
	};
	new_initiator();
	REQUIRE(tern_cookie_new(&cookies, 0) == 0);
}

static void remac(uint8_t *msg, size_t len, const struct tern_hs_mac_keys *mk)
{
	if (len >= TERN_HS_MACS_LEN)
		tern_hs_mac(msg + len - TERN_HS_MACS_LEN, mk->mac1, 32, msg,
		            len - TERN_HS_MACS_LEN);
}

static void responder(const uint8_t *msg, size_t len)
{
	struct tern_hs_resp_config rc = {.local = &sr,
	                                 .mac = &mac_r,
	                                 .fresh = fresh_any,
	                                 .ticket_key = ticket_key,
	                                 .now_unix = 1700000000};
	struct tern_hs_responder *rs = (void *)1;
	struct tern_hs_init_info info;
	struct tern_hs_result res;
	enum tern_hs_fail why = TERN_HS_OK;
	uint8_t out[TERN_HS_RESP_LEN];
	size_t n;
	int rc_mac1 = tern_hs_check_mac1(&mac_r, msg, len, NULL);
	int rc_init = tern_hs_initiation_consume(&rs, &rc, msg, len, &info, &why);

	REQUIRE((rc_init == 0) == (why == TERN_HS_OK));
	REQUIRE(rc_init != 0 || rc_mac1 == 0);
	if (rc_init != 0) {
		REQUIRE(rs == NULL);
		return;
	}
	REQUIRE(info.minor == 0 && info.cipher == TERN_CIPHER_CHACHA20_POLY1305);
	REQUIRE(tern_hs_response_create(rs, ic.cid, &ic.params, NULL, out, sizeof(out), &n, &res,
	                                NULL) == 0);
	tern_keys_free(&res.keys);
	tern_hs_responder_free(rs);
}

static void initiator_side(const uint8_t *msg, size_t len)
{
	struct tern_hs_result res;
	enum tern_hs_fail why = TERN_HS_OK;
	int rc = tern_hs_response_consume(initiator, msg, len, &res, &why);

	REQUIRE((rc == 0) == (why == TERN_HS_OK));
	if (rc == 0) {
		REQUIRE(res.minor == 0 && res.pid == 42);
		tern_keys_free(&res.keys);
		new_initiator();
	}
}

static bool refuse_all(void *ctx, const uint8_t pub[32])
{
	(void)ctx;
	(void)pub;
	return false;
}

/* A refusal the initiator must reject unless it is genuine; rejected ones
 * leave no trace. */
static void refusal_side(const uint8_t *msg, size_t len)
{
	enum tern_hs_fail reason = TERN_HS_MALFORMED, why = TERN_HS_OK;
	int rc = tern_hs_refusal_consume(initiator, msg, len, &reason, &why);

	REQUIRE((rc == 0) == (why == TERN_HS_OK));
	REQUIRE(rc == 0 ? tern_hs_refusable(reason) : reason == TERN_HS_OK);
	if (rc == 0)
		new_initiator();
}

/* The responder with refusals on and an allow-list that knows nobody: a
 * refusal is ready exactly when the verdict is OK or refusable, and it goes
 * back to the initiator, with the verdict as its reason or, as a server's
 * policy or load may say instead, REFUSED or MEMORY (over, when not OK). */
static void responder_refusing(const uint8_t *msg, size_t len, enum tern_hs_fail over)
{
	struct tern_hs_resp_config rc = {.local = &sr,
	                                 .mac = &mac_r,
	                                 .allow = refuse_all,
	                                 .fresh = fresh_any,
	                                 .ticket_key = ticket_key,
	                                 .now_unix = 1700000000};
	struct tern_hs_responder *rs = (void *)1;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf;
	enum tern_hs_fail why = TERN_HS_OK;
	uint8_t out[TERN_HS_REFUSAL_LEN];
	size_t n = 0;
	int rc_init = tern_hs_initiation_consume_ex(&rs, &rc, msg, len, &info, &rf, &why);

	REQUIRE((rc_init == 0) == (why == TERN_HS_OK));
	bool major_ok = len >= 2 && msg[1] == TERN_PROTO_VERSION_MAJOR;

	/* a wrong major version is a VERSION_MISMATCH that is never answered */
	REQUIRE(rf.ready == (why == TERN_HS_OK || (tern_hs_refusable(why) &&
	                                           (why != TERN_HS_VERSION_MISMATCH || major_ok))));
	REQUIRE(why != TERN_HS_OK); /* nobody is allowed */
	REQUIRE(rs == NULL);
	if (!rf.ready)
		return;
	REQUIRE(tern_hs_refusal_create(&rf, over != TERN_HS_OK ? over : why, out, sizeof(out),
	                               &n) == 0);
	REQUIRE(n == TERN_HS_REFUSAL_LEN && !rf.ready);
	refusal_side(out, n);
}

static void cookie_paths(const uint8_t *msg, size_t len)
{
	struct tern_addr a = {.family = 6, .port = 1, .ip = {0x20, 0x01}};
	uint8_t cookie[16], reply[TERN_HS_COOKIE_REPLY_LEN];

	(void)tern_cookie_reply_parse(&mac_r, tern_hs_initiator_mac1(initiator), ic.cid, msg, len,
	                              cookie);
	(void)tern_cookie_check_mac2(cookies, 0, &a, msg, len);
	(void)tern_cookie_reply_build(cookies, 0, &mac_r, &a, msg, len, reply, sizeof(reply));
}

static const enum tern_hs_fail over_reasons[4] = {TERN_HS_OK, TERN_HS_REFUSED, TERN_HS_MEMORY,
                                                  TERN_HS_OK};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[TERN_HS_INIT_MAX];
	size_t len;

	if (!initiator)
		setup();
	if (size < 1 || size - 1 > sizeof(msg))
		return 0;
	len = size - 1;
	memcpy(msg, data + 1, len);
	switch (data[0] % 8) {
	case 0: /* as received */
		responder(msg, len);
		initiator_side(msg, len);
		cookie_paths(msg, len);
		break;
	case 1: /* an initiation past mac1 */
		remac(msg, len, &mac_r);
		responder(msg, len);
		break;
	case 2: /* a response past mac1 */
		remac(msg, len, &mac_i);
		initiator_side(msg, len);
		break;
	case 3: /* a genuine initiation, sparsely mutated */
		memcpy(msg, genuine, sizeof(genuine));
		for (size_t i = 0; i < len && i < sizeof(genuine); i++)
			msg[i] ^= data[1 + i];
		len = sizeof(genuine);
		remac(msg, len, &mac_r);
		responder(msg, len);
		break;
	case 5: /* a refusal as received */
		refusal_side(msg, len);
		break;
	case 6: /* a refusal past mac1 */
		if (len >= TERN_HS_REFUSAL_MAC1)
			tern_hs_mac(msg + TERN_HS_REFUSAL_MAC1, mac_i.mac1, 32, msg,
			            TERN_HS_REFUSAL_MAC1);
		refusal_side(msg, len);
		break;
	case 7: /* a genuine initiation, sparsely mutated, refused (the mode
		         * byte's bits 3-4 pick the reason: 1 REFUSED, 2 MEMORY) */
		memcpy(msg, genuine, sizeof(genuine));
		for (size_t i = 0; i < len && i < sizeof(genuine); i++)
			msg[i] ^= data[1 + i];
		len = sizeof(genuine);
		remac(msg, len, &mac_r);
		responder_refusing(msg, len, over_reasons[(data[0] >> 3) & 3]);
		break;
	default:
		cookie_paths(msg, len);
		break;
	}
	return 0;
}
