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

/*
 * An export is planned into the caller's iovec array before anything
 * changes, one entry per iovec it will return: {NULL, i} for the private
 * segment i, {SHARED_RUN, i} for a run of shared segments starting at i
 * (it ends where the next entry starts). Shared bytes (a value, a snapshot,
 * another rope or the caller's memory sees them, or they are zeros) get one
 * private chunk per run, so writes through the export reach nobody else.
 *
 * Privacy is decided once, here. Another thread may release a snapshot at
 * any moment and make a segment private; a second look could disagree with
 * the first, and the counts would no longer match the array.
 */
static char shared_run_mark;
#define SHARED_RUN ((void *)&shared_run_mark)

/* Returns the number of entries, or SIZE_MAX when @max is too small. */
static size_t
export_plan(struct rope *r, struct iovec *plan, size_t max)
{
	size_t i = 0, n = 0;

	while (i < r->nseg) {
		size_t first = i;
		bool shared = !rope__seg_private(r, i++);

		while (shared && i < r->nseg && !rope__seg_private(r, i))
			i++;
		if (plan) {
			if (n == max)
				return SIZE_MAX;
			plan[n].iov_base = shared ? SHARED_RUN : NULL;
			plan[n].iov_len = first;
		}
		n++;
	}
	return n;
}

/* One past the last segment of entry @k. */
static size_t
entry_end(const struct rope *r, const struct iovec *plan, size_t n, size_t k)
{
	return k + 1 < n ? plan[k + 1].iov_len : r->nseg;
}

/*
 * Carry out a plan: allocate a chunk for every shared run (all of them, or
 * none on -ENOMEM), then copy each run into its chunk and rewrite the
 * segment array in place, one segment per entry (it only shrinks).
 */
static int
unshare(struct rope *r, struct iovec *plan, size_t n)
{
	size_t i, k, w = 0;
	bool any = false;

	for (k = 0; k < n; k++) {
		size_t len = 0;

		if (plan[k].iov_base != SHARED_RUN)
			continue;
		for (i = plan[k].iov_len; i < entry_end(r, plan, n, k); i++)
			len += r->segs[i].len;
		plan[k].iov_base = rope__chunk_new(len);
		if (!plan[k].iov_base) {
			while (k-- > 0)
				if (plan[k].iov_base)
					rope__chunk_unref(plan[k].iov_base);
			return -ENOMEM;
		}
		any = true;
	}
	if (!any)
		return 0;

	rope__drop_value(r);
	for (k = 0; k < n; k++) {
		struct rope_chunk *c = plan[k].iov_base;
		size_t first = plan[k].iov_len, end = entry_end(r, plan, n, k);
		uint64_t start = r->segs[first].start;
		uint8_t *d;

		if (!c) {
			r->segs[w++] = r->segs[first];
			continue;
		}
		d = c->data;
		for (i = first; i < end; i++) {
			rope__seg_copyout(&r->segs[i], 0, d, r->segs[i].len);
			d += r->segs[i].len;
			rope__chunk_unref(r->segs[i].chunk);
		}
		/* The chunk may be larger than asked (whole pages). */
		r->segs[w++] = (struct rope_seg){ c, c->data,
						  (size_t)(d - c->data),
						  start };
	}
	r->nseg = w;
	rope__claim_recheck(r);
	return 0;
}

ROPEIO_EXPORT int
rope_getbuffer(struct rope *r, struct iovec *iov, int iovcnt)
{
	size_t n;
	int ret;

	if (!r || iovcnt < 0)
		return -EINVAL;
	if (r->closed)
		return -EBADF;
	if (!iov) {
		n = export_plan(r, NULL, 0);
		return n > INT_MAX ? -EOVERFLOW : (int)n;
	}
	n = export_plan(r, iov, (size_t)iovcnt);
	if (n == SIZE_MAX)
		return -ENOBUFS;
	ret = unshare(r, iov, n);
	if (ret < 0)
		return ret;
	/* An export can write any byte, so a cached value would go stale. */
	rope__drop_value(r);
	for (size_t k = 0; k < n; k++) {
		iov[k].iov_base = r->segs[k].data;
		iov[k].iov_len = r->segs[k].len;
	}
	r->exports++;
	rope__put_close(r);
	return (int)n;
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
	s->base = 0;
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
	s->base = r->base;
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
	n = rope__segs_iov(s->segs, s->nseg, s->base + off, len, iov,
			   iov ? (size_t)iovcnt : 0);
	if (n > INT_MAX)
		return -EOVERFLOW;
	return (int)n;
}
