/* SPDX-License-Identifier: MIT */
/*
 * The ropeio extension module: shared declarations of its C files.
 *
 * bytesio.c    ropeio.BytesIO: io.BytesIO's methods, argument conversion
 * value.c      getvalue(), the cached value and getbuffer()'s exporter
 * snapshot.c   ropeio.Snapshot, its per-chunk views, send() and write_to()
 * _ropeio.c    the module, errno to exception, adopting bytes objects
 * blocks.c     the streams' memory: blocks that become bytes objects
 */
#ifndef ROPEIO_PY_MODULE_H
#define ROPEIO_PY_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include <ropeio.h>

/* An instance of ropeio.BytesIO. */
struct rio {
	PyObject_HEAD
	struct rope *rope;	/* NULL once closed */
	PyObject *dict;
	PyObject *weakreflist;
	Py_ssize_t exports;	/* live getbuffer() views */
	/*
	 * Bumped by every call that may change the contents. The cached
	 * value is the stream's bytes while value_gen == gen. When the rope's
	 * only chunk is that very object (adopted), the rope's reference keeps
	 * it alive and the cache borrows it (value_owned 0): it is then valid
	 * only while value_gen == gen, since a change may release it.
	 */
	uint64_t gen;
	PyObject *value;
	uint64_t value_gen;
	int value_owned;
};

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

/* _ropeio.c */
PyObject *rio_raise(int err);
PyObject *rio_raise_io(int err);
int rio_adopt(struct rope *r, PyObject *bytes);
int rio_check_open(struct rio *self);
int rio_check_exports(struct rio *self);
int rio_fd_of(PyObject *obj);

/* blocks.c */
struct rope *rio_rope_new(void);
PyObject *rio_block_bytes(void *handle, size_t len);

/* value.c */
PyObject *rio_getvalue(struct rio *self, PyObject *unused);
PyObject *rio_getbuffer(struct rio *self, PyObject *unused);
void rio_value_forget(struct rio *self);
void rio_value_set(struct rio *self, PyObject *v, int owned);

/* snapshot.c */
PyObject *rio_snapshot(struct rio *self, PyObject *unused);
PyObject *rio_send(struct rio *self, PyObject *arg);

#endif
