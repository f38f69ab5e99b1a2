/* SPDX-License-Identifier: MIT */
/*
 * The calls that changed after 0.1 under their plain public names, for
 * whatever links the internal library (the tests, the Python module) and
 * for a shared library whose linker does not version symbols. Where it
 * does, compat.c exports them instead, under their versions (see
 * rope__mem_stats in rope-priv.h).
 */
#include "rope-priv.h"

ROPEIO_EXPORT int
rope_mem_stats(struct rope_mem_stats *out, size_t size)
{
	return rope__mem_stats(out, size);
}

ROPEIO_EXPORT int
rope_get_info(const struct rope *r, struct rope_info *out, size_t size)
{
	return rope__get_info(r, out, size);
}

ROPEIO_EXPORT int
rope_cursor_init(struct rope_cursor *c, const struct rope *r, int64_t off)
{
	return rope__cursor_init(c, r, off);
}

ROPEIO_EXPORT int
rope_cursor_init_snap(struct rope_cursor *c, const struct rope_snap *s,
		      int64_t off)
{
	return rope__cursor_init_snap(c, s, off);
}
