/* SPDX-License-Identifier: MIT */
/*
 * The op table of the differential harness: every operation the PRNG runs
 * (test-model) and the fuzzer runs (tests/fuzz), with its weight and the
 * run features it needs. Adding a line here is how an operation joins both.
 *
 * The order and the weights are part of a fuzz input's meaning (an op is
 * picked by where a draw falls among the weights). A line added at the end
 * leaves the corpus meaning what it did (while the total weight stays
 * under 65,536: one draw of two bytes); moving or reweighing a line does
 * not: remake the corpus then (tests/fuzz/make-seeds.sh).
 */
#include "model.h"

const struct op_def t_model_ops[] = {
	{ "write",          op_write,          160, 0 },
	{ "writev",         op_writev,          50, 0 },
	{ "append",         op_append,          50, 0 },
	{ "append_ref",     op_append_ref,      40, F_REFS },
	{ "read",           op_read,            90, 0 },
	{ "readline",       op_readline,        80, 0 },
	{ "pread",          op_pread,           60, 0 },
	{ "seek",           op_seek,           120, 0 },
	{ "truncate",       op_truncate,        40, 0 },
	{ "drain",          op_drain,           30, 0 },
	{ "find",           op_find,            25, 0 },
	{ "pullup",         op_pullup,          20, 0 },
	{ "overflow",       op_overflow,         4, 0 },
	{ "gap",            op_gap,              2, 0 },
	{ "badargs",        op_badargs,          8, 0 },
	{ "info",           op_info,             5, 0 },
	{ "getvalue",       op_getvalue,        40, F_VALUES },
	{ "drop_value",     op_drop_value,      20, F_VALUES },
	{ "bytes_new",      op_bytes_new,        5, F_VALUES },
	{ "snapshot",       op_snapshot,        30, F_VALUES },
	{ "drop_snap",      op_drop_snap,       15, F_VALUES },
	{ "check_snap",     op_check_snap,      25, F_VALUES },
	{ "getbuffer",      op_getbuffer,       10, F_EXPORTS },
	{ "export_write",   op_export_write,    40, F_EXPORTS },
	{ "releasebuffer",  op_releasebuffer,   60, F_EXPORTS },
	{ "close",          op_close,            6, F_LIFE },
	{ "reopen",         t_op_reopen,         6, F_LIFE },
	{ "fork",           op_fork,             4, F_TWIN },
	{ "swap",           op_swap,            10, F_TWIN },
	{ "seal",           op_seal,            25, F_SEAM },
	{ "seal_run",       op_seal_run,        20, F_SEAM },
	{ "readline_delim", op_readline_delim,  30, 0 },
	{ "cursor",         op_cursor,          15, 0 },
	{ "write_fd",       op_write_fd,        12, 0 },
	{ "read_fd",        op_read_fd,         12, 0 },
	{ "far",            op_far,              3, 0 },
	{ "oom",            op_oom,              6, 0 },
	{ "append_snap",    op_append_snap,     15, F_VALUES },
	{ "move",           op_move,            20, 0 },
	{ "printf",         op_printf,          10, 0 },
	{ "reserve",        op_reserve,         15, 0 },
	{ "append_file",    op_append_file,      8, 0 },
};

const size_t t_model_nops = ARRAY_SIZE(t_model_ops);

_Static_assert(ARRAY_SIZE(t_model_ops) <=
	       ARRAY_SIZE(((struct ctx *)0)->counts),
	       "one counter per operation");
_Static_assert(ARRAY_SIZE(t_model_ops) <= 64,
	       "ctx.only has one bit per operation");
