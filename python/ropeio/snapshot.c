/* SPDX-License-Identifier: MIT */
/*
 * ropeio.Snapshot: an immutable list of chunk references taken from a
 * stream, iterated as one read-only memoryview per chunk, and written to
 * sockets and files without copying, with the GIL released.
 */

#include "module.h"

#include <errno.h>
#include <stdint.h>

struct rio_snap {
	PyObject_HEAD
	struct rope_snap *snap;	/* NULL once released */
};

struct rio_snapiter {
	PyObject_HEAD
	struct rio_snap *owner;
	size_t off;
};

/*
 * The exporter behind one chunk's memoryview. It holds its own reference
 * to the library's snapshot, not to the Python object, so the view stays
 * valid after Snapshot.release().
 */
struct rio_view {
	PyObject_HEAD
	struct rope_snap *snap;
	void *base;
	size_t len;
};

static int
snap_check(struct rio_snap *self)
{
	if (self->snap)
		return 0;
	PyErr_SetString(PyExc_ValueError, "operation on a released snapshot");
	return -1;
}

/*
 * Write [off, end) of @s to @fd with the GIL released, and drop the
 * caller's reference to @s there too, so that freeing its chunks (and
 * releasing adopted objects, which takes the GIL back) happens off the GIL.
 */
static PyObject *
write_snap(struct rope_snap *s, size_t off, int fd)
{
	ssize_t n = 0;

	Py_BEGIN_ALLOW_THREADS
	if (off < rope_snap_size(s))
		n = rope_snap_write_fd(s, off, SIZE_MAX, fd);
	rope_snap_unref(s);
	Py_END_ALLOW_THREADS
	if (n < 0)
		return rio_raise_io((int)n);
	return PyLong_FromSsize_t(n);
}

PyObject *
rio_send(struct rio *self, PyObject *arg)
{
	struct rope_snap *s;
	int fd = rio_fd_of(arg), ret;
	struct rope *r;

	if (fd < 0 || rio_check_open(self) < 0 || !(r = rio_rope(self)))
		return NULL;
	ret = rope_snapshot(r, &s);
	if (ret < 0)
		return rio_raise(ret);
	return write_snap(s, 0, fd);
}

const struct rope_snap *
rio_snap_of(PyObject *obj)
{
	struct rio_snap *s = (struct rio_snap *)obj;

	if (!PyObject_TypeCheck(obj, &rio_snap_type)) {
		PyErr_Format(PyExc_TypeError, "expected a ropeio.Snapshot, "
			     "not %.100s", Py_TYPE(obj)->tp_name);
		return NULL;
	}
	if (!s->snap) {
		PyErr_SetString(PyExc_ValueError,
				"operation on a released snapshot");
		return NULL;
	}
	return s->snap;
}

PyObject *
rio_snapshot(struct rio *self, PyObject *unused)
{
	struct rio_snap *obj;
	struct rope *r;
	int ret;

	if (rio_check_open(self) < 0 || !(r = rio_rope(self)))
		return NULL;
	obj = PyObject_New(struct rio_snap, &rio_snap_type);
	if (!obj)
		return NULL;
	ret = rope_snapshot(r, &obj->snap);
	if (ret < 0) {
		obj->snap = NULL;
		Py_DECREF(obj);
		return rio_raise(ret);
	}
	return (PyObject *)obj;
}

static PyObject *
snap_send(struct rio_snap *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t off = 0;
	int fd;

	if (nargs < 1 || nargs > 2) {
		PyErr_Format(PyExc_TypeError,
			     "send expected 1 or 2 arguments, got %zd", nargs);
		return NULL;
	}
	fd = rio_fd_of(args[0]);
	if (fd < 0)
		return NULL;
	if (nargs > 1) {
		off = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
		if (off == -1 && PyErr_Occurred())
			return NULL;
		if (off < 0) {
			PyErr_SetString(PyExc_ValueError, "negative offset");
			return NULL;
		}
	}
	if (snap_check(self) < 0)
		return NULL;
	/* A reference of its own: another thread may release() the object
	 * while this one writes without the GIL. */
	return write_snap(rope_snap_ref(self->snap), (size_t)off, fd);
}

/* Drop the chunks now, with the GIL released. */
static PyObject *
snap_release(struct rio_snap *self, PyObject *unused)
{
	struct rope_snap *s = self->snap;

	self->snap = NULL;
	Py_BEGIN_ALLOW_THREADS
	rope_snap_unref(s);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static PyObject *
snap_bytes(struct rio_snap *self, PyObject *unused)
{
	struct iovec iov[64];
	size_t off = 0, size;
	PyObject *b;
	char *p;
	int n;

	if (snap_check(self) < 0)
		return NULL;
	size = rope_snap_size(self->snap);
	b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
	if (!b)
		return NULL;
	p = PyBytes_AS_STRING(b);
	while (off < size) {
		n = rope_snap_iov(self->snap, off, SIZE_MAX, iov, 64);
		if (n <= 0) {
			Py_DECREF(b);
			return rio_raise(n < 0 ? n : -EINVAL);
		}
		for (int i = 0; i < n; i++) {
			memcpy(p + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
	}
	return b;
}

static Py_ssize_t
snap_len(struct rio_snap *self)
{
	if (snap_check(self) < 0)
		return -1;
	return (Py_ssize_t)rope_snap_size(self->snap);
}

static PyObject *
snap_iter(struct rio_snap *self)
{
	struct rio_snapiter *it;

	if (snap_check(self) < 0)
		return NULL;
	it = PyObject_New(struct rio_snapiter, &rio_snapiter_type);
	if (!it)
		return NULL;
	it->owner = (struct rio_snap *)Py_NewRef(self);
	it->off = 0;
	return (PyObject *)it;
}

static PyObject *
snap_enter(struct rio_snap *self, PyObject *unused)
{
	return Py_NewRef(self);
}

static PyObject *
snap_exit(struct rio_snap *self, PyObject *args)
{
	return snap_release(self, NULL);
}

static void
snap_dealloc(struct rio_snap *self)
{
	rope_snap_unref(self->snap);
	PyObject_Free(self);
}

/* ---------------------------------------------------------------------- */
/* Iteration: one read-only memoryview per chunk                          */
/* ---------------------------------------------------------------------- */

static PyObject *
snapiter_next(struct rio_snapiter *it)
{
	struct rio_snap *owner = it->owner;
	struct iovec iov;
	struct rio_view *v;
	PyObject *view;
	int n;

	if (snap_check(owner) < 0)
		return NULL;
	if (it->off >= rope_snap_size(owner->snap))
		return NULL;
	n = rope_snap_iov(owner->snap, it->off, SIZE_MAX, &iov, 1);
	if (n < 0)
		return rio_raise(n);
	if (n == 0 || iov.iov_len == 0)
		return NULL;
	v = PyObject_New(struct rio_view, &rio_view_type);
	if (!v)
		return NULL;
	v->snap = rope_snap_ref(owner->snap);
	v->base = iov.iov_base;
	v->len = iov.iov_len;
	view = PyMemoryView_FromObject((PyObject *)v);
	Py_DECREF(v);
	if (view)
		it->off += iov.iov_len;
	return view;
}

static void
snapiter_dealloc(struct rio_snapiter *it)
{
	Py_XDECREF(it->owner);
	PyObject_Free(it);
}

static int
view_get(struct rio_view *v, Py_buffer *view, int flags)
{
	return PyBuffer_FillInfo(view, (PyObject *)v, v->base,
				 (Py_ssize_t)v->len, 1, flags);
}

static void
view_dealloc(struct rio_view *v)
{
	rope_snap_unref(v->snap);
	PyObject_Free(v);
}

static PyBufferProcs view_procs = { (getbufferproc)view_get, NULL };

static PyMethodDef snap_methods[] = {
	{"send", (PyCFunction)(void (*)(void))snap_send, METH_FASTCALL,
	 "send($self, sock, offset=0, /)\n--\n\n"
	 "Write the bytes from offset to a socket, a file descriptor or an\n"
	 "object with fileno(), without copying, with the GIL released.\n"
	 "Return the bytes written; to continue after a short write on a\n"
	 "non-blocking socket, call again with offset advanced by it."},
	{"write_to", (PyCFunction)(void (*)(void))snap_send, METH_FASTCALL,
	 "write_to($self, fd, offset=0, /)\n--\n\n"
	 "The same as send(), named for files."},
	{"release", (PyCFunction)snap_release, METH_NOARGS,
	 "release($self, /)\n--\n\n"
	 "Drop the snapshot's chunks now (views taken from it keep them)."},
	{"__bytes__", (PyCFunction)snap_bytes, METH_NOARGS,
	 "__bytes__($self, /)\n--\n\nA copy of the bytes, as bytes."},
	{"__enter__", (PyCFunction)snap_enter, METH_NOARGS,
	 "__enter__($self, /)\n--\n\nReturn self."},
	{"__exit__", (PyCFunction)snap_exit, METH_VARARGS,
	 "__exit__($self, *args, /)\n--\n\nrelease()."},
	{NULL, NULL, 0, NULL}
};

static PySequenceMethods snap_seq = { .sq_length = (lenfunc)snap_len };

PyTypeObject rio_snap_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ropeio.Snapshot",
	.tp_basicsize = sizeof(struct rio_snap),
	.tp_dealloc = (destructor)snap_dealloc,
	.tp_as_sequence = &snap_seq,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "An immutable view of a stream's contents at one instant,\n"
		  "made by BytesIO.snapshot(). len() is its size; iterating\n"
		  "yields one read-only memoryview per chunk, valid as long\n"
		  "as the view lives (it keeps the chunk).",
	.tp_iter = (getiterfunc)snap_iter,
	.tp_methods = snap_methods,
};

PyTypeObject rio_snapiter_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ropeio._SnapshotIterator",
	.tp_basicsize = sizeof(struct rio_snapiter),
	.tp_dealloc = (destructor)snapiter_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)snapiter_next,
};

PyTypeObject rio_view_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ropeio._Chunk",
	.tp_basicsize = sizeof(struct rio_view),
	.tp_dealloc = (destructor)view_dealloc,
	.tp_as_buffer = &view_procs,
	.tp_flags = Py_TPFLAGS_DEFAULT,
};
