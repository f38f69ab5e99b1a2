/* SPDX-License-Identifier: MIT */
/*
 * getvalue() and getbuffer(): the two calls where a rope of chunks must
 * become one contiguous run of memory for Python.
 *
 * getvalue() must return a real bytes object. A stream's tail chunks are
 * blocks laid out as bytes objects (blocks.c) that grow in place, so a
 * stream written by appends is one block: rope_seal_value() shrinks it to
 * the size and hands it out, and it becomes the bytes object returned, with
 * no copy, as CPython's io.BytesIO returns its buffer.
 *
 * Any other stream (made of several chunks: an adopted object and appends,
 * an overwrite while a value was held, a drained front) costs one copy,
 * straight from the chunks into the new object (rope_pread); the stream
 * then adopts that object as its only chunk, so the contents are held
 * once, not twice, and an unchanged stream returns the same object again.
 */

#include "module.h"

#include <errno.h>
#include <stdio.h>

void
rio_value_forget(struct rio *self)
{
	PyObject *v = self->value;

	self->value = NULL;
	if (self->value_owned)
		Py_XDECREF(v);
	self->value_owned = 0;
}

/* Cache @v as the current contents; @owned: the cache holds a reference. */
void
rio_value_set(struct rio *self, PyObject *v, int owned)
{
	rio_value_forget(self);
	self->value = owned ? Py_NewRef(v) : v;
	self->value_owned = owned;
	self->value_gen = self->gen;
}

/*
 * Make @value the rope's contents: a new rope that adopts it, at the same
 * position. The old rope's chunks go back unless something else shares
 * them. Best effort: on failure the old rope stays, which is only memory.
 */
static int
rebase(struct rio *self, PyObject *value)
{
	struct rope *r = rio_rope_new();

	if (!r)
		return -1;
	if (rio_adopt(r, value) < 0 ||
	    rope_seek(r, self->pos, SEEK_SET) < 0) {
		rope_free(r);
		return -1;
	}
	rope_free(self->rope);
	self->rope = r;
	self->pos_moved = 0;
	self->win_len = 0;
	return 0;
}

/*
 * getvalue() of a stream without a rope: its block, shrunk to the size,
 * becomes the bytes object, with no copy, as CPython's buffer does; the
 * cache then holds its one reference, and a write once the caller dropped
 * it takes it back (rio_flat_writable() in blocks.c). Under 2 bytes: a copy,
 * as in CPython (1 byte is the interpreter's cached object).
 */
static PyObject *
flat_value(struct rio *self)
{
	void *b = self->blk;
	PyObject *v;

	/* While exported the bytes can still change through the view: a
	 * copy each time, as CPython does. */
	if (!b || self->blk_size < 2 || self->exports > 0)
		return PyBytes_FromStringAndSize(b ? RIO_BLOCK_DATA(b) : NULL,
						 b ? self->blk_size : 0);
	if (self->blk_cap != self->blk_size) {
		b = rio_block_resize(b, (size_t)self->blk_size);
		if (b) {
			self->blk = b;
			self->blk_cap = self->blk_size;
		}
	}
	v = rio_block_bytes(self->blk, (size_t)self->blk_size);
	self->blk = NULL;
	self->blk_size = self->blk_cap = 0;
	rio_value_forget(self);
	self->value = v;
	self->value_owned = 1;
	self->value_gen = self->gen;
	self->win_len = 0;
	return Py_NewRef(v);
}

PyObject *
rio_getvalue(struct rio *self, PyObject *unused)
{
	PyObject *v;
	size_t size;
	ssize_t got;
	void *block;

	if (rio_check_open(self) < 0)
		return NULL;
	if (self->value && self->value_gen == self->gen && self->exports == 0)
		return Py_NewRef(self->value);
	if (!self->rope)
		return flat_value(self);
	/* One block holding it all: that block is the value. A short
	 * stream is copied, as CPython does below 2 bytes. */
	if (self->exports == 0 && rope_size(self->rope) > 1 &&
	    rope_seal_value(self->rope, &block, &size) == 0) {
		/* Shrinking it may have moved it. */
		self->win_len = 0;
		v = rio_block_bytes(block, size);
		rio_value_set(self, v, 0);
		return Py_NewRef(v);
	}
	size = rope_size(self->rope);
	if (size > PY_SSIZE_T_MAX)
		return PyErr_NoMemory();
	v = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
	if (!v)
		return NULL;
	got = rope_pread(self->rope, PyBytes_AS_STRING(v), size, 0);
	if (got < 0) {
		Py_DECREF(v);
		return rio_raise((int)got);
	}
	/* While exported the bytes can still change through the view: a
	 * fresh copy each time, as CPython does. */
	if (self->exports > 0)
		return v;
	rio_value_set(self, v, size < 2 || rebase(self, v) < 0);
	return v;
}

/* ---------------------------------------------------------------------- */
/* getbuffer(): a memoryview over a small exporter object                 */
/* ---------------------------------------------------------------------- */

struct rio_buffer {
	PyObject_HEAD
	struct rio *source;
};

PyObject *
rio_getbuffer(struct rio *self, PyObject *unused)
{
	struct rio_buffer *buf;
	PyObject *view;

	if (rio_check_open(self) < 0)
		return NULL;
	buf = PyObject_GC_New(struct rio_buffer, &rio_buffer_type);
	if (!buf)
		return NULL;
	buf->source = (struct rio *)Py_NewRef(self);
	PyObject_GC_Track(buf);
	view = PyMemoryView_FromObject((PyObject *)buf);
	Py_DECREF(buf);
	return view;
}

/*
 * One export: the contents joined into one chunk (rope_pullup copies only
 * when they span several), then rope_getbuffer(), which unshares a chunk
 * that values, snapshots or an adopted object share, as CPython unshares
 * its buffer. The export blocks every change until it is released.
 */
static int
buffer_get(struct rio_buffer *obj, Py_buffer *view, int flags)
{
	struct rio *b = obj->source;
	static char empty[1];
	struct iovec iov = { empty, 0 };
	size_t size;
	const void *p;
	int n;

	if (rio_check_open(b) < 0)
		return -1;
	if (!b->rope) {
		/* No rope: the stream's own block, as CPython's buffer. */
		char *d;
		Py_ssize_t len;

		if (rio_flat_export(b, &d, &len) < 0)
			return -1;
		(void)PyBuffer_FillInfo(view, (PyObject *)obj, d ? d : empty,
					len, 0, flags);
		b->exports++;
		rio_changed(b);
		return 0;
	}
	if (!rio_rope(b))
		return -1;
	size = rope_size(b->rope);
	if (size > 0) {
		n = rope_pullup(b->rope, 0, size, &p);
		if (n < 0) {
			rio_raise(n);
			return -1;
		}
	}
	n = rope_getbuffer(b->rope, &iov, 1);
	if (n < 0) {
		if (n == -ENOBUFS)
			PyErr_SetString(PyExc_SystemError,
					"the contents are not contiguous");
		else
			rio_raise(n);
		return -1;
	}
	if (n == 0) {
		iov.iov_base = empty;
		iov.iov_len = 0;
	}
	(void)PyBuffer_FillInfo(view, (PyObject *)obj, iov.iov_base,
				(Py_ssize_t)iov.iov_len, 0, flags);
	b->exports++;
	/* Writes through the view change the contents; the pullup and the
	 * unsharing may have moved them. */
	rio_changed(b);
	return 0;
}

static void
buffer_release(struct rio_buffer *obj, Py_buffer *view)
{
	struct rio *b = obj->source;

	if (b->rope)
		rope_releasebuffer(b->rope);
	b->exports--;
	rio_changed(b);
}

static int
buffer_traverse(struct rio_buffer *self, visitproc visit, void *arg)
{
	Py_VISIT(self->source);
	return 0;
}

static void
buffer_dealloc(struct rio_buffer *self)
{
	PyObject_GC_UnTrack(self);
	Py_CLEAR(self->source);
	PyObject_GC_Del(self);
}

static PyBufferProcs buffer_procs = {
	(getbufferproc)buffer_get,
	(releasebufferproc)buffer_release,
};

PyTypeObject rio_buffer_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ropeio._Buffer",
	.tp_basicsize = sizeof(struct rio_buffer),
	.tp_dealloc = (destructor)buffer_dealloc,
	.tp_as_buffer = &buffer_procs,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_traverse = (traverseproc)buffer_traverse,
};
