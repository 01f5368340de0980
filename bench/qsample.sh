#!/bin/sh
# bench/qsample.sh: generation speed of qsample for the `small` preset with 1 and 8 streams,
# beside the PyTorch peer (tests/reference/samplernn.py sample) in the same run.
# Prints generated samples per second (all streams together), our ratio to the peer and to real
# time (16000 samples/s per stream), for each way qsample can hold the weights: --weights f32
# (exactly the trained model, the default), f16, i8 and q8 (the preset column says which).
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
printf 'what\tpreset\tstreams\tthreads\tours_samples_per_s\tpeer_samples_per_s\tratio\trealtime_x\n'
for n in 1 8; do
	if [ -f "$PEER" ]; then
		peer=$(/usr/bin/python3 "$PEER" sample --preset small --n $n --secs $SECS --threads $THREADS | cut -f4)
	else
		peer="absent"
	fi
	for w in f32 f16 i8 q8; do
		out=$($BIN/qsample --threads $THREADS --weights $w -n $n -s $SECS -o $T/gen$n/ $T/run/best.safetensors 2>&1 | tail -1)
		ours=$(echo "$out" | sed -n 's/.*(\([0-9.]*\) samples\/s.*/\1/p')
		ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')
		rt=$(awk -v a="$ours" -v n=$n 'BEGIN { printf "%.2f", a / n / 16000 }')
		p=small; [ $w = f32 ] || p=small+$w
		printf 'sample\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n' $p $n $THREADS "$ours" "$peer" "$ratio" "$rt"
	done
done
[ -f "$PEER" ] || echo "qsample bench: $PEER not found: peer figures absent" >&2
