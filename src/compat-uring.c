/* SPDX-License-Identifier: MIT */
/*
 * compat.c for the io_uring layer: rope_uring_get_stats() under 0.2's
 * version (with the size of the caller's struct) and 0.1's (without).
 */
#include "uring-priv.h"

#define SYMVER(impl, name) __asm__(".symver " #impl ", " name)

ROPEIO_EXPORT int rope__uring_get_stats_0_2(const struct rope_uring *u,
					    struct rope_uring_stats *out,
					    size_t size);
ROPEIO_EXPORT int rope__uring_get_stats_0_1(const struct rope_uring *u,
					    struct rope_uring_stats *out);

int
rope__uring_get_stats_0_2(const struct rope_uring *u,
			  struct rope_uring_stats *out, size_t size)
{
	return rope__uring_get_stats(u, out, size);
}
SYMVER(rope__uring_get_stats_0_2, "rope_uring_get_stats@@ROPEIO_0.2");

int
rope__uring_get_stats_0_1(const struct rope_uring *u,
			  struct rope_uring_stats *out)
{
	return rope__uring_get_stats(u, out, ROPE_URING_STATS_SIZE_0_1);
}
SYMVER(rope__uring_get_stats_0_1, "rope_uring_get_stats@ROPEIO_0.1");
