/* SPDX-License-Identifier: MIT */
/* http-files: see http-files.h. */
#include "http-files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The files served lately, each held as a snapshot of a rope with the
 * file's range in it: a request for one of them costs one fstatat(2),
 * which must find the same file (device, inode, size and times) for the
 * snapshot to be used, so the range, its descriptor and its mapping are
 * made once, not for every request. A file changed or replaced gets a
 * new entry. One slot per hash of the path: a collision replaces.
 */
#define CACHE_SLOTS 64

struct cached {
	char *path;                     /* decoded, relative to the root */
	struct stat st;                 /* the file it was */
	struct rope_snap *snap;         /* its bytes, by reference */
};

static struct cached cache[CACHE_SLOTS];

/* Decode the path of @target (up to '?' or '#') into @out. Returns false
 * for a target that is not an origin-form path, an escape that is not
 * one, a NUL byte, or a path longer than @size. */
static bool
path_decode(const char *target, char *out, size_t size)
{
	size_t n = 0;

	if (*target != '/')
		return false;
	for (const char *p = target; *p && *p != '?' && *p != '#'; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			char hex[3] = { p[1], p[1] ? p[2] : 0, 0 }, *end;

			c = (int)strtol(hex, &end, 16);
			if (end != hex + 2 || hex[0] == '+' || hex[0] == '-')
				return false;
			p += 2;
		}
		if (c == 0 || n + 1 >= size)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

/* Does @path hold a ".." segment? Checked after decoding, so that
 * "%2e%2e" is caught too. */
static bool
climbs(const char *path)
{
	for (const char *p = path; *p; ) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += len + (p[len] == '/');
	}
	return false;
}

/* The head of an answer, with the framing of @req's connection. */
static int
head(struct rope *out, const char *status, const char *type, size_t len,
     const struct http_request *req)
{
	ssize_t n = rope_printf(out, "HTTP/1.1 %s\r\nServer: ropeio\r\n"
				"Content-Type: %s\r\nContent-Length: %zu\r\n"
				"%s\r\n", status, type, len,
				!req->keep ? "Connection: close\r\n" :
				req->http10 ? "Connection: keep-alive\r\n" :
				"");

	return n < 0 ? (int)n : 0;
}

/* An answer whose body is its status line. */
static int
error_page(struct rope *out, const char *status,
	   const struct http_request *req)
{
	size_t before = rope_size(out), len = strlen(status);
	int err = head(out, status, "text/plain", len, req);

	if (!err && !req->head_only && rope_append(out, status, len) < 0)
		err = -ENOMEM;
	if (err)
		rope_truncate(out, before);
	return err;
}

/* Is @st the file @c holds? */
static bool
same_file(const struct cached *c, const struct stat *st)
{
	return c->st.st_dev == st->st_dev && c->st.st_ino == st->st_ino &&
	       c->st.st_size == st->st_size &&
	       c->st.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	       c->st.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       c->st.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	       c->st.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/* The snapshot of the regular file @rel under @root, which *@st says it
 * is now: from the cache, or opened and put there. NULL with errno set. */
static struct rope_snap *
file_snap(int root, const char *rel, const struct stat *st)
{
	uint32_t h = 2166136261u;
	struct rope_snap *snap = NULL;
	struct cached *c;
	struct stat now;
	struct rope *r;
	char *path;
	int fd, err;

	for (const char *p = rel; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;   /* FNV-1a */
	c = &cache[h % CACHE_SLOTS];
	if (c->snap && !strcmp(c->path, rel) && same_file(c, st))
		return c->snap;
	/* O_NONBLOCK: a FIFO put there since the stat must not block the
	 * server. */
	fd = openat(root, rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	r = rope_new();
	path = strdup(rel);
	err = !r || !path ? -ENOMEM : fstat(fd, &now) < 0 ? -errno :
	      !S_ISREG(now.st_mode) ? -ENOENT :
	      rope_append_file(r, fd, 0, (size_t)now.st_size);
	if (!err)
		err = rope_snapshot(r, &snap);
	/* The rope took its own reference to the file, the snapshot its
	 * own to the rope's range. */
	close(fd);
	rope_free(r);
	if (err) {
		free(path);
		errno = -err;
		return NULL;
	}
	rope_snap_unref(c->snap);
	free(c->path);
	*c = (struct cached){ .path = path, .st = now, .snap = snap };
	return snap;
}

void
http_files_free(void)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		rope_snap_unref(cache[i].snap);
		free(cache[i].path);
		cache[i] = (struct cached){ 0 };
	}
}

int
http_file_respond(struct rope *out, int root, const struct http_request *req)
{
	char path[4096], *rel;
	size_t before = rope_size(out), size;
	struct rope_snap *snap = NULL;
	struct stat st;
	int err;

	if (!path_decode(req->target, path, sizeof(path)))
		return error_page(out, "400 Bad Request", req);
	if (climbs(path))
		return error_page(out, "403 Forbidden", req);
	/* Without its leading slashes (decoded ones too), or openat()
	 * would take "/etc/passwd" as absolute. "" is the root itself: a
	 * directory, which is not served. */
	rel = path + strspn(path, "/");
	if (fstatat(root, *rel ? rel : ".", &st, 0) < 0)
		return error_page(out, errno == EACCES ? "403 Forbidden" :
				  "404 Not Found", req);
	if (!S_ISREG(st.st_mode))
		return error_page(out, "404 Not Found", req);
	size = (size_t)st.st_size;
	if (size && !req->head_only && !(snap = file_snap(root, rel, &st)))
		return errno == ENOENT ? error_page(out, "404 Not Found", req) :
		       errno == EACCES ? error_page(out, "403 Forbidden", req) :
		       -errno;
	/* The length of the file as it was opened: the cache's. */
	if (snap)
		size = rope_snap_size(snap);
	err = head(out, "200 OK", "application/octet-stream", size, req);
	/* The answer takes its own references to the file's range. */
	if (!err && snap)
		err = rope_append_snap(out, snap, 0, size);
	if (err)
		rope_truncate(out, before);
	return err;
}
