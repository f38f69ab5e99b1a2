/* SPDX-License-Identifier: MIT */
/*
 * The library's version at run time. The header's macros are the one
 * source: src/meson.build fails the build when they and the project's
 * version disagree.
 */
#include "rope-priv.h"

#define STR_(x) #x
#define STR(x) STR_(x)

ROPEIO_EXPORT int
rope_version(void)
{
	return ROPEIO_VERSION_NUMBER;
}

ROPEIO_EXPORT const char *
rope_version_string(void)
{
	return STR(ROPEIO_VERSION_MAJOR) "." STR(ROPEIO_VERSION_MINOR) "."
	       STR(ROPEIO_VERSION_PATCH);
}
