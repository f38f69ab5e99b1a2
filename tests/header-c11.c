/* SPDX-License-Identifier: MIT */
/*
 * The public headers under strict ISO C, as an adopter compiles them:
 * tests/meson.build runs the compiler on this file with -std=c11 -pedantic
 * -Werror and nothing of the project's flags, once per include order
 * (T_URING_FIRST). liburing 2.3's header alone fails there when any libc
 * header comes before it; ropeio-uring.h must not.
 */
#if defined(T_URING_FIRST)
#include "ropeio-uring.h"
#include "ropeio.h"
#elif defined(T_HAVE_URING)
#include "ropeio.h"
#include "ropeio-uring.h"
#else
#include "ropeio.h"
#endif

int t_header_c11(void);

int
t_header_c11(void)
{
	struct rope *r = rope_new();
	int ok = r != NULL;

	rope_free(r);
#ifdef T_HAVE_URING
	{
		struct rope_uring *u = NULL;

		ok = ok && rope_uring_new(&u, 4) == 0;
		rope_uring_free(u);
	}
#endif
	return ok;
}
