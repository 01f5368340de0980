#!/bin/sh
# WaveNet speed beside the PyTorch peer (../shared/peers/wavenet_torch.py), in the same run:
# training samples/s (tiny, default) and fast generation samples/s (default, 1 and 8 streams),
# each C figure printed back to back with the peer's and their ratio. Both on 2 threads.
# TSV: what, preset, streams, ours, peer, ratio. THREADS (default 2) sets both sides' threads;
# PEER_SECS (default 0.25, the issue's) the seconds the peer generates per stream (it is slow on a
# loaded machine); ours generate 1 s per stream. WHAT=train or WHAT=sample runs only those rows.
# Then the same for the embedded (E = R) and scalar (width 32) input layers on the default preset,
# ours only (the peer has one-hot input only): the preset column says which.
set -e
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
PEER=$SHARED/peers/wavenet_torch.py
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
[ "$WHAT" = train ] || for n in 1 8; do
	o=$(ours sample default $n 1); q=$(peer sample --preset default --n $n --secs ${PEER_SECS:-0.25})
	row sample default $n "$o" "$q"
done
for input in embed scalar; do
	[ "$WHAT" = sample ] || row train default+$input - "$(ours train default 3 $input)" nan
	[ "$WHAT" = train ] || row sample default+$input 1 "$(ours sample default 1 1 $input)" nan
done
