#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Remake the seed corpus and the dictionary: each seed is a PRNG run of the harness recorded
# as the fuzz input that replays it (tests/fuzz/replay.c --record). Run it
# after the op table (tests/model-table.c) or the draws change, since an
# input's bytes mean what the table and the draws say.
#
#   tests/fuzz/make-seeds.sh BUILD_DIR
#
# A seed: its name, the PRNG seed, the F_* flags (tests/model.h: 1 refs,
# 2 values, 4 exports, 8 life, 0x10 twin, 0x20 seam), the steps, and the
# only operations it picks (all, if none are named). Seeds stay short
# (50 to 100 steps, under 1.5 KB): libFuzzer's time per input grows with
# its length, and it mutates short inputs faster. Saved crash inputs
# (crash-*) are not remade: they keep what they found only under the
# table they were found with, so turn each into a named seed here.
set -euo pipefail
cd "$(dirname "$0")/../.."
replay="$1/tests/fuzz/test-fuzz-replay"
out=tests/fuzz/corpus

seeds=(
  "everything                  1 0x3f 100"
  "everything-no-seam          2 0x1f 100"
  "stream-only                 3 0x00 100"
  "big-append                  4 0x01 50  append,write,append_ref,read,pread"
  "drains-past-int64-max       5 0x00 40  far,drain,write,append"
  "export-and-close            6 0x0e 50  getbuffer,export_write,close,reopen,releasebuffer,write,getvalue"
  "gap-and-read                7 0x02 50  gap,read,readline,pread,seek,write,getvalue"
  "int64-max-edge              8 0x00 50  overflow,seek,far,write,truncate,pread"
  "pipe-faults                 9 0x00 50  write_fd,read_fd,write,append,seek"
  "oom-mid-change             18 0x3f 50  oom,write,append,append_ref,getvalue,snapshot,fork,seal_run,releasebuffer"
  "seam-append-seal           10 0x20 50  append,seal,seal_run,write"
  "seam-read-fd-overwrite     11 0x20 50  read_fd,write,seek,seal,seal_run"
  "seam-reopen-export         12 0x2e 50  reopen,close,getbuffer,releasebuffer,append,seal_run,seal"
  "seam-seal-shared-value     13 0x22 50  getvalue,seal,seal_run,append,snapshot,drop_value,drop_snap"
  "twin-shares-values         14 0x12 50  fork,swap,write,getvalue,append,truncate,drain"
  "value-then-writes          15 0x02 50  getvalue,write,snapshot,check_snap,drop_value,bytes_new"
  "writev-cursor-drain        16 0x00 50  writev,cursor,drain,find,readline_delim,pullup"
  "writev-empty-null-base     17 0x01 50  writev,badargs,append_ref,info"
)
rm -f "$out"/*
for s in "${seeds[@]}"; do
	read -r name seed flags steps ops <<<"$s"
	"$replay" --record "$out/$name" "$seed" "$flags" "$steps" ${ops:+"$ops"} \
		>/dev/null
done
"$replay" --dict >tests/fuzz/rope-ops.dict
"$replay" "$out"
