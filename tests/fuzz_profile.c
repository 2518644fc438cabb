/* libFuzzer target for the simulated-path profile parser
 * (tern_sim_parse_profile in io/sim_profile.c).
 *
 * The input is copied and NUL-terminated (the parser takes a C string), with
 * any embedded NUL ending the string early as it would for a caller. A
 * parse that succeeds must give a config the simulator accepts and that
 * could have been written in the profile language (probabilities in [0, 1],
 * blackhole windows in order, an MTU within 1..65535); a parse that fails
 * must leave cfg untouched and say why in err. Both are checked with a small
 * and a zero-length error buffer too. A violated check traps. */
#include <stdlib.h>
#include <string.h>

#include "io/sim.h"

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_INPUT 4096

static bool prob_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

static void check_sane(const struct tern_sim_path_cfg *c)
{
	const double probs[] = {c->loss,        c->ge_p_good_bad, c->ge_p_bad_good, c->ge_loss_good,
	                        c->ge_loss_bad, c->reorder,       c->duplicate,     c->corrupt};
	struct tern_sim *sim;
	struct tern_addr a = {.family = 4, .port = 1}, b = {.family = 4, .port = 2};

	for (size_t i = 0; i < TERN_ARRAY_LEN(probs); i++)
		REQUIRE(prob_ok(probs[i]));
	for (int i = 0; i < TERN_SIM_MAX_BLACKHOLES; i++)
		REQUIRE(c->blackhole[i].start <= c->blackhole[i].end);
	REQUIRE(c->mtu <= 65535);
	REQUIRE(c->rate_bps < (1ull << 63));
	/* the simulator takes it, and a packet goes through it */
	sim = tern_sim_new(1);
	REQUIRE(sim);
	REQUIRE(tern_sim_add_endpoint(sim, &a) == 0 && tern_sim_add_endpoint(sim, &b) == 1);
	REQUIRE(tern_sim_set_path(sim, 0, 1, c) == 0);
	REQUIRE(tern_sim_send(sim, 0, &b, (const uint8_t *)"probe", 5) == 0);
	REQUIRE(tern_sim_path_stats(sim, 0, 1)->sent == 1);
	tern_sim_free(sim);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tern_sim_path_cfg cfg, again, untouched;
	char err[256], small[8];
	char *spec;
	int rc;

	if (size > MAX_INPUT)
		return 0;
	spec = malloc(size + 1);
	REQUIRE(spec);
	memcpy(spec, data, size);
	spec[size] = '\0';
	memset(&cfg, 0xa5, sizeof(cfg));
	untouched = cfg;
	memset(err, 'x', sizeof(err));
	rc = tern_sim_parse_profile(spec, &cfg, err, sizeof(err));
	REQUIRE(rc == 0 || rc == TERN_EINVAL);
	REQUIRE(memchr(err, '\0', sizeof(err)) != NULL);
	if (rc == 0) {
		REQUIRE(err[0] == '\0');
		check_sane(&cfg);
	} else {
		REQUIRE(err[0] != '\0');
		REQUIRE(memcmp(&cfg, &untouched, sizeof(cfg)) == 0);
	}
	/* the same verdict with a short and with no error buffer */
	memset(&again, 0, sizeof(again));
	REQUIRE(tern_sim_parse_profile(spec, &again, small, sizeof(small)) == rc);
	REQUIRE(memchr(small, '\0', sizeof(small)) != NULL);
	REQUIRE(tern_sim_parse_profile(spec, &again, NULL, 0) == rc);
	if (rc == 0)
		REQUIRE(memcmp(&cfg, &again, sizeof(cfg)) == 0);
	free(spec);
	return 0;
}
