/* Internal helpers shared by core/, io/ and crypto/: time type, branch hints,
 * min/max, unaligned big-endian loads and stores. No I/O, no clock. */
#ifndef TERN_COMMON_H
#define TERN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include "tern/error.h"

/* Time is injected everywhere: microseconds on a monotonic clock chosen by
 * the caller (the backend's clock, or the simulator's virtual clock). */
typedef uint64_t tern_time;
#define TERN_TIME_NEVER UINT64_MAX
#define TERN_MS 1000ull
#define TERN_SEC 1000000ull

#define tern_likely(x) __builtin_expect(!!(x), 1)
#define tern_unlikely(x) __builtin_expect(!!(x), 0)

#define TERN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TERN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define TERN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A spin-wait hint to the CPU (a pause between polls of a shared word). */
#if defined(__x86_64__) || defined(__i386__)
#define TERN_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define TERN_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define TERN_CPU_RELAX() ((void)0)
#endif

static inline void tern_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t tern_get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void tern_put_be32(uint8_t *p, uint32_t v)
{
	tern_put_be16(p, (uint16_t)(v >> 16));
	tern_put_be16(p + 2, (uint16_t)v);
}

static inline uint32_t tern_get_be32(const uint8_t *p)
{
	return ((uint32_t)tern_get_be16(p) << 16) | tern_get_be16(p + 2);
}

static inline void tern_put_be64(uint8_t *p, uint64_t v)
{
	tern_put_be32(p, (uint32_t)(v >> 32));
	tern_put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t tern_get_be64(const uint8_t *p)
{
	return ((uint64_t)tern_get_be32(p) << 32) | tern_get_be32(p + 4);
}

#endif
