/* SPDX-License-Identifier: MIT */
/*
 * http-head: the request parsing and the response heads of the HTTP
 * example server (http-server.c), kept apart so that the tour's libevent
 * twin (tools/bench/httpd-libevent.c) does exactly the same work per
 * request: only the buffers and the loop differ between the two.
 */
#ifndef HTTP_HEAD_H
#define HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>

/* What a request head asks for. */
struct http_request {
	const char *target;  /* the request target ("/a/b?q"), NUL-terminated,
				inside the parsed head */
	size_t body_bytes;  /* its Content-Length: body bytes to skip */
	bool http10;        /* HTTP/1.0 rather than 1.1 */
	bool head_only;     /* HEAD: answer without the body */
	bool keep;          /* the connection stays open after the answer */
};

/*
 * Parse the request head @h (NUL-terminated, ending in "\r\n\r\n"; its
 * line ends are overwritten) into *@req. Returns false for a request the
 * server rejects (a malformed line, another protocol, a chunked body).
 */
bool http_parse_head(char *h, struct http_request *req);

/*
 * Write the response head for @req into @buf (256 bytes are plenty):
 * "200 OK" announcing @body_len bytes of body, or, with @req NULL,
 * "400 Bad Request" that closes the connection. Returns its length.
 * The body itself is the caller's to append, unless req->head_only.
 */
size_t http_response_head(char *buf, size_t size,
			  const struct http_request *req, size_t body_len);

#endif /* HTTP_HEAD_H */
