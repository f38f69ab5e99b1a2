/* The README's example: BytesIO in C. */
#include <stdio.h>
#include <ropeio.h>

int main(void)
{
	struct rope *r = rope_new();
	struct rope_bytes *v;
	char line[64];

	rope_write(r, "GET / HTTP/1.1\r\n", 16);
	rope_write(r, "Host: example\r\n\r\n", 17);
	rope_seek(r, 0, SEEK_SET);
	ssize_t n = rope_readline(r, line, sizeof(line));  /* through '\n' */
	printf("first line: %.*s", (int)n, line);

	rope_getvalue(r, &v);              /* flat, cached, immutable */
	rope_seek(r, 0, SEEK_SET);
	rope_write(r, "PUT", 3);           /* v does not change */
	printf("value: %.3s, rope: %zu bytes\n",
	       (const char *)rope_bytes_data(v), rope_size(r));
	rope_bytes_unref(v);
	rope_free(r);
	return 0;
}
