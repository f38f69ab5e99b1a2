/* SPDX-License-Identifier: MIT */
/*
 * Chunks: refcounted blocks of bytes. Owned chunks keep header and bytes in
 * one allocation; external chunks wrap the caller's memory and call its
 * release function; the zero chunk is static and immortal.
 */
#include <stdalign.h>

#include "rope-priv.h"

/*
 * The zero block lives in .bss, so it costs no memory until read, and then
 * only the kernel's shared zero page. It is never written: exports copy zero
 * segments into private chunks before handing out writable iovecs.
 */
static uint8_t zero_block[ROPE_ZERO_LEN];

struct rope_chunk rope__zero_chunk = {
	.refs = 1,
	.kind = ROPE_CHUNK_ZERO,
	.cap = ROPE_ZERO_LEN,
	.data = zero_block,
};

#define OWNED_HDR ROPE_CHUNK_HDR

/* A chunk of whole pages: the header apart, then the pages; all or
 * nothing. */
static struct rope_chunk *
chunk_new_pages(size_t cap)
{
	size_t len = rope__page_round(cap);
	struct rope_chunk *c;

	/* Up to the cache's largest class, a power of two the cache can
	 * keep: pages never touched cost nothing, fresh ones 15 to 36 us. */
	if (len && len <= ROPE_CHUNK_MAX)
		len = (size_t)1 << (64 - __builtin_clzll(len - 1));

	if (!len)
		return NULL;
	c = rope__alloc(sizeof(*c));
	if (!c)
		return NULL;
	c->data = rope__pages_mem(len);
	if (!c->data) {
		rope__free(c, sizeof(*c));
		return NULL;
	}
	atomic_init(&c->refs, 1);
	c->kind = ROPE_CHUNK_OWNED;
	c->pages = true;
	c->seam = false;
	c->flat_id = 0;
	c->cap = len;
	return c;
}

struct rope_chunk *
rope__chunk_new(size_t cap)
{
	struct rope_chunk *c;

	if (cap >= ROPE_PAGE_MIN)
		return chunk_new_pages(cap);
	c = rope__chunk_mem(OWNED_HDR + cap);
	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	c->kind = ROPE_CHUNK_OWNED;
	c->pages = false;
	c->seam = false;
	c->flat_id = 0;
	c->cap = cap;
	c->data = (uint8_t *)c + OWNED_HDR;
	return c;
}

struct rope_chunk *
rope__chunk_new_external(const void *data, size_t len, rope_release_fn release,
			 void *arg)
{
	struct rope_chunk_external *e;

	e = rope__alloc(sizeof(*e));
	if (!e)
		return NULL;
	atomic_init(&e->base.refs, 1);
	e->base.kind = ROPE_CHUNK_EXTERNAL;
	e->base.pages = false;
	e->base.seam = false;
	e->base.flat_id = 0;
	e->base.cap = len;
	e->base.data = (uint8_t *)data;
	e->release = release;
	e->arg = arg;
	return &e->base;
}

void
rope__chunk_ref(struct rope_chunk *c)
{
	if (c->kind == ROPE_CHUNK_ZERO)
		return;
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void
chunk_destroy(struct rope_chunk *c)
{
	struct rope_chunk_external *e;

	if (c->seam) {
		struct rope_chunk_seam *s = (struct rope_chunk_seam *)c;

		s->give(s->ctx, s->handle);
		rope__free(s, sizeof(*s));
		return;
	}
	if (c->kind == ROPE_CHUNK_OWNED && c->pages) {
		if (c->cap)  /* 0: its pages moved (remap.c) */
			rope__pages_mem_free(c->data, c->cap);
		rope__free(c, sizeof(*c));
		return;
	}
	if (c->kind == ROPE_CHUNK_OWNED) {
		rope__chunk_mem_free(c, OWNED_HDR + c->cap);
		return;
	}
	e = (struct rope_chunk_external *)c;
	if (e->release)
		e->release(c->data, c->cap, e->arg);
	rope__free(e, sizeof(*e));
}

void
rope__chunk_unref(struct rope_chunk *c)
{
	if (c->kind == ROPE_CHUNK_ZERO)
		return;
	/*
	 * A count of one means we hold the only reference, and nobody else
	 * can take one without holding a reference already, so the atomic
	 * read-modify-write can be skipped (folly and absl do the same).
	 */
	if (atomic_load_explicit(&c->refs, memory_order_acquire) == 1 ||
	    atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		chunk_destroy(c);
}

size_t
rope__chunk_footprint(const struct rope_chunk *c)
{
	if (c->seam)
		return sizeof(struct rope_chunk_seam) + c->cap;
	return c->pages ? sizeof(*c) + c->cap : OWNED_HDR + c->cap;
}
