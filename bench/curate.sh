#!/bin/sh
# bench/curate.sh: how well and how fast `curate` decides.
# 1. Calibration (issue 15): `curate --explain` over the labelled corpus of real music and junk
#    that bench/curate-corpus.sh builds in CURATE_CORPUS (data/curate-corpus), and the
#    confusion tables of bench/curate_table.py: per label (each genre, each kind of junk) the
#    clips kept and the first reason of the rest, per rule the clips it holds for, and whether
#    music is kept >= 97% and every kind of junk rejected >= 95%.
# 2. Speed: `curate` on 200 and 1000 generated clips of 20 s at 16 kHz (bench/curate_gen.c:
#    synthetic songs with some silence, noise and stuck loops mixed in), the wall time.
# Prints figures, never pass/fail. BIN = built programs (bin/), CURATE_BENCH_COUNTS to change
# the clip counts (empty: no timing), CURATE_BENCH_SECONDS the clip length.
set -e
BIN=${BIN:-bin}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
counts=${CURATE_BENCH_COUNTS:-200 1000}
seconds=${CURATE_BENCH_SECONDS:-20}
corpus=${CURATE_CORPUS:-data/curate-corpus}
if [ -f "$corpus/clips/index.tsv" ]; then
	t0=$(date +%s.%N)
	"$BIN/curate" --explain "$corpus"/clips/*.npy | /usr/bin/python3 bench/curate_table.py "$corpus/clips/index.tsv"
	echo "curate --explain over the corpus: $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s (load $(cut -d' ' -f1 /proc/loadavg))"
else
	echo "curate: no corpus in $corpus (bench/curate-corpus.sh builds it); calibration skipped"
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/curate-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -O2 -o "$tmp/gen" bench/curate_gen.c -lm
threads=${OMP_NUM_THREADS:-$(nproc)}
for n in $counts; do
	"$tmp/gen" "$n" "$seconds" 1 16000 "$tmp/truth" >"$tmp/clips.npy"
	# wall and CPU seconds: the machine is shared, and wall time alone says little under load
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %U %S' -o "$tmp/time" "$BIN/curate" -q -o "$tmp/out" "$tmp/clips.npy"
	else
		t0=$(date +%s.%N)
		"$BIN/curate" -q -o "$tmp/out" "$tmp/clips.npy"
		echo "$(awk "BEGIN { print $(date +%s.%N) - $t0 }") 0 0" >"$tmp/time"
	fi
	read -r wall user sys <"$tmp/time"
	cpu=$(awk "BEGIN { printf \"%.1f\", $user + $sys }")
	kept=$(grep -c '"status": "kept"' "$tmp/out/curation.json")
	# the generator's truth against the verdicts (first reason, or kept = music)
	grep -E '^      "(status|reason)"' "$tmp/out/curation.json" |
		awk '/"status": "kept"/ { print "music"; next } /"reason"/ { gsub(/[",]/, "", $2); print $2 }' >"$tmp/verdicts"
	wrong=$(paste "$tmp/truth" "$tmp/verdicts" | awk '$1 != $2' | sort | uniq -c | awk '{ printf "%s%d %s as %s", sep, $1, $2, $3; sep = ", " }')
	tracks=$(ls "$tmp/out"/*.flac | wc -l)
	echo "curate: $n clips of ${seconds} s: $wall s wall ($threads threads, load $(cut -d' ' -f1 /proc/loadavg)), $cpu s CPU, $kept kept, $tracks tracks; misclassified: ${wrong:-none}"
	rm -rf "$tmp/out" "$tmp/clips.npy"
done
