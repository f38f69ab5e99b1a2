/* SPDX-License-Identifier: MIT */
/*
 * The flat reference model of BytesIO that test-model runs every operation
 * against, the comparison of the rope with it after every step, and the
 * values, snapshots and rope_append_ref() regions held on the side, which
 * must never change behind the caller's back.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* The model is a flat array, so no write may land past this. */
#define MODEL_LIMIT (32u * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* The model: BytesIO semantics, straight from CPython                      */
/* ------------------------------------------------------------------------ */

void
t_model_reset(struct ctx *c, const void *bytes, size_t len)
{
	struct model *m = &c->m;

	t_reserve(&m->buf, &m->cap, MAX(len, (size_t)4096));
	if (len)
		memcpy(m->buf, bytes, len);
	m->size = len;
	m->pos = 0;
	m->closed = false;
	m->exports = 0;
	m->gen++;
}

/* Put @n > 0 bytes at @p, zero-filling any gap after the end. */
static bool
model_put(struct ctx *c, uint64_t p, const uint8_t *d, size_t n)
{
	struct model *m = &c->m;

	if (p > MODEL_LIMIT || n > MODEL_LIMIT - p) {
		MISMATCH(c, "p + n <= MODEL_LIMIT",
			 "test bug: a write at %" PRIu64 " of %zu bytes", p, n);
		return false;
	}
	t_reserve(&m->buf, &m->cap, (size_t)p + n);
	if (p > m->size)
		memset(m->buf + m->size, 0, (size_t)p - m->size);
	memcpy(m->buf + p, d, n);
	if (p + n > m->size)
		m->size = (size_t)p + n;
	m->gen++;
	return true;
}

/* write() when !@append, else append(): the bytes go at the end and the
 * position stays. @buf is NULL only to test the error. */
int64_t
t_model_write(struct ctx *c, const void *buf, size_t len, bool append)
{
	struct model *m = &c->m;
	uint64_t p;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	if (!buf && len)
		return -EINVAL;
	p = append ? m->size : m->pos;
	if ((uint64_t)len > (uint64_t)INT64_MAX - p)
		return -EOVERFLOW;
	if (len == 0)
		return 0;
	if (!model_put(c, p, buf, len))
		return -EIO;
	if (!append)
		m->pos = p + len;
	return (int64_t)len;
}

int64_t
t_model_truncate(struct ctx *c, int64_t size)
{
	struct model *m = &c->m;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size < m->size) {
		m->size = (size_t)size;
		m->gen++;
	}
	return size;
}

/* read(): the bytes are at m->buf + *at when the result is positive. */
int64_t
t_model_drain(struct ctx *c, size_t len)
{
	struct model *m = &c->m;
	size_t n;

	if (m->closed)
		return -EBADF;
	if (m->exports)
		return -EBUSY;
	n = MIN(len, m->size);
	if (n) {
		memmove(m->buf, m->buf + n, m->size - n);
		m->size -= n;
		m->gen++;
	}
	m->pos = m->pos > n ? m->pos - n : 0;
	return (int64_t)n;
}

int64_t
t_model_read(struct model *m, const void *buf, size_t len, uint64_t *at)
{
	size_t n;

	*at = m->pos;
	if (m->closed)
		return -EBADF;
	if (!buf && len)
		return -EINVAL;
	if (m->pos >= m->size)
		return 0;
	n = MIN(len, (size_t)(m->size - m->pos));
	m->pos += n;
	return (int64_t)n;
}

int64_t
t_model_readline(struct model *m, const void *buf, size_t len, uint64_t *at)
{
	const uint8_t *nl;
	size_t limit, n;

	*at = m->pos;
	if (m->closed)
		return -EBADF;
	if (!buf && len)
		return -EINVAL;
	if (m->pos >= m->size || len == 0)
		return 0;
	limit = MIN(len, (size_t)(m->size - m->pos));
	nl = memchr(m->buf + m->pos, '\n', limit);
	n = nl ? (size_t)(nl - (m->buf + m->pos)) + 1 : limit;
	m->pos += n;
	return (int64_t)n;
}

/* readline_delim(): up to and including the first @delim, as readline(). */
int64_t
t_model_readline_delim(struct model *m, const void *buf, size_t len,
		       const void *delim, size_t dlen, uint64_t *at)
{
	const uint8_t *hit;
	size_t limit, n;

	*at = m->pos;
	if (m->closed)
		return -EBADF;
	if ((!buf && len) || !delim || !dlen)
		return -EINVAL;
	if (m->pos >= m->size || len == 0)
		return 0;
	limit = MIN(len, (size_t)(m->size - m->pos));
	hit = memmem(m->buf + m->pos, limit, delim, dlen);
	n = hit ? (size_t)(hit - (m->buf + m->pos)) + dlen : limit;
	m->pos += n;
	return (int64_t)n;
}

int64_t
t_model_pread(const struct model *m, const void *buf, size_t len, int64_t off)
{
	if (m->closed)
		return -EBADF;
	if (off < 0 || (!buf && len))
		return -EINVAL;
	if ((uint64_t)off >= m->size)
		return 0;
	return (int64_t)MIN(len, (size_t)(m->size - (uint64_t)off));
}

int64_t
t_model_seek(struct model *m, int64_t off, int whence)
{
	int64_t base, res;

	if (m->closed)
		return -EBADF;
	switch (whence) {
	case SEEK_SET:
		if (off < 0)
			return -EINVAL;
		m->pos = (uint64_t)off;
		return off;
	case SEEK_CUR:
		base = (int64_t)m->pos;
		break;
	case SEEK_END:
		base = (int64_t)m->size;
		break;
	default:
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, off, &res))
		return -EOVERFLOW;
	/* A negative relative result clamps to 0, as in CPython. */
	if (res < 0)
		res = 0;
	m->pos = (uint64_t)res;
	return res;
}

int64_t
t_model_tell(const struct model *m)
{
	return m->closed ? -EBADF : (int64_t)m->pos;
}

int64_t
t_model_close(struct ctx *c)
{
	struct model *m = &c->m;

	if (m->closed)
		return 0;
	if (m->exports)
		return -EBUSY;
	m->closed = true;
	m->size = 0;
	m->pos = 0;
	m->gen++;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Comparing the rope with the model                                        */
/* ------------------------------------------------------------------------ */

/* Position, size, every byte and the invariants, after every step. */
void
t_check_state(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope *r = c->r;
	int64_t tell, got;
	size_t size;
	uint8_t *buf;

	EXPECT(c, rope_closed(r) == m->closed, "rope_closed() is %d, expected %d",
	       rope_closed(r), m->closed);
	EXPECT(c, rope__check(r) == 0, "the rope's invariants do not hold");
	size = rope_size(r);
	EXPECT(c, size == m->size, "rope_size() is %zu, expected %zu", size,
	       m->size);
	tell = rope_tell(r);
	EXPECT(c, tell == t_model_tell(m),
	       "rope_tell() is %" PRId64 ", expected %" PRId64, tell,
	       t_model_tell(m));
	if (c->failed)
		return;
	buf = t_reserve(&c->chk, &c->chk_cap, m->size + 16);
	got = rope_pread(r, buf, m->size + 16, 0);
	if (m->closed) {
		EXPECT(c, got == -EBADF,
		       "rope_pread() on a closed rope returned %" PRId64, got);
		return;
	}
	EXPECT(c, got == (int64_t)m->size,
	       "rope_pread() of everything returned %" PRId64 ", expected %zu",
	       got, m->size);
	if (!c->failed && m->size && memcmp(buf, m->buf, m->size)) {
		size_t i = t_first_diff(buf, m->buf, m->size);

		MISMATCH(c, "contents == model",
			 "byte %zu of %zu is %#x, expected %#x", i, m->size,
			 buf[i], m->buf[i]);
	}
}

void
t_check_value(struct ctx *c, const struct held_value *h)
{
	const uint8_t *d = rope_bytes_data(h->b);
	size_t n = rope_bytes_size(h->b);

	EXPECT(c, n == h->len, "a held value now has %zu bytes, it had %zu", n,
	       h->len);
	EXPECT(c, d != NULL, "rope_bytes_data() of a held value is NULL");
	if (c->failed || !n || !memcmp(d, h->copy, n))
		return;
	MISMATCH(c, "value == its copy",
		 "a held value of %zu bytes changed at byte %zu", n,
		 t_first_diff(d, h->copy, n));
}

/* Compare the iovecs of [off, off + len) of a snapshot with its copy,
 * taking them @w at a time, and return how many there were. */
static int
walk_snap(struct ctx *c, const struct held_snap *h, size_t off, size_t len,
	  int w)
{
	struct iovec iov[16];
	size_t want = off < h->len ? MIN(len, h->len - off) : 0, done = 0;
	int total = 0;

	while (done < want && !c->failed) {
		int k = rope_snap_iov(h->s, off + done, done ? want - done : len,
				      iov, w);

		EXPECT(c, k >= 1 && k <= w,
		       "rope_snap_iov(off=%zu, iovcnt=%d) returned %d with %zu bytes left",
		       off + done, w, k, want - done);
		for (int i = 0; i < k && !c->failed; i++) {
			size_t n = iov[i].iov_len;

			EXPECT(c, n > 0 && n <= want - done,
			       "snapshot iovec %d has %zu bytes, %zu left", i, n,
			       want - done);
			if (c->failed)
				break;
			if (memcmp(iov[i].iov_base, h->copy + off + done, n)) {
				MISMATCH(c, "snapshot == its copy",
					 "a held snapshot of %zu bytes changed at byte %zu",
					 h->len,
					 off + done + t_first_diff(iov[i].iov_base,
								   h->copy + off + done,
								   n));
			}
			done += n;
		}
		total += k;
	}
	return total;
}

/* @full: walk all of it; otherwise one random range. */
void
t_check_snap(struct ctx *c, const struct held_snap *h, bool full)
{
	struct iovec iov[4];
	size_t size = rope_snap_size(h->s), off, len;
	int count, walked;

	EXPECT(c, size == h->len, "a held snapshot now has %zu bytes, it had %zu",
	       size, h->len);
	if (c->failed)
		return;
	if (full) {
		count = rope_snap_iov(h->s, 0, SIZE_MAX, NULL, 0);
		EXPECT(c, count >= 0 && (size ? count >= 1 : count == 0),
		       "rope_snap_iov() counts %d iovecs for %zu bytes", count,
		       size);
		walked = walk_snap(c, h, 0, SIZE_MAX, (int)t_range(c, 1, 16));
		EXPECT(c, walked == count,
		       "the iovecs taken in windows number %d, the count was %d",
		       walked, count);
		count = rope_snap_iov(h->s, size + t_range(c, 1, 10), 1, NULL,
				      0);
		EXPECT(c, count == -EINVAL,
		       "rope_snap_iov() past the end returned %d", count);
		count = rope_snap_iov(h->s, size, SIZE_MAX, iov, 4);
		EXPECT(c, count == 0, "rope_snap_iov() at the end returned %d",
		       count);
		count = rope_snap_iov(h->s, 0, SIZE_MAX, iov, -1);
		EXPECT(c, count == -EINVAL,
		       "rope_snap_iov(iovcnt=-1) returned %d", count);
		if (size) {
			count = rope_snap_iov(h->s, 0, SIZE_MAX, iov, 0);
			EXPECT(c, count == 0,
			       "rope_snap_iov(iovcnt=0) filled %d", count);
		}
		return;
	}

	off = t_below(c, size + 1);
	switch (t_below(c, 5)) {
	case 0:
		len = 0;
		break;
	case 1:
		len = 1;
		break;
	case 2:
		len = SIZE_MAX;
		break;
	case 3:
		len = size - off + t_range(c, 1, 1000);
		break;
	default:
		len = t_below(c, size - off + 1);
		break;
	}
	count = rope_snap_iov(h->s, off, len, NULL, 0);
	EXPECT(c, count >= 0 && ((off == size || !len) ? count == 0 : count >= 1),
	       "rope_snap_iov(off=%zu, len=%zu) counts %d iovecs of %zu bytes",
	       off, len, count, size);
	if (c->failed)
		return;
	walked = walk_snap(c, h, off, len, (int)t_range(c, 1, 16));
	EXPECT(c, walked == count,
	       "the iovecs of [%zu, +%zu) taken in windows number %d, the count was %d",
	       off, len, walked, count);
}

/* An export's iovecs cover exactly the live contents. */
void
t_check_export(struct ctx *c, const struct held_export *e)
{
	const struct model *m = &c->m;
	size_t done = 0;

	for (int i = 0; i < e->n && !c->failed; i++) {
		size_t n = e->iov[i].iov_len;

		EXPECT(c, n > 0 && n <= m->size - done,
		       "export iovec %d of %d has %zu bytes, %zu left", i, e->n,
		       n, m->size - done);
		if (c->failed)
			return;
		if (memcmp(e->iov[i].iov_base, m->buf + done, n)) {
			MISMATCH(c, "export == contents",
				 "exported byte %zu differs from the contents",
				 done + t_first_diff(e->iov[i].iov_base,
						     m->buf + done, n));
		}
		done += n;
	}
	EXPECT(c, done == m->size, "the export covers %zu bytes of %zu", done,
	       m->size);
}

/* The regions the rope still borrows must be as they were handed over. */
static void
check_exts(struct ctx *c)
{
	size_t w = 0;

	for (size_t i = 0; i < c->nlive; i++) {
		struct ext *e = c->live[i];

		if (e->releases || e->refused)
			continue;
		c->live[w++] = e;
		if (e->len && memcmp(e->mem, e->copy, e->len)) {
			MISMATCH(c, "borrowed memory unchanged",
				 "the rope wrote byte %zu of a %zu-byte append_ref() region",
				 t_first_diff(e->mem, e->copy, e->len), e->len);
		}
	}
	c->nlive = w;
}

/* Everything held on the side, in full. */
void
t_check_held(struct ctx *c)
{
	for (size_t i = 0; i < c->nvals && !c->failed; i++)
		t_check_value(c, &c->vals[i]);
	for (size_t i = 0; i < c->nsnaps && !c->failed; i++)
		t_check_snap(c, &c->snaps[i], true);
	for (size_t i = 0; i < c->nexps && !c->failed; i++)
		t_check_export(c, &c->exps[i]);
	for (size_t i = 0; i < c->nseals && !c->failed; i++)
		t_model_check_seal(c, &c->sealed[i]);
	if (!c->failed)
		check_exts(c);
}

/* ------------------------------------------------------------------------ */
/* Held values, snapshots and borrowed memory                               */
/* ------------------------------------------------------------------------ */

void
t_drop_value_at(struct ctx *c, size_t i)
{
	struct held_value *h = &c->vals[i];

	t_check_value(c, h);
	while (h->refs--)
		rope_bytes_unref(h->b);
	free(h->copy);
	*h = c->vals[--c->nvals];
}

void
t_hold_value(struct ctx *c, struct rope_bytes *b, const uint8_t *bytes,
	     size_t len)
{
	struct held_value *h;

	if (c->nvals == MAX_VALUES)
		t_drop_value_at(c, t_below(c, MAX_VALUES));
	h = &c->vals[c->nvals++];
	h->b = b;
	h->refs = 1;
	h->copy = t_xdup(bytes, len);
	h->len = len;
	if (t_chance(c, 20)) {
		/* A second reference must keep it alive just the same. */
		EXPECT(c, rope_bytes_ref(b) == b, "rope_bytes_ref() changed the pointer");
		h->refs++;
	}
}

void
t_drop_snap_at(struct ctx *c, size_t i)
{
	struct held_snap *h = &c->snaps[i];

	t_check_snap(c, h, true);
	while (h->refs--)
		rope_snap_unref(h->s);
	free(h->copy);
	*h = c->snaps[--c->nsnaps];
}

void
t_hold_snap(struct ctx *c, struct rope_snap *s, const uint8_t *bytes,
	    size_t len)
{
	struct held_snap *h;

	if (c->nsnaps == MAX_SNAPS)
		t_drop_snap_at(c, t_below(c, MAX_SNAPS));
	h = &c->snaps[c->nsnaps++];
	h->s = s;
	h->refs = 1;
	h->copy = t_xdup(bytes, len);
	h->len = len;
	if (t_chance(c, 20)) {
		EXPECT(c, rope_snap_ref(s) == s, "rope_snap_ref() changed the pointer");
		h->refs++;
	}
}

/*
 * The release function of every region handed over. It must run exactly
 * once, with what was handed over, after the bytes were last used. The
 * region is poisoned and freed here, so a use after the release shows up as
 * a content mismatch (or under ASan, as a use after free).
 */
void
t_release_ext(void *data, size_t len, void *arg)
{
	struct ext *e = arg;
	struct ctx *c = e->c;

	e->releases++;
	EXPECT(c, e->releases == 1,
	       "an append_ref() region of %zu bytes was released %u times",
	       e->len, e->releases);
	EXPECT(c, !e->refused,
	       "an append_ref() region was released after the call failed");
	EXPECT(c, data == e->addr && len == e->len,
	       "release(%p, %zu) for a region handed over as (%p, %zu)", data,
	       len, e->addr, e->len);
	if (e->releases != 1 || !e->mem)
		return;
	if (e->len && memcmp(e->mem, e->copy, e->len)) {
		MISMATCH(c, "borrowed memory unchanged",
			 "at release, byte %zu of a %zu-byte append_ref() region had changed",
			 t_first_diff(e->mem, e->copy, e->len), e->len);
	}
	memset(e->mem, 0xdd, e->len);
	free(e->mem);
	free(e->copy);
	e->mem = NULL;
	e->copy = NULL;
}

/* A region of @len bytes of generated data, registered for tracking. */
struct ext *
t_ext_new(struct ctx *c, size_t len)
{
	struct ext *e = t_xmalloc(sizeof(*e));

	memset(e, 0, sizeof(*e));
	e->c = c;
	e->len = len;
	e->mem = t_xdup(t_gen_data(c, len), len);
	e->copy = t_xdup(e->mem, len);
	e->addr = e->mem;
	t_push_ptr(&c->exts, &c->nexts, &c->exts_cap, e);
	t_push_ptr(&c->live, &c->nlive, &c->live_cap, e);
	return e;
}

/* rope_append_ref() failed: the memory is still ours. */
void
t_ext_refused(struct ext *e)
{
	e->refused = true;
	free(e->mem);
	free(e->copy);
	e->mem = NULL;
	e->copy = NULL;
}
