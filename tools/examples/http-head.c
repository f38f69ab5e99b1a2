/* SPDX-License-Identifier: MIT */
/* http-head: see http-head.h. */
#include "http-head.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Does the comma-separated header value @v hold the token @tok? */
static bool
has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	for (;;) {
		v += strspn(v, " \t,");
		if (!*v)
			return false;
		if (!strncasecmp(v, tok, n) && strchr(" \t,\r", v[n]))
			return true;
		v += strcspn(v, ",");
	}
}

bool
http_parse_head(char *h, struct http_request *req)
{
	char *line = h, *eol = strstr(h, "\r\n"), *sp1, *sp2;
	bool close_hdr = false, keep_hdr = false;

	*eol = '\0';
	/* The request line: METHOD SP TARGET SP HTTP/1.x */
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1)
		return false;
	if (!strcmp(sp2 + 1, "HTTP/1.1"))
		req->http10 = false;
	else if (!strcmp(sp2 + 1, "HTTP/1.0"))
		req->http10 = true;
	else
		return false;
	*sp2 = '\0';
	req->target = sp1 + 1;
	req->head_only = sp1 - line == 4 && !strncmp(line, "HEAD", 4);

	/* The headers, one per line, until the empty line. */
	req->body_bytes = 0;
	for (line = eol + 2; *line != '\r'; line = eol + 2) {
		char *colon, *value, *end;

		eol = strstr(line, "\r\n");
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon)
			return false;
		*colon = '\0';
		value = colon + 1 + strspn(colon + 1, " \t");
		if (!strcasecmp(line, "Content-Length")) {
			errno = 0;
			req->body_bytes = strtoull(value, &end, 10);
			if (errno || end == value || *value == '-' ||
			    end[strspn(end, " \t")])
				return false;
		} else if (!strcasecmp(line, "Transfer-Encoding")) {
			return false;   /* chunked bodies: not here */
		} else if (!strcasecmp(line, "Connection")) {
			close_hdr |= has_token(value, "close");
			keep_hdr |= has_token(value, "keep-alive");
		}
	}
	/* HTTP/1.1 keeps the connection unless told; 1.0 closes unless told. */
	req->keep = !close_hdr && (!req->http10 || keep_hdr);
	return true;
}

size_t
http_response_head(char *buf, size_t size, const struct http_request *req,
		   size_t body_len)
{
	int n = snprintf(buf, size,
			 "HTTP/1.1 %s\r\n"
			 "Server: ropeio\r\n"
			 "Content-Type: text/plain\r\n"
			 "Content-Length: %zu\r\n"
			 "%s\r\n",
			 req ? "200 OK" : "400 Bad Request",
			 req ? body_len : 0,
			 !req || !req->keep ? "Connection: close\r\n" :
			 req->http10 ? "Connection: keep-alive\r\n" : "");

	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}
