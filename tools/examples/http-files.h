/* SPDX-License-Identifier: MIT */
/*
 * http-files: the static files of the HTTP example server
 * (http-server --root DIR), kept apart from its loop.
 */
#ifndef HTTP_FILES_H
#define HTTP_FILES_H

#include "ropeio.h"

#include "http-head.h"

/*
 * Append to @out the answer to @req from the directory @root (an open
 * descriptor): "200 OK" with the file's bytes by reference
 * (rope_append_file(): the server never reads them, the engine sends
 * them), or "404 Not Found" (missing, not a regular file), or "403
 * Forbidden" (a ".." segment). The target is percent-decoded; its query
 * is ignored; symbolic links are followed, as nginx does by default.
 * The files served lately stay open and mapped, each as a snapshot that
 * answers share (see http-files.c): a file must not be changed in place
 * while it is served (as for sendfile(2)), but may be replaced (a new
 * file renamed over it), which a later request notices.
 *
 * Returns 0, or a negative errno (-ENOMEM, -EMFILE, ...) with @out as it
 * was: the caller answers with an error of its own.
 */
int http_file_respond(struct rope *out, int root,
		      const struct http_request *req);

/* Let go of the files held for later requests (at exit). */
void http_files_free(void);

#endif /* HTTP_FILES_H */
