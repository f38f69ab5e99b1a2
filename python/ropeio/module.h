/* SPDX-License-Identifier: MIT */
/*
 * The ropeio extension module: shared declarations of its C files.
 *
 * bytesio.c    ropeio.BytesIO: io.BytesIO's methods, argument conversion
 * value.c      getvalue(), the cached value and getbuffer()'s exporter
 * snapshot.c   ropeio.Snapshot, its per-chunk views, send() and write_to()
 * _ropeio.c    the module, errno to exception, adopting bytes objects
 * blocks.c     the streams' memory: blocks that become bytes objects, and
 *              a stream's own block before it has a rope
 */
#ifndef ROPEIO_PY_MODULE_H
#define ROPEIO_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include <ropeio.h>

/*
 * An instance of ropeio.BytesIO.
 *
 * The position is the object's (pos), not the rope's: reads from the
 * window move it alone, and the rope's own position catches up
 * (pos_moved) only when a call of the library needs it (rio_rope()).
 *
 * The rope is made when first needed: a stream made from bytes, or empty,
 * that is only read, tell()'d and getvalue()'d has none, and its contents
 * are then the cached value (held, value_owned 1) or nothing. So
 * BytesIO(b).read() costs what CPython's does: no allocation but the
 * object.
 */
struct rio {
	PyObject_HEAD
	/*
	 * io.BytesIO's own fields (CPython's struct bytesio, 3.8 to 3.13):
	 * ropeio.BytesIO is a subtype of io.BytesIO at the C level, so that
	 * isinstance(x, io.BytesIO) holds. The base's part is never
	 * initialised: its buffer stays NULL, so io.BytesIO's own methods
	 * called on a ropeio stream (io.BytesIO.getvalue(x)) raise "closed
	 * file" rather than return bytes that are not the stream's, and its
	 * export count stays at RIO_BASE_EXPORTS, so io.BytesIO.__init__(x)
	 * and __setstate__ raise BufferError rather than give the base a
	 * buffer. PyInit checks the layout against the base type's offsets
	 * and falls back to _io._BufferedIOBase when it differs.
	 */
	PyObject *base_buf;
	Py_ssize_t base_pos;
	Py_ssize_t base_string_size;
	PyObject *dict;
	PyObject *weakreflist;
	Py_ssize_t base_exports;

	struct rope *rope;	/* NULL while closed, or not made yet */
	/*
	 * Without a rope, the contents are the block (blk, blk_size bytes
	 * written of blk_cap), else the value, else nothing: a small stream
	 * lives in one block of its own, grown and written in place as
	 * CPython's buffer is, until a call needs a rope (a write while a
	 * value is held, a snapshot, getbuffer()...), which then adopts the
	 * block or the value without a copy. blk and value never coexist.
	 */
	void *blk;
	Py_ssize_t blk_size, blk_cap;
	Py_ssize_t exports;	/* live getbuffer() views */
	/*
	 * Bumped by every call that may change the contents. The cached
	 * value is the stream's bytes while value_gen == gen. When the rope's
	 * only chunk is that very object (a sealed block), the rope's
	 * reference keeps it alive and the cache borrows it (value_owned 0):
	 * it is then valid only while value_gen == gen, since a change may
	 * release it.
	 */
	uint64_t gen;
	PyObject *value;
	uint64_t value_gen;
	int value_owned;
	char closed;
	char pos_moved;		/* the rope's position is not pos */
	char win_eof;		/* the window ends where the stream does */
	Py_ssize_t pos;
	/*
	 * The window: the stream's bytes [win_off, win_off + win_len), which
	 * lie contiguous at win (one segment). Reads, readline() and
	 * iteration inside it touch no library call. Every change of the
	 * contents or of where they lie empties it (rio_changed()).
	 */
	const char *win;
	Py_ssize_t win_off, win_len;
};
/* io.BytesIO's export count in a ropeio stream: never reaches 0. */
#define RIO_BASE_EXPORTS (PY_SSIZE_T_MAX / 2)

/* Whether rio_type derives from io.BytesIO (see struct rio). */
extern int rio_is_bytesio;

extern PyTypeObject rio_type;
extern PyTypeObject rio_buffer_type;
extern PyTypeObject rio_snap_type;
extern PyTypeObject rio_snapiter_type;
extern PyTypeObject rio_view_type;

/*
 * Whether the interpreter is shutting down: a release callback that runs
 * then (a value or block dropped at exit) must not take the GIL.
 */
static inline int
rio_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
	return Py_IsFinalizing();
#else
	return _Py_IsFinalizing();
#endif
}

static const char rio_closed_msg[] = "I/O operation on closed file.";

/* The contents changed, or where they lie: the window goes. */
static inline void
rio_changed(struct rio *self)
{
	self->gen++;
	self->win_len = 0;
}

static inline int
rio_check_open(struct rio *self)
{
	if (!self->closed)
		return 0;
	PyErr_SetString(PyExc_ValueError, rio_closed_msg);
	return -1;
}

int rio_exports_error(void);

static inline int
rio_check_exports(struct rio *self)
{
	return self->exports == 0 ? 0 : rio_exports_error();
}

/* bytesio.c: the rope of an open stream, made if need be, at the
 * position; NULL with an exception set. */
struct rope *rio_rope_slow(struct rio *self);

static inline struct rope *
rio_rope(struct rio *self)
{
	if (self->rope && !self->pos_moved)
		return self->rope;
	return rio_rope_slow(self);
}

/* The stream's size (the object is open). */
static inline size_t
rio_size(const struct rio *self)
{
	if (self->rope)
		return rope_size(self->rope);
	if (self->blk)
		return (size_t)self->blk_size;
	return self->value ? (size_t)PyBytes_GET_SIZE(self->value) : 0;
}

int rio_bytes_init(void);

/* _ropeio.c */
PyObject *rio_raise(int err);
PyObject *rio_raise_io(int err);
int rio_adopt(struct rope *r, PyObject *bytes);
int rio_fd_of(PyObject *obj);

/* blocks.c */
struct rope *rio_rope_new(void);
PyObject *rio_block_bytes(void *handle, size_t len);
void *rio_block_resize(void *blk, size_t cap);
void rio_block_free(void *blk);

/* A stream without a rope, in a block of its own (blocks.c). */
int rio_flat_writable(struct rio *self);
Py_ssize_t rio_flat_write(struct rio *self, const void *buf, Py_ssize_t len);
int rio_flat_truncate(struct rio *self, Py_ssize_t size);
int rio_flat_export(struct rio *self, char **p, Py_ssize_t *len);

/* Where a block's bytes start: after a bytes object's header. */
#define RIO_BLOCK_DATA(blk) \
	((char *)(blk) + offsetof(PyBytesObject, ob_sval))

/* value.c */
PyObject *rio_getvalue(struct rio *self, PyObject *unused);
PyObject *rio_getbuffer(struct rio *self, PyObject *unused);
void rio_value_forget(struct rio *self);
void rio_value_set(struct rio *self, PyObject *v, int owned);

/* snapshot.c; rio_snap_of(): a Snapshot's snapshot, or NULL with
 * TypeError (not a Snapshot) or ValueError (released). */
PyObject *rio_snapshot(struct rio *self, PyObject *unused);
const struct rope_snap *rio_snap_of(PyObject *obj);

/* compose.c */
extern const char rio_append_snapshot_doc[], rio_move_from_doc[];
PyObject *rio_append_snapshot(struct rio *self, PyObject *const *args,
			      Py_ssize_t nargs);
PyObject *rio_move_from(struct rio *self, PyObject *const *args,
			Py_ssize_t nargs);
PyObject *rio_send(struct rio *self, PyObject *arg);

#endif
