/* SPDX-License-Identifier: MIT */
/* http-files: see http-files.h. */
#include "http-files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int
http_file_respond(struct rope *out, int root, const struct http_request *req)
{
	char path[4096], *rel;
	size_t before = rope_size(out);
	struct stat st;
	int fd, err;

	if (!path_decode(req->target, path, sizeof(path)))
		return error_page(out, "400 Bad Request", req);
	if (climbs(path))
		return error_page(out, "403 Forbidden", req);
	/* Without its leading slashes (decoded ones too), or openat()
	 * would take "/etc/passwd" as absolute. "" is the root itself: a
	 * directory, which is not served. O_NONBLOCK: a FIFO in the tree
	 * must not block the server. */
	rel = path + strspn(path, "/");
	fd = openat(root, *rel ? rel : ".",
		    O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return error_page(out, errno == EACCES ? "403 Forbidden" :
				  "404 Not Found", req);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_page(out, "404 Not Found", req);
	}
	/* The rope keeps its own reference to the file: ours closes at
	 * once. */
	err = head(out, "200 OK", "application/octet-stream",
		   (size_t)st.st_size, req);
	if (!err && !req->head_only && st.st_size)
		err = rope_append_file(out, fd, 0, (size_t)st.st_size);
	close(fd);
	if (err)
		rope_truncate(out, before);
	return err;
}
