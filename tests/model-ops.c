/* SPDX-License-Identifier: MIT */
/*
 * The operations of the differential harness (model.h): the stream, values
 * and snapshots, exports, life and the twin, the allocation seam. Each
 * makes one call (or a few) on the rope and the same on the model,
 * compares what they return, and returns false when it does not apply
 * right now, so the driver picks another. The table is model-table.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Memory handed to rope_append_ref() with no release function: the run
 * fills it first and checks at the end that the rope never wrote to it. */
uint8_t t_static_ext[8192];

/* ------------------------------------------------------------------------ */
/* Operations. Each returns false when it does not apply right now.         */
/* ------------------------------------------------------------------------ */

void
t_seek_to(struct ctx *c, uint64_t target)
{
	int64_t want, got;

	t_note(c, "seek(%" PRIu64 ", SEEK_SET)", target);
	want = t_model_seek(&c->m, (int64_t)target, SEEK_SET);
	got = rope_seek(c->r, (int64_t)target, SEEK_SET);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
}

/*
 * A write at the position, or with @append an append at the end, which
 * ignores the position, even one past the end. Either may come after a
 * seek anywhere, with @seek_pct percent chance.
 */
static bool
write_or_append(struct ctx *c, bool append, unsigned seek_pct)
{
	const char *name = append ? "append" : "write";
	size_t len;
	uint8_t *buf;
	int64_t want, got;

	if (t_chance(c, seek_pct))
		t_seek_to(c, t_pick_target(c));
	len = t_pick_len(c);
	buf = t_gen_data(c, len);
	if (!len && t_chance(c, 30))
		buf = NULL;
	t_note(c, "%s(%s, %zu) at pos %" PRIu64 " of size %zu", name,
	       buf ? "buf" : "NULL", len, c->m.pos, c->m.size);
	want = t_model_write(c, buf, len, append);
	got = append ? rope_append(c->r, buf, len)
		     : rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

bool
op_write(struct ctx *c)
{
	return write_or_append(c, false, 30);
}

bool
op_writev(struct ctx *c)
{
	struct iovec iov[5];
	size_t lens[5], total = 0, off = 0;
	int n = (int)t_below(c, 6);
	const struct iovec *iovp = iov;
	uint8_t *data;
	int64_t want, got;
	char desc[128];
	int used = 0;

	if (t_chance(c, 30))
		t_seek_to(c, t_pick_target(c));
	for (int i = 0; i < n; i++) {
		lens[i] = t_chance(c, 25) ? 0 : t_pick_len(c);
		total += lens[i];
	}
	data = t_gen_data(c, total);
	desc[0] = '\0';
	for (int i = 0; i < n; i++) {
		/* An empty buffer may have a NULL base: that is no error. */
		iov[i].iov_base =
			lens[i] || t_chance(c, 50) ? data + off : NULL;
		iov[i].iov_len = lens[i];
		off += lens[i];
		used += snprintf(desc + used, sizeof(desc) - (size_t)used,
				 "%s{%s, %zu}", i ? ", " : "",
				 iov[i].iov_base ? "buf" : "NULL", lens[i]);
	}
	if (n == 0 && t_chance(c, 50))
		iovp = NULL;
	t_note(c, "writev([%s], %d) at pos %" PRIu64 " of size %zu", desc, n,
	       c->m.pos, c->m.size);
	want = t_model_write(c, data, total, false);
	got = rope_writev(c->r, iovp, n);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

bool
op_append(struct ctx *c)
{
	return write_or_append(c, true, 20);
}

bool
op_append_ref(struct ctx *c)
{
	struct model *m = &c->m;
	size_t len = t_pick_len(c);
	struct ext *e = NULL;
	const void *data;
	int64_t want, got;

	if (t_chance(c, 10)) {
		/* Memory that outlives every use needs no release. */
		size_t off = t_below(c, sizeof(t_static_ext));

		len = MIN(len, sizeof(t_static_ext) - off);
		data = t_static_ext + off;
	} else {
		e = t_ext_new(c, len);
		data = len || t_chance(c, 50) ? e->addr : NULL;
		e->addr = data;
	}
	t_note(c, "append_ref(%s, %zu, %s) at pos %" PRIu64 " of size %zu",
	       e ? (data ? "heap" : "NULL") : "static", len,
	       e ? "release" : "NULL", m->pos, m->size);
	want = t_model_write(c, data, len, true);
	if (want > 0)
		want = 0;
	got = rope_append_ref(c->r, data, len, e ? t_release_ext : NULL, e);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!e || c->failed)
		return true;
	if (got < 0) {
		EXPECT(c, e->releases == 0,
		       "the region was released although the call failed");
		t_ext_refused(e);
	} else if (len == 0) {
		EXPECT(c, e->releases == 1,
		       "an empty region was not released at once (%u releases)",
		       e->releases);
	} else {
		EXPECT(c, e->releases == 0,
		       "the region was released while the rope uses it");
	}
	return true;
}

/* read and readline differ only in the calls they compare. */
static bool
read_like(struct ctx *c, const char *name,
	  int64_t (*model_fn)(struct model *, const void *, size_t, uint64_t *),
	  ssize_t (*rope_fn)(struct rope *, void *, size_t))
{
	size_t len = t_pick_read_len(c, c->m.pos);
	uint8_t *buf = t_out_buf(c, len);
	uint64_t at;
	int64_t want, got;

	if (!len && t_chance(c, 30))
		buf = NULL;
	t_note(c, "%s(%s, %zu) at pos %" PRIu64 " of size %zu", name,
	       buf ? "buf" : "NULL", len, c->m.pos, c->m.size);
	want = model_fn(&c->m, buf, len, &at);
	got = rope_fn(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!c->failed && got > 0 && memcmp(buf, c->m.buf + at, (size_t)got))
		MISMATCH(c, "bytes read == model",
			 "byte %zu of the %s differs",
			 t_first_diff(buf, c->m.buf + at, (size_t)got), name);
	if (!c->failed)
		t_check_canary(c, buf, len, got);
	return true;
}

bool
op_read(struct ctx *c)
{
	return read_like(c, "read", t_model_read, rope_read);
}

bool
op_readline(struct ctx *c)
{
	return read_like(c, "readline", t_model_readline, rope_readline);
}

bool
op_pread(struct ctx *c)
{
	unsigned k = (unsigned)t_below(c, 100);
	int64_t off, want, got;
	size_t len;
	uint8_t *buf;

	if (k < 5)
		off = t_chance(c, 20) ? INT64_MIN
				      : -(int64_t)t_range(c, 1, 100);
	else if (k < 8)
		off = INT64_MAX;
	else
		off = (int64_t)t_pick_target(c);
	len = t_pick_read_len(c, off < 0 ? 0 : (uint64_t)off);
	buf = t_out_buf(c, len);
	if (!len && t_chance(c, 30))
		buf = NULL;
	t_note(c, "pread(%s, %zu, %" PRId64 ") size %zu", buf ? "buf" : "NULL",
	       len, off, c->m.size);
	want = t_model_pread(&c->m, buf, len, off);
	got = rope_pread(c->r, buf, len, off);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!c->failed && got > 0 && memcmp(buf, c->m.buf + off, (size_t)got))
		MISMATCH(c, "pread bytes == model",
			 "byte %zu of the pread differs",
			 t_first_diff(buf, c->m.buf + off, (size_t)got));
	if (!c->failed)
		t_check_canary(c, buf, len, got);
	return true;
}

bool
op_seek(struct ctx *c)
{
	static const int bad_whence[] = { 3, -1, 7, INT_MAX, INT_MIN };
	struct model *m = &c->m;
	unsigned k = (unsigned)t_below(c, 100);
	int64_t off, want, got;
	int whence;

	if (k < 4) {
		whence = bad_whence[t_below(c, ARRAY_SIZE(bad_whence))];
		off = (int64_t)t_below(c, 100);
	} else if (k < 8) {
		whence = SEEK_SET;
		off = t_chance(c, 20) ? INT64_MIN
				      : -(int64_t)t_range(c, 1, 1000);
	} else if (k < 10) {
		/* Past INT64_MAX: -EOVERFLOW, and the position stays. A base
		 * of 0 would not overflow, so clamp instead then. */
		whence = m->size && t_chance(c, 50) ? SEEK_END : SEEK_CUR;
		off = INT64_MAX;
		if (whence == SEEK_CUR && !m->pos)
			off = INT64_MIN;
	} else if (k < 16) {
		/* A negative relative result clamps to 0. */
		whence = t_chance(c, 50) ? SEEK_CUR : SEEK_END;
		off = t_chance(c, 20) ? INT64_MIN :
		      -(int64_t)((whence == SEEK_CUR ? m->pos : m->size) +
				 t_range(c, 1, 1000));
	} else {
		uint64_t t = t_pick_target(c);

		whence = (int)t_below(c, 3);
		if (whence == SEEK_SET)
			off = (int64_t)t;
		else if (whence == SEEK_CUR)
			off = (int64_t)t - (int64_t)m->pos;
		else
			off = (int64_t)t - (int64_t)m->size;
	}
	t_note(c, "seek(%" PRId64 ", %d) at pos %" PRIu64 " of size %zu", off,
	       whence, m->pos, m->size);
	want = t_model_seek(m, off, whence);
	got = rope_seek(c->r, off, whence);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

void
t_truncate_to(struct ctx *c, int64_t size)
{
	struct rope_mem_stats before, after;
	int64_t want, got;

	t_note(c, "truncate(%" PRId64 ") at pos %" PRIu64 " of size %zu", size,
	       c->m.pos, c->m.size);
	want = t_model_truncate(c, size);
	rope_mem_stats(&before, sizeof(before));
	got = rope_truncate(c->r, size);
	rope_mem_stats(&after, sizeof(after));
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	/* Only to let go of a large block a few bytes would keep alive:
	 * at most the two segments at the ends move (invariant 12), each
	 * to a chunk that may be a header and its pages. */
	EXPECT(c, after.allocs - before.allocs <= 4,
	       "truncating allocated %" PRIu64 " times",
	       after.allocs - before.allocs);
}

bool
op_truncate(struct ctx *c)
{
	const struct model *m = &c->m;
	unsigned k = (unsigned)t_below(c, 100);
	int64_t size;

	if (k < 30)
		size = (int64_t)t_below(c, m->size);
	else if (k < 45)
		size = (int64_t)m->pos;
	else if (k < 60)
		size = (int64_t)(m->size + t_range(c, 1, 100000));
	else if (k < 70)
		size = 0;
	else if (k < 80)
		size = (int64_t)m->size;
	else if (k < 88)
		size = t_chance(c, 20) ? INT64_MIN
				       : -(int64_t)t_range(c, 1, 1000);
	else if (k < 92)
		size = INT64_MAX;
	else
		size = (int64_t)t_below(c, m->size + 100);
	t_truncate_to(c, size);
	return true;
}

/* Searching across chunks must agree with memmem on the flat model. */
bool
op_find(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t nlen = (size_t)t_range(c, 1, 16);
	int64_t from = (int64_t)t_below(c, m->size + 2), want, got;
	uint8_t nd[16];

	if (m->size && !m->closed && t_chance(c, 25)) {
		/* Aim across a segment boundary, where the search is
		 * hardest: the needle starts a little before the end of the
		 * segment holding a random byte. */
		struct rope_cursor cur;
		const void *p;
		size_t at = (size_t)t_below(c, m->size);
		size_t back = (size_t)t_range(c, 1, nlen);
		size_t early = (size_t)t_below(c, 4);
		ssize_t seg;

		rope_cursor_init(&cur, c->r, (int64_t)at);
		seg = rope_cursor_peek(&cur, &p);
		at += seg > 0 ? (size_t)seg : 0;
		at -= MIN(at, back);
		nlen = MIN(nlen, m->size - at);
		memcpy(nd, m->buf + at, nlen);
		from = (int64_t)(at - MIN(at, early));
	} else if (m->size && t_chance(c, 70)) {
		size_t at = (size_t)t_below(c, m->size);

		nlen = MIN(nlen, m->size - at);
		memcpy(nd, m->buf + at, nlen);
		if (t_chance(c, 30))
			nd[t_below(c, nlen)] ^= 1;
	} else {
		for (size_t i = 0; i < nlen; i++)
			nd[i] = t_chance(c, 75) ? 0 : (uint8_t)'a';
	}
	t_note(c, "find(%zu bytes, from %" PRId64 ") in size %zu", nlen, from,
	       m->size);
	if (m->closed) {
		want = -EBADF;
	} else {
		const uint8_t *p = (uint64_t)from + nlen <= m->size
			? memmem(m->buf + from, m->size - (size_t)from, nd, nlen)
			: NULL;

		want = p ? (int64_t)(p - m->buf) : -ENOENT;
	}
	got = rope_find(c->r, nd, nlen, from);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	return true;
}

/* Pulling a range together changes no byte; the pointer shows the range. */
bool
op_pullup(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t off = (size_t)t_below(c, m->size + 1);
	size_t len = (size_t)t_below(c, m->size - off + 1);
	const void *p = NULL;
	int got;

	t_note(c, "pullup(%zu, %zu) of size %zu", off, len, m->size);
	got = rope_pullup(c->r, (int64_t)off, len, &p);
	if (m->closed) {
		EXPECT(c, got == -EBADF, "returned %d on a closed rope", got);
		return true;
	}
	/* While exported, a range that needs a copy is refused; one that
	 * lies in one segment is not: the model cannot tell which. */
	EXPECT(c, got == 0 || (m->exports && got == -EBUSY), "returned %d",
	       got);
	if (got == 0 && len && !c->failed && memcmp(p, m->buf + off, len))
		MISMATCH(c, "pulled-up bytes == model",
			 "byte %zu of the range differs",
			 t_first_diff(p, m->buf + off, len));
	return true;
}

/* Draining consumes the front, like a queue; it never allocates. */
bool
op_drain(struct ctx *c)
{
	const struct model *m = &c->m;
	unsigned k = (unsigned)t_below(c, 100);
	struct rope_mem_stats before, after;
	int64_t want, got;
	size_t len;

	if (k < 50)
		len = (size_t)t_below(c, m->size + 1);
	else if (k < 65)
		len = m->size;
	else if (k < 80)
		len = (size_t)t_below(c, 64);
	else if (k < 90)
		len = SIZE_MAX;
	else
		len = m->size + (size_t)t_range(c, 1, 1000);
	t_note(c, "drain(%zu) at pos %" PRIu64 " of size %zu", len, m->pos,
	       m->size);
	want = t_model_drain(c, len);
	rope_mem_stats(&before, sizeof(before));
	got = rope_drain(c->r, len);
	rope_mem_stats(&after, sizeof(after));
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	/* Only to let go of a large block a few bytes would keep alive:
	 * at most the two segments at the ends move (invariant 12), each
	 * to a chunk that may be a header and its pages. */
	EXPECT(c, after.allocs - before.allocs <= 4,
	       "draining allocated %" PRIu64 " times",
	       after.allocs - before.allocs);
	return true;
}

/* Positions near INT64_MAX: nothing may wrap, and nothing is allocated. */
bool
op_overflow(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t d = t_below(c, 16), at;
	int64_t p = INT64_MAX - (int64_t)d, want, got;
	size_t len = (size_t)d + 1 + t_below(c, 8);
	uint8_t *buf = t_gen_data(c, len);
	struct iovec iov[2] = { { buf, 1 }, { buf + 1, len - 1 } };
	uint8_t *out = t_out_buf(c, 10);
	uint64_t was = m->pos;

	t_seek_to(c, (uint64_t)p);

	t_note(c, "read(buf, 10)");
	want = t_model_read(m, out, 10, &at);
	got = rope_read(c->r, out, 10);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_note(c, "readline(buf, 10)");
	want = t_model_readline(m, out, 10, &at);
	got = rope_readline(c->r, out, 10);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_note(c, "pread(buf, 10, %" PRId64 ")", p);
	want = t_model_pread(m, out, 10, p);
	got = rope_pread(c->r, out, 10, p);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_note(c, "write(buf, %zu) at pos %" PRId64, len, p);
	want = t_model_write(c, buf, len, false);
	got = rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_note(c, "writev([{buf, 1}, {buf, %zu}], 2) at pos %" PRId64, len - 1, p);
	want = t_model_write(c, buf, len, false);
	got = rope_writev(c->r, iov, 2);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_note(c, "write(buf, 0)");
	want = t_model_write(c, buf, 0, false);
	got = rope_write(c->r, buf, 0);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	t_truncate_to(c, INT64_MAX);

	t_note(c, "seek(%" PRId64 ", SEEK_CUR)", (int64_t)d + 1);
	want = t_model_seek(m, (int64_t)d + 1, SEEK_CUR);
	got = rope_seek(c->r, (int64_t)d + 1, SEEK_CUR);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);

	got = rope_tell(c->r);
	EXPECT(c, got == t_model_tell(m),
	       "rope_tell() is %" PRId64 ", expected %" PRId64, got,
	       t_model_tell(m));

	/* Back where it was before any other operation runs: the model
	 * cannot write that far out. */
	t_seek_to(c, was);
	return true;
}

/* Bad arguments fail with -EINVAL and change nothing. */
bool
op_badargs(struct ctx *c)
{
	static struct iovec many[IOV_MAX + 1];
	static int sentinel;
	struct model *m = &c->m;
	struct rope *r = c->r, *nr = (struct rope *)&sentinel;
	struct rope_bytes *b = NULL;
	struct rope_snap *s = NULL;
	struct rope_info info;
	uint8_t buf[16] = "0123456789abcde";
	struct iovec iov[2] = { { buf, 3 }, { NULL, 5 } };
	size_t len = t_range(c, 1, 200);
	struct ext *e;
	int64_t got;
	unsigned k = (unsigned)t_below(c, 14);

	if (k == 12) {
		t_note(c, "every call with a NULL rope");
		EXPECT(c, rope_write(NULL, buf, 1) == -EINVAL, "rope_write");
		EXPECT(c, rope_writev(NULL, iov, 1) == -EINVAL, "rope_writev");
		EXPECT(c, rope_append(NULL, buf, 1) == -EINVAL, "rope_append");
		EXPECT(c, rope_append_ref(NULL, buf, 1, NULL, NULL) == -EINVAL,
		       "rope_append_ref");
		EXPECT(c, rope_truncate(NULL, 0) == -EINVAL, "rope_truncate");
		EXPECT(c, rope_read(NULL, buf, 1) == -EINVAL, "rope_read");
		EXPECT(c, rope_readline(NULL, buf, 1) == -EINVAL,
		       "rope_readline");
		EXPECT(c, rope_pread(NULL, buf, 1, 0) == -EINVAL, "rope_pread");
		EXPECT(c, rope_seek(NULL, 0, SEEK_SET) == -EINVAL, "rope_seek");
		EXPECT(c, rope_tell(NULL) == -EINVAL, "rope_tell");
		EXPECT(c, rope_close(NULL) == -EINVAL, "rope_close");
		EXPECT(c, rope_closed(NULL), "rope_closed");
		EXPECT(c, rope_size(NULL) == 0, "rope_size");
		EXPECT(c, rope_getvalue(NULL, &b) == -EINVAL, "rope_getvalue");
		EXPECT(c, rope_snapshot(NULL, &s) == -EINVAL, "rope_snapshot");
		EXPECT(c, rope_getbuffer(NULL, NULL, 0) == -EINVAL,
		       "rope_getbuffer");
		EXPECT(c, rope_releasebuffer(NULL) == -EINVAL,
		       "rope_releasebuffer");
		EXPECT(c, rope_get_info(NULL, &info, sizeof(info)) == -EINVAL,
		       "rope_get_info");
		EXPECT(c, rope_snap_iov(NULL, 0, 1, NULL, 0) == -EINVAL,
		       "rope_snap_iov");
		EXPECT(c, rope_snap_size(NULL) == 0, "rope_snap_size");
		EXPECT(c, rope_bytes_size(NULL) == 0, "rope_bytes_size");
		rope_free(NULL);
		rope_bytes_unref(NULL);
		rope_snap_unref(NULL);
		return true;
	}
	if (k == 13) {
		t_note(c, "constructors with bad arguments");
		got = rope_new_from(&nr, NULL, len);
		EXPECT(c, got == -EINVAL && nr == (struct rope *)&sentinel,
		       "rope_new_from(&out, NULL, %zu) returned %" PRId64, len,
		       got);
		got = rope_new_from(NULL, buf, 3);
		EXPECT(c, got == -EINVAL, "rope_new_from(NULL, ...) returned %" PRId64,
		       got);
		got = rope_new_from_bytes(&nr, NULL);
		EXPECT(c, got == -EINVAL,
		       "rope_new_from_bytes(&out, NULL) returned %" PRId64, got);
		got = rope_bytes_new(&b, NULL, len);
		EXPECT(c, got == -EINVAL,
		       "rope_bytes_new(&out, NULL, %zu) returned %" PRId64, len,
		       got);
		got = rope_bytes_new(NULL, buf, 3);
		EXPECT(c, got == -EINVAL,
		       "rope_bytes_new(NULL, ...) returned %" PRId64, got);
		got = rope_bytes_new(&b, buf, 3);
		EXPECT(c, got == 0, "rope_bytes_new() returned %" PRId64, got);
		if (got == 0) {
			got = rope_new_from_bytes(NULL, b);
			EXPECT(c, got == -EINVAL,
			       "rope_new_from_bytes(NULL, b) returned %" PRId64,
			       got);
			rope_bytes_unref(b);
		}
		return true;
	}

	/* The header does not order -EINVAL against -EBADF and -EBUSY, so
	 * bad arguments are tried on an open, unexported rope. */
	if (m->closed || m->exports)
		return false;
	switch (k) {
	case 0:
		t_note(c, "write(NULL, %zu) at pos %" PRIu64 " of size %zu",
		       len, m->pos, m->size);
		got = rope_write(r, NULL, len);
		break;
	case 1:
		t_note(c, "append(NULL, %zu) at size %zu", len, m->size);
		got = rope_append(r, NULL, len);
		break;
	case 2:
		t_note(c, "writev(iov, -1)");
		got = rope_writev(r, iov, -1);
		break;
	case 3:
		/* All or nothing: the valid first buffer is not written. */
		t_note(c, "writev([{buf, 3}, {NULL, 5}], 2)");
		got = rope_writev(r, iov, 2);
		break;
	case 4:
		t_note(c, "writev(%d iovecs)", IOV_MAX + 1);
		many[0].iov_base = buf;
		many[0].iov_len = 1;
		got = rope_writev(r, many, IOV_MAX + 1);
		break;
	case 5:
		t_note(c, "append_ref(NULL, %zu, release)", len);
		e = t_ext_new(c, 0);
		e->addr = NULL;
		e->len = len;
		got = rope_append_ref(r, NULL, len, t_release_ext, e);
		EXPECT(c, e->releases == 0, "released after a failed call");
		/* Even if the rope took it, there are no bytes to check. */
		t_ext_refused(e);
		break;
	case 6:
		t_note(c, "read(NULL, %zu) at pos %" PRIu64 " of size %zu", len,
		       m->pos, m->size);
		got = rope_read(r, NULL, len);
		break;
	case 7:
		t_note(c, "readline(NULL, %zu) at pos %" PRIu64 " of size %zu",
		       len, m->pos, m->size);
		got = rope_readline(r, NULL, len);
		break;
	case 8:
		t_note(c, "pread(NULL, %zu, 0) size %zu", len, m->size);
		got = rope_pread(r, NULL, len, 0);
		break;
	case 9:
		t_note(c, "getbuffer(iov, -1)");
		got = rope_getbuffer(r, iov, -1);
		break;
	case 10:
		t_note(c, "getvalue(r, NULL)");
		got = rope_getvalue(r, NULL);
		break;
	default:
		t_note(c, "snapshot(r, NULL)");
		got = rope_snapshot(r, NULL);
		break;
	}
	EXPECT(c, got == -EINVAL, "returned %" PRId64 ", expected -EINVAL", got);
	return true;
}

bool
op_info(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_info info;
	int got;

	t_note(c, "get_info()");
	got = rope_get_info(c->r, &info, sizeof(info));
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got == 0 && !c->failed) {
		EXPECT(c, info.size == m->size, "info.size %zu, size %zu",
		       info.size, m->size);
		EXPECT(c, info.segments <= m->size &&
			  (info.segments == 0) == (m->size == 0),
		       "%zu segments for %zu bytes", info.segments, m->size);
	}
	got = rope_get_info(c->r, NULL, sizeof(info));
	EXPECT(c, got == -EINVAL, "get_info(r, NULL) returned %d", got);
	return true;
}

/* getvalue(), checked against the model and the cache. */
static struct rope_bytes *
take_value(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_bytes *b = NULL, *b2 = NULL;
	const uint8_t *d;
	int got;

	t_note(c, "getvalue() of size %zu%s", m->size,
	       m->exports ? " while exported" : "");
	got = rope_getvalue(c->r, &b);
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got < 0 || c->failed)
		return NULL;
	d = rope_bytes_data(b);
	EXPECT(c, rope_bytes_size(b) == m->size && d,
	       "the value has %zu bytes at %p, expected %zu", rope_bytes_size(b),
	       (const void *)d, m->size);
	if (!c->failed && m->size && memcmp(d, m->buf, m->size))
		MISMATCH(c, "value == contents",
			 "byte %zu of the value differs",
			 t_first_diff(d, m->buf, m->size));
	if (m->exports) {
		/* Exported bytes can still change: each call copies anew. */
		c->cached_ok = false;
		if (m->size && t_chance(c, 30) && !c->failed) {
			got = rope_getvalue(c->r, &b2);
			EXPECT(c, got == 0 && b2 != b,
			       "a second getvalue() while exported returned %d, %s",
			       got, b2 == b ? "the same value" : "a new value");
			if (got == 0)
				rope_bytes_unref(b2);
		}
		return b;
	}
	if (c->cached_ok && c->cached_gen == m->gen)
		EXPECT(c, b == c->cached,
		       "getvalue() with no change since the last one returned a new value");
	c->cached = b;
	c->cached_gen = m->gen;
	c->cached_ok = true;
	return b;
}

bool
op_getvalue(struct ctx *c)
{
	struct rope_bytes *b = take_value(c);

	if (!b || c->failed)
		return true;
	if (t_chance(c, 60))
		t_hold_value(c, b, c->m.buf, c->m.size);
	else
		rope_bytes_unref(b);
	return true;
}

/*
 * The block holding the whole stream, handed out: it holds exactly the
 * contents. Refused (-EAGAIN) whenever the stream is not one block of the
 * allocator's that only the rope holds, which the model does not track;
 * the comparison after the step checks that a refusal changed nothing.
 */
static void
t_seal(struct ctx *c, bool shared)
{
	const struct model *m = &c->m;
	const uint8_t *p;
	void *h = NULL, *again = NULL;
	size_t len = 0, len2 = 0;
	int got;

	t_note(c, "seal_value() of size %zu", m->size);
	got = rope_seal_value(c->r, &h, &len);
	if (m->closed || m->exports) {
		EXPECT(c, got == (m->closed ? -EBADF : -EBUSY), "returned %d",
		       got);
		return;
	}
	if (shared)
		EXPECT(c, got == -EAGAIN, "returned %d with the block shared",
		       got);
	EXPECT(c, got == 0 || got == -EAGAIN, "returned %d", got);
	if (got < 0 || c->failed)
		return;
	c->seals++;
	p = t_model_block_bytes(h);
	EXPECT(c, len == m->size && len > 0, "sealed %zu bytes of %zu", len,
	       m->size);
	if (!c->failed && memcmp(p, m->buf, len))
		MISMATCH(c, "block == contents", "byte %zu of the block differs",
			 t_first_diff(p, m->buf, len));
	/* The rope's cached value went with the block's old place. */
	c->cached_ok = false;
	/* Sealed, it stays sealed: a second call hands out the same. */
	got = rope_seal_value(c->r, &again, &len2);
	EXPECT(c, got == 0 && again == h && len2 == len,
	       "sealing again returned %d, %s block", got,
	       again == h ? "the same" : "another");
	/* Held past the seal, as a binding's string object would be. */
	if (!c->failed)
		t_model_hold_seal(c, h, len);
}

bool
op_seal(struct ctx *c)
{
	/* Held values and snapshots share the block, which refuses: let go
	 * of them now and then, so that some seals succeed. */
	if (t_chance(c, 50)) {
		t_note(c, "drop every value and snapshot");
		while (c->nvals && !c->failed)
			t_drop_value_at(c, c->nvals - 1);
		while (c->nsnaps && !c->failed)
			t_drop_snap_at(c, c->nsnaps - 1);
	}
	t_seal(c, false);
	return true;
}

/*
 * What a binding does between two getvalue()s: empty the stream, append
 * for a while, seal. The stream starts over empty, takes the allocator
 * again (a rope rebuilt from a value had none), and grows one block by
 * appends alone; values and snapshots taken in the stretch are let go
 * before the seal, those held from before it stay held across it (they
 * share the old blocks, not the new one). Sometimes one more value or
 * snapshot is taken just before the seal, which must then refuse. Random
 * steps rarely leave one private block; this way most seals succeed, and
 * the blocks they hand out were grown, and moved, by many resizes.
 */
bool
op_seal_run(struct ctx *c)
{
	size_t vals = c->nvals, snaps = c->nsnaps, len;
	unsigned n = (unsigned)t_range(c, 2, 10);
	struct rope_snap *sn = NULL;
	struct rope_bytes *b;
	uint8_t *buf;
	int64_t want, got;

	if (c->m.closed || c->m.exports)
		return false;
	t_truncate_to(c, 0);
	t_model_seam(c);
	for (unsigned i = 0; i < n && !c->failed; i++) {
		/* Small appends, and now and then a big one. */
		len = t_chance(c, 10) ? t_pick_len(c) : t_range(c, 1, 600);
		buf = t_gen_data(c, len);
		t_note(c, "append(buf, %zu) of size %zu", len, c->m.size);
		want = t_model_write(c, buf, len, true);
		got = rope_append(c->r, buf, len);
		EXPECT(c, got == want,
		       "returned %" PRId64 ", expected %" PRId64, got, want);
		if (c->failed || !t_chance(c, 15))
			continue;
		/* Held while the stretch goes on when there is room, so that
		 * the next append finds the block shared. */
		if (t_chance(c, 50)) {
			b = take_value(c);
			if (b && c->nvals < MAX_VALUES)
				t_hold_value(c, b, c->m.buf, c->m.size);
			else if (b)
				rope_bytes_unref(b);
		} else {
			t_note(c, "snapshot() of size %zu", c->m.size);
			EXPECT(c, rope_snapshot(c->r, &sn) == 0,
			       "snapshot() failed");
			if (!c->failed && c->nsnaps < MAX_SNAPS)
				t_hold_snap(c, sn, c->m.buf, c->m.size);
			else if (!c->failed)
				rope_snap_unref(sn);
		}
	}
	/* Let go of what the stretch took (the newest values and
	 * snapshots); those from before stay held. */
	while (c->nvals > vals && !c->failed)
		t_drop_value_at(c, c->nvals - 1);
	while (c->nsnaps > snaps && !c->failed)
		t_drop_snap_at(c, c->nsnaps - 1);
	/* Now and then one more reference to the stream, held across the
	 * seal, which must refuse: the block is not the rope's alone (or a
	 * flattened value replaced it). */
	if (!c->failed && c->m.size && t_chance(c, 20)) {
		if (t_chance(c, 50)) {
			b = take_value(c);
			if (b)
				t_hold_value(c, b, c->m.buf, c->m.size);
		} else {
			t_note(c, "snapshot() of size %zu", c->m.size);
			EXPECT(c, rope_snapshot(c->r, &sn) == 0,
			       "snapshot() failed");
			if (!c->failed)
				t_hold_snap(c, sn, c->m.buf, c->m.size);
		}
		if (!c->failed)
			t_seal(c, true);
		return true;
	}
	t_seal(c, false);
	return true;
}

bool
op_drop_value(struct ctx *c)
{
	if (!c->nvals)
		return false;
	t_note(c, "drop a value");
	t_drop_value_at(c, t_below(c, c->nvals));
	return true;
}

bool
op_bytes_new(struct ctx *c)
{
	size_t len = t_pick_len(c);
	uint8_t *data = t_gen_data(c, len);
	struct rope_bytes *b = NULL;
	int got;

	t_note(c, "bytes_new(buf, %zu)", len);
	got = rope_bytes_new(&b, data, len);
	EXPECT(c, got == 0, "returned %d", got);
	if (got == 0 && !c->failed)
		t_hold_value(c, b, data, len);
	if (!c->failed)
		t_check_value(c, &c->vals[c->nvals - 1]);
	return true;
}

bool
op_snapshot(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope_snap *s = NULL;
	struct held_snap *h;
	int got;

	t_note(c, "snapshot() of size %zu%s", m->size,
	       m->exports ? " while exported" : "");
	got = rope_snapshot(c->r, &s);
	EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %d", got);
	if (got < 0 || c->failed)
		return true;
	t_hold_snap(c, s, m->buf, m->size);
	h = &c->snaps[c->nsnaps - 1];
	t_check_snap(c, h, true);
	if (t_chance(c, 30) && !c->failed)
		t_drop_snap_at(c, c->nsnaps - 1);
	return true;
}

bool
op_drop_snap(struct ctx *c)
{
	if (!c->nsnaps)
		return false;
	t_note(c, "drop a snapshot");
	t_drop_snap_at(c, t_below(c, c->nsnaps));
	return true;
}

bool
op_check_snap(struct ctx *c)
{
	if (!c->nsnaps)
		return false;
	t_note(c, "snap_iov() of a random range");
	t_check_snap(c, &c->snaps[t_below(c, c->nsnaps)], false);
	return true;
}

/*
 * A zero gap around or above 1 MiB, the size of the library's real zero
 * block, often left as the end of the stream or as all of it: reading,
 * flattening, snapshotting and exporting such a run must still give zeros.
 */
bool
op_gap(struct ctx *c)
{
	struct model *m = &c->m;
	uint64_t gap = t_range(c, (1u << 20) - 16, 5u << 19);
	size_t len = t_range(c, 1, 16);
	uint8_t *buf = t_gen_data(c, len);
	int64_t want, got;

	if (t_chance(c, 50))
		t_truncate_to(c, 0);
	t_seek_to(c, m->size + gap);
	t_note(c, "write(buf, %zu) at pos %" PRIu64 " of size %zu", len, m->pos,
	       m->size);
	want = t_model_write(c, buf, len, false);
	got = rope_write(c->r, buf, len);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	/* Cut into the gap, so the stream ends in zeros. */
	if (got > 0 && t_chance(c, 50))
		t_truncate_to(c,
			      (int64_t)(m->size - t_range(c, len, len + 64)));
	if (!(c->flags & F_VALUES) || c->failed)
		return true;
	/* Held for long, values this large would make every step slow, so
	 * only some are kept. */
	if (t_chance(c, 50)) {
		struct rope_bytes *b = take_value(c);

		if (b && !c->failed && t_chance(c, 10))
			t_hold_value(c, b, m->buf, m->size);
		else
			rope_bytes_unref(b);
	}
	if (t_chance(c, 50) && !c->failed) {
		struct rope_snap *s = NULL;

		t_note(c, "snapshot() of size %zu", m->size);
		got = rope_snapshot(c->r, &s);
		EXPECT(c, got == (m->closed ? -EBADF : 0), "returned %" PRId64,
		       got);
		if (got == 0 && !c->failed) {
			t_hold_snap(c, s, m->buf, m->size);
			t_check_snap(c, &c->snaps[c->nsnaps - 1], true);
			if (t_chance(c, 90))
				t_drop_snap_at(c, c->nsnaps - 1);
		}
	}
	return true;
}

bool
op_getbuffer(struct ctx *c)
{
	struct model *m = &c->m;
	struct iovec small[1], *iov;
	int count, got, extra;

	t_note(c, "getbuffer(NULL, 0) of size %zu", m->size);
	count = rope_getbuffer(c->r, NULL, (int)t_below(c, 4));
	if (m->closed) {
		EXPECT(c, count == -EBADF, "returned %d, expected -EBADF", count);
		got = rope_getbuffer(c->r, small, 1);
		EXPECT(c, got == -EBADF, "an export returned %d, expected -EBADF",
		       got);
		return true;
	}
	EXPECT(c, count >= 0 && (m->size ? count >= 1 : count == 0),
	       "counts %d iovecs for %zu bytes", count, m->size);
	if (c->failed || c->nexps == MAX_EXPORTS)
		return true;

	iov = t_xmalloc(((size_t)count + 3) * sizeof(*iov));
	if (count > 0 && t_chance(c, 20)) {
		t_note(c, "getbuffer(iov, %d)", count - 1);
		got = rope_getbuffer(c->r, count > 1 ? iov : small, count - 1);
		EXPECT(c, got == -ENOBUFS, "returned %d, expected -ENOBUFS", got);
	}
	if (t_chance(c, 10)) {
		t_note(c, "getbuffer(iov, -1)");
		got = rope_getbuffer(c->r, iov, -1);
		EXPECT(c, got == -EINVAL, "returned %d, expected -EINVAL", got);
	}
	if (c->failed) {
		free(iov);
		return true;
	}
	extra = (int)t_below(c, 3);
	memset(iov, 0xee, ((size_t)count + 3) * sizeof(*iov));
	t_note(c, "getbuffer(iov, %d)", count + extra);
	got = rope_getbuffer(c->r, iov, count + extra);
	EXPECT(c, got >= 0 && got <= count,
	       "returned %d, the count was %d", got, count);
	if (got < 0) {
		free(iov);
		return true;
	}
	m->exports++;
	m->gen++;
	c->cached_ok = false;
	c->exps[c->nexps].iov = iov;
	c->exps[c->nexps].n = got;
	c->nexps++;
	t_check_export(c, &c->exps[c->nexps - 1]);
	return true;
}

/* Write through an export: the contents change, nothing held does. */
bool
op_export_write(struct ctx *c)
{
	struct model *m = &c->m;
	const struct held_export *e;
	size_t off, len, skip, done = 0;
	uint8_t *data;

	if (!c->nexps || !m->size)
		return false;
	e = &c->exps[t_below(c, c->nexps)];
	off = t_below(c, m->size);
	/* MIN() evaluates its arguments twice: pick the length first. */
	len = MAX(t_pick_len(c), (size_t)1);
	len = MIN(len, m->size - off);
	data = t_gen_data(c, len);
	t_note(c, "write %zu bytes through an export at offset %zu of %zu", len,
	       off, m->size);
	skip = off;
	for (int i = 0; i < e->n && done < len; i++) {
		size_t n = e->iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = MIN(n - skip, len - done);
		memcpy((uint8_t *)e->iov[i].iov_base + skip, data + done, n);
		done += n;
		skip = 0;
	}
	EXPECT(c, done == len, "the export's iovecs held only %zu of %zu bytes",
	       done, len);
	memcpy(m->buf + off, data, len);
	m->gen++;
	t_check_held(c);
	return true;
}

bool
op_releasebuffer(struct ctx *c)
{
	struct model *m = &c->m;
	int want, got;

	if (!c->nexps && !t_chance(c, 10))
		return false;
	t_note(c, "releasebuffer() with %u exports", m->exports);
	want = m->exports ? 0 : -EINVAL;
	got = rope_releasebuffer(c->r);
	EXPECT(c, got == want, "returned %d, expected %d", got, want);
	if (got == 0 && want == 0) {
		m->exports--;
		free(c->exps[--c->nexps].iov);
	}
	return true;
}

bool
op_close(struct ctx *c)
{
	int64_t want;
	int got;

	t_note(c, "close() with %u exports%s", c->m.exports,
	       c->m.closed ? ", closed" : "");
	want = t_model_close(c);
	got = rope_close(c->r);
	EXPECT(c, got == want, "returned %d, expected %" PRId64, got, want);
	EXPECT(c, rope_closed(c->r) == c->m.closed, "rope_closed() is %d",
	       rope_closed(c->r));
	if (c->m.closed && !c->failed) {
		got = rope_close(c->r);
		EXPECT(c, got == 0, "closing again returned %d", got);
		c->cached_ok = false;
		/* Closing frees the contents, never what was taken from it. */
		t_check_held(c);
	}
	return true;
}

/* End every export, as the caller must before rope_free(). */
static void
release_all(struct ctx *c)
{
	while (c->nexps) {
		int got;

		t_note(c, "releasebuffer()");
		got = rope_releasebuffer(c->r);
		EXPECT(c, got == 0, "returned %d", got);
		c->m.exports--;
		free(c->exps[--c->nexps].iov);
	}
}

bool
t_op_reopen(struct ctx *c)
{
	struct model *m = &c->m;
	struct rope_bytes *src = NULL, *b;
	const void *src_data = NULL;
	uint8_t *data;
	size_t len;
	int got = 0;
	unsigned k = (unsigned)t_below(c, 4);

	release_all(c);
	t_note(c, "free() of a%s rope of size %zu", m->closed ? " closed" : "n open",
	       m->size);
	rope_free(c->r);
	c->r = NULL;
	/* Values and snapshots outlive the rope. */
	t_check_held(c);
	if (c->failed)
		return true;

	if (k == 2 && !c->nvals)
		k = 3;
	switch (k) {
	case 0:
		t_note(c, "new()");
		c->r = rope_new();
		EXPECT(c, c->r != NULL, "rope_new() failed");
		t_model_reset(c, NULL, 0);
		t_model_seam(c);
		break;
	case 1:
		len = t_pick_len(c);
		data = t_gen_data(c, len);
		t_note(c, "new_from(buf, %zu)", len);
		got = rope_new_from(&c->r, len || t_chance(c, 50) ? data : NULL,
				    len);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		t_model_reset(c, data, len);
		break;
	case 2:
		/* Share a held value, which must not change when the new
		 * rope is written. */
		src = c->vals[t_below(c, c->nvals)].b;
		len = rope_bytes_size(src);
		src_data = rope_bytes_data(src);
		t_note(c, "new_from_bytes(held value of %zu bytes)", len);
		got = rope_new_from_bytes(&c->r, src);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		t_model_reset(c, src_data, len);
		break;
	default:
		/* The caller may drop its reference at once. */
		len = t_pick_len(c);
		data = t_gen_data(c, len);
		t_note(c, "new_from_bytes(bytes_new(buf, %zu)), then unref",
		       len);
		got = rope_bytes_new(&src, data, len);
		EXPECT(c, got == 0, "rope_bytes_new() returned %d", got);
		if (got < 0)
			return true;
		src_data = rope_bytes_data(src);
		got = rope_new_from_bytes(&c->r, src);
		EXPECT(c, got == 0 && c->r, "returned %d", got);
		rope_bytes_unref(src);
		t_model_reset(c, data, len);
		break;
	}
	c->cached_ok = false;
	if (c->failed || !src_data || !m->size || !t_chance(c, 50))
		return true;
	/* A rope made from a value holds it in one segment: getvalue()
	 * gives the same bytes back without copying them. */
	b = take_value(c);
	if (!b || c->failed)
		return true;
	EXPECT(c, rope_bytes_data(b) == src_data,
	       "getvalue() of a rope made from a value copied it");
	if (t_chance(c, 50))
		t_hold_value(c, b, m->buf, m->size);
	else
		rope_bytes_unref(b);
	return true;
}

#define SWAP(a, b)                                                      \
	do {                                                            \
		__typeof__(a) t_ = (a);                                 \
		(a) = (b);                                              \
		(b) = t_;                                               \
	} while (0)

/* Make the twin the rope that operations act on, and the other way round. */
void
t_swap_twin(struct ctx *c)
{
	struct stream *t = &c->twin;
	struct held_export exps[MAX_EXPORTS];

	SWAP(c->r, t->r);
	SWAP(c->m, t->m);
	SWAP(c->cached, t->cached);
	SWAP(c->cached_gen, t->cached_gen);
	SWAP(c->cached_ok, t->cached_ok);
	SWAP(c->nexps, t->nexps);
	memcpy(exps, c->exps, sizeof(exps));
	memcpy(c->exps, t->exps, sizeof(exps));
	memcpy(t->exps, exps, sizeof(exps));
}

/* The twin must not have changed, whatever was done to the other rope. */
void
t_check_twin(struct ctx *c)
{
	c->where = "the twin";
	t_swap_twin(c);
	t_check_state(c);
	for (size_t i = 0; i < c->nexps && !c->failed; i++)
		t_check_export(c, &c->exps[i]);
	t_swap_twin(c);
	c->where = NULL;
}

static void
twin_free(struct ctx *c)
{
	if (!c->have_twin)
		return;
	t_swap_twin(c);
	release_all(c);
	t_note(c, "free() the twin");
	rope_free(c->r);
	c->r = NULL;
	free(c->m.buf);
	memset(&c->m, 0, sizeof(c->m));
	t_swap_twin(c);
	c->have_twin = false;
}

/* Replace the twin with a rope made from the active one's contents: most
 * often from its value, so the two share chunks. */
bool
op_fork(struct ctx *c)
{
	struct rope *nr = NULL;
	struct rope_bytes *b;
	int got;

	if (c->m.closed)
		return false;
	twin_free(c);
	if (c->failed)
		return true;
	if (t_chance(c, 20)) {
		t_note(c, "twin = new_from(buf, %zu)", c->m.size);
		got = rope_new_from(&nr, c->m.buf, c->m.size);
	} else {
		b = take_value(c);
		if (!b || c->failed)
			return true;
		t_note(c, "twin = new_from_bytes(that value)");
		got = rope_new_from_bytes(&nr, b);
		if (t_chance(c, 50))
			t_hold_value(c, b, c->m.buf, c->m.size);
		else
			rope_bytes_unref(b);
	}
	EXPECT(c, got == 0 && nr, "returned %d", got);
	if (got < 0 || !nr)
		return true;
	/* The twin slot is empty now: fill it from the active model. */
	t_swap_twin(c);
	c->r = nr;
	t_model_reset(c, c->twin.m.buf, c->twin.m.size);
	c->cached_ok = false;
	t_swap_twin(c);
	c->have_twin = true;
	return true;
}

bool
op_swap(struct ctx *c)
{
	if (!c->have_twin)
		return false;
	t_note(c, "swap to the other rope");
	t_swap_twin(c);
	return true;
}
