/* SPDX-License-Identifier: MIT */
/*
 * getbuffer() exports and snapshots: the two ways to hand the rope's bytes
 * to someone else without copying. An export is writable and pins the rope;
 * a snapshot is immutable and pins nothing.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "rope-priv.h"

/* ------------------------------------------------------------------------ */
/* getbuffer                                                                */
/* ------------------------------------------------------------------------ */

/* Length of the run of non-private segments starting at segs[i]. */
static size_t
shared_run(const struct rope *r, size_t i, size_t *nsegs)
{
	size_t len = 0, j = i;

	while (j < r->nseg && !rope__seg_private(r, &r->segs[j]))
		len += r->segs[j++].len;
	*nsegs = j - i;
	return len;
}

/* iovecs an export needs: one per private segment, one per shared run. */
static size_t
export_count(const struct rope *r)
{
	size_t i = 0, count = 0, n;

	while (i < r->nseg) {
		if (shared_run(r, i, &n) == 0)
			n = 1;
		i += n;
		count++;
	}
	return count;
}

/*
 * Give every run of shared segments (a value, snapshot, another rope or the
 * caller's memory sees them, or they are zeros) one private chunk holding a
 * copy, so writes through the export reach nobody else.
 *
 * The runs are found once, before anything changes: dropping a reference
 * can make a later segment of the same chunk look private, so they must not
 * be recomputed during the commit. @scratch has room for one entry per run
 * and holds {the new chunk, the index of the run's first segment}; the
 * chunk's capacity is the run's length. Only when every chunk exists is the
 * segment array rewritten, in place, since it only shrinks.
 */
static int
unshare(struct rope *r, struct iovec *scratch)
{
	size_t i, k, runs = 0, n, len, w = 0;

	for (i = 0; i < r->nseg; i += n ? n : 1) {
		len = shared_run(r, i, &n);
		if (!len)
			continue;
		scratch[runs].iov_base = rope__chunk_new(len);
		scratch[runs].iov_len = i;
		if (!scratch[runs].iov_base) {
			while (runs > 0)
				rope__chunk_unref(scratch[--runs].iov_base);
			return -ENOMEM;
		}
		runs++;
	}
	if (!runs)
		return 0;

	rope__drop_value(r);
	for (i = 0, k = 0; k < runs; k++) {
		struct rope_chunk *c = scratch[k].iov_base;
		size_t first = scratch[k].iov_len;
		uint64_t start = r->segs[first].start;
		uint8_t *d = c->data;

		while (i < first)
			r->segs[w++] = r->segs[i++];
		for (; d < c->data + c->cap; i++) {
			rope__seg_copyout(&r->segs[i], 0, d, r->segs[i].len);
			d += r->segs[i].len;
			rope__chunk_unref(r->segs[i].chunk);
		}
		r->segs[w++] = (struct rope_seg){ c, c->data, c->cap, start };
	}
	while (i < r->nseg)
		r->segs[w++] = r->segs[i++];
	r->nseg = w;
	rope__claim_recheck(r);
	return 0;
}

ROPEIO_EXPORT int
rope_getbuffer(struct rope *r, struct iovec *iov, int iovcnt)
{
	size_t count;
	int ret;

	if (!r || iovcnt < 0)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	count = export_count(r);
	if (count > INT_MAX)
		return -EOVERFLOW;
	if (!iov)
		return (int)count;
	if ((size_t)iovcnt < count)
		return -ENOBUFS;
	ret = unshare(r, iov);
	if (ret < 0)
		return ret;
	/* An export can write any byte, so a cached value would go stale. */
	rope__drop_value(r);
	for (size_t i = 0; i < r->nseg; i++) {
		iov[i].iov_base = r->segs[i].data;
		iov[i].iov_len = r->segs[i].len;
	}
	r->exports++;
	return (int)r->nseg;
}

ROPEIO_EXPORT int
rope_releasebuffer(struct rope *r)
{
	if (!r || r->exports == 0)
		return -EINVAL;
	r->exports--;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                */
/* ------------------------------------------------------------------------ */

static struct rope_snap *
snap_alloc(size_t nseg, uint64_t size)
{
	struct rope_snap *s;

	if (nseg > (SIZE_MAX - sizeof(*s)) / sizeof(s->segs[0]))
		return NULL;
	s = rope__alloc(sizeof(*s) + nseg * sizeof(s->segs[0]));
	if (!s)
		return NULL;
	atomic_init(&s->refs, 1);
	s->nseg = nseg;
	s->size = size;
	return s;
}

ROPEIO_EXPORT int
rope_snapshot(struct rope *r, struct rope_snap **out)
{
	struct rope_snap *s;

	if (!r || !out)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (r->exports && r->size) {
		/* Exported bytes may still change: freeze a copy. */
		struct rope_chunk *c = rope__chunk_new((size_t)r->size);

		if (!c)
			return -ENOMEM;
		s = snap_alloc(1, r->size);
		if (!s) {
			rope__chunk_unref(c);
			return -ENOMEM;
		}
		rope__flatten_into(r, c->data);
		s->segs[0] = (struct rope_seg){ c, c->data, (size_t)r->size, 0 };
		*out = s;
		return 0;
	}
	s = snap_alloc(r->nseg, r->size);
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < r->nseg; i++) {
		s->segs[i] = r->segs[i];
		rope__chunk_ref(r->segs[i].chunk);
	}
	*out = s;
	return 0;
}

ROPEIO_EXPORT struct rope_snap *
rope_snap_ref(struct rope_snap *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

ROPEIO_EXPORT void
rope_snap_unref(struct rope_snap *s)
{
	if (!s)
		return;
	if (atomic_load_explicit(&s->refs, memory_order_acquire) != 1 &&
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < s->nseg; i++)
		rope__chunk_unref(s->segs[i].chunk);
	rope__free(s, sizeof(*s) + s->nseg * sizeof(s->segs[0]));
}

ROPEIO_EXPORT size_t
rope_snap_size(const struct rope_snap *s)
{
	return s ? (size_t)s->size : 0;
}

ROPEIO_EXPORT int
rope_snap_iov(const struct rope_snap *s, size_t off, size_t len,
	      struct iovec *iov, int iovcnt)
{
	size_t n;

	if (!s || iovcnt < 0 || (uint64_t)off > s->size)
		return -EINVAL;
	len = (size_t)MIN((uint64_t)len, s->size - off);
	n = rope__segs_iov(s->segs, s->nseg, off, len, iov,
			   iov ? (size_t)iovcnt : 0);
	if (n > INT_MAX)
		return -EOVERFLOW;
	return (int)n;
}
