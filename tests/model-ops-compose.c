/* SPDX-License-Identifier: MIT */
/*
 * The differential harness's ops for ropes that compose (compose.c,
 * filerange.c): rope_append_snap(), rope_move() both ways, rope_printf(),
 * rope_reserve() with rope_commit() (cancelled now and then), and
 * rope_append_file(). Each is checked against the flat model like every
 * other op; the step loop then checks the invariants (the memory bound
 * among them) and every byte.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

/* A positive result of the model's append means success: 0 for the calls
 * that return 0 on success. */
static int64_t
as_status(int64_t want)
{
	return want > 0 ? 0 : want;
}

bool
op_append_snap(struct ctx *c)
{
	const struct held_snap *h;
	size_t off, len;
	int64_t want;
	int got;

	if (!c->nsnaps)
		return false;
	h = &c->snaps[t_below(c, c->nsnaps)];
	off = (size_t)t_below(c, h->len + 1);
	len = (size_t)t_below(c, h->len - off + 1);
	if (t_chance(c, 5))
		len = h->len - off + 1 + (size_t)t_below(c, 8);  /* too far */
	t_note(c, "append_snap(snap of %zu, %zu, %zu) at size %zu", h->len,
	       off, len, c->m.size);
	if (len > h->len - off)
		want = c->m.closed ? -EBADF : c->m.exports ? -EBUSY : -EINVAL;
	else
		want = as_status(t_model_write(c, h->copy + off, len, true));
	got = rope_append_snap(c->r, h->s, off, len);
	EXPECT(c, got == want, "returned %d, expected %" PRId64, got, want);
	return true;
}

/*
 * A side rope of the @len bytes at @data in a few chunks, its first one cut
 * by a drain (so a move splits chunks at both ends), or NULL. Some pieces
 * are references to t_static_ext, which outlives every rope: their bytes
 * are copied into @data first, so @data says what the side holds.
 */
static struct rope *
side_rope(struct ctx *c, uint8_t *data, size_t len)
{
	struct rope *s = rope_new();
	size_t done = 0, lead = (size_t)t_below(c, 16);

	if (!s)
		return NULL;
	rope_append(s, t_static_ext, lead);
	while (done < len) {
		size_t n = (size_t)t_range(c, 1, 4096);  /* one draw: MIN()
							    evaluates twice */
		n = MIN(n, len - done);

		if (t_chance(c, 30)) {
			size_t at;

			n = MIN(n, sizeof(t_static_ext));
			at = (size_t)t_below(c, sizeof(t_static_ext) - n + 1);
			memcpy(data + done, t_static_ext + at, n);
			rope_append_ref(s, t_static_ext + at, n, NULL, NULL);
		} else {
			rope_append(s, data + done, n);
		}
		done += n;
	}
	rope_drain(s, lead);
	return s;
}

bool
op_move(struct ctx *c)
{
	struct rope *side;
	size_t n = t_pick_len(c), len;
	int64_t want, got;
	uint8_t *data, *moved = NULL;

	if (t_chance(c, 50)) {
		/* Into the rope: its end grows by what the side held. */
		len = t_pick_len(c);
		data = t_gen_data(c, len);
		data = t_xdup(data, len);
		side = side_rope(c, data, len);
		if (!side) {
			free(data);
			return true;
		}
		t_note(c, "move(rope, side of %zu, %zu) at size %zu", len, n,
		       c->m.size);
		want = t_model_write(c, data, MIN(n, len), true);
		got = rope_move(c->r, side, n);
		EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64,
		       got, want);
		if (got >= 0) {
			EXPECT(c, rope_size(side) == len - (size_t)got,
			       "the side keeps %zu bytes, expected %zu",
			       rope_size(side), len - (size_t)got);
			EXPECT(c, rope__check(side) == 0,
			       "the side's invariants do not hold");
		}
		rope_free(side);
		free(data);
		return true;
	}
	/* Out of the rope: its front goes to the side. */
	side = rope_new();
	if (!side)
		return true;
	t_note(c, "move(side, rope, %zu) at size %zu", n, c->m.size);
	if (!c->m.closed && !c->m.exports)
		moved = t_xdup(c->m.buf, MIN(n, c->m.size));
	want = t_model_drain(c, n);
	got = rope_move(side, c->r, n);
	EXPECT(c, got == want, "returned %" PRId64 ", expected %" PRId64, got,
	       want);
	if (got > 0 && moved) {
		uint8_t *back = t_out_buf(c, (size_t)got);

		EXPECT(c, rope_pread(side, back, (size_t)got, 0) == got &&
			  memcmp(back, moved, (size_t)got) == 0,
		       "the side does not hold the %" PRId64 " bytes moved", got);
		EXPECT(c, rope__check(side) == 0,
		       "the side's invariants do not hold");
		/* Writes to the side never reach the rope. */
		rope_seek(side, 0, SEEK_SET);
		rope_write(side, "#", 1);
	}
	rope_free(side);
	free(moved);
	return true;
}

bool
op_printf(struct ctx *c)
{
	int width = (int)t_below(c, t_chance(c, 20) ? 9000 : 80);
	unsigned v = (unsigned)t_below(c, 1000000);
	char *want_text;
	int64_t want;
	ssize_t got;
	int n;

	n = snprintf(NULL, 0, "%0*u|", width, v);
	want_text = t_xmalloc((size_t)n + 1);
	snprintf(want_text, (size_t)n + 1, "%0*u|", width, v);
	t_note(c, "printf(\"%%0*u|\", %d, %u) at size %zu", width, v,
	       c->m.size);
	want = t_model_write(c, want_text, (size_t)n, true);
	got = rope_printf(c->r, "%0*u|", width, v);
	EXPECT(c, got == want, "returned %zd, expected %" PRId64, got, want);
	free(want_text);
	return true;
}

bool
op_reserve(struct ctx *c)
{
	size_t min = t_pick_len(c), total = 0, fill, at = 0, k;
	int cnt = t_chance(c, 50) ? 2 : 1, n;
	struct iovec iov[2];
	uint8_t *data;
	int64_t want;
	ssize_t got;

	t_note(c, "reserve(%zu, %d iovecs) at size %zu", min, cnt, c->m.size);
	n = rope_reserve(c->r, min, iov, cnt);
	if (c->m.closed || c->m.exports) {
		EXPECT(c, n == (c->m.closed ? -EBADF : -EBUSY),
		       "returned %d", n);
		return true;
	}
	EXPECT(c, n >= 1 && n <= cnt, "returned %d", n);
	if (n < 1 || c->failed)
		return true;
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	EXPECT(c, total >= MAX(min, (size_t)1), "reserved %zu of %zu", total,
	       min);
	/* Fill the first bytes of the space, in order, and commit some. */
	fill = MIN(total, (size_t)70000);
	data = t_gen_data(c, fill);
	for (int i = 0; i < n && at < fill; i++) {
		size_t part = MIN(iov[i].iov_len, fill - at);

		memcpy(iov[i].iov_base, data + at, part);
		at += part;
	}
	k = (size_t)t_below(c, fill + 1);
	if (t_chance(c, 10)) {
		/* Anything that changes the end cancels it. */
		t_note(c, "; append(\"Q\"); commit(%zu)", k);
		want = t_model_write(c, "Q", 1, true);
		EXPECT(c, rope_append(c->r, "Q", 1) == want, "append failed");
		got = rope_commit(c->r, k);
		EXPECT(c, got == -ECANCELED, "commit returned %zd", got);
		return true;
	}
	if (t_chance(c, 5)) {
		got = rope_commit(c->r, total + 1);
		EXPECT(c, got == -EINVAL, "commit past the reservation: %zd",
		       got);
	}
	t_note(c, "; commit(%zu)", k);
	want = t_model_write(c, data, k, true);
	got = rope_commit(c->r, k);
	EXPECT(c, got == want, "commit returned %zd, expected %" PRId64, got,
	       want);
	return true;
}

/* One file for every run of the process, holding t_static_ext. */
static int
pattern_file(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = t_tmpfile();
		if (fd >= 0 && write(fd, t_static_ext, sizeof(t_static_ext)) !=
			       (ssize_t)sizeof(t_static_ext)) {
			close(fd);
			fd = -1;
		}
	}
	return fd;
}

bool
op_append_file(struct ctx *c)
{
	int fd = pattern_file();
	size_t off, len;
	int64_t want;
	int got;

	if (fd < 0)
		return false;
	off = (size_t)t_below(c, sizeof(t_static_ext) + 1);
	len = (size_t)t_below(c, sizeof(t_static_ext) - off + 1);
	if (t_chance(c, 5))
		len = sizeof(t_static_ext) - off + 1;  /* past the end */
	t_note(c, "append_file(%zu, %zu) at size %zu", off, len, c->m.size);
	if (len > sizeof(t_static_ext) - off)
		want = c->m.closed ? -EBADF : c->m.exports ? -EBUSY : -EINVAL;
	else
		want = as_status(t_model_write(c, t_static_ext + off, len,
					       true));
	got = rope_append_file(c->r, fd, (int64_t)off, len);
	EXPECT(c, got == want, "returned %d, expected %" PRId64, got, want);
	return true;
}
