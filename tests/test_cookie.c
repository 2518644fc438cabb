/* Cookies and the rate limiter: cookies bound to address and port, secret
 * rotation (previous secret accepted for one period, not two), mac2 over a
 * real initiation (every byte of mac2 matters), the cookie reply round trip
 * and its tampering, and token buckets per IPv4 address and IPv6 /64 with a
 * bounded table that evicts the least recently seen source. */
#include "tests/check.h"
#include "crypto/cookie.h"

#define S TERN_SEC

static struct tern_hs_keypair si, sr;
static struct tern_hs_mac_keys mac_r;
static uint8_t ts[12];

static struct tern_addr v4(uint8_t last, uint16_t port)
{
	struct tern_addr a = {.family = 4, .port = port, .ip = {192, 0, 2, last}};
	return a;
}

static struct tern_addr v6(uint8_t net, uint8_t host, uint16_t port)
{
	struct tern_addr a = {.family = 6, .port = port, .ip = {0x20, 0x01, 0x0d, 0xb8, 0, net}};
	a.ip[15] = host;
	return a;
}

static bool fresh_any(void *ctx, const uint8_t pub[32], const uint8_t t[12])
{
	(void)ctx;
	(void)pub;
	(void)t;
	return true;
}

/* An initiation from si to sr, with mac2 keyed by cookie (or zero). */
static struct tern_hs_initiator *initiation(uint8_t m1[TERN_HS_INIT_LEN], const uint8_t *cookie)
{
	struct tern_hs_init_config ic = {.local = &si, .remote_pub = sr.pub, .timestamp = ts};
	struct tern_hs_initiator *is;
	size_t n1;

	memset(ic.cid, 7, sizeof(ic.cid));
	ic.cookie = cookie;
	CHECK_EQ(tern_hs_initiation_create(&is, &ic, m1, TERN_HS_INIT_LEN, &n1, NULL), 0);
	return is;
}

static void test_cookie_binding(void)
{
	struct tern_cookie *c;
	uint8_t a[16], b[16];
	struct tern_addr bad = {.family = 5};

	CHECK_EQ(tern_cookie_new(&c, 0), 0);
	struct tern_addr x = v4(1, 4000), y = v4(1, 4001), z = v4(2, 4000), w = v6(1, 1, 4000);
	CHECK_EQ(tern_cookie_make(c, 0, &x, a), 0);
	CHECK_EQ(tern_cookie_make(c, 5 * S, &x, b), 0);
	CHECK(memcmp(a, b, 16) == 0);
	tern_cookie_make(c, 0, &y, b);
	CHECK(memcmp(a, b, 16) != 0);
	tern_cookie_make(c, 0, &z, b);
	CHECK(memcmp(a, b, 16) != 0);
	tern_cookie_make(c, 0, &w, b);
	CHECK(memcmp(a, b, 16) != 0);
	CHECK_EQ(tern_cookie_make(c, 0, &bad, b), TERN_EINVAL);
	tern_cookie_free(c);
}

static void test_rotation(void)
{
	struct tern_cookie *c;
	uint8_t cookie[16], again[16], m1[TERN_HS_INIT_LEN];
	struct tern_addr x = v4(9, 5555);
	struct tern_hs_initiator *is;
	const tern_time t0 = 1000 * S;

	CHECK_EQ(tern_cookie_new(&c, t0), 0);
	tern_cookie_make(c, t0, &x, cookie);
	is = initiation(m1, cookie);
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + TERN_COOKIE_ROTATE - 1, &x, m1, sizeof(m1)), 0);
	/* Rotated: new cookies differ, the old one is still accepted... */
	tern_cookie_make(c, t0 + TERN_COOKIE_ROTATE, &x, again);
	CHECK(memcmp(cookie, again, 16) != 0);
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + TERN_COOKIE_ROTATE, &x, m1, sizeof(m1)), 0);
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + 2 * TERN_COOKIE_ROTATE - 1, &x, m1, sizeof(m1)), 0);
	/* ...until the next rotation. */
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + 2 * TERN_COOKIE_ROTATE, &x, m1, sizeof(m1)),
	         TERN_ECRYPTO);
	tern_cookie_free(c);
	/* Idle for two periods: the previous secret is as stale as the old one. */
	CHECK_EQ(tern_cookie_new(&c, t0), 0);
	tern_cookie_make(c, t0, &x, cookie);
	tern_hs_write_mac2(m1, sizeof(m1), cookie);
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + 2 * TERN_COOKIE_ROTATE, &x, m1, sizeof(m1)),
	         TERN_ECRYPTO);
	tern_cookie_tick(c, t0 + 2 * TERN_COOKIE_ROTATE + 1); /* not due again: no change */
	tern_cookie_make(c, t0 + 2 * TERN_COOKIE_ROTATE + 1, &x, again);
	tern_hs_write_mac2(m1, sizeof(m1), again);
	CHECK_EQ(tern_cookie_check_mac2(c, t0 + 2 * TERN_COOKIE_ROTATE + 2, &x, m1, sizeof(m1)), 0);
	tern_cookie_free(c);
	tern_hs_initiator_free(is);
}

static void test_mac2(void)
{
	struct tern_cookie *c;
	uint8_t cookie[16], m1[TERN_HS_INIT_LEN];
	struct tern_addr x = v6(3, 4, 443), other = v6(3, 5, 443);
	struct tern_hs_initiator *is;
	int rejected = 0;

	CHECK_EQ(tern_cookie_new(&c, 0), 0);
	is = initiation(m1, NULL);
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1)), TERN_ECRYPTO); /* zero */
	tern_cookie_make(c, 0, &x, cookie);
	CHECK_EQ(tern_hs_write_mac2(m1, sizeof(m1), cookie), 0);
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1)), 0);
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &other, m1, sizeof(m1)), TERN_ECRYPTO);
	CHECK_EQ(tern_hs_check_mac1(&mac_r, m1, sizeof(m1), NULL), 0); /* mac1 untouched */
	for (size_t i = 0; i < sizeof(m1); i++) {
		m1[i] ^= 0x10;
		rejected += tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1)) != 0;
		m1[i] ^= 0x10;
	}
	CHECK_EQ(rejected, (int)sizeof(m1));
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1) - 1), TERN_EMALFORMED);
	CHECK_EQ(tern_hs_write_mac2(m1, 100, cookie), TERN_EMALFORMED);
	tern_hs_initiator_free(is);
	tern_cookie_free(c);
}

/* Responder under load answers with a cookie reply; the initiator opens it,
 * re-MACs its initiation, and the responder accepts and consumes it. */
static void test_cookie_reply_flow(void)
{
	struct tern_hs_mac_keys remote_mk;
	struct tern_cookie *c;
	uint8_t m1[TERN_HS_INIT_LEN], reply[128], cookie[16], want[16], cid[8];
	struct tern_addr x = v4(77, 1234);
	struct tern_hs_initiator *is;
	struct tern_hs_responder *rs;
	struct tern_hs_init_info info;
	struct tern_hs_resp_config rc = {
	        .local = &sr, .mac = &mac_r, .fresh = fresh_any, .max_minor = 0};
	int n, rejected = 0;

	memset(cid, 7, sizeof(cid));
	tern_hs_mac_keys_init(&remote_mk, sr.pub); /* what the initiator knows */
	CHECK_EQ(tern_cookie_new(&c, 0), 0);
	is = initiation(m1, NULL);
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1)), TERN_ECRYPTO);
	n = tern_cookie_reply_build(c, 0, &mac_r, &x, m1, sizeof(m1), reply, sizeof(reply));
	CHECK_EQ(n, TERN_HS_COOKIE_REPLY_LEN);
	CHECK(n < TERN_HS_INIT_LEN);
	CHECK_EQ(reply[0], 0x83);
	CHECK_EQ(reply[1], 1);
	CHECK(memcmp(reply + 2, cid, 8) == 0);
	CHECK_EQ(tern_cookie_reply_parse(&remote_mk, tern_hs_initiator_mac1(is), cid, reply, n,
	                                 cookie),
	         0);
	tern_cookie_make(c, 0, &x, want);
	CHECK(memcmp(cookie, want, 16) == 0);
	for (int i = 0; i < n; i++) {
		reply[i] ^= 1;
		rejected += tern_cookie_reply_parse(&remote_mk, tern_hs_initiator_mac1(is), cid,
		                                    reply, n, cookie) != 0;
		reply[i] ^= 1;
	}
	CHECK_EQ(rejected, n);
	/* A reply bound to another initiation's mac1 does not open. */
	CHECK_EQ(tern_cookie_reply_parse(&remote_mk, want, cid, reply, n, cookie), TERN_ECRYPTO);
	CHECK_EQ(tern_cookie_reply_parse(&remote_mk, tern_hs_initiator_mac1(is), cid, reply, n - 1,
	                                 cookie),
	         TERN_EMALFORMED);
	CHECK_EQ(tern_cookie_reply_parse(&remote_mk, tern_hs_initiator_mac1(is), cid, reply, n,
	                                 cookie),
	         0);
	CHECK_EQ(tern_hs_write_mac2(m1, sizeof(m1), cookie), 0);
	CHECK_EQ(tern_cookie_check_mac2(c, 0, &x, m1, sizeof(m1)), 0);
	CHECK_EQ(tern_hs_initiation_consume(&rs, &rc, m1, sizeof(m1), &info, NULL), 0);
	CHECK_EQ(tern_cookie_reply_build(c, 0, &mac_r, &x, m1, 100, reply, sizeof(reply)),
	         TERN_EMALFORMED);
	CHECK_EQ(tern_cookie_reply_build(c, 0, &mac_r, &x, m1, sizeof(m1), reply, 65), TERN_ENOSPC);
	tern_hs_responder_free(rs);
	tern_hs_initiator_free(is);
	tern_cookie_free(c);
}

static int burst(struct tern_ratelimit *rl, tern_time now, const struct tern_addr *a, int tries)
{
	int ok = 0;

	for (int i = 0; i < tries; i++)
		ok += tern_ratelimit_allow(rl, now, a);
	return ok;
}

static void test_ratelimit_bucket(void)
{
	struct tern_ratelimit_config cfg = {.rate = 10, .burst = 5, .entries = 64};
	struct tern_ratelimit *rl;
	struct tern_addr a = v4(1, 1), a_port = v4(1, 2), b = v4(2, 1);
	struct tern_addr n1 = v6(1, 1, 1), n1b = v6(1, 0xff, 9), n2 = v6(2, 1, 1);
	struct tern_addr bad = {.family = 0};

	CHECK_EQ(tern_ratelimit_new(&rl, &cfg), 0);
	CHECK_EQ(burst(rl, 0, &a, 10), 5);
	CHECK_EQ(burst(rl, 0, &a_port, 1), 0); /* the port does not make a new source */
	CHECK_EQ(burst(rl, 0, &b, 10), 5);
	CHECK_EQ(burst(rl, 100 * TERN_MS - 1, &a, 1), 0);
	CHECK_EQ(burst(rl, 100 * TERN_MS, &a, 3), 1); /* one token per 100 ms */
	CHECK_EQ(burst(rl, 350 * TERN_MS, &a, 5), 2);
	CHECK_EQ(burst(rl, 100 * S, &a, 10), 5); /* the bucket holds at most burst */
	CHECK_EQ(burst(rl, 0, &n1, 10), 5);
	CHECK_EQ(burst(rl, 0, &n1b, 10), 0); /* same /64 */
	CHECK_EQ(burst(rl, 0, &n2, 10), 5);
	CHECK_EQ(burst(rl, 0, &bad, 1), 0);
	CHECK_EQ(tern_ratelimit_evictions(rl), 0);
	tern_ratelimit_free(rl);
}

static void test_ratelimit_eviction(void)
{
	struct tern_ratelimit_config cfg = {.rate = 1, .burst = 1, .entries = 1}; /* one set */
	struct tern_ratelimit *rl;
	struct tern_addr s[5];

	for (int i = 0; i < 5; i++)
		s[i] = v4((uint8_t)(10 + i), 1);
	CHECK_EQ(tern_ratelimit_new(&rl, &cfg), 0);
	for (int i = 0; i < 4; i++)
		CHECK(tern_ratelimit_allow(rl, (tern_time)i, &s[i]));
	CHECK(!tern_ratelimit_allow(rl, 10, &s[0])); /* s[0] now the most recent */
	CHECK_EQ(tern_ratelimit_evictions(rl), 0);
	CHECK(tern_ratelimit_allow(rl, 11, &s[4])); /* evicts s[1], least recently seen */
	CHECK_EQ(tern_ratelimit_evictions(rl), 1);
	CHECK(!tern_ratelimit_allow(rl, 12, &s[0])); /* s[0] kept its empty bucket */
	CHECK(!tern_ratelimit_allow(rl, 12, &s[2]));
	CHECK(tern_ratelimit_allow(rl, 13, &s[1])); /* forgotten: a full bucket again */
	CHECK_EQ(tern_ratelimit_evictions(rl), 2);
	tern_ratelimit_free(rl);

	cfg.rate = 0;
	CHECK_EQ(tern_ratelimit_new(&rl, &cfg), TERN_EINVAL);
	cfg.rate = 1;
	cfg.burst = 0;
	CHECK_EQ(tern_ratelimit_new(&rl, &cfg), TERN_EINVAL);
	CHECK(rl == NULL);
	tern_ratelimit_free(NULL);
}

int main(void)
{
	CHECK_EQ(tern_hs_keypair_generate(&si), 0);
	CHECK_EQ(tern_hs_keypair_generate(&sr), 0);
	tern_hs_mac_keys_init(&mac_r, sr.pub);
	tern_hs_tai64n(ts, 1700000000, 0);
	test_cookie_binding();
	test_rotation();
	test_mac2();
	test_cookie_reply_flow();
	test_ratelimit_bucket();
	test_ratelimit_eviction();
	return tern_check_result("cookie");
}
