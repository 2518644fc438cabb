/* Minimal test harness: CHECK records a failure and keeps going, so one run
 * reports every broken assertion; a test's main returns tern_check_result(). */
#ifndef TERN_CHECK_H
#define TERN_CHECK_H

#include <stdio.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

static int tern_check_failures;

/* Monotonic milliseconds, for the integration tests' bounded waits. */
static inline uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Polls cond every millisecond for up to ms milliseconds. */
#define WAIT_FOR(cond, ms)                                                                         \
	do {                                                                                       \
		uint64_t until_ = now_ms() + (ms);                                                 \
		while (!(cond) && now_ms() < until_)                                               \
			usleep(1000);                                                              \
	} while (0)

static int tern_check_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		tern_check_count++;                                                                \
		if (!(cond)) {                                                                     \
			tern_check_failures++;                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long ca_ = (long long)(a), cb_ = (long long)(b);                              \
		tern_check_count++;                                                                \
		if (ca_ != cb_) {                                                                  \
			tern_check_failures++;                                                     \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s = %lld, %s = %lld\n",          \
			        __FILE__, __LINE__, #a, ca_, #b, cb_);                             \
		}                                                                                  \
	} while (0)

static inline int tern_check_result(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, tern_check_count, tern_check_failures);
	return tern_check_failures ? 1 : 0;
}

#endif
