/* The per-worker session table (contract in table.h).
 *
 * Linear probing keeps a lookup to one or two adjacent cache lines: at most
 * 3/4 load, the mean probe is ~2.5 slots for a hit and ~8.5 for a miss,
 * and slots are 16 bytes, so that is usually one line. Deletion shifts the
 * rest of the probe chain back instead of leaving tombstones, so a table
 * under constant session churn keeps its warm-up probe lengths forever.
 *
 * Only the owner worker calls these functions: no atomics. Allocation
 * happens in init and in doubling (warm-up); lookup and remove never
 * allocate. */
#include <stdlib.h>

#include "alloc.h"
#include "table.h"

#define MIN_SLOTS 8
#define MAX_ENTRIES_LIMIT (1ull << 32)

/* The largest count a table of n slots holds before it doubles. */
static size_t load_limit(size_t n)
{
	return n / 4 * 3;
}

/* The fewest power-of-two slots that hold entries within the load limit. */
static size_t slots_for(size_t entries)
{
	size_t n = MIN_SLOTS;
	while (load_limit(n) < entries)
		n *= 2;
	return n;
}

static size_t home(const struct tern_table *t, uint64_t key)
{
	return (size_t)tern_table_hash(t->seed, key) & t->mask;
}

/* Sets the slot array (n slots, zeroed) and the next doubling point. */
static void set_slots(struct tern_table *t, struct tern_table_slot *slots, size_t n)
{
	t->slots = slots;
	t->mask = n - 1;
	t->grow_at = n >= slots_for(t->max_entries) ? SIZE_MAX : load_limit(n);
}

int tern_table_init(struct tern_table *t, const struct tern_table_cfg *cfg)
{
	memset(t, 0, sizeof(*t));
	if (cfg->max_entries == 0 || cfg->max_entries > MAX_ENTRIES_LIMIT)
		return TERN_EINVAL;
	t->max_entries = cfg->max_entries;
	t->seed = cfg->seed;
	size_t initial = cfg->initial ? cfg->initial : 64;
	size_t n = slots_for(TERN_MIN(initial, cfg->max_entries));
	struct tern_table_slot *slots = tern_calloc(n, sizeof(*slots));
	if (!slots)
		return TERN_ENOMEM;
	set_slots(t, slots, n);
	return TERN_OK;
}

void tern_table_free(struct tern_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->mask = 0;
	t->count = 0;
	t->grow_at = 0;
}

/* Puts a key known to be absent into the first free slot of its chain. */
static void place(struct tern_table *t, uint64_t key, void *val)
{
	size_t i = home(t, key);
	while (t->slots[i].val)
		i = (i + 1) & t->mask;
	t->slots[i].key = key;
	t->slots[i].val = val;
}

static int grow(struct tern_table *t)
{
	size_t old_n = t->mask + 1, n = old_n * 2;
	struct tern_table_slot *old = t->slots;
	struct tern_table_slot *slots = tern_calloc(n, sizeof(*slots));
	if (!slots)
		return TERN_ENOMEM;
	set_slots(t, slots, n);
	for (size_t i = 0; i < old_n; i++) {
		if (old[i].val)
			place(t, old[i].key, old[i].val);
	}
	free(old);
	return TERN_OK;
}

/* The slot index holding key, or SIZE_MAX. */
static size_t find(const struct tern_table *t, uint64_t key)
{
	size_t i = home(t, key);
	for (;;) {
		const struct tern_table_slot *s = &t->slots[i];
		if (!s->val)
			return SIZE_MAX;
		if (s->key == key)
			return i;
		i = (i + 1) & t->mask;
	}
}

int tern_table_insert(struct tern_table *t, uint64_t key, void *val)
{
	if (!val || !t->slots)
		return TERN_EINVAL;
	if (find(t, key) != SIZE_MAX)
		return TERN_EINVAL;
	if (t->count >= t->max_entries)
		return TERN_ENOMEM;
	if (t->count >= t->grow_at && grow(t) != TERN_OK)
		return TERN_ENOMEM;
	place(t, key, val);
	t->count++;
	return TERN_OK;
}

/* Probes from slot i for key. */
static void *probe(const struct tern_table *t, size_t i, uint64_t key)
{
	for (;;) {
		const struct tern_table_slot *s = &t->slots[i];
		if (!s->val)
			return NULL;
		if (s->key == key)
			return s->val;
		i = (i + 1) & t->mask;
	}
}

void *tern_table_lookup(const struct tern_table *t, uint64_t key)
{
	if (tern_unlikely(!t->slots))
		return NULL;
	return probe(t, home(t, key), key);
}

void tern_table_lookup_burst(const struct tern_table *t, const uint64_t *keys, void **vals,
                             size_t n)
{
	size_t at[TERN_TABLE_BURST];
	for (size_t base = 0; base < n; base += TERN_TABLE_BURST) {
		size_t m = TERN_MIN(n - base, (size_t)TERN_TABLE_BURST);
		if (tern_unlikely(!t->slots)) {
			memset(vals + base, 0, m * sizeof(*vals));
			continue;
		}
		for (size_t i = 0; i < m; i++) {
			at[i] = home(t, keys[base + i]);
			__builtin_prefetch(&t->slots[at[i]]);
		}
		for (size_t i = 0; i < m; i++)
			vals[base + i] = probe(t, at[i], keys[base + i]);
	}
}

/* Backward-shift deletion: empties slot i, then walks the chain after it and
 * moves back every entry whose home is at or before the hole, so every
 * remaining key stays reachable from its home without tombstones. */
static void delete_at(struct tern_table *t, size_t i)
{
	for (;;) {
		t->slots[i].val = NULL;
		size_t j = i;
		for (;;) {
			j = (j + 1) & t->mask;
			if (!t->slots[j].val)
				return;
			size_t displaced = (j - home(t, t->slots[j].key)) & t->mask;
			if (displaced >= ((j - i) & t->mask))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

void *tern_table_remove(struct tern_table *t, uint64_t key)
{
	if (!t->slots)
		return NULL;
	size_t i = find(t, key);
	if (i == SIZE_MAX)
		return NULL;
	void *val = t->slots[i].val;
	delete_at(t, i);
	t->count--;
	return val;
}

/* Iteration walks slots backwards (against the probe direction), starting
 * just below an empty slot e. Removing the entry at slot i shifts back only
 * entries between i and the next empty slot, which lies at or before e: all
 * already visited. So removing the current entry never skips or repeats one. */
void tern_table_iter_init(const struct tern_table *t, struct tern_table_iter *it)
{
	it->pos = 0;
	it->left = 0;
	if (!t->slots || t->count == 0)
		return;
	size_t e = 0;
	while (t->slots[e].val)
		e++;
	it->pos = e;
	it->left = t->mask; /* every slot but e */
}

bool tern_table_next(const struct tern_table *t, struct tern_table_iter *it, uint64_t *key,
                     void **val)
{
	while (it->left) {
		it->pos = (it->pos - 1) & t->mask;
		it->left--;
		const struct tern_table_slot *s = &t->slots[it->pos];
		if (s->val) {
			*key = s->key;
			*val = s->val;
			return true;
		}
	}
	return false;
}
