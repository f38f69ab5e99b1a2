/* SPDX-License-Identifier: MIT */
/* latest.c for the io_uring layer: rope_uring_get_stats() by its name. */
#include "uring-priv.h"

ROPEIO_EXPORT int
rope_uring_get_stats(const struct rope_uring *u, struct rope_uring_stats *out,
		     size_t size)
{
	return rope__uring_get_stats(u, out, size);
}
