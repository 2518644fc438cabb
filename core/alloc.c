/* The allocation wrappers' failure hook (core/alloc.h). */
#include "alloc.h"

struct tern_alloc_hook tern_alloc_hook;

void tern_alloc_set_fail(tern_alloc_fail_fn fail, void *ctx)
{
	tern_alloc_hook = (struct tern_alloc_hook){.fail = fail, .ctx = ctx};
}
