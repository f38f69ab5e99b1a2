/* SPDX-License-Identifier: MIT */
/*
 * The operations of the differential harness that reach past the flat
 * stream (model.h): descriptors under faults, allocation failures,
 * cursors, delimiters, and offsets far beyond what a flat model can hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "model.h"

#define PIPE_BYTES 65536

bool
op_readline_delim(struct ctx *c)
{
	static const char *const delims[] = { "\na", "\r\n", "\n", "a",
					      "\n\n\n" };
	const char *delim = delims[t_below(c, ARRAY_SIZE(delims))];
	size_t dlen = strlen(delim);
	size_t len = t_pick_read_len(c, c->m.pos);
	uint8_t *buf = t_out_buf(c, len);
	uint64_t at;
	int64_t want, got;

	t_note(c, "readline_delim(buf, %zu, \"%s\") at pos %" PRIu64
	       " of size %zu", len, delim[0] == '\n' ? "\\n..." : delim,
	       c->m.pos, c->m.size);
	want = t_model_readline_delim(&c->m, buf, len, delim, dlen, &at);
	got = rope_readline_delim(c->r, buf, len, delim, dlen);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (!c->failed && got > 0 && memcmp(buf, c->m.buf + at, (size_t)got))
		MISMATCH(c, "bytes read == model",
			 "byte %zu of the line differs",
			 t_first_diff(buf, c->m.buf + at, (size_t)got));
	if (!c->failed)
		t_check_canary(c, buf, len, got);
	return true;
}

/* A cursor's integers against the model's bytes at a random offset. */
bool
op_cursor(struct ctx *c)
{
	const struct model *m = &c->m;
	size_t off = (size_t)t_below(c, m->size + 1), at = 0;
	struct rope_cursor cur;
	uint8_t b[12] = { 0 };
	uint32_t v32;
	uint64_t v64, w = 0;
	int got;

	t_note(c, "cursor at %zu of size %zu: u32be, u64le", off, m->size);
	got = rope_cursor_init(&cur, c->r, (int64_t)off);
	if (m->closed) {
		EXPECT(c, got == -EBADF, "returned %d on a closed rope", got);
		return true;
	}
	EXPECT(c, got == 0, "rope_cursor_init() returned %d", got);
	if (c->failed)
		return true;
	memcpy(b, m->buf + off, MIN(sizeof(b), m->size - off));
	got = rope_cursor_u32be(&cur, &v32);
	EXPECT(c, got == (off + 4 <= m->size ? 0 : -ENODATA),
	       "u32be returned %d", got);
	if (!got && !c->failed) {
		EXPECT(c, v32 == ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
				  (uint32_t)b[2] << 8 | b[3]),
		       "u32be read %#" PRIx32, v32);
		off += 4;
		at = 4;
	}
	got = rope_cursor_u64le(&cur, &v64);
	EXPECT(c, got == (off + 8 <= m->size ? 0 : -ENODATA),
	       "u64le returned %d", got);
	if (!got && !c->failed) {
		for (int i = 7; i >= 0; i--)
			w = w << 8 | b[at + (size_t)i];
		EXPECT(c, v64 == w, "u64le read %#" PRIx64 ", expected %#" PRIx64,
		       v64, w);
	}
	return true;
}

/* The error every mutation gets before anything else. */
static int
mutate_err(const struct model *m)
{
	return m->closed ? -EBADF : m->exports ? -EBUSY : 0;
}

/* Empty the pipe into @b (at most @cap bytes); returns how many. */
static size_t
pipe_empty(struct ctx *c, uint8_t *b, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(c->pipe[0], b + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

/*
 * Flush the front into the pipe (at most its 64 KiB) under a fault the
 * draw picks: none, a short write continued into EAGAIN, EINTR twice, or
 * EIO. What went through must be the front, and it leaves the stream.
 */
bool
op_write_fd(struct ctx *c)
{
	struct model *m = &c->m;
	size_t max = t_chance(c, 20) ? m->size : t_pick_len(c);
	size_t k = (size_t)t_below(c, 5000);
	unsigned fault = (unsigned)t_below(c, 4);
	const struct t_sys_rule rules[][2] = {
		{ { T_SYS_WRITEV, .count = 1, .keep = k },
		  { T_SYS_WRITEV, .skip = 1, .count = T_FAULT_ALWAYS,
		    .err = EAGAIN } },
		{ { T_SYS_WRITEV, .count = 2, .err = EINTR } },
		{ { T_SYS_WRITEV, .count = T_FAULT_ALWAYS, .err = EIO } },
	};
	size_t total;
	uint8_t *b;
	int64_t want = mutate_err(m), got;
	bool file_range = false;

	max %= PIPE_BYTES;
	total = m->closed ? 0 : MIN(max, m->size);
	for (size_t i = 0; !m->closed && i < c->r->nseg; i++) {
		int fd;
		int64_t off;

		file_range |= rope__chunk_file(c->r->segs[i].chunk, &fd, &off);
	}
	t_note(c, "write_fd(pipe, %zu) of size %zu, fault %u (keep %zu)", max,
	       m->size, fault, k);
	if (fault)
		t_sys_faults(rules[fault - 1], fault == 1 ? 2 : 1);
	errno = ERANGE;
	got = rope_write_fd(c->r, c->pipe[1], max);
	EXPECT(c, errno == ERANGE, "errno changed to %d", errno);
	t_sys_faults_off();
	if (!want) {
		/* A short write continued into EAGAIN gives its progress;
		 * a write of nothing ends the call with 0. */
		if (fault == 1 && k < total)
			want = (int64_t)k;
		else if (fault == 3 && total)
			want = -EIO;
		else
			want = (int64_t)total;
	}
	if (file_range && fault != 3 && got > 0 && got < want) {
		/* A file range goes out by its own call (sendfile(2)): a
		 * write may end where one begins (then the cut's EAGAIN),
		 * and spliced pages fill a pipe's slots sooner than copied
		 * bytes. What went must still be the front. */
		want = got;
	}
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	b = t_out_buf(c, PIPE_BYTES);
	EXPECT(c, pipe_empty(c, b, PIPE_BYTES) == (size_t)MAX(got, 0),
	       "the pipe does not hold what the call reported");
	if (got > 0 && !c->failed) {
		if (memcmp(b, m->buf, (size_t)got))
			MISMATCH(c, "bytes written == front",
				 "byte %zu of what went through differs",
				 t_first_diff(b, m->buf, (size_t)got));
		t_model_drain(c, (size_t)got);
	}
	return true;
}

/*
 * Fill the pipe, then append what rope_read_fd() takes under a fault: a
 * short read, EINTR, EIO (the last two are returned). What was not taken
 * stays in the pipe, in order.
 */
bool
op_read_fd(struct ctx *c)
{
	struct model *m = &c->m;
	size_t n = t_pick_len(c) % 60000, max = t_pick_len(c);
	size_t k = (size_t)t_range(c, 1, 5000);
	unsigned fault = (unsigned)t_below(c, 4);
	const struct t_sys_rule rules[] = {
		{ T_SYS_READV, .count = 1, .keep = k },
		{ T_SYS_READV, .count = 1, .err = EINTR },
		{ T_SYS_READV, .count = 1, .err = EIO },
	};
	uint8_t *d, *rest;
	int64_t want = mutate_err(m), got;
	size_t taken;

	d = t_xdup(t_gen_data(c, n), n);
	t_note(c, "read_fd(pipe of %zu, %zu) of size %zu, fault %u (keep %zu)",
	       n, max, m->size, fault, k);
	if (write(c->pipe[1], d, n) != (ssize_t)n) {
		MISMATCH(c, "pipe filled", "test bug: the pipe took less");
		free(d);
		return true;
	}
	if (fault)
		t_sys_faults(&rules[fault - 1], 1);
	errno = ERANGE;
	got = rope_read_fd(c->r, c->pipe[0], max);
	EXPECT(c, errno == ERANGE, "errno changed to %d", errno);
	t_sys_faults_off();
	if (!want) {
		size_t lim = MIN(max, n);

		if (!max)
			want = 0;
		else if (fault == 2 || fault == 3)
			want = fault == 2 ? -EINTR : -EIO;
		else if (!n)
			want = -EAGAIN;  /* an empty non-blocking pipe */
		else
			want = (int64_t)(fault == 1 ? MIN(lim, k) : lim);
	}
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	taken = got > 0 ? (size_t)got : 0;
	if (taken && !c->failed)
		t_model_write(c, d, taken, true);
	rest = t_out_buf(c, PIPE_BYTES);
	EXPECT(c, pipe_empty(c, rest, PIPE_BYTES) == n - MIN(taken, n),
	       "the pipe lost or gained bytes");
	if (!c->failed && taken <= n && memcmp(rest, d + taken, n - taken))
		MISMATCH(c, "pipe rest == input", "the pipe's rest differs");
	free(d);
	return true;
}

/* A far offset: near INT64_MAX, a power of two up to 2^62, or a gap of
 * up to a terabyte past @size. */
static int64_t
far_offset(struct ctx *c, uint64_t size)
{
	switch (t_below(c, 3)) {
	case 0:
		return INT64_MAX - (int64_t)t_below(c, 300);
	case 1:
		return (int64_t)((UINT64_C(1) << t_range(c, 32, 62)) +
				 t_below(c, 1000));
	default:
		if (size > (UINT64_C(1) << 62))
			return INT64_MAX - (int64_t)t_below(c, 300);
		return (int64_t)(size + t_range(c, 1u << 20, UINT64_C(1) << 40));
	}
}

/* Compare the side rope's [from, from + n) with zeros up to @at, then
 * @d (@dn bytes), then nothing. */
static void
far_compare(struct ctx *c, struct rope *fr, uint64_t from, size_t n,
	    uint64_t at, const uint8_t *d, size_t dn)
{
	uint8_t got[96], want[96];
	size_t k = 0;
	ssize_t r;

	n = MIN(n, sizeof(got));
	for (uint64_t p = from; k < n && p < at + dn; p++, k++)
		want[k] = p < at ? 0 : d[p - at];
	r = rope_pread(fr, got, n, (int64_t)from);
	EXPECT(c, r == (ssize_t)k, "pread at %" PRIu64 " returned %zd, expected %zu",
	       from, r, k);
	if (!c->failed && k && memcmp(got, want, k))
		MISMATCH(c, "far bytes == zeros, then data",
			 "byte %zu of %zu from %" PRIu64 " is %#x, expected %#x"
			 " (data at %" PRIu64 ")", t_first_diff(got, want, k), k,
			 from, got[t_first_diff(got, want, k)],
			 want[t_first_diff(got, want, k)], at);
}

/*
 * A side rope far out: made from the stream's value (sharing its chunks)
 * or empty, written at offsets near INT64_MAX or exabytes out, with the
 * zeros between virtual. Reads, finds, drains (adding up past INT64_MAX
 * over the rounds) and truncates there must agree with "the stream, zeros,
 * the data". The stream itself must not change (the step's check).
 */
bool
op_far(struct ctx *c)
{
	const struct model *m = &c->m;
	struct rope *fr = NULL;
	struct rope_bytes *v = NULL;
	unsigned rounds = (unsigned)t_range(c, 1, 3);
	uint64_t size;
	int got;

	if (m->closed || m->exports)
		return false;
	if (t_chance(c, 50) && rope_getvalue(c->r, &v) == 0) {
		t_note(c, "far rope = new_from_bytes(value of %zu)", m->size);
		got = rope_new_from_bytes(&fr, v);
		rope_bytes_unref(v);
	} else {
		t_note(c, "far rope = new()");
		fr = rope_new();
		got = fr ? 0 : -ENOMEM;
	}
	EXPECT(c, got == 0 && fr, "returned %d", got);
	if (c->failed)
		return true;
	size = rope_size(fr);
	for (unsigned i = 0; i < rounds && !c->failed; i++) {
		int64_t at = far_offset(c, size), want, w;
		size_t n = (size_t)t_range(c, 1, 64);
		uint8_t d[64], win[128];
		uint64_t back, from, gap;
		const uint8_t *hit;

		memcpy(d, t_gen_data(c, n), n);
		t_note(c, "seek(%" PRId64 "), write(buf, %zu) of size %" PRIu64,
		       at, n, size);
		if ((uint64_t)at < size)
			break;  /* not past the end: no gap to check */
		EXPECT(c, rope_seek(fr, at, SEEK_SET) == at, "seek failed");
		want = n > (uint64_t)(INT64_MAX - at) ? -EOVERFLOW
						      : (int64_t)n;
		w = rope_write(fr, d, n);
		EXPECT(c, w == want, "returned %" PRId64 ", expected %" PRId64,
		       w, want);
		EXPECT(c, rope__check(fr) == 0, "the far rope's invariants");
		if (w < 0 || c->failed)
			continue;
		/* Zeros run from the old end to @at; compare no further
		 * back than that. */
		back = t_below(c, 33);  /* MIN() evaluates twice */
		back = MIN(back, (uint64_t)at - size);
		gap = (uint64_t)at - size;
		size = (uint64_t)at + n;
		EXPECT(c, rope_size(fr) == size, "size %zu, expected %" PRIu64,
		       rope_size(fr), size);
		/* Just before the data, and the data. */
		far_compare(c, fr, (uint64_t)at - back, back + n + 8,
			    (uint64_t)at, d, n);
		/* The first match of the data from there: exact on the
		 * window, since all before it (down to back) is zeros. */
		from = (uint64_t)at - back;
		memset(win, 0, back);
		memcpy(win + back, d, n);
		hit = memmem(win, back + n, d, n);
		EXPECT(c, rope_find(fr, d, n, (int64_t)from) ==
			  (int64_t)(from + (uint64_t)(hit - win)),
		       "find of the far data");
		/* Drain all but a little: the drains add up over rounds. */
		if (t_chance(c, 70)) {
			uint64_t keep = t_below(c, n + 16);
			int64_t dn;

			/* No further back than the gap: before it lie an
			 * earlier round's bytes, which the check below does
			 * not expect. */
			keep = MIN(keep, MIN(size, gap + n));
			t_note(c, "drain(%" PRIu64 ")", size - keep);
			dn = rope_drain(fr, (size_t)(size - keep));
			EXPECT(c, dn == (int64_t)(size - keep),
			       "drain returned %" PRId64, dn);
			EXPECT(c, rope__check(fr) == 0,
			       "the far rope's invariants after a drain");
			if (c->failed)
				break;
			far_compare(c, fr, 0, (size_t)keep + 4,
				    keep > n ? keep - n : 0,
				    d + (keep > n ? 0 : n - keep),
				    (size_t)MIN(keep, (uint64_t)n));
			size = keep;
		} else {
			uint64_t t = size - t_below(c, MIN(size, 200) + 1);

			t_note(c, "truncate(%" PRIu64 ")", t);
			EXPECT(c, rope_truncate(fr, (int64_t)t) == (int64_t)t,
			       "truncate failed");
			EXPECT(c, rope__check(fr) == 0,
			       "the far rope's invariants after a truncate");
			size = t;
			EXPECT(c, rope_size(fr) == size, "size after truncate");
		}
	}
	rope_free(fr);
	return true;
}

/*
 * A change whose allocation number @nth (0: the first) fails: all or
 * nothing. Either the call needed fewer allocations and succeeds, and the
 * model follows, or it returns -ENOMEM and the rope, its position and the
 * memory ropeio holds are as they were (the step's comparison checks the
 * rest). Random states make the sweep reach what test-oom's fixed states
 * do not: shared chunks, exports released, seam blocks, twins.
 */
bool
op_oom(struct ctx *c)
{
	struct model *m = &c->m;
	unsigned kind = (unsigned)t_below(c, 4);
	long nth = (long)t_below(c, 6);
	size_t len = t_pick_len(c), size = m->size, mem;
	uint64_t pos = m->pos;
	uint8_t *data, *saved;
	struct rope_snap *sn = NULL;
	int64_t want = 0, got;

	if (m->closed || m->exports)
		return false;
	data = t_xdup(t_gen_data(c, len), len);
	saved = t_xdup(m->buf, m->size);
	mem = t_mem_now();
	t_note(c, "allocation %ld fails: %s(buf, %zu) at pos %" PRIu64
	       " of size %zu", nth, kind == 0 ? "write" : kind == 1 ? "append"
	       : kind == 2 ? "writev" : "snapshot", len, pos, size);
	if (kind < 3)
		want = t_model_write(c, data, len, kind == 1);
	rope__alloc_fail_at(nth);
	if (kind == 0) {
		got = rope_write(c->r, data, len);
	} else if (kind == 1) {
		got = rope_append(c->r, data, len);
	} else if (kind == 2) {
		struct iovec iov[2] = { { data, len / 2 },
					{ data + len / 2, len - len / 2 } };

		got = rope_writev(c->r, iov, 2);
	} else {
		got = rope_snapshot(c->r, &sn);
	}
	rope__alloc_fail_at(-1);
	if (got == -ENOMEM) {
		/* Back to the model as it was; the cache may have gone. */
		memcpy(m->buf, saved, size);
		m->size = size;
		m->pos = pos;
		m->gen++;
		c->cached_ok = false;
		EXPECT(c, t_mem_now() == mem,
		       "the failed call left ropeio holding %zd bytes more",
		       (ssize_t)(t_mem_now() - mem));
	} else {
		EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64,
		       got, want);
	}
	rope_snap_unref(sn);
	free(saved);
	free(data);
	return true;
}
