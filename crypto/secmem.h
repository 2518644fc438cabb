/* Secure memory for small fixed-size secrets (AEAD states, key-schedule
 * PRKs, handshake states): slots carved from large locked, guarded slabs, so
 * a session's secrets cost a few hundred bytes and no memory mappings or
 * syscalls of their own. Allocation happens at handshakes, key updates and
 * session free, never per packet. Thread-safe. */
#ifndef TERN_SECMEM_H
#define TERN_SECMEM_H

#include "core/common.h"

/* Bytes per slab: one sodium_malloc (guard pages before and after, mlocked,
 * excluded from core dumps) carved into slots of one size class. */
#define TERN_SECMEM_SLAB_SIZE (256 * 1024)
/* Alignment of every object (AES-GCM's expanded key state needs 16). */
#define TERN_SECMEM_ALIGN 16

/* A zeroed, TERN_SECMEM_ALIGN-aligned object of size bytes in locked memory,
 * or NULL (size 0, libsodium failed to initialise, or out of memory).
 * Objects above the largest size class get a sodium_malloc of their own. */
void *tern_secmem_alloc(size_t size);
/* Wipes the object (sodium_memzero) and returns its slot; NULL is fine. A
 * slab whose slots are all free is released, except one kept per class so
 * churn at a slab boundary costs no syscalls. */
void tern_secmem_free(void *p);

struct tern_secmem_stats {
	size_t slabs;      /* slabs held (each one mapping of TERN_SECMEM_SLAB_SIZE) */
	size_t objects;    /* live objects, slab slots and dedicated ones */
	size_t dedicated;  /* live objects above the largest class */
	size_t slot_bytes; /* bytes of the slots the live slab objects occupy */
};
/* A consistent snapshot of the allocator's counters (process-wide). */
void tern_secmem_stats(struct tern_secmem_stats *out);
/* Bytes one object of size bytes occupies (its slot, header included); what
 * tern_session_mem should count for a secret of that size. */
size_t tern_secmem_footprint(size_t size);

#endif
