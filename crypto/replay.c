/* RFC 6479 anti-replay window. Packet number pn lives at bit pn % 64 of block
 * (pn / 64) % TERN_REPLAY_BLOCKS; moving the top forward clears only the
 * blocks it passes over, so an update costs O(blocks skipped), never a shift
 * of the whole bitmap, and a far jump clears the ring once. */
#include "replay.h"
#include "core/proto.h"

#define BLOCK_MASK (TERN_REPLAY_BLOCKS - 1)

void tern_replay_init(struct tern_replay *r)
{
	memset(r, 0, sizeof(*r));
}

static size_t block_of(uint64_t pn)
{
	return (size_t)((pn / TERN_REPLAY_BLOCK_BITS) & BLOCK_MASK);
}

static uint64_t bit_of(uint64_t pn)
{
	return 1ull << (pn % TERN_REPLAY_BLOCK_BITS);
}

bool tern_replay_check(const struct tern_replay *r, uint64_t pn)
{
	if (pn > TERN_VARINT_MAX)
		return false;
	if (!r->any || pn > r->top)
		return true;
	if (r->top - pn >= TERN_REPLAY_WINDOW)
		return false;
	return (r->bitmap[block_of(pn)] & bit_of(pn)) == 0;
}

/* Clears the blocks strictly after top's block up to and including pn's. */
static void advance(struct tern_replay *r, uint64_t pn)
{
	uint64_t cur = r->top / TERN_REPLAY_BLOCK_BITS;
	uint64_t diff = pn / TERN_REPLAY_BLOCK_BITS - cur;

	if (diff > TERN_REPLAY_BLOCKS)
		diff = TERN_REPLAY_BLOCKS;
	for (uint64_t i = 1; i <= diff; i++)
		r->bitmap[(cur + i) & BLOCK_MASK] = 0;
	r->top = pn;
}

bool tern_replay_update(struct tern_replay *r, uint64_t pn)
{
	if (!tern_replay_check(r, pn))
		return false;
	if (!r->any) {
		memset(r->bitmap, 0, sizeof(r->bitmap));
		r->top = pn;
		r->any = true;
	} else if (pn > r->top) {
		advance(r, pn);
	}
	r->bitmap[block_of(pn)] |= bit_of(pn);
	return true;
}
