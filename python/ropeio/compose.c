/* SPDX-License-Identifier: MIT */
/*
 * Streams that compose: BytesIO.append_snapshot() and BytesIO.move_from(),
 * over rope_append_snap() and rope_move(). Both append at the end without
 * copying and leave the position where it is, as the C calls do.
 */
#include "module.h"

const char rio_append_snapshot_doc[] =
"append_snapshot($self, snapshot, offset=0, size=None, /)\n--\n\n"
"Append bytes [offset, offset + size) of a ropeio.Snapshot (to its end\n"
"when size is None) by reference: no byte is copied, and writes to either\n"
"side never show in the other. The position does not move. Returns the\n"
"bytes appended.";

const char rio_move_from_doc[] =
"move_from($self, other, n, /)\n--\n\n"
"Move the first n bytes of another ropeio.BytesIO (all of them if it\n"
"holds fewer) to the end of this one, sharing their memory: other loses\n"
"them as drain(n) removes them (its position moves back with its data),\n"
"this stream's position does not move. Returns the bytes moved.";

/* A non-negative size from an index, or None for @dflt. */
static int
size_arg(PyObject *o, Py_ssize_t dflt, Py_ssize_t *out, const char *what)
{
	if (o == Py_None) {
		*out = dflt;
		return 0;
	}
	*out = PyNumber_AsSsize_t(o, PyExc_OverflowError);
	if (*out == -1 && PyErr_Occurred())
		return -1;
	if (*out < 0) {
		PyErr_Format(PyExc_ValueError, "negative %s %zd", what, *out);
		return -1;
	}
	return 0;
}

PyObject *
rio_append_snapshot(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	const struct rope_snap *snap;
	Py_ssize_t off = 0, size, total;
	struct rope *r;
	int ret;

	if (nargs < 1 || nargs > 3)
		return PyErr_Format(PyExc_TypeError, "append_snapshot expected "
				    "1 to 3 arguments, got %zd", nargs);
	snap = rio_snap_of(args[0]);
	if (!snap)
		return NULL;
	total = (Py_ssize_t)rope_snap_size(snap);
	if ((nargs > 1 && size_arg(args[1], 0, &off, "offset") < 0))
		return NULL;
	if (off > total)
		return PyErr_Format(PyExc_ValueError, "offset %zd past the "
				    "snapshot's %zd bytes", off, total);
	if (size_arg(nargs > 2 ? args[2] : Py_None, total - off, &size,
		     "size") < 0)
		return NULL;
	if (size > total - off)
		return PyErr_Format(PyExc_ValueError, "range [%zd, %zd + %zd) "
				    "past the snapshot's %zd bytes", off, off,
				    size, total);
	if (rio_check_open(self) < 0 || rio_check_exports(self) < 0 ||
	    !(r = rio_rope(self)))
		return NULL;
	ret = rope_append_snap(r, snap, (size_t)off, (size_t)size);
	if (ret < 0)
		return rio_raise(ret);
	if (size)
		rio_changed(self);
	return PyLong_FromSsize_t(size);
}

PyObject *
rio_move_from(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	struct rio *other;
	struct rope *dst, *src;
	Py_ssize_t n;
	int64_t ret;

	if (nargs != 2)
		return PyErr_Format(PyExc_TypeError, "move_from expected 2 "
				    "arguments, got %zd", nargs);
	if (!PyObject_TypeCheck(args[0], &rio_type))
		return PyErr_Format(PyExc_TypeError, "move_from() needs a "
				    "ropeio.BytesIO, not %.100s",
				    Py_TYPE(args[0])->tp_name);
	other = (struct rio *)args[0];
	if (other == self) {
		PyErr_SetString(PyExc_ValueError, "move_from() a stream to "
				"itself");
		return NULL;
	}
	if (size_arg(args[1], 0, &n, "size") < 0 ||
	    rio_check_open(self) < 0 || rio_check_open(other) < 0 ||
	    rio_check_exports(self) < 0 || rio_check_exports(other) < 0 ||
	    !(dst = rio_rope(self)) || !(src = rio_rope(other)))
		return NULL;
	ret = rope_move(dst, src, (size_t)n);
	if (ret < 0)
		return rio_raise((int)ret);
	if (ret > 0) {
		other->pos = (Py_ssize_t)rope_tell(src);
		rio_changed(other);
		rio_changed(self);
	}
	return PyLong_FromLongLong(ret);
}
