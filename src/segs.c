/* SPDX-License-Identifier: MIT */
/*
 * Read-only walks over arrays of segments, shared by ropes and snapshots:
 * position lookup, copy-out and iovec export.
 */
#include <string.h>

#include "rope-priv.h"

size_t
rope__segs_find(const struct rope_seg *segs, size_t n, uint64_t pos)
{
	size_t lo = 0, hi = n;

	/* The last segment whose start is <= pos: a binary search on the
	 * prefix offsets, O(log n). */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (segs[mid].start <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void
rope__seg_copyout(const struct rope_seg *seg, size_t off, void *dst,
		  size_t len)
{
	if (seg->chunk->kind == ROPE_CHUNK_ZERO)
		memset(dst, 0, len);
	else
		memcpy(dst, seg->data + off, len);
}

size_t
rope__segs_iov(const struct rope_seg *segs, size_t n, uint64_t pos,
	       uint64_t len, struct iovec *iov, size_t max)
{
	size_t i, count = 0;

	if (len == 0 || n == 0)
		return 0;
	for (i = rope__segs_find(segs, n, pos); i < n && len > 0; i++) {
		const struct rope_seg *s = &segs[i];
		size_t skip = pos > s->start ? (size_t)(pos - s->start) : 0;
		size_t take = (size_t)MIN((uint64_t)(s->len - skip), len);
		bool zero = s->chunk->kind == ROPE_CHUNK_ZERO;

		len -= take;
		if (!iov) {
			/* Counting a zero run piece by piece could take
			 * hours for a gap near INT64_MAX. */
			count += zero ? (take - 1) / ROPE_ZERO_LEN + 1 : 1;
			continue;
		}
		while (take > 0) {
			/* Zero runs are virtual: describe them in pieces of
			 * the real zero block. */
			size_t piece = zero ? MIN(take, ROPE_ZERO_LEN) : take;

			if (count == max)
				return count;
			iov[count].iov_base = zero ? s->data : s->data + skip;
			iov[count].iov_len = piece;
			count++;
			skip += piece;
			take -= piece;
		}
	}
	return count;
}
