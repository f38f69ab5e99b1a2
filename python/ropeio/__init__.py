# SPDX-License-Identifier: MIT
"""ropeio: io.BytesIO as a rope of refcounted chunks.

ropeio.BytesIO is an io.BytesIO (a subtype) and behaves like one (same
methods, results, exceptions and messages) without its copies: a bytes
object given to the constructor is shared, getvalue() of an unchanged
stream returns the same object, and a write while a value is held costs
the written bytes only. It adds snapshot(), send(), write_to(), find(),
readline_delim() and drain().
"""
import io as _io

from ._ropeio import (BytesIO, Snapshot, cache_trim, mem_stats,
                      mem_reset_peak, __version__)

# A subtype of io.BytesIO, which the io.BufferedIOBase ABC knows already;
# registered too for an interpreter where it derives from
# _io._BufferedIOBase instead (see _ropeio._derives_from_bytesio).
_io.BufferedIOBase.register(BytesIO)

__all__ = ["BytesIO", "Snapshot", "cache_trim", "mem_stats", "mem_reset_peak"]
