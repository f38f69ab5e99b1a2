/* SPDX-License-Identifier: MIT */
/*
 * The sparse model of the fuzz target (model.h). Plain code on purpose:
 * sorted runs, linear scans, a fresh buffer per merge. It is slower than
 * clever code could be, and easy to believe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void *
m_alloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "model: out of memory\n");
		abort();
	}
	return p;
}

void
m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
}

void
m_exit(struct model *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->runs[i].d);
	free(m->runs);
	m_init(m);
}

void
m_copy(struct model *dst, const struct model *src)
{
	*dst = *src;
	dst->cap = src->n;
	dst->runs = m_alloc(src->n * sizeof(*dst->runs));
	for (size_t i = 0; i < src->n; i++) {
		dst->runs[i] = src->runs[i];
		dst->runs[i].d = m_alloc(src->runs[i].len);
		memcpy(dst->runs[i].d, src->runs[i].d, src->runs[i].len);
	}
}

static uint64_t
run_end(const struct m_run *r)
{
	return r->at + r->len;
}

/* Replace runs [i, j) by @nr (j - i may be 0: an insertion at i). */
static void
splice(struct model *m, size_t i, size_t j, const struct m_run *nr)
{
	for (size_t k = i; k < j; k++) {
		m->dense -= m->runs[k].len;
		free(m->runs[k].d);
	}
	if (m->n - (j - i) + 1 > m->cap) {
		m->cap = 2 * m->cap + 4;
		m->runs = realloc(m->runs, m->cap * sizeof(*m->runs));
		if (!m->runs)
			abort();
	}
	memmove(&m->runs[i + 1], &m->runs[j], (m->n - j) * sizeof(*m->runs));
	m->runs[i] = *nr;
	m->n = m->n - (j - i) + 1;
	m->dense += nr->len;
}

void
m_put(struct model *m, uint64_t p, const uint8_t *d, size_t n)
{
	uint64_t lo = p, hi = p + n;
	struct m_run nr;
	size_t i, j;

	if (!n)
		return;
	/* The runs that overlap or touch [p, p + n) merge into one. */
	for (i = 0; i < m->n && run_end(&m->runs[i]) < p; i++)
		;
	for (j = i; j < m->n && m->runs[j].at <= hi; j++) {
		lo = MIN(lo, m->runs[j].at);
		hi = MAX(hi, run_end(&m->runs[j]));
	}
	nr.at = lo;
	nr.len = (size_t)(hi - lo);
	nr.d = m_alloc(nr.len);
	for (size_t k = i; k < j; k++)
		memcpy(nr.d + (m->runs[k].at - lo), m->runs[k].d,
		       m->runs[k].len);
	memcpy(nr.d + (p - lo), d, n);
	splice(m, i, j, &nr);
	m->size = MAX(m->size, p + n);
}

void
m_truncate(struct model *m, uint64_t size)
{
	if (size >= m->size)
		return;
	while (m->n && m->runs[m->n - 1].at >= size) {
		m->n--;
		m->dense -= m->runs[m->n].len;
		free(m->runs[m->n].d);
	}
	if (m->n && run_end(&m->runs[m->n - 1]) > size) {
		struct m_run *r = &m->runs[m->n - 1];

		m->dense -= r->len - (size_t)(size - r->at);
		r->len = (size_t)(size - r->at);
	}
	m->size = size;
}

void
m_drain(struct model *m, uint64_t n)
{
	size_t i = 0, k;

	while (i < m->n && run_end(&m->runs[i]) <= n) {
		m->dense -= m->runs[i].len;
		free(m->runs[i++].d);
	}
	if (i) {
		memmove(m->runs, m->runs + i, (m->n - i) * sizeof(*m->runs));
		m->n -= i;
	}
	if (m->n && m->runs[0].at < n) {
		struct m_run *r = &m->runs[0];
		size_t cut = (size_t)(n - r->at);

		memmove(r->d, r->d + cut, r->len - cut);
		r->len -= cut;
		r->at = n;
		m->dense -= cut;
	}
	for (k = 0; k < m->n; k++)
		m->runs[k].at -= n;
	m->size -= n;
}

void
m_read(const struct model *m, uint64_t at, uint8_t *buf, size_t n)
{
	uint64_t end = at + n;

	memset(buf, 0, n);
	for (size_t i = 0; i < m->n; i++) {
		const struct m_run *r = &m->runs[i];
		uint64_t lo = MAX(at, r->at), hi = MIN(end, run_end(r));

		if (lo < hi)
			memcpy(buf + (lo - at), r->d + (lo - r->at),
			       (size_t)(hi - lo));
	}
}

static bool
zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * A match either overlaps a run, and then lies in the window of the run
 * widened by nlen - 1 on each side, or lies in zeros only: at the start of
 * the first stretch between runs long enough to hold it.
 */
int64_t
m_find(const struct model *m, const uint8_t *nd, size_t nlen, uint64_t from)
{
	uint64_t best = UINT64_MAX, gap = from;
	bool zero_needle = zeros(nd, nlen);

	if (from > m->size || nlen > m->size - from)
		return -ENOENT;
	for (size_t i = 0; i <= m->n; i++) {
		uint64_t next = i < m->n ? m->runs[i].at : m->size;
		uint64_t lo, hi;
		uint8_t *w;
		const uint8_t *p;

		/* Zeros from @gap to the next run. */
		if (zero_needle && next > gap && next - gap >= nlen)
			best = MIN(best, gap);
		if (i == m->n)
			break;
		gap = MAX(gap, run_end(&m->runs[i]));
		lo = m->runs[i].at > nlen - 1 ? m->runs[i].at - (nlen - 1) : 0;
		lo = MAX(lo, from);
		hi = MIN(run_end(&m->runs[i]) + nlen - 1, m->size);
		if (hi <= lo || hi - lo < nlen)
			continue;
		w = m_alloc((size_t)(hi - lo));
		m_read(m, lo, w, (size_t)(hi - lo));
		p = memmem(w, (size_t)(hi - lo), nd, nlen);
		if (p)
			best = MIN(best, lo + (uint64_t)(p - w));
		free(w);
	}
	return best == UINT64_MAX ? -ENOENT : (int64_t)best;
}

bool
m_equals_segs(const struct model *m, const struct rope_seg *segs,
	      size_t nseg, uint64_t base)
{
	uint64_t off = 0;

	for (size_t i = 0; i < nseg; i++) {
		const struct rope_seg *s = &segs[i];
		uint64_t s0 = s->start - base;

		if (s0 != off)
			return false;
		off += s->len;
		if (s->chunk->kind == ROPE_CHUNK_ZERO) {
			/* Virtual zeros: only the runs they cover matter. */
			for (size_t k = 0; k < m->n; k++) {
				const struct m_run *r = &m->runs[k];
				uint64_t lo = MAX(s0, r->at);
				uint64_t hi = MIN(off, run_end(r));

				if (lo < hi && !zeros(r->d + (lo - r->at),
						      (size_t)(hi - lo)))
					return false;
			}
		} else {
			uint8_t *w = m_alloc(s->len);
			bool same;

			m_read(m, s0, w, s->len);
			same = !memcmp(w, s->data, s->len);
			free(w);
			if (!same)
				return false;
		}
	}
	return off == m->size;
}
