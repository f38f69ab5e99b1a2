/* SPDX-License-Identifier: MIT */
/*
 * The module ropeio._ropeio: its types, the one place where the library's
 * negative errno values become Python exceptions, and the adoption of
 * bytes objects as rope memory.
 */

#include "module.h"

#include <errno.h>

static const char exports_msg[] =
	"Existing exports of data: object cannot be re-sized";

/*
 * The one place where the library's negative errno values become Python
 * exceptions. rio_raise(): every errno a stream call returns, as the
 * exception io.BytesIO raises in the same situation; other errnos become
 * OSError and its subclasses, as os.write() would raise them.
 */
PyObject *
rio_raise(int err)
{
	switch (err) {
	case -EBADF:
		PyErr_SetString(PyExc_ValueError, rio_closed_msg);
		break;
	case -EBUSY:
		PyErr_SetString(PyExc_BufferError, exports_msg);
		break;
	case -ENOMEM:
		PyErr_NoMemory();
		break;
	case -EOVERFLOW:
		PyErr_SetString(PyExc_OverflowError, "new position too large");
		break;
	case -EINVAL:
		PyErr_SetString(PyExc_ValueError, "invalid argument");
		break;
	default:
		errno = -err;
		PyErr_SetFromErrno(PyExc_OSError);
		break;
	}
	return NULL;
}

/*
 * The errors of a call that writes to a descriptor (send(), write_to()):
 * all of them are the descriptor's, so -EBADF there is a bad fd, not a
 * closed stream, and -EINVAL a descriptor that refuses the write.
 */
PyObject *
rio_raise_io(int err)
{
	if (err == -ENOMEM)
		return PyErr_NoMemory();
	errno = -err;
	return PyErr_SetFromErrno(PyExc_OSError);
}

int
rio_exports_error(void)
{
	PyErr_SetString(PyExc_BufferError, exports_msg);
	return -1;
}

/*
 * The rope lets go of an adopted bytes object. That happens on whatever
 * thread drops the last reference to its bytes (a snapshot released in a
 * worker, a rope freed with the GIL released), so take the GIL first. At
 * interpreter exit the object is left alone: the GIL may be gone for good.
 */
static void
release_bytes(void *data, size_t len, void *arg)
{
	PyGILState_STATE st;

	if (rio_finalizing())
		return;
	if (PyGILState_Check()) {
		Py_DECREF((PyObject *)arg);
		return;
	}
	st = PyGILState_Ensure();
	Py_DECREF((PyObject *)arg);
	PyGILState_Release(st);
}

/*
 * Append the bytes object @bytes at the end of @r without copying it. The
 * rope holds a reference to the object until it stops using the memory.
 */
int
rio_adopt(struct rope *r, PyObject *bytes)
{
	Py_ssize_t len = PyBytes_GET_SIZE(bytes);
	int ret;

	if (len == 0)
		return 0;
	Py_INCREF(bytes);
	ret = rope_append_ref(r, PyBytes_AS_STRING(bytes), (size_t)len,
			      release_bytes, bytes);
	if (ret < 0)
		Py_DECREF(bytes);
	return ret;
}

/* A descriptor from an int or an object with fileno() (a socket, a file). */
int
rio_fd_of(PyObject *obj)
{
	return PyObject_AsFileDescriptor(obj);
}

static PyObject *
mem_stats(PyObject *mod, PyObject *unused)
{
	struct rope_mem_stats st;
	struct rope_cache_stats cs = { 0 };

	rope_mem_stats(&st, sizeof(st));
	rope_cache_stats(&cs, sizeof(cs));
	return Py_BuildValue("{s:n,s:n,s:K,s:K,s:K,s:n}",
			     "allocated", (Py_ssize_t)st.allocated,
			     "peak", (Py_ssize_t)st.peak,
			     "total", (unsigned long long)st.total,
			     "allocs", (unsigned long long)st.allocs,
			     "frees", (unsigned long long)st.frees,
			     "cached", (Py_ssize_t)cs.cached);
}

static PyObject *
cache_trim(PyObject *mod, PyObject *unused)
{
	size_t n;

	Py_BEGIN_ALLOW_THREADS
	n = rope_cache_trim();
	Py_END_ALLOW_THREADS
	return PyLong_FromSize_t(n);
}

static PyObject *
mem_reset_peak(PyObject *mod, PyObject *unused)
{
	rope_mem_reset_peak();
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{"mem_stats", mem_stats, METH_NOARGS,
	 "mem_stats() -> dict\n--\n\n"
	 "Process-wide figures of the memory ropeio allocated itself, which\n"
	 "tracemalloc does not see (a stream's appended bytes are Python\n"
	 "memory, which it does): 'allocated' now, 'peak' since the last\n"
	 "reset, 'total' ever taken from the system, the counts 'allocs'\n"
	 "and 'frees' of allocations taken from and given back to it, and\n"
	 "'cached', the bytes the chunk cache keeps for reuse."},
	{"cache_trim", cache_trim, METH_NOARGS,
	 "cache_trim() -> int\n--\n\n"
	 "Give the memory the chunk cache keeps back to the system; returns\n"
	 "the bytes given back."},
	{"mem_reset_peak", mem_reset_peak, METH_NOARGS,
	 "mem_reset_peak() -> None\n--\n\n"
	 "Set the peak of mem_stats() to the memory allocated now."},
	{NULL, NULL, 0, NULL}
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "ropeio._ropeio",
	.m_doc = "io.BytesIO as a rope of refcounted chunks (the C part).",
	.m_size = -1,
	.m_methods = module_methods,
};

static int
add_type(PyObject *mod, PyTypeObject *type, const char *name)
{
	if (PyType_Ready(type) < 0)
		return -1;
	if (!name)
		return 0;
	Py_INCREF(type);
	if (PyModule_AddObject(mod, name, (PyObject *)type) < 0) {
		Py_DECREF(type);
		return -1;
	}
	return 0;
}

PyMODINIT_FUNC PyInit__ropeio(void);

/*
 * The base type: io.BytesIO when its layout is the one struct rio starts
 * with (its size, and where it keeps __dict__ and weak references), so that
 * isinstance(x, io.BytesIO) holds; otherwise _io._BufferedIOBase, the base
 * io.BytesIO itself derives from, which gives detach(), fileno(),
 * __enter__/__exit__ and the finalizer either way.
 */
static PyTypeObject *
base_type(void)
{
	PyObject *io, *b;
	PyTypeObject *t;

	io = PyImport_ImportModule("_io");
	if (!io)
		return NULL;
	b = PyObject_GetAttrString(io, "BytesIO");
	if (b && PyType_Check(b)) {
		t = (PyTypeObject *)b;
		if (t->tp_basicsize == offsetof(struct rio, rope) &&
		    t->tp_dictoffset == offsetof(struct rio, dict) &&
		    t->tp_weaklistoffset == offsetof(struct rio, weakreflist) &&
		    (t->tp_flags & Py_TPFLAGS_BASETYPE)) {
			Py_DECREF(io);
			rio_is_bytesio = 1;
			return t;
		}
	}
	Py_XDECREF(b);
	PyErr_Clear();
	b = PyObject_GetAttrString(io, "_BufferedIOBase");
	Py_DECREF(io);
	if (!b)
		return NULL;
	if (!PyType_Check(b)) {
		Py_DECREF(b);
		PyErr_SetString(PyExc_ImportError,
				"_io._BufferedIOBase is not a type");
		return NULL;
	}
	return (PyTypeObject *)b;
}

PyMODINIT_FUNC
PyInit__ropeio(void)
{
	PyObject *mod;
	PyTypeObject *base = base_type();

	if (!base || rio_bytes_init() < 0)
		return NULL;
	/* The type keeps the reference. */
	rio_type.tp_base = base;

	mod = PyModule_Create(&module_def);
	if (!mod)
		return NULL;
	if (add_type(mod, &rio_type, "BytesIO") < 0 ||
	    add_type(mod, &rio_snap_type, "Snapshot") < 0 ||
	    add_type(mod, &rio_buffer_type, NULL) < 0 ||
	    add_type(mod, &rio_snapiter_type, NULL) < 0 ||
	    add_type(mod, &rio_view_type, NULL) < 0 ||
	    PyModule_AddStringConstant(mod, "__version__",
				       ROPEIO_PY_VERSION) < 0 ||
	    PyModule_AddIntConstant(mod, "_derives_from_bytesio",
				    rio_is_bytesio) < 0) {
		Py_DECREF(mod);
		return NULL;
	}
	return mod;
}
