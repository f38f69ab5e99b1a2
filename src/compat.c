/* SPDX-License-Identifier: MIT */
/*
 * The calls that changed after 0.1, exported under two symbol versions
 * (see rope__mem_stats in rope-priv.h): 0.2's as the default, which new
 * programs link against, and 0.1's, which programs linked against 0.1
 * keep calling. Built into the shared library only where the linker reads
 * version scripts; the version nodes are those of ropeio.map.
 *
 * 0.1's versions take no size: their structs are 0.1's, which the 0.2
 * calls accept as the smallest. Their cursors end before `reserved`.
 */
#include <errno.h>

#include "rope-priv.h"

#define SYMVER(impl, name) __asm__(".symver " #impl ", " name)

ROPEIO_EXPORT int rope__mem_stats_0_2(struct rope_mem_stats *out,
				      size_t size);
ROPEIO_EXPORT void rope__mem_stats_0_1(struct rope_mem_stats *out);
ROPEIO_EXPORT int rope__get_info_0_2(const struct rope *r,
				     struct rope_info *out, size_t size);
ROPEIO_EXPORT int rope__get_info_0_1(const struct rope *r,
				     struct rope_info *out);
ROPEIO_EXPORT int rope__cursor_init_0_2(struct rope_cursor *c,
					const struct rope *r, int64_t off);
ROPEIO_EXPORT int rope__cursor_init_0_1(struct rope_cursor *c,
					const struct rope *r, int64_t off);
ROPEIO_EXPORT int rope__cursor_init_snap_0_2(struct rope_cursor *c,
					     const struct rope_snap *s,
					     int64_t off);
ROPEIO_EXPORT int rope__cursor_init_snap_0_1(struct rope_cursor *c,
					     const struct rope_snap *s,
					     int64_t off);

int
rope__mem_stats_0_2(struct rope_mem_stats *out, size_t size)
{
	return rope__mem_stats(out, size);
}
SYMVER(rope__mem_stats_0_2, "rope_mem_stats@@ROPEIO_0.2");

/* 0.1's returned nothing and ignored NULL. */
void
rope__mem_stats_0_1(struct rope_mem_stats *out)
{
	rope__mem_stats(out, ROPE_MEM_STATS_SIZE_0_1);
}
SYMVER(rope__mem_stats_0_1, "rope_mem_stats@ROPEIO_0.1");

int
rope__get_info_0_2(const struct rope *r, struct rope_info *out, size_t size)
{
	return rope__get_info(r, out, size);
}
SYMVER(rope__get_info_0_2, "rope_get_info@@ROPEIO_0.2");

int
rope__get_info_0_1(const struct rope *r, struct rope_info *out)
{
	return rope__get_info(r, out, ROPE_INFO_SIZE_0_1);
}
SYMVER(rope__get_info_0_1, "rope_get_info@ROPEIO_0.1");

int
rope__cursor_init_0_2(struct rope_cursor *c, const struct rope *r,
		      int64_t off)
{
	return rope__cursor_init(c, r, off);
}
SYMVER(rope__cursor_init_0_2, "rope_cursor_init@@ROPEIO_0.2");

int
rope__cursor_init_0_1(struct rope_cursor *c, const struct rope *r,
		      int64_t off)
{
	return r ? rope__cursor_init_small(c, r, NULL, off) : -EINVAL;
}
SYMVER(rope__cursor_init_0_1, "rope_cursor_init@ROPEIO_0.1");

int
rope__cursor_init_snap_0_2(struct rope_cursor *c, const struct rope_snap *s,
			   int64_t off)
{
	return rope__cursor_init_snap(c, s, off);
}
SYMVER(rope__cursor_init_snap_0_2, "rope_cursor_init_snap@@ROPEIO_0.2");

int
rope__cursor_init_snap_0_1(struct rope_cursor *c, const struct rope_snap *s,
			   int64_t off)
{
	return s ? rope__cursor_init_small(c, NULL, s, off) : -EINVAL;
}
SYMVER(rope__cursor_init_snap_0_1, "rope_cursor_init_snap@ROPEIO_0.1");
