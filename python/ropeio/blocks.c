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
