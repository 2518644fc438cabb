/* Connection ID construction (layout in cid.h). Kept apart from the table
 * and the rings because the control plane builds CIDs, workers only read
 * them; the readers are inline in cid.h since every packet calls them. */
#include "cid.h"

#define RANDOM_MASK 0x00ffffffffffffffull

uint64_t tern_cid_make_key(unsigned worker, uint64_t random)
{
	if (worker >= TERN_CID_MAX_WORKERS)
		return 0;
	return ((uint64_t)worker << 56) | (random & RANDOM_MASK);
}

int tern_cid_build(uint8_t out[TERN_CID_LEN], unsigned worker, uint64_t random)
{
	if (worker >= TERN_CID_MAX_WORKERS)
		return TERN_EINVAL;
	tern_put_be64(out, tern_cid_make_key(worker, random));
	return TERN_OK;
}
