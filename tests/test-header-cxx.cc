// SPDX-License-Identifier: MIT
// The public header must compile and link as C++ (extern "C" guards).
#include <cstdio>
#include <cstring>

#include "ropeio.h"

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
	rope_free(r);
	std::printf("header-cxx: %s\n", ok ? "ok" : "FAILED");
	return ok ? 0 : 1;
}
