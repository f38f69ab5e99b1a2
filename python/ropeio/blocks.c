/* SPDX-License-Identifier: MIT */
/*
 * The streams' memory: a rope allocator (struct rope_allocator) whose
 * blocks are laid out as bytes objects, so that getvalue() of a stream
 * held in one block returns that block as its bytes object, with no copy.
 * This is CPython's own trick: io.BytesIO's buffer is a bytes object grown
 * by realloc and shrunk to the exact size by getvalue().
 *
 * A block is PyObject_Malloc() memory with room for a bytes object's
 * header before the stream's bytes and for the terminating NUL after them.
 * While the rope grows it, it is not an object yet (its type field is
 * NULL): PyObject_Realloc() keeps the bytes on failure, where
 * _PyBytes_Resize() would free them, and a failed write must leave the
 * stream as it was. rio_block_bytes() makes it a bytes object once the
 * rope has sealed it; from then on the rope's chunk holds one reference,
 * dropped in give().
 *
 * A stream without a rope keeps its bytes in such a block of its own
 * (struct rio's blk), grown and written in place as CPython's buffer is:
 * the rio_flat_*() calls below. A rope adopts it later, as it is
 * (rope_adopt_block()).
 */

#include "module.h"

#include <stddef.h>
#include <string.h>

/* Where a bytes object's bytes start: after its header and hash. */
#define HDR offsetof(PyBytesObject, ob_sval)

_Static_assert(offsetof(PyBytesObject, ob_sval) ==
	       sizeof(PyVarObject) + sizeof(Py_hash_t),
	       "a bytes object is its header, its hash, then its bytes");

/* take() and resize() run inside a write or a getvalue(), and the module
 * makes every such call with the GIL held (it releases the GIL only to
 * send or write a snapshot, which allocates no block): no GIL to take, a
 * cost a tiny stream would pay on each of its first writes. */
static void *
block_take(void *ctx, size_t cap, void **handle)
{
	PyObject *o;

	if (cap > (size_t)PY_SSIZE_T_MAX - HDR - 1)
		return NULL;
	o = PyObject_Malloc(HDR + cap + 1);
	if (!o)
		return NULL;
	o->ob_type = NULL;  /* not an object yet */
	*handle = o;
	return (char *)o + HDR;
}

static void *
block_resize(void *ctx, void *handle, size_t used, size_t cap,
	     void **new_handle)
{
	PyObject *o;

	if (cap > (size_t)PY_SSIZE_T_MAX - HDR - 1)
		return NULL;
	o = PyObject_Realloc(handle, HDR + cap + 1);
	if (!o)
		return NULL;
	*new_handle = o;
	return (char *)o + HDR;
}

/*
 * The rope lets go of a block, on whatever thread drops the last
 * reference to it (a snapshot released in a worker, a stream freed with
 * the GIL released): take the GIL first. At interpreter exit the block is
 * left alone, as adopted objects are: the GIL may be gone for good.
 */
static void
give_now(PyObject *o)
{
	if (o->ob_type)
		Py_DECREF(o);
	else
		PyObject_Free(o);
}

static void
block_give(void *ctx, void *handle)
{
	PyObject *o = handle;
	PyGILState_STATE st;

	if (rio_finalizing())
		return;
	/* Mostly on the thread that holds it already: no GIL to take. */
	if (PyGILState_Check()) {
		give_now(o);
		return;
	}
	st = PyGILState_Ensure();
	give_now(o);
	PyGILState_Release(st);
}

static const struct rope_allocator blocks = {
	.ctx = NULL,
	.take = block_take,
	.resize = block_resize,
	.give = block_give,
};

struct rope *
rio_rope_new(void)
{
	struct rope *r = rope_new();

	/* An empty, open rope always accepts an allocator. */
	if (r)
		(void)rope_set_allocator(r, &blocks);
	return r;
}

/*
 * The bytes object of a block rope_seal_value() handed out, holding its
 * first @len bytes: made in place the first time (the rope's chunk then
 * owns its one reference), the same object after that. A block taken back
 * by rope_unseal_value() (its object referenced by the rope alone) stays
 * that object while the rope writes and resizes it: sealed again, its
 * size, hash and terminator are set anew. Borrowed.
 */
PyObject *
rio_block_bytes(void *handle, size_t len)
{
	PyObject *o = handle;

	if (o->ob_type)
		Py_SET_SIZE(o, (Py_ssize_t)len);
	else
		(void)PyObject_InitVar((PyVarObject *)o, &PyBytes_Type,
				       (Py_ssize_t)len);
	/* The hash, not computed yet: -1, every byte set. */
	memset((char *)o + sizeof(PyVarObject), 0xff, sizeof(Py_hash_t));
	((char *)o)[HDR + len] = '\0';
	return o;
}

/*
 * A block of @cap bytes for a stream that has no rope yet (bytesio.c keeps
 * a small stream in one, as CPython keeps its buffer): @blk grown or
 * shrunk, or a new block when @blk is NULL. The same layout as the rope's
 * blocks, so that a rope can adopt it later (rope_adopt_block()) and
 * rio_block_bytes() can make it the value. NULL when memory is refused;
 * @blk is then unchanged.
 */
void *
rio_block_resize(void *blk, size_t cap)
{
	PyObject *o;

	if (cap > (size_t)PY_SSIZE_T_MAX - HDR - 1)
		return NULL;
	if (blk)
		return PyObject_Realloc(blk, HDR + cap + 1);
	o = PyObject_Malloc(HDR + cap + 1);
	if (o)
		o->ob_type = NULL;  /* not an object yet */
	return o;
}

/* Let go of a block no rope holds: a bytes object taken back (its one
 * reference), or raw memory. */
void
rio_block_free(void *blk)
{
	if (blk)
		give_now(blk);
}

/* ---------------------------------------------------------------------- */
/* A stream without a rope: one block of its own                          */
/* ---------------------------------------------------------------------- */

/*
 * Whether the stream can be written without a rope: it has none, and its
 * contents are nothing, its block, or a value nothing else references
 * (then taken back as the block, as CPython writes into its buffer once
 * the refcount says it is no longer shared: no copy either way).
 */
int
rio_flat_writable(struct rio *self)
{
	PyObject *v = self->value;

	if (self->rope)
		return 0;
	if (!v)
		return 1;
	if (Py_REFCNT(v) != 1)
		return 0;
	/* The cache's one reference becomes the block's. */
	self->value = NULL;
	self->value_owned = 0;
	self->blk = v;
	self->blk_size = self->blk_cap = PyBytes_GET_SIZE(v);
	self->win_len = 0;
	return 1;
}

/* Room for @need bytes, grown as CPython's resize_buffer() grows. */
static int
flat_reserve(struct rio *self, Py_ssize_t need)
{
	Py_ssize_t cap = need;
	void *b;

	if (self->blk && need <= self->blk_cap)
		return 0;
	if (self->blk && need <= self->blk_cap + (self->blk_cap >> 3))
		cap = need + (need >> 3) + (need < 9 ? 3 : 6);
	b = rio_block_resize(self->blk, (size_t)cap);
	if (!b) {
		PyErr_NoMemory();
		return -1;
	}
	self->blk = b;
	self->blk_cap = cap;
	return 0;
}

/* write() without a rope: a gap becomes zeros, as in CPython. */
Py_ssize_t
rio_flat_write(struct rio *self, const void *buf, Py_ssize_t len)
{
	Py_ssize_t end;
	char *d;

	if (self->pos > PY_SSIZE_T_MAX - len) {
		PyErr_SetString(PyExc_OverflowError,
				"new buffer size too large");
		return -1;
	}
	end = self->pos + len;
	if (flat_reserve(self, end) < 0)
		return -1;
	d = RIO_BLOCK_DATA(self->blk);
	if (self->pos > self->blk_size)
		memset(d + self->blk_size, 0,
		       (size_t)(self->pos - self->blk_size));
	memcpy(d + self->pos, buf, (size_t)len);
	if (end > self->blk_size)
		self->blk_size = end;
	self->pos = end;
	self->pos_moved = 0;
	rio_changed(self);
	return len;
}

/*
 * Make the first @keep bytes of a stream without a rope its own block: a
 * value nothing else references is taken back, one still referenced is
 * copied as far as it is kept, as CPython unshares its buffer.
 */
static int
flat_unshare(struct rio *self, Py_ssize_t keep)
{
	PyObject *v = self->value;
	void *b;

	if (rio_flat_writable(self))
		return 0;
	b = rio_block_resize(NULL, (size_t)keep);
	if (!b) {
		PyErr_NoMemory();
		return -1;
	}
	memcpy(RIO_BLOCK_DATA(b), PyBytes_AS_STRING(v), (size_t)keep);
	rio_value_forget(self);
	self->blk = b;
	self->blk_size = self->blk_cap = keep;
	rio_changed(self);
	return 0;
}

/*
 * getbuffer() without a rope: the view is the block itself, which no
 * write, truncate or close can move while it is exported. The contents'
 * address is @*p (NULL when empty).
 */
int
rio_flat_export(struct rio *self, char **p, Py_ssize_t *len)
{
	if (self->value &&
	    flat_unshare(self, PyBytes_GET_SIZE(self->value)) < 0)
		return -1;
	*p = self->blk ? RIO_BLOCK_DATA(self->blk) : NULL;
	*len = self->blk ? self->blk_size : 0;
	return 0;
}

/*
 * truncate() without a rope. A value still referenced elsewhere is
 * copied as far as it is kept, so the bytes cut go with it.
 */
int
rio_flat_truncate(struct rio *self, Py_ssize_t size)
{
	void *b;

	if (self->value) {
		if (flat_unshare(self, size) < 0)
			return -1;
	}
	if (size < self->blk_cap / 2) {
		/* Most of the room goes back, as in CPython. */
		b = rio_block_resize(self->blk, (size_t)size);
		if (b) {
			self->blk = b;
			self->blk_cap = size;
		}
	}
	self->blk_size = size;
	rio_changed(self);
	return 0;
}
