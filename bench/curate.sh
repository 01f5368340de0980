#!/bin/sh
# bench/curate.sh: time `curate` on 200 and 1000 generated clips of 20 s at 16 kHz
# (bench/curate_gen.c: synthetic songs with some silence, noise and stuck loops mixed in).
# Prints figures, never pass/fail. BIN = built programs (bin/), CURATE_BENCH_COUNTS to change
# the clip counts, CURATE_BENCH_SECONDS the clip length.
set -e
BIN=${BIN:-bin}
counts=${CURATE_BENCH_COUNTS:-200 1000}
seconds=${CURATE_BENCH_SECONDS:-20}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/curate-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -o "$tmp/gen" bench/curate_gen.c -lm
threads=${OMP_NUM_THREADS:-$(nproc)}
for n in $counts; do
	"$tmp/gen" "$n" "$seconds" 1 >"$tmp/clips.npy"
	t0=$(date +%s.%N)
	"$BIN/curate" -q -o "$tmp/out" "$tmp/clips.npy"
	t1=$(date +%s.%N)
	kept=$(grep -c '"status": "kept"' "$tmp/out/curation.json")
	tracks=$(ls "$tmp/out"/*.flac | wc -l)
	echo "curate: $n clips of ${seconds} s: $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s wall ($threads threads), $kept kept, $tracks tracks"
	rm -rf "$tmp/out" "$tmp/clips.npy"
done
