#!/bin/sh
# bench/qsample.sh: generation speed of qsample for the `small` preset with 1 and 8 streams,
# beside the PyTorch peer (tests/reference/samplernn.py sample) in the same run.
# Prints generated samples per second (all streams together), our ratio to the peer and to real
# time (16000 samples/s per stream), for each way qsample can hold the weights: --weights f32
# (exactly the trained model, the default), f16, i8 and q8 (the preset column says which); one
# stream on one thread and on THREADS.
# The checkpoint is a small model trained for one step: speed does not depend on the weights.
set -u
BIN=${BIN:-bin}
PEER=tests/reference/samplernn.py
THREADS=${THREADS:-2}
SECS=${SECS:-2}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 -c '
import numpy as np
with open("'$T'/codes.npy", "wb") as f:
    for i in range(4):
        np.save(f, np.random.default_rng(i).integers(0, 256, 4096).astype(np.uint8))
'
$BIN/qtrain --preset small --batch 1 --steps 1 --checkpoint-every 1 -o $T/run $T/codes.npy 2>/dev/null || {
	echo "qsample bench: could not make a checkpoint" >&2; exit 1; }
# cpu_realtime_x: seconds of audio per second of CPU time (user + system, start-up included) over
# all threads: on a machine shared with other work the wall clock says how busy it was, this
# says what one stream costs (with one thread, it is the real-time factor the stream would have
# on an idle core). load: the 1-minute load average when the row was measured.
printf 'what\tpreset\tstreams\tthreads\tours_samples_per_s\tpeer_samples_per_s\tratio\trealtime_x\tcpu_realtime_x\tload\n'
for n in 1 8; do
	if [ -f "$PEER" ]; then
		peer=$(/usr/bin/python3 "$PEER" sample --preset small --n $n --secs $SECS --threads $THREADS | cut -f4)
	else
		peer="absent"
	fi
	# one stream: also on one thread (no pipelining, no shared products)
	ths=$THREADS; [ $n = 1 ] && [ "$THREADS" != 1 ] && ths="1 $THREADS"
	for th in $ths; do
		for w in f32 f16 i8 q8; do
			load=$(cut -d' ' -f1 /proc/loadavg)
			out=$(/usr/bin/time -f 'cpu %U %S' -o $T/time $BIN/qsample --threads $th --weights $w -n $n -s $SECS \
				-o $T/gen$n/ $T/run/best.safetensors 2>&1 | tail -1)
			ours=$(echo "$out" | sed -n 's/.*(\([0-9.]*\) samples\/s.*/\1/p')
			ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN { if (b + 0 > 0) printf "%.1f", a / b; else print "-" }')
			rt=$(awk -v a="$ours" -v n=$n 'BEGIN { printf "%.2f", a / n / 16000 }')
			cpu=$(awk -v n=$n -v s=$SECS '/^cpu/ { printf "%.2f", n * s / ($2 + $3) }' $T/time)
			p=small; [ $w = f32 ] || p=small+$w
			printf 'sample\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' $p $n $th "$ours" "$peer" "$ratio" "$rt" "$cpu" "$load"
		done
	done
done
[ -f "$PEER" ] || echo "qsample bench: $PEER not found: peer figures absent" >&2
