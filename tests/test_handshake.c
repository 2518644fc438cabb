/* The Noise IK handshake: byte-exact test vectors (docs/handshake.md §10,
 * computed by an independent implementation), a full round trip whose keys
 * interoperate, every failure reason, every tampered byte of both messages
 * rejected, mac1 checked without any DH, failed states left usable, and
 * outputs wiped on failure. Refusals: a vector, every refusable reason
 * round trip, the silent failures, tampering and forgery rejected, and no
 * refusal for a static key the initiator cannot prove it holds. */
#include "tests/check.h"
#include "crypto/handshake.h"
#include "crypto/noise.h"
#include "crypto/token.h"

static const char vec_ticket[] = "01000102030405060708090a0b0c0d0e0f1011121314151617819227d12edba8"
                                 "1ea7aa13ce8e4f743854df1b28a2a6897994b41202ac26094f59e4d035ebe87d"
                                 "d7095a49fd49574093bba4ff71029306d7ba50617eaa3f2a64";
static const char vec_msg1[] = "8101010203040506070800001b580100883186b800b41d5cf0429695da9b3cc4"
                               "f328ebcd184a6e482fa578c103f06c77ea46fec0bee3ce0e052ec0cfad8ea652"
                               "235164c7c9730cd3671b131e60a74e00ed62a4a728a69a7c3cea45f9cf29faf0"
                               "283dd54735e2c4464a277438555d3c59c9dad8abfa83222bb6bc6679f7a73f8e"
                               "e59c309d06b3e5002695a0726c860a5f542b10c3bc789cdd127504017787fea3"
                               "0228c39d09ff40941e0219a77a2ecc6281202b87db2520455e67720fc5a5cb00"
                               "bba1d2bf8c3e73208df2833b3291123b3424e7941f0950236692a0c81520e979"
                               "b7d40f73c7b170820b08cce40cbfefe36bc855d05dc27d266eebd11cb0f8c862"
                               "83c2e94bbccf72362984288085e088d04640f4897a522a0d55b9698b71b919b5"
                               "1e1ed0cbb01a333f44f29d144a8b3050b4484ac479713605fbbaf817369baab7"
                               "6440a7b5b20cc92aa182c765189262172d4361293eb374b175b8445c6b897e54"
                               "a9fd6092ed64ca67d89384c792cb08d2cf28d8485ee1ff5213431d5608b2b55c"
                               "b4128c6d60720117d94f7253fc1f9f9266d83c724f583cd1b96ff7f6d9d3b8c7"
                               "f7cd020625bbc8dd3ebc8202c23de95aa65273c1e949117a3fe021c6670d194e"
                               "0c4b25b8329697601dea489a09aed0bc131540f8be4b2d8be92f5f451232fb44"
                               "1acd07af77eb1de28d0429b01aa4f36436dbf5e5ecee261fbdc37d996dc1623e"
                               "6d0e2b615962c3ce26f7057ebda6852a08175e03105cebd5eaace6e1af89b417"
                               "1a07417e7f4afb1705a29f5abde28181749f2b6dde5507d7ccb6f534b5894b52"
                               "85bfb4a6b2cefd2200f306e264cdd0e6fc2783f7f960ce1777059b2cbb6bce42"
                               "5960d748b43b79ab57bac26f94ed8063e02c4f716734ca2f30be5ac400d4b164"
                               "6ec674f076f7e01e93ab8c7640a362d2dfc15b15ad8dc977dbb834b0eb33a8ee"
                               "14362ae8063c6f12615edc9fe4d0739cff2949a75c471645c3f15b02cd20bea4"
                               "863bac62e74eeb4ae32cf5b675c7899ecc2ccdbd609c7347dc7ec5da61eddbac"
                               "ba6d52ac3b19ee692636d8a2818affa99884eef2909d28525535389de390d862"
                               "a871dd248f7f4a7225a9f6d437da6f86a78c9e4b8013f5bd2d43a8472a496360"
                               "f9f586a66aeb5e4897fa260e80ea2a4edfb4f6677143b96911e0138a187db47b"
                               "c364b8ec6f334eda4559219809bfb9e0f6adad7344c6254b881a47190a832827"
                               "9bd29f3caa6649ffaa6c96f635235e8521a395f4dd9e0e5287ab8db220a7e44a"
                               "a7d96067a96131533abf4a08abbc9b178266d2852f93a0041b10cd8e45933ce3"
                               "278e6b5341b7cc2f7df10c80cfc113920d3da0d3f591b0f779101aff7d4f82c2"
                               "a5b70c2c73aa5f08e588f863868c0d4e5cb233bc122be919e8cbf60aea7917e9"
                               "57a5771883e4676334a26f321527fa90cd56c8aa1509b99371b754f13506b1fe"
                               "3110e91203d46664efbfe70c8f4930316e0a3e8c9ce3738ed2d40ee7f6d975d7"
                               "ffceda21c7142b98d8febcd2b974d6893b7076b0ba6471b2ad5fff1826ce9cec"
                               "e8daf2b276d85c7b5c1e0abc35a894d8f67761532f80bd0ea6399cbe11e8b746"
                               "be13b1291da730aa202f69d2c56f3a702991fe0dfa661ee6c58e2fa503cf56dc"
                               "94f7bdcaef5d9e9031b40925d26cf3cb2fbddeb5dd74a9124752b9ea2b9e57b9"
                               "00000000000000000000000000000000";
static const char vec_msg2[] = "8201010203040506070811121314151617183a553d74792d727efa9b9a4cde3d"
                               "a1ad93f1a2d0c09cb639b1a3c0fda14cbe240c9e9543f15395895dd5dcf4ac7f"
                               "ab234c2932811f9d7acd20e222da2f605999b2315b6927ffd55d6df26798c594"
                               "21dd676b15e0367f61ffe1b6e7f122e31be80000000000000000000000000000"
                               "0000";
static const char vec_hash[] = "2c7204ec27a832821156833fb1b960e73a78ba5effcac7607c90828010e2c955"
                               "8a0eadf19033bee61c7acdd827c0231c31dd14391e312f7d15a92703ea918ac1";
static const char vec_seal_i2r[] = "0312ee379cb4842dae73d6fec44a18fc12f7120bba";
static const char vec_seal_r2i[] = "59c6029fd541a47771ca9b947b3608c691fad0ecd1";
/* The vector initiation refused with UNKNOWN_CLIENT_KEY (docs/handshake.md §10). */
static const char vec_refusal[] = "8401010203040506070801c504bed6767b98b83fa755ab62a2ddabde01"
                                  "24127599c6105b6eb6e7e9f70e26";

static struct tern_hs_keypair si, sr, ei, er;
static struct tern_hs_mac_keys mac_r, mac_i;
static uint8_t ticket_key[32], ticket[TERN_TOKEN_LEN];
static const uint8_t icid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
static const uint8_t rcid[8] = {0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
static uint8_t ts[TERN_HS_TIMESTAMP_LEN];
static const struct tern_hs_params iparams = {262144, 1048576, 16, 25000, 30000};
static const struct tern_hs_params rparams = {131072, 2097152, 32, 20000, 60000};

/* Replay store of one key: the newest timestamp accepted. */
static uint8_t last_ts[TERN_HS_TIMESTAMP_LEN];
static bool allow_all = true;

static size_t unhex(uint8_t *out, const char *hex)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
	return n;
}

static bool allow_cb(void *ctx, const uint8_t pub[32])
{
	(void)ctx;
	(void)pub;
	return allow_all;
}

static bool fresh_cb(void *ctx, const uint8_t pub[32], const uint8_t t[12])
{
	(void)ctx;
	(void)pub;
	if (memcmp(t, last_ts, sizeof(last_ts)) <= 0)
		return false;
	memcpy(last_ts, t, sizeof(last_ts));
	return true;
}

static void keypair(struct tern_hs_keypair *kp, uint8_t first)
{
	uint8_t priv[32];

	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(first + i);
	CHECK_EQ(tern_hs_keypair_from_private(kp, priv), 0);
}

static void setup(void)
{
	keypair(&si, 0x01);
	keypair(&sr, 0x41);
	keypair(&ei, 0x81);
	keypair(&er, 0xc1);
	tern_hs_mac_keys_init(&mac_r, sr.pub);
	tern_hs_mac_keys_init(&mac_i, si.pub);
	tern_hs_tai64n(ts, 1700000000, 123456789);
	for (int i = 0; i < 32; i++)
		ticket_key[i] = (uint8_t)(0xa0 + i);
}

static struct tern_hs_init_config init_cfg(void)
{
	struct tern_hs_init_config c = {
	        .local = &si,
	        .remote_pub = sr.pub,
	        .ephemeral = &ei,
	        .timestamp = ts,
	        .min_minor = 0,
	        .max_minor = 0,
	        .vport = 7000,
	        .stream_type = 1,
	        .params = iparams,
	        .ticket = ticket,
	        .ticket_len = sizeof(ticket),
	};
	memcpy(c.cid, icid, 8);
	return c;
}

static struct tern_hs_resp_config resp_cfg(void)
{
	struct tern_hs_resp_config c = {
	        .local = &sr,
	        .mac = &mac_r,
	        .allow = allow_cb,
	        .fresh = fresh_cb,
	        .ticket_key = ticket_key,
	        .now_unix = 1700000000,
	        .min_minor = 0,
	        .max_minor = 0,
	};
	return c;
}

static void reset_replay(void)
{
	memset(last_ts, 0, sizeof(last_ts));
	allow_all = true;
}

/* Runs create/consume on the given configs; returns the responder's failure. */
static enum tern_hs_fail consume(const struct tern_hs_resp_config *rc, const uint8_t *msg,
                                 size_t len, struct tern_hs_responder **rs,
                                 struct tern_hs_init_info *info)
{
	enum tern_hs_fail why = TERN_HS_OK;
	int rcode = tern_hs_initiation_consume(rs, rc, msg, len, info, &why);

	CHECK_EQ(rcode == 0, why == TERN_HS_OK);
	return why;
}

/* Seals "hello" with pn 0 and AD "tern" and compares with the vector. */
static void check_seal(const struct tern_aead *a, const char *want_hex)
{
	uint8_t buf[64], want[32];
	size_t n = unhex(want, want_hex);

	memcpy(buf, "hello", 5);
	CHECK_EQ(tern_aead_seal(a, 0, (const uint8_t *)"tern", 4, buf, 5, sizeof(buf)), (int)n);
	CHECK(memcmp(buf, want, n) == 0);
}

static void test_vectors(void)
{
	uint8_t want1[TERN_HS_INIT_LEN], want2[TERN_HS_RESP_LEN], hash[64], tk[TERN_TOKEN_LEN];
	uint8_t m1[TERN_HS_INIT_MAX], m2[256], nonce[24];
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_result ir, rr;
	size_t n1 = 0, n2 = 0;

	for (int i = 0; i < 24; i++)
		nonce[i] = (uint8_t)i;
	CHECK_EQ(unhex(tk, vec_ticket), TERN_TOKEN_LEN);
	CHECK_EQ(tern_token_mint(ticket_key, 42, 1700003600, si.pub, nonce, ticket, sizeof(ticket)),
	         TERN_TOKEN_LEN);
	CHECK(memcmp(ticket, tk, sizeof(tk)) == 0);
	CHECK_EQ(unhex(want1, vec_msg1), TERN_HS_INIT_LEN);
	CHECK_EQ(unhex(want2, vec_msg2), TERN_HS_RESP_LEN);
	unhex(hash, vec_hash);

	reset_replay();
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	CHECK_EQ(n1, TERN_HS_INIT_LEN);
	CHECK(memcmp(m1, want1, sizeof(want1)) == 0);
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_OK);
	CHECK_EQ(tern_hs_response_create(rs, rcid, &rparams, &er, m2, sizeof(m2), &n2, &rr, NULL),
	         0);
	CHECK_EQ(n2, TERN_HS_RESP_LEN);
	CHECK(memcmp(m2, want2, sizeof(want2)) == 0);
	CHECK_EQ(tern_hs_response_consume(is, m2, n2, &ir, NULL), 0);
	CHECK(memcmp(ir.hash, hash, 64) == 0);
	CHECK(memcmp(rr.hash, hash, 64) == 0);
	CHECK_EQ(ir.cipher, TERN_CIPHER_CHACHA20_POLY1305);
	check_seal(ir.keys.tx, vec_seal_i2r);
	check_seal(rr.keys.rx, vec_seal_i2r);
	check_seal(ir.keys.rx, vec_seal_r2i);
	check_seal(rr.keys.tx, vec_seal_r2i);
	tern_keys_free(&ir.keys);
	tern_keys_free(&rr.keys);
	tern_hs_initiator_free(is);
	tern_hs_responder_free(rs);
}

/* Fresh ephemerals and timestamps: the whole exchange and what each side
 * learns about the other. */
static void test_roundtrip(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_MAX], m2[TERN_HS_RESP_LEN], buf[64], ts2[12];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_result ir, rr;
	size_t n1, n2;

	reset_replay();
	tern_hs_tai64n(ts2, 1700000001, 0);
	ic.timestamp = ts2;
	ic.ephemeral = NULL;
	ic.pad_to = TERN_HS_INIT_MAX;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	CHECK_EQ(n1, TERN_HS_INIT_MAX);
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_OK);
	CHECK(memcmp(info.peer_cid, icid, 8) == 0);
	CHECK(memcmp(info.peer_static, si.pub, 32) == 0);
	CHECK(memcmp(info.timestamp, ts2, 12) == 0);
	CHECK_EQ(info.vport, 7000);
	CHECK_EQ(info.stream_type, 1);
	CHECK_EQ(info.params.conn_window, 1048576);
	CHECK_EQ(info.params.idle_timeout_ms, 30000);
	CHECK(info.has_ticket);
	CHECK_EQ(info.pid, 42);
	CHECK_EQ(info.ticket_expiry, 1700003600);
	CHECK_EQ(tern_hs_response_create(rs, rcid, &rparams, NULL, m2, sizeof(m2), &n2, &rr, NULL),
	         0);
	CHECK_EQ(tern_hs_response_consume(is, m2, n2, &ir, NULL), 0);
	CHECK(memcmp(ir.hash, rr.hash, 64) == 0);
	CHECK(memcmp(ir.peer_cid, rcid, 8) == 0 && memcmp(ir.local_cid, icid, 8) == 0);
	CHECK(memcmp(rr.peer_cid, icid, 8) == 0 && memcmp(rr.local_cid, rcid, 8) == 0);
	CHECK(memcmp(ir.peer_static, sr.pub, 32) == 0 && memcmp(rr.peer_static, si.pub, 32) == 0);
	CHECK_EQ(ir.pid, 42);
	CHECK_EQ(rr.pid, 42);
	CHECK_EQ(ir.peer_params.max_streams, 32);
	CHECK_EQ(ir.peer_params.stream_window, 131072);
	CHECK_EQ(rr.peer_params.max_ack_delay_us, 25000);
	CHECK_EQ(ir.minor, 0);
	memcpy(buf, "ping", 4);
	CHECK_EQ(tern_aead_seal(ir.keys.tx, 9, NULL, 0, buf, 4, sizeof(buf)), 20);
	CHECK_EQ(tern_aead_open(rr.keys.rx, 9, NULL, 0, buf, 20), 4);
	CHECK_EQ(tern_aead_seal(rr.keys.tx, 3, NULL, 0, buf, 4, sizeof(buf)), 20);
	CHECK_EQ(tern_aead_open(ir.keys.rx, 3, NULL, 0, buf, 20), 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	/* Both states are spent. */
	CHECK_EQ(tern_hs_response_consume(is, m2, n2, &ir, NULL), TERN_ESTATE);
	CHECK_EQ(tern_hs_response_create(rs, rcid, &rparams, NULL, m2, sizeof(m2), &n2, &rr, NULL),
	         TERN_ESTATE);
	tern_keys_free(&ir.keys);
	tern_keys_free(&rr.keys);
	tern_hs_initiator_free(is);
	tern_hs_responder_free(rs);
}

/* AES-256-GCM only when both offer it and the CPU has it. */
static void test_cipher_negotiation(void)
{
	static const bool offers[4][2] = {
	        {false, false}, {true, false}, {false, true}, {true, true}};

	for (int i = 0; i < 4; i++) {
		struct tern_hs_init_config ic = init_cfg();
		struct tern_hs_resp_config rc = resp_cfg();
		uint8_t m1[TERN_HS_INIT_LEN], m2[TERN_HS_RESP_LEN];
		struct tern_hs_initiator *is;
		struct tern_hs_responder *rs;
		struct tern_hs_init_info info;
		struct tern_hs_result ir, rr;
		size_t n1, n2;
		enum tern_cipher want = offers[i][0] && offers[i][1] && tern_crypto_aes_available()
		                                ? TERN_CIPHER_AES256_GCM
		                                : TERN_CIPHER_CHACHA20_POLY1305;

		reset_replay();
		ic.aes = offers[i][0];
		rc.aes = offers[i][1];
		CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
		CHECK_EQ(m1[TERN_HS_INIT_FLAGS], ic.aes && tern_crypto_aes_available());
		CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_OK);
		CHECK_EQ(info.cipher, want);
		tern_hs_response_create(rs, rcid, &rparams, NULL, m2, sizeof(m2), &n2, &rr, NULL);
		CHECK_EQ(tern_hs_response_consume(is, m2, n2, &ir, NULL), 0);
		CHECK_EQ(ir.cipher, want);
		CHECK_EQ(rr.cipher, want);
		tern_keys_free(&ir.keys);
		tern_keys_free(&rr.keys);
		tern_hs_initiator_free(is);
		tern_hs_responder_free(rs);
	}
}

/* Recomputes mac1 as anyone knowing the receiver's public key can. */
static void remac(uint8_t *msg, size_t len, const struct tern_hs_mac_keys *mk)
{
	tern_hs_mac(msg + len - 32, mk->mac1, 32, msg, len - 32);
}

static bool zeroed(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* An initiation built from ic, consumed under rc: the responder's verdict.
 * edit (may be NULL) alters the message; then mac1 is recomputed when asked. */
static enum tern_hs_fail verdict(const struct tern_hs_init_config *ic,
                                 const struct tern_hs_resp_config *rc, void (*edit)(uint8_t *),
                                 bool fix_mac1)
{
	uint8_t m1[TERN_HS_INIT_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs = (void *)1;
	struct tern_hs_init_info info;
	enum tern_hs_fail why;
	size_t n1;

	CHECK_EQ(tern_hs_initiation_create(&is, ic, m1, sizeof(m1), &n1, NULL), 0);
	if (edit)
		edit(m1);
	if (fix_mac1)
		remac(m1, n1, &mac_r);
	memset(&info, 0xaa, sizeof(info));
	why = consume(rc, m1, n1, &rs, &info);
	if (why != TERN_HS_OK) {
		CHECK(rs == NULL);
		CHECK(zeroed(&info, sizeof(info)));
	}
	tern_hs_responder_free(rs);
	tern_hs_initiator_free(is);
	return why;
}

static void edit_version(uint8_t *m)
{
	m[1] = 2;
}
static void edit_min_gt_max(uint8_t *m)
{
	m[TERN_HS_INIT_MIN_MINOR] = 3;
	m[TERN_HS_INIT_MAX_MINOR] = 2;
}
static void edit_vport(uint8_t *m)
{
	m[TERN_HS_INIT_VPORT] ^= 1;
}
static void edit_flags(uint8_t *m)
{
	m[TERN_HS_INIT_FLAGS] ^= TERN_HS_FLAG_AES;
}
static void edit_mac1(uint8_t *m)
{
	m[TERN_HS_INIT_LEN - 32] ^= 1;
}
static void edit_type(uint8_t *m)
{
	m[0] = 0x83;
}
/* The order-8 and order-4 points of Curve25519 (all-zero DH results). */
static const uint8_t low_order[][32] = {
        {0},
        {1},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3,
         0xfa, 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32,
         0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1,
         0x55, 0x9c, 0x83, 0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c,
         0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};
static int low_idx;
static void edit_low_order_e(uint8_t *m)
{
	memcpy(m + TERN_HS_INIT_EPHEMERAL, low_order[low_idx], 32);
}

static void test_responder_failures(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t other_ticket[TERN_TOKEN_LEN], ts_n[12];
	uint64_t sec = 1700000100;

#define NEXT_TS() (tern_hs_tai64n(ts_n, sec++, 0), ic.timestamp = ts_n)
	reset_replay();
	NEXT_TS();
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_OK);
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_REPLAY); /* same timestamp */
	NEXT_TS();
	CHECK_EQ(verdict(&ic, &rc, edit_mac1, false), TERN_HS_BAD_MAC);
	CHECK_EQ(verdict(&ic, &rc, edit_vport, true), TERN_HS_BAD_MAC);
	CHECK_EQ(verdict(&ic, &rc, edit_flags, true), TERN_HS_BAD_MAC);
	CHECK_EQ(verdict(&ic, &rc, edit_version, false), TERN_HS_VERSION_MISMATCH);
	CHECK_EQ(verdict(&ic, &rc, edit_min_gt_max, true), TERN_HS_MALFORMED);
	CHECK_EQ(verdict(&ic, &rc, edit_type, false), TERN_HS_MALFORMED);
	for (low_idx = 0; low_idx < (int)TERN_ARRAY_LEN(low_order); low_idx++)
		CHECK_EQ(verdict(&ic, &rc, edit_low_order_e, true), TERN_HS_LOW_ORDER_POINT);
	ic.min_minor = ic.max_minor = 1;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_VERSION_MISMATCH);
	ic.min_minor = ic.max_minor = 0;
	allow_all = false;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_UNKNOWN_CLIENT_KEY);
	allow_all = true;
	rc.now_unix = 1700003600;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_TICKET_EXPIRED);
	rc.now_unix = 1700000000;
	tern_token_mint(ticket_key, 42, 1700003600, sr.pub, NULL, other_ticket,
	                sizeof(other_ticket)); /* bound to another key */
	ic.ticket = other_ticket;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_TICKET_FORGED);
	ic.ticket = ticket;
	ic.ticket_len = 10; /* not a ticket at all */
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_TICKET_FORGED);
	ic.ticket_len = 0;
	rc.ticket_required = true;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_TICKET_FORGED);
	rc.ticket_required = false;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_OK); /* no ticket needed */
	NEXT_TS();
	rc.ticket_key = NULL; /* a server without tickets ignores them */
	ic.ticket = other_ticket;
	ic.ticket_len = sizeof(other_ticket);
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_OK);
	rc.ticket_key = ticket_key;
	ic.ticket = ticket;
	/* Replay check runs last: refused initiations do not advance the store. */
	NEXT_TS();
	allow_all = false;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_UNKNOWN_CLIENT_KEY);
	allow_all = true;
	CHECK_EQ(verdict(&ic, &rc, NULL, false), TERN_HS_OK);
#undef NEXT_TS
}

/* A genuine initiation (from ic) consumed by a fresh responder; its
 * response is returned in m2 together with the initiator state. */
static struct tern_hs_initiator *exchange(struct tern_hs_init_config *ic, uint8_t *m1, size_t *n1,
                                          uint8_t m2[TERN_HS_RESP_LEN])
{
	struct tern_hs_resp_config rc = resp_cfg();
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_result rr;
	size_t n2;

	reset_replay();
	CHECK_EQ(tern_hs_initiation_create(&is, ic, m1, TERN_HS_INIT_LEN, n1, NULL), 0);
	CHECK_EQ(consume(&rc, m1, *n1, &rs, &info), TERN_HS_OK);
	CHECK_EQ(tern_hs_response_create(rs, rcid, &rparams, NULL, m2, TERN_HS_RESP_LEN, &n2, &rr,
	                                 NULL),
	         0);
	tern_keys_free(&rr.keys);
	tern_hs_responder_free(rs);
	return is;
}

/* The initiator's verdict on a (possibly altered) response; res must come
 * back zeroed on failure. */
static enum tern_hs_fail initiator_verdict(struct tern_hs_initiator *is, const uint8_t *m2,
                                           size_t n2)
{
	struct tern_hs_result res;
	enum tern_hs_fail why = TERN_HS_OK;

	memset(&res, 0xaa, sizeof(res));
	if (tern_hs_response_consume(is, m2, n2, &res, &why) < 0)
		CHECK(zeroed(&res, sizeof(res)));
	else
		tern_keys_free(&res.keys);
	return why;
}

static void test_initiator_failures(void)
{
	struct tern_hs_init_config ic = init_cfg();
	uint8_t m1[TERN_HS_INIT_LEN], m2[TERN_HS_RESP_LEN], bad[TERN_HS_RESP_LEN];
	struct tern_hs_initiator *is, *is2;
	size_t n1;

	is = exchange(&ic, m1, &n1, m2);
	memcpy(bad, m2, sizeof(bad));
	bad[TERN_HS_RESP_PAYLOAD + 3] ^= 0x40;
	remac(bad, sizeof(bad), &mac_i);
	CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_BAD_SERVER_KEY);
	memcpy(bad, m2, sizeof(bad));
	memcpy(bad + TERN_HS_RESP_EPHEMERAL, sr.pub, 32); /* a valid point, wrong key */
	remac(bad, sizeof(bad), &mac_i);
	CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_BAD_SERVER_KEY);
	for (size_t i = 0; i < TERN_ARRAY_LEN(low_order); i++) {
		memcpy(bad + TERN_HS_RESP_EPHEMERAL, low_order[i], 32);
		remac(bad, sizeof(bad), &mac_i);
		CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_LOW_ORDER_POINT);
	}
	memcpy(bad, m2, sizeof(bad));
	bad[TERN_HS_RESP_LEN - 1] = 1; /* mac2 must be zero */
	CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_BAD_MAC);
	memcpy(bad, m2, sizeof(bad));
	bad[TERN_HS_RESP_RECEIVER] ^= 1; /* not our CID */
	remac(bad, sizeof(bad), &mac_i);
	CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_MALFORMED);
	CHECK_EQ(initiator_verdict(is, m2, sizeof(m2) - 1), TERN_HS_MALFORMED);
	CHECK_EQ(initiator_verdict(is, m1, n1), TERN_HS_BAD_MAC); /* wrong message */
	/* A response to a different initiation of ours does not authenticate. */
	ic.ephemeral = NULL;
	is2 = exchange(&ic, m1, &n1, bad);
	CHECK_EQ(initiator_verdict(is, bad, sizeof(bad)), TERN_HS_BAD_SERVER_KEY);
	CHECK_EQ(initiator_verdict(is2, m2, sizeof(m2)), TERN_HS_BAD_SERVER_KEY);
	/* None of that harmed either state. */
	CHECK_EQ(initiator_verdict(is, m2, sizeof(m2)), TERN_HS_OK);
	CHECK_EQ(initiator_verdict(is2, bad, sizeof(bad)), TERN_HS_OK);
	tern_hs_initiator_free(is);
	tern_hs_initiator_free(is2);
}

/* Flipping any bit of any byte before mac2 makes the initiation fail, with
 * mac1 as sent (caught by mac1) and with mac1 recomputed by the attacker
 * (caught by the AEAD over the hash that covers the header). mac2 is checked
 * by the cookie layer (tests/test_cookie.c). */
static void test_tamper_initiation(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	int rejected = 0, rejected_remac = 0, n = TERN_HS_INIT_LEN - 16;
	size_t n1;

	reset_replay();
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	for (int i = 0; i < n; i++) {
		uint8_t bit = (uint8_t)(1 << (i % 8));

		m1[i] ^= bit;
		rejected += consume(&rc, m1, n1, &rs, &info) != TERN_HS_OK;
		if (i < n - 16) {
			uint8_t save[16];

			memcpy(save, m1 + n1 - 32, 16);
			remac(m1, n1, &mac_r);
			rejected_remac += consume(&rc, m1, n1, &rs, &info) != TERN_HS_OK;
			memcpy(m1 + n1 - 32, save, 16);
		}
		m1[i] ^= bit;
	}
	CHECK_EQ(rejected, n);
	CHECK_EQ(rejected_remac, n - 16);
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_OK);
	tern_hs_responder_free(rs);
	tern_hs_initiator_free(is);
}

static void test_tamper_response(void)
{
	struct tern_hs_init_config ic = init_cfg();
	uint8_t m1[TERN_HS_INIT_LEN], m2[TERN_HS_RESP_LEN];
	struct tern_hs_initiator *is = exchange(&ic, m1, &(size_t){0}, m2);
	int rejected = 0, rejected_remac = 0;

	for (int i = 0; i < TERN_HS_RESP_LEN; i++) {
		uint8_t bit = (uint8_t)(0x80 >> (i % 8));

		m2[i] ^= bit;
		rejected += initiator_verdict(is, m2, sizeof(m2)) != TERN_HS_OK;
		if (i < TERN_HS_RESP_LEN - 32) {
			uint8_t save[16];

			memcpy(save, m2 + TERN_HS_RESP_LEN - 32, 16);
			remac(m2, sizeof(m2), &mac_i);
			rejected_remac += initiator_verdict(is, m2, sizeof(m2)) != TERN_HS_OK;
			memcpy(m2 + TERN_HS_RESP_LEN - 32, save, 16);
		}
		m2[i] ^= bit;
	}
	CHECK_EQ(rejected, TERN_HS_RESP_LEN);
	CHECK_EQ(rejected_remac, TERN_HS_RESP_LEN - 32);
	CHECK_EQ(initiator_verdict(is, m2, sizeof(m2)), TERN_HS_OK);
	tern_hs_initiator_free(is);
}

/* The cheap filter: no Diffie-Hellman, whatever the input. */
static void test_mac1_without_dh(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	enum tern_hs_fail why;
	uint64_t before;
	size_t n1;

	reset_replay();
	tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL);
	before = tern_noise_dh_calls();
	CHECK_EQ(tern_hs_check_mac1(&mac_r, m1, n1, &why), 0);
	CHECK_EQ(why, TERN_HS_OK);
	CHECK_EQ(tern_hs_check_mac1(&mac_i, m1, n1, &why), TERN_ECRYPTO);
	CHECK_EQ(why, TERN_HS_BAD_MAC);
	CHECK_EQ(tern_hs_check_mac1(&mac_r, m1, n1 - 1, &why), TERN_EMALFORMED);
	CHECK_EQ(tern_hs_check_mac1(&mac_r, m1, 1, &why), TERN_EMALFORMED);
	m1[n1 - 20] ^= 1;
	for (int i = 0; i < 100; i++)
		CHECK_EQ(tern_hs_check_mac1(&mac_r, m1, n1, NULL), TERN_ECRYPTO);
	/* consume refuses a bad mac1 before any DH as well */
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_BAD_MAC);
	CHECK_EQ(tern_noise_dh_calls(), before);
	m1[n1 - 20] ^= 1;
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_OK);
	CHECK_EQ(tern_noise_dh_calls(), before + 2); /* es, ss */
	tern_hs_responder_free(rs);
	tern_hs_initiator_free(is);
}

/* API misuse and outputs wiped on failure. */
static void test_create_errors(void)
{
	struct tern_hs_init_config ic = init_cfg();
	uint8_t m1[TERN_HS_INIT_MAX];
	struct tern_hs_initiator *is = (void *)1;
	enum tern_hs_fail why;
	size_t n1;

	memset(m1, 0xee, sizeof(m1));
	ic.remote_pub = low_order[2];
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, &why), TERN_ECRYPTO);
	CHECK_EQ(why, TERN_HS_LOW_ORDER_POINT);
	CHECK(is == NULL);
	CHECK(zeroed(m1, sizeof(m1)));
	ic = init_cfg();
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, TERN_HS_INIT_LEN - 1, &n1, &why),
	         TERN_ENOSPC);
	CHECK_EQ(why, TERN_HS_INTERNAL);
	ic.pad_to = TERN_HS_INIT_MAX + 1;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, &why), TERN_EINVAL);
	ic = init_cfg();
	ic.ticket_len = TERN_HS_TICKET_MAX + 1;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, &why), TERN_EINVAL);
	ic = init_cfg();
	ic.timestamp = NULL;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, &why), TERN_EINVAL);
	ic = init_cfg();
	ic.min_minor = 2;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, &why), TERN_EINVAL);
	CHECK(is == NULL);
}

static void test_misc(void)
{
	uint8_t t[12], priv[32] = {9};
	struct tern_hs_keypair a, b, c;

	tern_hs_tai64n(t, 0, 1);
	CHECK_EQ(tern_get_be64(t), 0x400000000000000aull);
	CHECK_EQ(tern_get_be32(t + 8), 1);
	CHECK_EQ(tern_hs_keypair_generate(&a), 0);
	CHECK_EQ(tern_hs_keypair_generate(&b), 0);
	CHECK(memcmp(a.pub, b.pub, 32) != 0);
	CHECK_EQ(tern_hs_keypair_from_private(&c, a.priv), 0);
	CHECK(memcmp(a.pub, c.pub, 32) == 0);
	/* RFC 7748 §6.1: Alice's public key */
	unhex(priv, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	tern_hs_keypair_from_private(&c, priv);
	unhex(priv, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	CHECK(memcmp(c.pub, priv, 32) == 0);
	CHECK(strcmp(tern_hs_fail_name(TERN_HS_REPLAY), "REPLAY") == 0);
	CHECK(strcmp(tern_hs_fail_name((enum tern_hs_fail)99), "UNKNOWN") == 0);
}

/* ---- refusals ----------------------------------------------------------- */

/* The responder's verdict on ic under rc with refusals on; when it leaves a
 * refusal ready, the refusal is sent as `as` (TERN_HS_OK: as the verdict)
 * and *reason is what the initiator reads from it (else TERN_HS_OK). */
static enum tern_hs_fail refuse(const struct tern_hs_init_config *ic,
                                const struct tern_hs_resp_config *rc, enum tern_hs_fail as,
                                enum tern_hs_fail *reason)
{
	uint8_t m1[TERN_HS_INIT_LEN], out[64];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf;
	struct tern_hs_result res;
	enum tern_hs_fail why = TERN_HS_OK;
	size_t n1, n = 0;

	*reason = TERN_HS_OK;
	CHECK_EQ(tern_hs_initiation_create(&is, ic, m1, sizeof(m1), &n1, NULL), 0);
	memset(&rf, 0xaa, sizeof(rf));
	CHECK_EQ(tern_hs_initiation_consume_ex(&rs, rc, m1, n1, &info, &rf, &why) == 0,
	         why == TERN_HS_OK);
	CHECK_EQ(rf.ready, why == TERN_HS_OK || tern_hs_refusable(why));
	tern_hs_responder_free(rs);
	if (!rf.ready) {
		CHECK(zeroed(&rf, sizeof(rf)));
		CHECK_EQ(tern_hs_refusal_create(&rf, TERN_HS_REFUSED, out, sizeof(out), &n),
		         TERN_ESTATE);
	} else {
		CHECK(memcmp(rf.peer_cid, icid, 8) == 0);
		CHECK(memcmp(rf.peer_static, si.pub, 32) == 0);
		CHECK_EQ(tern_hs_refusal_create(&rf, as ? as : why, out, sizeof(out), &n), 0);
		CHECK(zeroed(&rf, sizeof(rf))); /* single use: the key is gone */
		CHECK_EQ(n, TERN_HS_REFUSAL_LEN);
		CHECK(n < TERN_HS_COOKIE_REPLY_LEN && n < n1); /* amplifies nothing */
		CHECK_EQ(tern_hs_refusal_consume(is, out, n, reason, NULL), 0);
		/* the handshake is over: nothing more is accepted */
		CHECK_EQ(tern_hs_refusal_consume(is, out, n, NULL, NULL), TERN_ESTATE);
		CHECK_EQ(tern_hs_response_consume(is, out, n, &res, NULL), TERN_ESTATE);
	}
	tern_hs_initiator_free(is);
	return why;
}

static void test_refusal_vector(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_LEN], out[TERN_HS_REFUSAL_LEN], want[TERN_HS_REFUSAL_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf;
	enum tern_hs_fail why, reason;
	size_t n1, n;

	CHECK_EQ(unhex(want, vec_refusal), TERN_HS_REFUSAL_LEN);
	reset_replay();
	allow_all = false;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	CHECK_EQ(tern_hs_initiation_consume_ex(&rs, &rc, m1, n1, &info, &rf, &why), TERN_EPROTO);
	CHECK_EQ(why, TERN_HS_UNKNOWN_CLIENT_KEY);
	CHECK(rs == NULL);
	CHECK(rf.ready);
	CHECK_EQ(tern_hs_refusal_create(&rf, why, out, sizeof(out), &n), 0);
	CHECK(memcmp(out, want, sizeof(want)) == 0);
	CHECK_EQ(tern_hs_refusal_consume(is, out, n, &reason, &why), 0);
	CHECK_EQ(why, TERN_HS_OK);
	CHECK_EQ(reason, TERN_HS_UNKNOWN_CLIENT_KEY);
	tern_hs_initiator_free(is);
	reset_replay();
}

/* Each refusable reason travels and comes out as itself. */
static void test_refusal_reasons(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t other_ticket[TERN_TOKEN_LEN], ts_n[12];
	enum tern_hs_fail reason;

	reset_replay();
	tern_hs_tai64n(ts_n, 1700000500, 0);
	ic.timestamp = ts_n;
	allow_all = false;
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_UNKNOWN_CLIENT_KEY);
	CHECK_EQ(reason, TERN_HS_UNKNOWN_CLIENT_KEY);
	allow_all = true;
	rc.now_unix = 1700003600;
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_TICKET_EXPIRED);
	CHECK_EQ(reason, TERN_HS_TICKET_EXPIRED);
	rc.now_unix = 1700000000;
	tern_token_mint(ticket_key, 42, 1700003600, sr.pub, NULL, other_ticket,
	                sizeof(other_ticket));
	ic.ticket = other_ticket;
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_TICKET_FORGED);
	CHECK_EQ(reason, TERN_HS_TICKET_FORGED);
	ic.ticket = ticket;
	ic.min_minor = ic.max_minor = 1; /* the responder speaks 0 only */
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_VERSION_MISMATCH);
	CHECK_EQ(reason, TERN_HS_VERSION_MISMATCH);
	ic.min_minor = ic.max_minor = 0;
	/* none of the refused ones advanced the replay store */
	CHECK_EQ(refuse(&ic, &rc, TERN_HS_REFUSED, &reason), TERN_HS_OK); /* e.g. no listener */
	CHECK_EQ(reason, TERN_HS_REFUSED);
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_REPLAY);
	CHECK_EQ(reason, TERN_HS_REPLAY);
	/* a server may hide the precise reason behind REFUSED */
	allow_all = false;
	CHECK_EQ(refuse(&ic, &rc, TERN_HS_REFUSED, &reason), TERN_HS_UNKNOWN_CLIENT_KEY);
	CHECK_EQ(reason, TERN_HS_REFUSED);
	allow_all = true;
}

/* MALFORMED, BAD_MAC, LOW_ORDER_POINT and a wrong major version are never
 * answered; nor is an unknown key the initiator cannot prove it holds (else
 * refusals would tell anyone which keys are on the allow-list). */
static void test_refusal_silent(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	struct tern_hs_keypair claim = si;
	void (*edits[])(uint8_t *) = {edit_version, edit_min_gt_max, edit_vport, edit_type,
	                              edit_low_order_e};
	const enum tern_hs_fail want[] = {TERN_HS_VERSION_MISMATCH, TERN_HS_MALFORMED,
	                                  TERN_HS_BAD_MAC, TERN_HS_MALFORMED,
	                                  TERN_HS_LOW_ORDER_POINT};
	uint8_t m1[TERN_HS_INIT_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf;
	enum tern_hs_fail why, reason;
	size_t n1;

	reset_replay();
	low_idx = 2;
	for (size_t i = 0; i < TERN_ARRAY_LEN(edits); i++) {
		CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
		edits[i](m1);
		remac(m1, n1, &mac_r);
		memset(&rf, 0xaa, sizeof(rf));
		tern_hs_initiation_consume_ex(&rs, &rc, m1, n1, &info, &rf, &why);
		CHECK_EQ(why, want[i]);
		CHECK(!rf.ready && zeroed(&rf, sizeof(rf)));
		tern_hs_initiator_free(is);
	}
	/* si's public key with another private key: s decrypts, ss does not match */
	claim.priv[0] ^= 0x40;
	ic.local = &claim;
	allow_all = false;
	CHECK_EQ(refuse(&ic, &rc, 0, &reason), TERN_HS_BAD_MAC);
	CHECK_EQ(reason, TERN_HS_OK);
	allow_all = true;
}

/* Flipping any bit is rejected and leaves the initiator's state as it was;
 * so is a refusal made with the keys of another handshake or by someone who
 * knows every public value but not the handshake's secrets. */
static void test_refusal_forgery(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_LEN], m2[TERN_HS_RESP_LEN], ref[TERN_HS_REFUSAL_LEN],
	        zero[32] = {0};
	struct tern_hs_initiator *is, *other;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf;
	enum tern_hs_fail why, reason;
	int rejected = 0, rejected_remac = 0;
	size_t n1, n;

	/* a refusal of another initiation from the same CID and keys */
	reset_replay();
	ic.ephemeral = NULL;
	CHECK_EQ(tern_hs_initiation_create(&other, &ic, m1, sizeof(m1), &n1, NULL), 0);
	tern_hs_initiation_consume_ex(&rs, &rc, m1, n1, &info, &rf, &why);
	tern_hs_responder_free(rs);
	CHECK_EQ(tern_hs_refusal_create(&rf, TERN_HS_REFUSED, ref, sizeof(ref), &n), 0);
	is = exchange(&ic, m1, &n1, m2);
	CHECK_EQ(tern_hs_refusal_consume(is, ref, n, &reason, &why), TERN_ECRYPTO);
	CHECK_EQ(why, TERN_HS_BAD_MAC);
	CHECK_EQ(reason, TERN_HS_OK);
	/* every flipped bit, with mac1 as sent and recomputed */
	for (int i = 0; i < TERN_HS_REFUSAL_LEN; i++) {
		tern_hs_initiation_consume_ex(&rs, &rc, m1, n1, &info, &rf, &why);
		tern_hs_responder_free(rs);
		CHECK_EQ(why, TERN_HS_REPLAY);
		tern_hs_refusal_create(&rf, TERN_HS_REPLAY, ref, sizeof(ref), &n);
		ref[i] ^= (uint8_t)(1 << (i % 8));
		rejected += tern_hs_refusal_consume(is, ref, n, &reason, NULL) < 0;
		if (i < TERN_HS_REFUSAL_MAC1) {
			tern_hs_mac(ref + TERN_HS_REFUSAL_MAC1, mac_i.mac1, 32, ref,
			            TERN_HS_REFUSAL_MAC1);
			rejected_remac += tern_hs_refusal_consume(is, ref, n, &reason, NULL) < 0;
		}
	}
	CHECK_EQ(rejected, TERN_HS_REFUSAL_LEN);
	CHECK_EQ(rejected_remac, TERN_HS_REFUSAL_MAC1);
	/* public values only: header, a guessed (zero) key, a valid mac1 */
	ref[TERN_HS_REFUSAL_REASON] = TERN_HS_REASON_REFUSED;
	tern_hs_mac(ref + TERN_HS_REFUSAL_AUTH, zero, 32, ref, TERN_HS_REFUSAL_AUTH);
	tern_hs_mac(ref + TERN_HS_REFUSAL_MAC1, mac_i.mac1, 32, ref, TERN_HS_REFUSAL_MAC1);
	CHECK_EQ(tern_hs_refusal_consume(is, ref, n, &reason, &why), TERN_ECRYPTO);
	CHECK_EQ(tern_hs_refusal_consume(is, ref, n - 1, &reason, &why), TERN_EMALFORMED);
	ref[1] = 2;
	CHECK_EQ(tern_hs_refusal_consume(is, ref, n, &reason, &why), TERN_EPROTO);
	CHECK_EQ(why, TERN_HS_VERSION_MISMATCH);
	/* state unchanged through all of it: the genuine response still works */
	CHECK_EQ(initiator_verdict(is, m2, sizeof(m2)), TERN_HS_OK);
	tern_hs_initiator_free(is);
	tern_hs_initiator_free(other);
}

/* A reason byte from a later version reads as REFUSED; create refuses to
 * send a reason that is never sent, and needs room and a ready context. */
static void test_refusal_api(void)
{
	struct tern_hs_init_config ic = init_cfg();
	struct tern_hs_resp_config rc = resp_cfg();
	uint8_t m1[TERN_HS_INIT_LEN], ref[TERN_HS_REFUSAL_LEN];
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_refusal rf, copy;
	enum tern_hs_fail why, reason;
	uint64_t before;
	size_t n1, n = 0;

	reset_replay();
	allow_all = false;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	before = tern_noise_dh_calls();
	tern_hs_initiation_consume_ex(&rs, &rc, m1, n1, &info, &rf, &why);
	CHECK_EQ(tern_noise_dh_calls(), before + 2); /* es, and ss to prove the sender */
	copy = rf;
	CHECK_EQ(tern_hs_refusal_create(&rf, TERN_HS_BAD_MAC, ref, sizeof(ref), &n), TERN_EINVAL);
	CHECK(zeroed(&rf, sizeof(rf)));
	rf = copy;
	CHECK_EQ(tern_hs_refusal_create(&rf, why, ref, sizeof(ref) - 1, &n), TERN_ENOSPC);
	CHECK_EQ(n, 0);
	memcpy(ref, (uint8_t[]){0x84, 1, 1, 2, 3, 4, 5, 6, 7, 8, 99}, 11);
	tern_hs_mac(ref + TERN_HS_REFUSAL_AUTH, copy.key, 32, ref, TERN_HS_REFUSAL_AUTH);
	tern_hs_mac(ref + TERN_HS_REFUSAL_MAC1, mac_i.mac1, 32, ref, TERN_HS_REFUSAL_MAC1);
	CHECK_EQ(tern_hs_refusal_consume(is, ref, sizeof(ref), &reason, &why), 0);
	CHECK_EQ(reason, TERN_HS_REFUSED);
	tern_hs_refusal_wipe(&copy);
	CHECK(zeroed(&copy, sizeof(copy)));
	tern_hs_initiator_free(is);
	/* without refusals, an unknown key costs one DH and a bad minor none */
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, sizeof(m1), &n1, NULL), 0);
	before = tern_noise_dh_calls();
	CHECK_EQ(consume(&rc, m1, n1, &rs, &info), TERN_HS_UNKNOWN_CLIENT_KEY);
	CHECK_EQ(tern_noise_dh_calls(), before + 1);
	tern_hs_initiator_free(is);
	allow_all = true;
	for (int f = TERN_HS_OK; f <= TERN_HS_REFUSED; f++)
		CHECK_EQ(tern_hs_refusable((enum tern_hs_fail)f),
		         f == TERN_HS_UNKNOWN_CLIENT_KEY || f == TERN_HS_TICKET_EXPIRED ||
		                 f == TERN_HS_TICKET_FORGED || f == TERN_HS_VERSION_MISMATCH ||
		                 f == TERN_HS_REPLAY || f == TERN_HS_REFUSED);
	CHECK(strcmp(tern_hs_fail_name(TERN_HS_REFUSED), "REFUSED") == 0);
}

int main(void)
{
	setup();
	test_vectors();
	test_roundtrip();
	test_cipher_negotiation();
	test_responder_failures();
	test_initiator_failures();
	test_tamper_initiation();
	test_tamper_response();
	test_mac1_without_dh();
	test_create_errors();
	test_misc();
	test_refusal_vector();
	test_refusal_reasons();
	test_refusal_silent();
	test_refusal_forgery();
	test_refusal_api();
	return tern_check_result("handshake");
}
