/* SPDX-License-Identifier: MIT */
#ifndef ROPEIO_FUZZ_MODEL_H
#define ROPEIO_FUZZ_MODEL_H

/*
 * The fuzz target's reference: BytesIO's bytes as a sparse stream, so that
 * scripts may seek near INT64_MAX and write there. Real bytes live in runs,
 * sorted and apart; every byte between them (and up to the size) is zero.
 * Each call costs what it touches, never the size of the stream.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rope-priv.h"

struct m_run {
	uint64_t at;
	size_t len;
	uint8_t *d;
};

struct model {
	struct m_run *runs;
	size_t n, cap;
	uint64_t size;
	size_t dense;        /* bytes in runs */
};

void m_init(struct model *m);
void m_exit(struct model *m);
void m_copy(struct model *dst, const struct model *src);

/* Write @n bytes at @p: zero-fill a gap, overwrite, extend. */
void m_put(struct model *m, uint64_t p, const uint8_t *d, size_t n);

/* Cut to @size bytes (never extends). */
void m_truncate(struct model *m, uint64_t size);

/* Drop the first @n (<= size) bytes. */
void m_drain(struct model *m, uint64_t n);

/* Copy out @n bytes from @at (zeros past the size). */
void m_read(const struct model *m, uint64_t at, uint8_t *buf, size_t n);

/* The first match of @nd (@nlen > 0) at or after @from, or -ENOENT. */
int64_t m_find(const struct model *m, const uint8_t *nd, size_t nlen,
	       uint64_t from);

/* True when the segments hold exactly the model's bytes. */
bool m_equals_segs(const struct model *m, const struct rope_seg *segs,
		   size_t nseg, uint64_t base);

#endif
