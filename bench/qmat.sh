#!/bin/sh
# Packed weight products for generation (lib/qmat.c: f32, f16, i8 with a scale per row) beside
# today's float product (linear_forward → nn_gemm), in the same run, for the shapes that
# generation uses, with 1 and 8 streams on 1 and 2 threads. Two tables (TSV):
#  - per shape, "hot" (one matrix again and again, from cache when it fits) and "cold" (a ring of
#    copies of at least 64 MB per kernel, from memory): microseconds per product, GFLOP/s, GB/s
#    of weights read, speedup over nn_gemm;
#  - per model, the samples per second (all streams) that generation would reach if a sample
#    cost only its matrix products: SampleRNN `small` (GRU, 9.0M weights per 16-sample frame,
#    0.39M per sample) and WaveNet `default` (1.47M per sample), every matrix its own.
#    "i8+f16" is the frame tier in i8 (read from memory) and the sample tier in f16 (in cache).
# SECS (default 0.3) per figure; STREAMS, THREADS: comma lists (default 1,8 and 1,2);
# WHAT=shape or WHAT=model runs one table.
set -e
cd "$(dirname "$0")/.."
make -s build/libsharks.a >/dev/null
B=build/bench
mkdir -p $B
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -fopenmp -Ilib -o $B/qmat_bench bench/qmat_bench.c \
    build/libsharks.a \
    $(pkg-config --libs sndfile samplerate fftw3f fftw3 openblas libchromaprint cairo libpng) -lm
SECS=${SECS:-0.3}
STREAMS=${STREAMS:-1,8}
THREADS=${THREADS:-1,2}
WHAT=${WHAT:-all}
echo "# $(uptime | sed 's/.*load/load/'); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
if [ "$WHAT" != model ]; then
	printf 'shape\trows\tcols\tstreams\tthreads\tcache\tkernel\tus\tGFLOP/s\tGB/s\tspeedup\n'
	while read -r name rows cols; do
		$B/qmat_bench shape "$name" "$rows" "$cols" "$SECS" "$STREAMS" "$THREADS"
	done <<SHAPES
srnn-gru-whh 1536 512
srnn-gru-wih 1536 528
srnn-512 512 512
srnn-upsample 8192 512
srnn-256 256 512
wavenet-filtergate 64 64
wavenet-residual 32 32
wavenet-skip 512 1600
wavenet-512 512 512
SHAPES
fi
if [ "$WHAT" != shape ]; then
	printf 'model\tstreams\tthreads\tkernel\tMB\tsamples/s\tspeedup\n'
	for m in srnn wavenet; do
		for n in $(echo "$STREAMS" | tr , ' '); do
			for t in $(echo "$THREADS" | tr , ' '); do
				$B/qmat_bench model $m "$n" "$t" "$SECS"
			done
		done
	done
fi
