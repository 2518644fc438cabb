/* Connection IDs: the 8 bytes that name a session in every data packet.
 *
 * Layout (TERN_CID_LEN = 8):
 *   byte 0     owner worker id (0 .. TERN_CID_MAX_WORKERS - 1; 0xff is never
 *              an owner, so it can mark "no worker" / the control plane)
 *   bytes 1-7  the low 56 bits of a 64-bit random value, big-endian
 *
 * Any worker reads byte 0 of a packet's destination CID to find the session's
 * owner and, if it is not itself, hands the packet over a ring. core/ has no
 * randomness source: the caller (the control plane) draws the random value.
 *
 * The table key of a CID is its 8 bytes read big-endian, so the owner is
 * the key's top byte (tern_cid_key_owner). */
#ifndef TERN_CID_H
#define TERN_CID_H

#include "common.h"
#include "proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TERN_CID_MAX_WORKERS 255
#define TERN_CID_NO_WORKER 0xffu

/* Writes the CID of a session owned by worker (< TERN_CID_MAX_WORKERS) with
 * the low 56 bits of random in bytes 1..7. Returns 0, or TERN_EINVAL when
 * worker is out of range (out is left untouched). */
int tern_cid_build(uint8_t out[TERN_CID_LEN], unsigned worker, uint64_t random);

/* The table key of a CID built from worker and random, without the bytes:
 * equals tern_cid_key() of what tern_cid_build writes. Returns 0 for an
 * out-of-range worker (callers validate with tern_cid_build first). */
uint64_t tern_cid_make_key(unsigned worker, uint64_t random);

/* The owner worker named by a CID (byte 0). */
static inline unsigned tern_cid_owner(const uint8_t cid[TERN_CID_LEN])
{
	return cid[0];
}

/* The 64-bit table key of a CID: its bytes read big-endian. */
static inline uint64_t tern_cid_key(const uint8_t cid[TERN_CID_LEN])
{
	return tern_get_be64(cid);
}

/* The owner worker named by a table key (its top byte). */
static inline unsigned tern_cid_key_owner(uint64_t key)
{
	return (unsigned)(key >> 56);
}

/* Writes a table key back as CID bytes. */
static inline void tern_cid_from_key(uint8_t out[TERN_CID_LEN], uint64_t key)
{
	tern_put_be64(out, key);
}

#ifdef __cplusplus
}
#endif
#endif
