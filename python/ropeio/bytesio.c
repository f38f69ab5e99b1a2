/* SPDX-License-Identifier: MIT */
/*
 * ropeio.BytesIO: io.BytesIO's methods over a struct rope, with CPython's
 * argument conversion, order of checks and messages (Modules/_io/bytesio.c
 * of 3.11 is the reference), and the parsing calls that go beyond it.
 */

#include "module.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Arguments, converted the way Argument Clinic does for io.BytesIO        */
/* ---------------------------------------------------------------------- */

static int
check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t min,
	    Py_ssize_t max)
{
	if (nargs >= min && nargs <= max)
		return 0;
	PyErr_Format(PyExc_TypeError, "%s expected %s%zd argument%s, got %zd",
		     name, min == max ? "" : nargs < min ? "at least " :
		     "at most ", nargs < min ? min : max,
		     (nargs < min ? min : max) == 1 ? "" : "s", nargs);
	return -1;
}

/* Py_ssize_t(accept={int, NoneType}): None leaves *out as it is. */
static int
conv_opt_size(PyObject *obj, Py_ssize_t *out)
{
	Py_ssize_t v;

	if (obj == Py_None)
		return 0;
	if (!PyIndex_Check(obj)) {
		PyErr_Format(PyExc_TypeError,
			     "argument should be integer or None, not '%.200s'",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	v = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
	if (v == -1 && PyErr_Occurred())
		return -1;
	*out = v;
	return 0;
}

/* Py_ssize_t: an int or an object with __index__. */
static int
conv_size(PyObject *obj, Py_ssize_t *out)
{
	PyObject *i = PyNumber_Index(obj);
	Py_ssize_t v;

	if (!i)
		return -1;
	v = PyLong_AsSsize_t(i);
	Py_DECREF(i);
	if (v == -1 && PyErr_Occurred())
		return -1;
	*out = v;
	return 0;
}

static int
conv_int(PyObject *obj, int *out)
{
	long v = PyLong_AsLong(obj);

	if (v == -1 && PyErr_Occurred())
		return -1;
	if (v > INT_MAX || v < INT_MIN) {
		PyErr_SetString(PyExc_OverflowError,
				"Python int too large to convert to C int");
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The rope, made when first needed, and the window                       */
/* ---------------------------------------------------------------------- */

struct rope *
rio_rope_slow(struct rio *self)
{
	struct rope *r = self->rope;
	int ret;

	if (rio_check_open(self) < 0)
		return NULL;
	if (!r) {
		/* The contents so far are the block, the value, or nothing:
		 * the rope adopts the block as its own tail chunk, or the
		 * value, which the cache keeps holding. */
		r = rio_rope_new();
		if (!r)
			return (struct rope *)PyErr_NoMemory();
		ret = 0;
		if (self->blk && self->blk_size > 0)
			ret = rope_adopt_block(r, self->blk,
					       RIO_BLOCK_DATA(self->blk),
					       (size_t)self->blk_size,
					       (size_t)self->blk_cap);
		else if (self->value)
			ret = rio_adopt(r, self->value);
		if (ret < 0) {
			rope_free(r);
			return (struct rope *)rio_raise(ret);
		}
		/* Views of the block stay valid: the rope's chunk is the
		 * block, private, so its exports are the same memory. */
		for (Py_ssize_t i = 0; i < self->exports && ret == 0; i++) {
			struct iovec iov;

			ret = rope_getbuffer(r, &iov, 1);
		}
		if (ret < 0) {
			rope_free(r);
			return (struct rope *)rio_raise(ret);
		}
		if (self->blk && self->blk_size == 0)
			rio_block_free(self->blk);
		self->blk = NULL;
		self->blk_size = self->blk_cap = 0;
		self->rope = r;
		self->win_len = 0;
		self->pos_moved = 1;
	}
	if (self->pos_moved) {
		/* Past the end is allowed; pos never passes PY_SSIZE_T_MAX. */
		(void)rope_seek(r, self->pos, SEEK_SET);
		self->pos_moved = 0;
	}
	return r;
}

/*
 * Point the window at the segment holding the position, without copying.
 * Returns the bytes it holds from the position (0 at the end, or when no
 * segment can be had without a copy).
 */
static Py_ssize_t
win_fill(struct rio *self)
{
	struct rope_cursor c;
	const void *p;
	ssize_t n;
	size_t size;

	self->win_len = 0;
	if (!self->rope) {
		/* No rope: the window is the whole block or value. */
		if (self->blk) {
			self->win = RIO_BLOCK_DATA(self->blk);
			self->win_len = self->blk_size;
		} else if (self->value) {
			self->win = PyBytes_AS_STRING(self->value);
			self->win_len = PyBytes_GET_SIZE(self->value);
		} else {
			return 0;
		}
		self->win_off = 0;
		self->win_eof = 1;
	} else {
		size = rope_size(self->rope);
		if ((size_t)self->pos >= size ||
		    rope_cursor_init(&c, self->rope, self->pos) < 0)
			return 0;
		n = rope_cursor_peek(&c, &p);
		if (n <= 0)
			return 0;
		self->win = p;
		self->win_off = self->pos;
		self->win_len = n;
		self->win_eof = (size_t)self->pos + (size_t)n == size;
	}
	return self->pos < self->win_off + self->win_len ?
		self->win_off + self->win_len - self->pos : 0;
}

/* The window's bytes from the position, filling it if need be. */
static inline Py_ssize_t
win_avail(struct rio *self)
{
	Py_ssize_t d = self->pos - self->win_off;

	if (d >= 0 && d < self->win_len)
		return self->win_len - d;
	return win_fill(self);
}

/*
 * The interpreter's cached 1-byte objects, which PyBytes_FromStringAndSize()
 * returns for one byte, looked up once (rio_bytes_init()) so that read(1)
 * returns one without a call, as CPython's read() does.
 */
static PyObject *one_byte[256];

int
rio_bytes_init(void)
{
	for (int c = 0; c < 256; c++) {
		char ch = (char)c;

		one_byte[c] = PyBytes_FromStringAndSize(&ch, 1);
		if (!one_byte[c])
			return -1;
	}
	return 0;
}

/* @n bytes of the window at the position, as bytes; the position moves.
 * One byte is the interpreter's cached object, as in CPython. */
static inline PyObject *
win_take(struct rio *self, Py_ssize_t n)
{
	const char *p = self->win + (self->pos - self->win_off);

	self->pos += n;
	self->pos_moved = 1;
	if (n == 1)
		return Py_NewRef(one_byte[(unsigned char)*p]);
	return PyBytes_FromStringAndSize(p, n);
}

/* An exact int argument as a size: the common small ones without a call
 * (CPython 3.11's layout: a sign-and-length field, then 30-bit digits). */
static inline int
small_size(PyObject *o, Py_ssize_t *out)
{
#if PY_VERSION_HEX < 0x030C0000
	if (Py_SIZE(o) == 1) {
		*out = (Py_ssize_t)((PyLongObject *)o)->ob_digit[0];
		return 1;
	}
	if (Py_SIZE(o) == 0) {
		*out = 0;
		return 1;
	}
#endif
	*out = PyLong_AsSsize_t(o);
	return *out != -1 || !PyErr_Occurred();
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                */
/* ---------------------------------------------------------------------- */

static Py_ssize_t
remaining(struct rio *self)
{
	size_t size = rio_size(self);

	return (size_t)self->pos >= size ? 0 :
		(Py_ssize_t)(size - (size_t)self->pos);
}

/*
 * Read @n bytes (no more than remain) at the position and advance. The
 * whole stream read from 0 is getvalue(), which copies at most once and
 * then shares, as CPython returns its own buffer there.
 */
static PyObject *
read_n(struct rio *self, Py_ssize_t n)
{
	struct rope *r;
	PyObject *b;
	ssize_t got;

	if (n == 0)
		return PyBytes_FromStringAndSize(NULL, 0);
	if (n > 1 && self->pos == 0 && self->exports == 0 &&
	    (size_t)n == rio_size(self)) {
		b = rio_getvalue(self, NULL);
		if (b) {
			self->pos = n;
			self->pos_moved = 1;
		}
		return b;
	}
	if (win_avail(self) >= n)
		return win_take(self, n);
	r = rio_rope(self);
	if (!r)
		return NULL;
	b = PyBytes_FromStringAndSize(NULL, n);
	if (!b)
		return NULL;
	got = rope_read(r, PyBytes_AS_STRING(b), (size_t)n);
	if (got < 0) {
		Py_DECREF(b);
		return rio_raise((int)got);
	}
	self->pos += got;
	return b;
}

/*
 * The next line through @delim, at most @limit bytes (negative: no limit).
 * A limit shorter than the rest reads into a buffer of that size, so the
 * search goes no further than the limit; otherwise rope_find() measures
 * the line first and read_n() copies it once.
 */
static PyObject *
read_line_slow(struct rio *self, Py_ssize_t limit, const void *delim,
	       size_t dlen)
{
	Py_ssize_t maxlen = remaining(self), n;
	struct rope *r;
	int64_t m;
	PyObject *b;

	if (limit < 0 || limit > maxlen)
		limit = maxlen;
	if (limit == 0)
		return PyBytes_FromStringAndSize(NULL, 0);
	r = rio_rope(self);
	if (!r)
		return NULL;
	if (limit < maxlen) {
		b = PyBytes_FromStringAndSize(NULL, limit);
		if (!b)
			return NULL;
		n = rope_readline_delim(r, PyBytes_AS_STRING(b),
					(size_t)limit, delim, dlen);
		if (n < 0) {
			Py_DECREF(b);
			return rio_raise((int)n);
		}
		self->pos += n;
		if (n < limit && _PyBytes_Resize(&b, n) < 0)
			return NULL;
		return b;
	}
	m = rope_find(r, delim, dlen, self->pos);
	if (m == -ENOENT)
		n = maxlen;
	else if (m < 0)
		return rio_raise((int)m);
	else
		n = (Py_ssize_t)(m - self->pos + (int64_t)dlen);
	return read_n(self, n);
}

/*
 * readline() and iteration: a line that ends inside the window is one
 * memchr() and the bytes object, as in CPython; only a line that runs past
 * the window's segment asks the rope.
 */
static PyObject *
read_line(struct rio *self, Py_ssize_t limit)
{
	Py_ssize_t avail = win_avail(self), scan;
	const char *p, *nl;

	if (avail > 0) {
		p = self->win + (self->pos - self->win_off);
		scan = limit >= 0 && limit < avail ? limit : avail;
		nl = memchr(p, '\n', (size_t)scan);
		if (nl)
			return win_take(self, nl - p + 1);
		if ((limit >= 0 && limit <= avail) || self->win_eof)
			return win_take(self, scan);
	}
	return read_line_slow(self, limit, "\n", 1);
}

static PyObject *
rio_read(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t size = -1, n, avail;

	if (nargs == 0) {
		/* read() of a stream made from bytes, from 0: that object,
		 * as CPython returns its buffer. */
		if (self->pos == 0 && !self->rope && self->value &&
		    PyBytes_GET_SIZE(self->value) > 1) {
			self->pos = PyBytes_GET_SIZE(self->value);
			self->pos_moved = 1;
			return Py_NewRef(self->value);
		}
	} else if (nargs == 1 && PyLong_CheckExact(args[0]) &&
		   small_size(args[0], &size)) {
		/* An int that fits; others take the converter, for its
		 * messages. */
	} else if (nargs == 1 && PyErr_Occurred()) {
		PyErr_Clear();
		if (conv_opt_size(args[0], &size) < 0)
			return NULL;
	} else if (check_nargs("read", nargs, 0, 1) < 0 ||
		   (nargs && conv_opt_size(args[0], &size) < 0)) {
		return NULL;
	}
	if (rio_check_open(self) < 0)
		return NULL;
	/* Inside the window: no call into the library, and no size. */
	avail = win_avail(self);
	if (size >= 0 && size <= avail && (size < avail || self->pos > 0 ||
					   !self->win_eof || size < 2))
		return win_take(self, size);
	n = remaining(self);
	if (size >= 0 && size < n)
		n = size;
	return read_n(self, n);
}

static PyObject *
rio_read1(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	if (check_nargs("read1", nargs, 0, 1) < 0)
		return NULL;
	return rio_read(self, args, nargs);
}

static PyObject *
readinto_impl(struct rio *self, PyObject *arg, const char *name)
{
	struct rope *r;
	Py_buffer view;
	ssize_t got;

	if (PyObject_GetBuffer(arg, &view, PyBUF_WRITABLE) < 0) {
		PyErr_Clear();
		PyErr_Format(PyExc_TypeError, "%s() argument must be "
			     "read-write bytes-like object, not %.50s", name,
			     arg == Py_None ? "None" : Py_TYPE(arg)->tp_name);
		return NULL;
	}
	if (rio_check_open(self) < 0) {
		PyBuffer_Release(&view);
		return NULL;
	}
	if (!self->rope) {
		/* No rope: the window holds everything. */
		got = win_avail(self);
		if (got > view.len)
			got = view.len;
		if (got > 0)
			memcpy(view.buf, self->win + (self->pos - self->win_off),
			       (size_t)got);
		self->pos += got;
		self->pos_moved = 1;
		PyBuffer_Release(&view);
		return PyLong_FromSsize_t(got);
	}
	r = rio_rope(self);
	if (!r) {
		PyBuffer_Release(&view);
		return NULL;
	}
	got = rope_read(r, view.buf, (size_t)view.len);
	PyBuffer_Release(&view);
	if (got < 0)
		return rio_raise((int)got);
	self->pos += got;
	return PyLong_FromSsize_t(got);
}

static PyObject *
rio_readinto(struct rio *self, PyObject *arg)
{
	return readinto_impl(self, arg, "readinto");
}

static PyObject *
rio_readinto1(struct rio *self, PyObject *arg)
{
	return readinto_impl(self, arg, "readinto1");
}

static PyObject *
rio_readline(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t size = -1;

	if (check_nargs("readline", nargs, 0, 1) < 0 ||
	    (nargs && conv_opt_size(args[0], &size) < 0) ||
	    rio_check_open(self) < 0)
		return NULL;
	return read_line(self, size);
}

static PyObject *
rio_readline_delim(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t size = -1;
	Py_buffer delim;
	PyObject *line;

	if (check_nargs("readline_delim", nargs, 1, 2) < 0 ||
	    (nargs > 1 && conv_opt_size(args[1], &size) < 0) ||
	    PyObject_GetBuffer(args[0], &delim, PyBUF_SIMPLE) < 0)
		return NULL;
	if (rio_check_open(self) < 0) {
		line = NULL;
	} else if (delim.len == 0) {
		PyErr_SetString(PyExc_ValueError, "empty delimiter");
		line = NULL;
	} else {
		line = read_line_slow(self, size, delim.buf,
				      (size_t)delim.len);
	}
	PyBuffer_Release(&delim);
	return line;
}

static PyObject *
rio_readlines(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t maxsize = -1, total = 0;
	PyObject *list, *line;

	if (check_nargs("readlines", nargs, 0, 1) < 0 ||
	    rio_check_open(self) < 0)
		return NULL;
	/* Unlike read(), an exact int or None: no __index__ objects. */
	if (nargs && PyLong_Check(args[0])) {
		maxsize = PyLong_AsSsize_t(args[0]);
		if (maxsize == -1 && PyErr_Occurred())
			return NULL;
	} else if (nargs && args[0] != Py_None) {
		PyErr_Format(PyExc_TypeError,
			     "integer argument expected, got '%s'",
			     Py_TYPE(args[0])->tp_name);
		return NULL;
	}
	list = PyList_New(0);
	if (!list)
		return NULL;
	for (;;) {
		line = read_line(self, -1);
		if (!line)
			goto fail;
		if (PyBytes_GET_SIZE(line) == 0) {
			Py_DECREF(line);
			break;
		}
		total += PyBytes_GET_SIZE(line);
		if (PyList_Append(list, line) < 0) {
			Py_DECREF(line);
			goto fail;
		}
		Py_DECREF(line);
		if (maxsize > 0 && total >= maxsize)
			break;
	}
	return list;
fail:
	Py_DECREF(list);
	return NULL;
}

static PyObject *
rio_iternext(struct rio *self)
{
	Py_ssize_t d = self->pos - self->win_off;
	const char *p, *nl;
	PyObject *line;

	/* A line that ends inside the window: one memchr, as in CPython. */
	if (d >= 0 && d < self->win_len && !self->closed) {
		p = self->win + d;
		nl = memchr(p, '\n', (size_t)(self->win_len - d));
		if (nl)
			return win_take(self, nl - p + 1);
		if (self->win_eof)
			return win_take(self, self->win_len - d);
	}
	if (rio_check_open(self) < 0)
		return NULL;
	line = read_line(self, -1);
	if (line && PyBytes_GET_SIZE(line) == 0) {
		Py_DECREF(line);
		return NULL;
	}
	return line;
}

/* ---------------------------------------------------------------------- */
/* Position                                                               */
/* ---------------------------------------------------------------------- */

static PyObject *
rio_tell(struct rio *self, PyObject *unused)
{
	if (rio_check_open(self) < 0)
		return NULL;
	return PyLong_FromSsize_t(self->pos);
}

static PyObject *
rio_seek(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t pos, base = 0;
	int whence = 0;

	if (nargs == 1 && PyLong_CheckExact(args[0])) {
		pos = PyLong_AsSsize_t(args[0]);
		if (pos == -1 && PyErr_Occurred())
			return NULL;
	} else if (check_nargs("seek", nargs, 1, 2) < 0 ||
		   conv_size(args[0], &pos) < 0 ||
		   (nargs > 1 && conv_int(args[1], &whence) < 0)) {
		return NULL;
	}
	if (rio_check_open(self) < 0)
		return NULL;
	if (pos < 0 && whence == 0) {
		PyErr_Format(PyExc_ValueError, "negative seek value %zd", pos);
		return NULL;
	}
	if (whence == 1)
		base = self->pos;
	else if (whence == 2)
		base = (Py_ssize_t)rio_size(self);
	else if (whence != 0)
		return PyErr_Format(PyExc_ValueError,
				    "invalid whence (%i, should be 0, 1 or 2)",
				    whence);
	if (pos > PY_SSIZE_T_MAX - base) {
		PyErr_SetString(PyExc_OverflowError, "new position too large");
		return NULL;
	}
	pos += base;
	if (pos < 0)
		pos = 0;
	if (pos != self->pos) {
		self->pos = pos;
		self->pos_moved = 1;
	}
	return PyLong_FromSsize_t(pos);
}

/* ---------------------------------------------------------------------- */
/* Writing                                                                */
/* ---------------------------------------------------------------------- */

/*
 * The stream is the one block getvalue() handed out, and that bytes object
 * is referenced by nothing but the rope (the caller dropped the value): the
 * block is the rope's again, to write in place and grow, as CPython writes
 * into its buffer once the refcount says it is no longer shared. The cache
 * borrows the object, so it is still alive while value_gen == gen.
 */
static void
take_back_value(struct rio *self, struct rope *r)
{
	if (self->value && !self->value_owned && self->value_gen == self->gen &&
	    Py_REFCNT(self->value) == 1 && rope_unseal_value(r) == 0)
		self->value = NULL;
}

/* Zero bytes written where a gap needs them without a buffer of its own. */
static const char zeros[4096];

/*
 * A write past the end: the gap becomes zero bytes in the same write, as
 * CPython's resize does, so the stream stays one block that getvalue()
 * hands out after the gap is filled (no copy, no second stream's worth of
 * memory), and a gap too large for memory fails here with MemoryError
 * rather than at a later getvalue(). A large gap's zeros come from
 * calloc(), whose fresh pages are not touched by reading them.
 */
static ssize_t
write_past_end(struct rope *r, size_t size, Py_ssize_t pos, const void *buf,
	       size_t len)
{
	size_t gap = (size_t)pos - size;
	struct iovec iov[2];
	void *z = (void *)zeros;
	ssize_t n;

	if (gap > sizeof(zeros)) {
		z = calloc(1, gap);
		if (!z)
			return -ENOMEM;
	}
	iov[0].iov_base = z;
	iov[0].iov_len = gap;
	iov[1].iov_base = (void *)buf;
	iov[1].iov_len = len;
	(void)rope_seek(r, (int64_t)size, SEEK_SET);
	n = rope_writev(r, iov, 2);
	if (z != zeros)
		free(z);
	if (n < 0) {
		(void)rope_seek(r, pos, SEEK_SET);
		return n;
	}
	return n - (ssize_t)gap;
}

/* CPython's write_bytes(): closed, then exports, then the buffer. */
static Py_ssize_t
write_obj(struct rio *self, PyObject *b)
{
	Py_buffer view;
	const void *buf;
	struct rope *r;
	Py_ssize_t len;
	ssize_t n;
	size_t size;

	if (rio_check_open(self) < 0 || rio_check_exports(self) < 0)
		return -1;
	if (PyBytes_CheckExact(b)) {
		view.obj = NULL;
		buf = PyBytes_AS_STRING(b);
		len = PyBytes_GET_SIZE(b);
	} else {
		if (PyObject_GetBuffer(b, &view, PyBUF_CONTIG_RO) < 0)
			return -1;
		/* A buffer provider runs Python code: it may have closed
		 * us. */
		if (rio_check_open(self) < 0 || rio_check_exports(self) < 0) {
			PyBuffer_Release(&view);
			return -1;
		}
		buf = view.buf;
		len = view.len;
	}
	if (len == 0) {
		n = 0;
		goto out;
	}
	if (!self->rope && (!self->value || rio_flat_writable(self))) {
		n = rio_flat_write(self, buf, len);
		goto out;
	}
	n = -1;
	r = rio_rope(self);
	if (!r)
		goto out;
	take_back_value(self, r);
	size = rope_size(r);
	if ((size_t)self->pos > size) {
		if (len > PY_SSIZE_T_MAX - self->pos)
			n = -EOVERFLOW;
		else
			n = write_past_end(r, size, self->pos, buf,
					   (size_t)len);
	} else {
		n = rope_write(r, buf, (size_t)len);
	}
	if (n == -EOVERFLOW) {
		PyErr_SetString(PyExc_OverflowError,
				"new buffer size too large");
		n = -1;
	} else if (n < 0) {
		rio_raise((int)n);
		n = -1;
	} else {
		self->pos += n;
		rio_changed(self);
	}
out:
	if (view.obj)
		PyBuffer_Release(&view);
	return n;
}

static PyObject *
rio_write(struct rio *self, PyObject *b)
{
	Py_ssize_t n = write_obj(self, b);

	return n < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
rio_writelines(struct rio *self, PyObject *lines)
{
	PyObject *it, *item;

	if (rio_check_open(self) < 0)
		return NULL;
	it = PyObject_GetIter(lines);
	if (!it)
		return NULL;
	while ((item = PyIter_Next(it))) {
		Py_ssize_t n = write_obj(self, item);

		Py_DECREF(item);
		if (n < 0) {
			Py_DECREF(it);
			return NULL;
		}
	}
	Py_DECREF(it);
	if (PyErr_Occurred())
		return NULL;
	Py_RETURN_NONE;
}

/*
 * A rope holding @size bytes, copied from @r, at the same position: what a
 * truncate keeps, without the chunks it cut (an adopted object, a block)
 * that the rest still points into.
 */
static struct rope *
compact(struct rope *r, size_t size)
{
	struct rope *n = rio_rope_new();
	struct rope_cursor c;
	const void *p;
	ssize_t got;

	if (!n || rope_cursor_init(&c, r, 0) < 0)
		goto fail;
	while (size > 0) {
		got = rope_cursor_peek(&c, &p);
		if (got <= 0)
			goto fail;
		if ((size_t)got > size)
			got = (ssize_t)size;
		if (rope_write(n, p, (size_t)got) != got ||
		    rope_cursor_skip(&c, (size_t)got) < 0)
			goto fail;
		size -= (size_t)got;
	}
	return n;
fail:
	rope_free(n);
	return NULL;
}

static PyObject *
rio_truncate(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t size = -1;
	int use_pos = 1;
	struct rope *r, *c;
	size_t old;
	int64_t ret;

	if (check_nargs("truncate", nargs, 0, 1) < 0)
		return NULL;
	if (nargs && args[0] != Py_None) {
		if (conv_opt_size(args[0], &size) < 0)
			return NULL;
		use_pos = 0;
	}
	if (rio_check_open(self) < 0 || rio_check_exports(self) < 0)
		return NULL;
	if (use_pos)
		size = self->pos;
	if (size < 0)
		return PyErr_Format(PyExc_ValueError, "negative size value %zd",
				    size);
	old = rio_size(self);
	if ((size_t)size >= old)
		return PyLong_FromSsize_t(size);
	/* Without a rope, unless a value still referenced elsewhere keeps
	 * most of its bytes: a rope shares them then, rather than copy. */
	if (!self->rope && (!self->value || Py_REFCNT(self->value) == 1 ||
			    (size_t)size < old / 2))
		return rio_flat_truncate(self, size) < 0 ? NULL :
			PyLong_FromSsize_t(size);
	r = rio_rope(self);
	if (!r)
		return NULL;
	/*
	 * Cutting away most of the stream: keep a copy of what remains, as
	 * CPython does, so the bytes cut (say the 200 MiB of an adopted
	 * object truncated to 10) are let go now rather than kept alive by
	 * the few that remain in the same chunk. Otherwise (or when memory
	 * is short) truncate in place.
	 */
	c = size > 0 && (size_t)size < old / 2 ? compact(r, (size_t)size) : NULL;
	if (c) {
		rope_free(r);
		self->rope = c;
		self->pos_moved = 1;
		rio_value_forget(self);
	} else {
		/* A dropped value's block may then stay the spare. */
		take_back_value(self, r);
		ret = rope_truncate(r, size);
		if (ret < 0)
			return rio_raise((int)ret);
	}
	rio_changed(self);
	return PyLong_FromSsize_t(size);
}

static PyObject *
rio_drain(struct rio *self, PyObject *arg)
{
	Py_ssize_t n;
	struct rope *r;
	int64_t ret;

	if (conv_size(arg, &n) < 0 || rio_check_open(self) < 0 ||
	    rio_check_exports(self) < 0)
		return NULL;
	if (n < 0)
		return PyErr_Format(PyExc_ValueError, "negative size value %zd",
				    n);
	r = rio_rope(self);
	if (!r)
		return NULL;
	ret = rope_drain(r, (size_t)n);
	if (ret < 0)
		return rio_raise((int)ret);
	self->pos = (Py_ssize_t)rope_tell(r);
	if (ret > 0)
		rio_changed(self);
	return PyLong_FromLongLong(ret);
}

static PyObject *
rio_find(struct rio *self, PyObject *const *args, Py_ssize_t nargs)
{
	Py_ssize_t start = 0, size;
	struct rope *r = NULL;
	Py_buffer sub;
	int64_t ret;

	if (check_nargs("find", nargs, 1, 2) < 0 ||
	    (nargs > 1 && conv_size(args[1], &start) < 0) ||
	    PyObject_GetBuffer(args[0], &sub, PyBUF_SIMPLE) < 0)
		return NULL;
	if (rio_check_open(self) < 0 || !(r = rio_rope(self))) {
		PyBuffer_Release(&sub);
		return NULL;
	}
	/* bytes.find(): a negative start counts from the end. */
	size = (Py_ssize_t)rope_size(r);
	if (start < 0)
		start = start + size < 0 ? 0 : start + size;
	if (start > size)
		ret = -ENOENT;
	else if (sub.len == 0)
		ret = start;
	else
		ret = rope_find(r, sub.buf, (size_t)sub.len, start);
	PyBuffer_Release(&sub);
	if (ret == -ENOENT)
		ret = -1;
	else if (ret < 0)
		return rio_raise((int)ret);
	return PyLong_FromLongLong(ret);
}

/* ---------------------------------------------------------------------- */
/* Life cycle, state and the small methods                                */
/* ---------------------------------------------------------------------- */

/* Empty at position 0, open (the reset of __init__ and __setstate__); the
 * rope comes back when needed. */
static void
reset(struct rio *self)
{
	rope_free(self->rope);
	self->rope = NULL;
	rio_block_free(self->blk);
	self->blk = NULL;
	self->blk_size = self->blk_cap = 0;
	self->closed = 0;
	self->pos = 0;
	self->pos_moved = 0;
	rio_value_forget(self);
	rio_changed(self);
}

static PyObject *
rio_close(struct rio *self, PyObject *unused)
{
	if (rio_check_exports(self) < 0)
		return NULL;
	rope_free(self->rope);
	self->rope = NULL;
	rio_block_free(self->blk);
	self->blk = NULL;
	self->blk_size = self->blk_cap = 0;
	self->closed = 1;
	rio_value_forget(self);
	rio_changed(self);
	Py_RETURN_NONE;
}

static PyObject *
rio_get_closed(struct rio *self, void *unused)
{
	return PyBool_FromLong(self->closed);
}

static PyObject *
rio_true(struct rio *self, PyObject *unused)
{
	if (rio_check_open(self) < 0)
		return NULL;
	Py_RETURN_TRUE;
}

static PyObject *
rio_false(struct rio *self, PyObject *unused)
{
	if (rio_check_open(self) < 0)
		return NULL;
	Py_RETURN_FALSE;
}

static PyObject *
rio_flush(struct rio *self, PyObject *unused)
{
	if (rio_check_open(self) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *
rio_getstate(struct rio *self, PyObject *unused)
{
	PyObject *value = rio_getvalue(self, NULL), *dict, *state;

	if (!value)
		return NULL;
	if (!self->dict) {
		dict = Py_NewRef(Py_None);
	} else {
		dict = PyDict_Copy(self->dict);
		if (!dict) {
			Py_DECREF(value);
			return NULL;
		}
	}
	state = Py_BuildValue("(OnN)", value, self->pos, dict);
	Py_DECREF(value);
	return state;
}

static PyObject *
rio_setstate(struct rio *self, PyObject *state)
{
	PyObject *pos_obj, *dict;
	Py_ssize_t pos;

	if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) < 3)
		return PyErr_Format(PyExc_TypeError,
				    "%.200s.__setstate__ argument should be "
				    "3-tuple, got %.200s",
				    Py_TYPE(self)->tp_name,
				    Py_TYPE(state)->tp_name);
	if (rio_check_exports(self) < 0)
		return NULL;
	if (!self->closed)
		reset(self);
	/* Copies state[0], as CPython's write() there does. */
	if (write_obj(self, PyTuple_GET_ITEM(state, 0)) < 0)
		return NULL;
	pos_obj = PyTuple_GET_ITEM(state, 1);
	if (!PyLong_Check(pos_obj))
		return PyErr_Format(PyExc_TypeError,
				    "second item of state must be an integer, "
				    "not %.200s", Py_TYPE(pos_obj)->tp_name);
	pos = PyLong_AsSsize_t(pos_obj);
	if (pos == -1 && PyErr_Occurred())
		return NULL;
	if (pos < 0) {
		PyErr_SetString(PyExc_ValueError,
				"position value cannot be negative");
		return NULL;
	}
	self->pos = pos;
	self->pos_moved = 1;
	dict = PyTuple_GET_ITEM(state, 2);
	if (dict != Py_None) {
		if (!PyDict_Check(dict))
			return PyErr_Format(PyExc_TypeError,
					    "third item of state should be a "
					    "dict, got a %.200s",
					    Py_TYPE(dict)->tp_name);
		if (self->dict) {
			if (PyDict_Update(self->dict, dict) < 0)
				return NULL;
		} else {
			self->dict = Py_NewRef(dict);
		}
	}
	Py_RETURN_NONE;
}

/*
 * What this stream costs: the object, the rope's struct and segment array,
 * the bytes of its contents and the free room of its tail chunk. Bytes
 * shared with values, snapshots or adopted objects are counted too: the
 * library's API does not tell them apart.
 */
static PyObject *
rio_sizeof(struct rio *self, PyObject *unused)
{
	Py_ssize_t res = Py_TYPE(self)->tp_basicsize;
	struct rope_info info;

	if (self->rope && rope_get_info(self->rope, &info, sizeof(info)) == 0)
		res += (Py_ssize_t)(info.overhead + info.size +
				    info.tail_room);
	else if (self->blk)
		res += self->blk_cap;
	else if (!self->closed)
		res += (Py_ssize_t)rio_size(self);
	return PyLong_FromSsize_t(res);
}

/* No rope yet: it is made by the first call that needs one. */
int rio_is_bytesio;

static PyObject *
rio_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	struct rio *self = (struct rio *)type->tp_alloc(type, 0);

	if (self && rio_is_bytesio)
		self->base_exports = RIO_BASE_EXPORTS;
	return (PyObject *)self;
}

static int
rio_init(struct rio *self, PyObject *args, PyObject *kwds)
{
	static char kw_initial[] = "initial_bytes";
	static char *kwlist[] = {kw_initial, NULL};
	PyObject *init = NULL;

	/* The usual calls, BytesIO() and BytesIO(b), without the parser. */
	if (!kwds && PyTuple_GET_SIZE(args) <= 1) {
		if (PyTuple_GET_SIZE(args))
			init = PyTuple_GET_ITEM(args, 0);
	} else if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:BytesIO",
						kwlist, &init)) {
		return -1;
	}
	if (rio_check_exports(self) < 0)
		return -1;
	/* A fresh object, the usual case: nothing to reset. */
	if (!self->rope && !self->blk && !self->value && !self->closed &&
	    self->pos == 0 && (!init || PyBytes_CheckExact(init))) {
		self->win_len = 0;
		if (init && PyBytes_GET_SIZE(init) > 0) {
			self->value = Py_NewRef(init);
			self->value_owned = 1;
			self->value_gen = self->gen;
		}
		return 0;
	}
	if (!init || init == Py_None) {
		/* CPython: empties an open stream, leaves a closed one. */
		if (!self->closed)
			reset(self);
		return 0;
	}
	if (!PyBytes_CheckExact(init)) {
		/* A copy through write(), which refuses a closed stream. */
		if (rio_check_open(self) < 0)
			return -1;
		reset(self);
		if (write_obj(self, init) < 0)
			return -1;
		self->pos = 0;
		self->pos_moved = 1;
		return 0;
	}
	/* Exactly bytes: shared, not copied; this reopens a closed one. The
	 * object is the contents until a change needs a rope, which then
	 * adopts it. */
	reset(self);
	if (PyBytes_GET_SIZE(init) > 0)
		rio_value_set(self, init, 1);
	return 0;
}

static int
rio_traverse(struct rio *self, visitproc visit, void *arg)
{
	Py_VISIT(self->dict);
	if (self->value_owned)
		Py_VISIT(self->value);
	return 0;
}

static int
rio_clear(struct rio *self)
{
	Py_CLEAR(self->dict);
	rio_value_forget(self);
	return 0;
}

static void
rio_dealloc(struct rio *self)
{
	PyObject_GC_UnTrack(self);
	if (self->exports > 0) {
		PyErr_SetString(PyExc_SystemError,
				"deallocated BytesIO object has exported "
				"buffers");
		PyErr_Print();
		/* Views cannot outlive the object: end them before the
		 * rope's memory goes. */
		while (self->exports-- > 0)
			if (self->rope)
				rope_releasebuffer(self->rope);
	}
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	rope_free(self->rope);
	self->rope = NULL;
	rio_block_free(self->blk);
	self->blk = NULL;
	self->closed = 1;
	Py_CLEAR(self->dict);
	rio_value_forget(self);
	Py_TYPE(self)->tp_free(self);
}

#define DOC(name, sig, text) PyDoc_STRVAR(name, sig "\n--\n\n" text)

DOC(read_doc, "read($self, size=-1, /)",
    "Read at most size bytes, returned as a bytes object.\n\n"
    "If the size argument is negative or None, read until EOF is reached.\n"
    "Return an empty bytes object at EOF. Reading the whole stream from 0\n"
    "returns getvalue()'s object.");
DOC(read1_doc, "read1($self, size=-1, /)", "The same as read().");
DOC(readinto_doc, "readinto($self, buffer, /)",
    "Read bytes into a writable buffer; return how many (0 at EOF).");
DOC(readinto1_doc, "readinto1($self, buffer, /)", "The same as readinto().");
DOC(readline_doc, "readline($self, size=-1, /)",
    "Next line from the file, as a bytes object, through b'\\n'.\n\n"
    "A non-negative size limits the bytes returned (an incomplete line\n"
    "may be returned then). Return an empty bytes object at EOF.");
DOC(readline_delim_doc, "readline_delim($self, delim, size=-1, /)",
    "Like readline(), through the first occurrence of delim (any\n"
    "non-empty bytes: b'\\r\\n', b'\\r\\n\\r\\n', ...) found across chunks.\n"
    "The search goes no further than size bytes when size is given.");
DOC(readlines_doc, "readlines($self, size=None, /)",
    "List of bytes objects, each a line from the file.\n\n"
    "Stop once the lines read reach size bytes, if size is given and\n"
    "positive.");
DOC(tell_doc, "tell($self, /)", "Current file position, an integer.");
DOC(seek_doc, "seek($self, pos, whence=0, /)",
    "Change stream position and return the new absolute position.\n\n"
    "whence 0: from the start (pos >= 0); 1: from the current position;\n"
    "2: from the end. A negative result clamps to 0; past the end is\n"
    "allowed (a later write fills the gap with zero bytes).");
DOC(write_doc, "write($self, b, /)",
    "Write a bytes-like object at the position; return its length.\n\n"
    "Appending copies only the new bytes; overwriting bytes that a value,\n"
    "a snapshot or an adopted object shares costs the written range only.");
DOC(writelines_doc, "writelines($self, lines, /)",
    "Write each bytes-like object of an iterable; no newlines are added.");
DOC(truncate_doc, "truncate($self, size=None, /)",
    "Cut the stream to at most size bytes (default: the position).\n\n"
    "The position does not change and the stream never grows. Returns\n"
    "size.");
DOC(drain_doc, "drain($self, n, /)",
    "Remove the first n bytes (all if fewer) and return how many went.\n\n"
    "The position moves back with the data, stopping at 0. With send()\n"
    "this makes a queue: send the contents, then drain what was sent.");
DOC(find_doc, "find($self, sub, start=0, /)",
    "Offset of the first occurrence of sub at or after start, or -1.\n\n"
    "Searches across chunks without joining them; a negative start\n"
    "counts from the end, as in bytes.find().");
DOC(close_doc, "close($self, /)",
    "Free the contents now; every later operation raises ValueError.\n\n"
    "Values and snapshots taken earlier stay valid.");
DOC(readable_doc, "readable($self, /)", "Returns True if the IO object can "
    "be read.");
DOC(writable_doc, "writable($self, /)", "Returns True if the IO object can "
    "be written.");
DOC(seekable_doc, "seekable($self, /)", "Returns True if the IO object can "
    "be seeked.");
DOC(isatty_doc, "isatty($self, /)", "Always returns False.");
DOC(flush_doc, "flush($self, /)", "Does nothing.");
DOC(getvalue_doc, "getvalue($self, /)",
    "Retrieve the entire contents of the BytesIO object, as bytes.\n\n"
    "Cached: an unchanged stream returns the same object again, and a\n"
    "stream made from bytes returns that object. A stream written by\n"
    "appends is one block that becomes the bytes object, with no copy.\n"
    "Otherwise the first call after a change copies the contents once into\n"
    "the new bytes object, which the stream then shares instead of its own\n"
    "chunks.");
DOC(getbuffer_doc, "getbuffer($self, /)",
    "A writable memoryview over the contents, without copying them once\n"
    "they sit in one chunk (several chunks are joined first).\n\n"
    "While a view is alive, every write, truncate, drain and close\n"
    "raises BufferError.");
DOC(snapshot_doc, "snapshot($self, /)",
    "An immutable ropeio.Snapshot of the contents, sharing the chunks:\n"
    "no byte is copied, and later writes do not change it.");
DOC(send_doc, "send($self, sock, /)",
    "Send the whole contents to a socket (or any file descriptor) without\n"
    "copying them, with the GIL released; return the bytes sent.\n\n"
    "The stream does not change; call drain(n) to consume what went.\n"
    "Fewer bytes than the size can go on a non-blocking socket.");
DOC(write_to_doc, "write_to($self, fd, /)",
    "Write the whole contents to a file descriptor (or an object with\n"
    "fileno()) at its offset, without copying, with the GIL released;\n"
    "return the bytes written. The stream does not change.");
DOC(getstate_doc, "__getstate__($self, /)",
    "(getvalue(), position, __dict__ or None), for pickle.");
DOC(setstate_doc, "__setstate__($self, state, /)",
    "Restore a state from __getstate__ (the bytes are copied).");
DOC(sizeof_doc, "__sizeof__($self, /)",
    "The object, the rope's structure, its bytes and its tail room\n"
    "(shared bytes included).");
DOC(rio_doc, "BytesIO(initial_bytes=b'')",
    "Buffered I/O implementation using an in-memory rope of refcounted\n"
    "chunks: io.BytesIO's behaviour without its copies.\n\n"
    "A bytes object given as initial_bytes is shared, not copied.");

static PyMethodDef rio_methods[] = {
	{"readable", (PyCFunction)rio_true, METH_NOARGS, readable_doc},
	{"seekable", (PyCFunction)rio_true, METH_NOARGS, seekable_doc},
	{"writable", (PyCFunction)rio_true, METH_NOARGS, writable_doc},
	{"close", (PyCFunction)rio_close, METH_NOARGS, close_doc},
	{"flush", (PyCFunction)rio_flush, METH_NOARGS, flush_doc},
	{"isatty", (PyCFunction)rio_false, METH_NOARGS, isatty_doc},
	{"tell", (PyCFunction)rio_tell, METH_NOARGS, tell_doc},
	{"write", (PyCFunction)rio_write, METH_O, write_doc},
	{"writelines", (PyCFunction)rio_writelines, METH_O, writelines_doc},
	{"read1", (PyCFunction)(void (*)(void))rio_read1, METH_FASTCALL,
	 read1_doc},
	{"readinto", (PyCFunction)rio_readinto, METH_O, readinto_doc},
	{"readinto1", (PyCFunction)rio_readinto1, METH_O, readinto1_doc},
	{"readline", (PyCFunction)(void (*)(void))rio_readline, METH_FASTCALL,
	 readline_doc},
	{"readlines", (PyCFunction)(void (*)(void))rio_readlines,
	 METH_FASTCALL, readlines_doc},
	{"read", (PyCFunction)(void (*)(void))rio_read, METH_FASTCALL,
	 read_doc},
	{"getbuffer", (PyCFunction)rio_getbuffer, METH_NOARGS, getbuffer_doc},
	{"getvalue", (PyCFunction)rio_getvalue, METH_NOARGS, getvalue_doc},
	{"seek", (PyCFunction)(void (*)(void))rio_seek, METH_FASTCALL,
	 seek_doc},
	{"truncate", (PyCFunction)(void (*)(void))rio_truncate, METH_FASTCALL,
	 truncate_doc},
	{"__getstate__", (PyCFunction)rio_getstate, METH_NOARGS,
	 getstate_doc},
	{"__setstate__", (PyCFunction)rio_setstate, METH_O, setstate_doc},
	{"__sizeof__", (PyCFunction)rio_sizeof, METH_NOARGS, sizeof_doc},
	{"snapshot", (PyCFunction)rio_snapshot, METH_NOARGS, snapshot_doc},
	{"send", (PyCFunction)rio_send, METH_O, send_doc},
	{"write_to", (PyCFunction)rio_send, METH_O, write_to_doc},
	{"find", (PyCFunction)(void (*)(void))rio_find, METH_FASTCALL,
	 find_doc},
	{"readline_delim", (PyCFunction)(void (*)(void))rio_readline_delim,
	 METH_FASTCALL, readline_delim_doc},
	{"drain", (PyCFunction)rio_drain, METH_O, drain_doc},
	{"append_snapshot", (PyCFunction)(void (*)(void))rio_append_snapshot,
	 METH_FASTCALL, rio_append_snapshot_doc},
	{"move_from", (PyCFunction)(void (*)(void))rio_move_from,
	 METH_FASTCALL, rio_move_from_doc},
	{NULL, NULL, 0, NULL}
};

static PyGetSetDef rio_getset[] = {
	{"closed", (getter)rio_get_closed, NULL, "True if the file is closed.",
	 NULL},
	{NULL, NULL, NULL, NULL, NULL}
};

PyTypeObject rio_type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ropeio.BytesIO",
	.tp_basicsize = sizeof(struct rio),
	.tp_dealloc = (destructor)rio_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE |
		    Py_TPFLAGS_HAVE_GC,
	.tp_doc = rio_doc,
	.tp_traverse = (traverseproc)rio_traverse,
	.tp_clear = (inquiry)rio_clear,
	.tp_weaklistoffset = offsetof(struct rio, weakreflist),
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)rio_iternext,
	.tp_methods = rio_methods,
	.tp_getset = rio_getset,
	.tp_dictoffset = offsetof(struct rio, dict),
	.tp_init = (initproc)rio_init,
	.tp_new = rio_new,
};
