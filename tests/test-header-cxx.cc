// SPDX-License-Identifier: MIT
// The public header must compile and link as C++ (extern "C" guards).
#include <cstdio>
#include <cstring>

#include "ropeio.h"
#ifdef ROPEIO_HAVE_URING
#include "ropeio-uring.h"
#endif

int
main()
{
	struct rope *r = rope_new();
	struct rope_bytes *v = nullptr;
	int ok;

	if (!r)
		return 99;
	ok = rope_write(r, "c++", 3) == 3 && rope_getvalue(r, &v) == 0 &&
	     rope_bytes_size(v) == 3 &&
	     std::memcmp(rope_bytes_data(v), "c++", 3) == 0;
	rope_bytes_unref(v);
#ifdef ROPEIO_HAVE_URING
	{
		struct rope_uring *u = nullptr;

		ok = ok && rope_uring_new(&u, 4) == 0 && rope_uring_run(u, 0) == 0;
		rope_uring_free(u);
	}
#endif
	rope_free(r);
	std::printf("header-cxx: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
