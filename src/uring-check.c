/* SPDX-License-Identifier: MIT */
/*
 * The checks of a range to send, shared by the engine's requests
 * (uring-core.c) and the jobs (uring-job.c), below both.
 */
#include <errno.h>

#include "uring-priv.h"

int
rope__uring_check(const struct rope_snap *s, size_t off, size_t *len, int fd,
		  int64_t file_off, unsigned flags)
{
	if (!s || fd < 0 || file_off < -1 || (uint64_t)off > s->size ||
	    (flags & ~(unsigned)ROPE_URING_ZC))
		return -EINVAL;
	*len = (size_t)MIN((uint64_t)*len, s->size - off);
	if (file_off >= 0 &&
	    (uint64_t)*len > (uint64_t)INT64_MAX - (uint64_t)file_off)
		return -EOVERFLOW;
	return 0;
}
