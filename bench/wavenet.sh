#!/bin/sh
# WaveNet speed beside the PyTorch peer (tests/reference/wavenet.py), in the same run:
# training samples/s (tiny, default) and fast generation samples/s (tiny, default; 1 and 8 streams),
# each C figure printed back to back with the peer's and their ratio. Both on 2 threads.
# TSV: what, preset, streams, ours, peer, ratio. THREADS (default 2) sets both sides' threads;
# PEER_SECS (default 0.25, the issue's) the seconds the peer generates per stream (it is slow on a
# loaded machine); ours generate 1 s per stream, with bin/qsample on a checkpoint of each preset that
# bin/qtrain makes in one step (speed does not depend on the weights), once per weight type
# (--weights f32, the exact model, then f16, i8 and q8: the preset column says which).
# WHAT=train or WHAT=sample runs only those rows. Then the embedded (E = R) and scalar (width 32)
# input layers on the default preset, ours only (the peer has one-hot input only).
set -e
cd "$(dirname "$0")/.."
PEER=tests/reference/wavenet.py
THREADS=${THREADS:-2}
make -s build/libsharks.a >/dev/null
B=build/bench
mkdir -p $B
${CC:-cc} -std=c11 -O2 -fopenmp -Ilib $(pkg-config --cflags openblas 2>/dev/null) -o $B/wavenet_bench \
    bench/wavenet_bench.c build/libsharks.a \
    $(pkg-config --libs sndfile samplerate fftw3f fftw3 openblas libchromaprint cairo libpng) -lm
export OMP_NUM_THREADS=$THREADS
peer() { [ -f "$PEER" ] && /usr/bin/python3 "$PEER" "$@" --threads "$THREADS" | cut -f4 || echo nan; }
ours() { $B/wavenet_bench "$@" | cut -f4; }
row() { # what preset streams ours peer
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" \
	    "$(awk -v a="$4" -v b="$5" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')"
}
printf 'what\tpreset\tstreams\tsharks\tpeer\tratio\n'
WHAT=${WHAT:-all}
[ "$WHAT" = sample ] || for p in tiny default; do
	steps=20; [ $p = default ] && steps=3
	o=$(ours train $p $steps); q=$(peer train --preset $p --steps $steps)
	row train $p - "$o" "$q"
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
make -s bin/qtrain bin/qsample >/dev/null
/usr/bin/python3 -c '
import numpy as np
with open("'$T'/codes.npy", "wb") as f:
    for i in range(2):
        np.save(f, np.random.default_rng(i).integers(0, 256, 32000).astype(np.uint8))
'
checkpoint() { # INPUT [PRESET]: a WaveNet (default preset) after one step, its path on stdout
	bin/qtrain --model wavenet --preset ${2:-default} --input $1 --steps 1 --checkpoint-every 1 \
	    --split 100,0,0 -o $T/$1-${2:-default} $T/codes.npy >/dev/null 2>&1 &&
	    echo $T/$1-${2:-default}/best.safetensors
}
qs() { # CHECKPOINT STREAMS WEIGHTS: generated samples per second
	bin/qsample --threads $THREADS --weights $3 -n $2 -s 1 -o $T/gen/ $1 2>&1 | tail -1 |
	    sed -n 's/.*(\([0-9.]*\) samples\/s.*/\1/p'
}
[ "$WHAT" = train ] || for preset in tiny default; do
	ck=$(checkpoint onehot $preset)
	for n in 1 8; do
		q=$(peer sample --preset $preset --n $n --secs ${PEER_SECS:-0.25})
		for w in f32 f16 i8 q8; do
			p=$preset; [ $w = f32 ] || p=$preset+$w
			row sample $p $n "$(qs $ck $n $w)" "$q"
		done
	done
done
for input in embed scalar; do
	[ "$WHAT" = sample ] || row train default+$input - "$(ours train default 3 $input)" nan
	[ "$WHAT" = train ] || row sample default+$input 1 "$(qs $(checkpoint $input) 1 f32)" nan
done
