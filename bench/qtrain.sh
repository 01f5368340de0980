#!/bin/sh
# bench/qtrain.sh: training speed of qtrain against the PyTorch reference model
# (tests/reference/samplernn.py, "the peer" below) on the tiny, small and medium presets, in the
# same run on the same random codes' shape: samples per second for both and their ratio, and
# qtrain's achieved GFLOP/s against the machine's own sgemm rate measured here (bench/sgemm.c).
# Prints figures, never pass/fail.
#   PRESETS="tiny small"  THREADS=2  STEPS_tiny=30 ...  LOAD_PRESETS="tiny small"  sh bench/qtrain.sh
# Then idle and loaded figures side by side (see "Under load" below).
# Two GFLOP/s figures: "executed" counts the FLOPs of the products qtrain actually runs
# (srnn_train_flops, written to run.json: the sample tier's first linear is lookup tables), which
# is the one to hold against sgemm; "dense" counts the textbook model (3 × 2 × the forward
# multiply-adds, the first sample-tier linear as a product, as the peer computes it), the work
# that the peer does for the same samples.
set -u
BIN=${BIN:-bin}
PEER=tests/reference/samplernn.py
PY=/usr/bin/python3
THREADS=${THREADS:-2}
PRESETS=${PRESETS-tiny small medium}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-qtrain.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

[ -x "$BIN/qtrain" ] || { echo "bench/qtrain.sh: $BIN/qtrain is not built (make)"; exit 0; }

# Random codes, as the peer trains on: 64 records of 4096 codes (4 windows of 1024), written as
# a .npy stream by hand so that the bench needs no numpy.
. "$(dirname "$0")/codes.sh"
random_codes_npy 64 4096 > "$tmp/codes.npy"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'),"\
     "load average $(cut -d' ' -f1-3 /proc/loadavg); threads $THREADS"

# the machine's sgemm rate: a square product and the model's large shapes
sgemm_rate=
if cc -O2 -o "$tmp/sgemm" bench/sgemm.c $(pkg-config --cflags --libs openblas) 2>"$tmp/cc.err"; then
	for shape in "2048 2048 2048" "16384 512 512" "16384 1024 1024"; do
		r=$("$tmp/sgemm" "$THREADS" $shape 3 | cut -f6)
		echo "sgemm M N K = $shape: $r GFLOP/s"
		sgemm_rate=$(echo "$r ${sgemm_rate:-0}" | awk '{print ($1 > $2) ? $1 : $2}')
	done
	echo "sgemm rate (best of the above): $sgemm_rate GFLOP/s"
else
	echo "sgemm: could not compile bench/sgemm.c: $(head -1 "$tmp/cc.err")"
fi

have_peer=1
if [ ! -f "$PEER" ] || ! $PY -c 'import torch' 2>/dev/null; then
	have_peer=0
	echo "peer: $PEER or python3-torch absent; printing qtrain only"
fi

# field VALUE of run.json's one-line "model" object
model_field() { sed -n "s/.*\"model\": {[^}]*\"$2\": \[*\([0-9]*\).*/\1/p" "$1"; }

printf 'preset\tqtrain_samples_per_s\tpeer_samples_per_s\tratio\texecuted_GFLOPs\tof_sgemm\tdense_GFLOPs\n'
for p in $PRESETS; do
	case $p in tiny) n=30 ;; small) n=5 ;; *) n=3 ;; esac
	eval "n=\${STEPS_$p:-$n}"
	# n timed steps after one warm-up, as the peer does; no validation, one final checkpoint
	if ! "$BIN/qtrain" --preset "$p" --threads "$THREADS" --steps $((n + 1)) --checkpoint-every 100000 \
		--split 100,0,0 -o "$tmp/run_$p" "$tmp/codes.npy" 2>"$tmp/q_$p.err"; then
		echo "$p: qtrain failed: $(tail -1 "$tmp/q_$p.err")"
		continue
	fi
	ours=$(sed -n 's/.* \([0-9.]*\) samples\/s.*/\1/p' "$tmp/q_$p.err" | tail -1)
	j=$tmp/run_$p/run.json
	fs=$(model_field "$j" frame_sizes) D=$(model_field "$j" dim) L=$(model_field "$j" layers)
	E=$(model_field "$j" embed) Q=$(model_field "$j" levels)
	flops=$(awk -v fs="$fs" -v D="$D" -v L="$L" -v E="$E" -v Q="$Q" 'BEGIN {
		frame = 4 * D * (fs + D) + (L - 1) * 4 * D * (D + fs + D) + L * D * D + fs * D * D
		samp = fs * E * D + 2 * D * D + D * Q
		print 6 * (frame / fs + samp) }')
	dense=$(awk -v s="$ours" -v f="$flops" 'BEGIN { printf "%.1f", s * f / 1e9 }')
	B=$(model_field "$j" batch) S=$(model_field "$j" seq)
	step_flops=$(sed -n 's/.*"train_flops_per_step": \([0-9.e+]*\).*/\1/p' "$j")
	gf=$(awk -v s="$ours" -v f="${step_flops:-0}" -v n=$((B * S)) 'BEGIN { printf "%.1f", s * f / n / 1e9 }')
	share=-
	[ -n "$sgemm_rate" ] && share=$(awk -v g="$gf" -v r="$sgemm_rate" 'BEGIN { printf "%.0f%%", 100 * g / r }')
	peer=- ratio=-
	if [ $have_peer = 1 ]; then
		peer=$($PY "$PEER" train --preset "$p" --steps "$n" --threads "$THREADS" 2>"$tmp/p_$p.err" | cut -f4)
		if [ -n "$peer" ]; then
			ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN { printf "%.2f", a / b }')
		else
			peer="failed: $(tail -1 "$tmp/p_$p.err")"
		fi
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$ours" "$peer" "$ratio" "$gf" "$share" "$dense"
done
echo "(ratio = qtrain / peer; executed GFLOP/s: the products qtrain runs; dense: the textbook model's)"

# Under load: the same training (default threads: every core) alone, then beside one other
# CPU-bound process (a shell loop), in the same run; and qsample the same (8 streams of the
# small preset). Each with the waits qtrain and qsample set for themselves (lib/blas.c: a short
# GOMP_SPINCOUNT) and with libgomp's own default (GOMP_SPINCOUNT=300000, what an OpenMP
# program gets when nobody sets it). The loaded/idle ratio is the figure: the fair share of a
# 2-core machine beside one busy process is 2/3. The machine's other load (load average) is
# printed: figures from a busy machine are noisy, run it twice.
LOAD_PRESETS=${LOAD_PRESETS:-tiny small}
busy_start() { sh -c 'while :; do :; done' & busy=$!; }
busy_stop() { kill $busy 2>/dev/null; wait $busy 2>/dev/null; }
train_rate() { # train_rate PRESET ENV...: qtrain's samples/s over n steps after a warm-up
	p=$1; shift
	case $p in tiny) n=${STEPS_tiny:-30} ;; *) n=${STEPS_small:-6} ;; esac
	rm -rf "$tmp/load_run"
	env "$@" "$BIN/qtrain" --preset "$p" --steps $((n + 1)) --checkpoint-every 100000 --split 100,0,0 \
		-o "$tmp/load_run" "$tmp/codes.npy" 2>&1 | tr '\r' '\n' | sed -n 's/.* \([0-9.]*\) samples\/s (.*/\1/p' | tail -1
}
sample_rate() { # sample_rate ENV...: qsample's samples/s, 8 streams of 2 s
	env "$@" "$BIN/qsample" -n 8 -s 2 -o "$tmp/load_gen/" "$tmp/load_ckpt/best.safetensors" 2>&1 | tail -1 |
		sed -n 's/.*(\([0-9.]*\) samples\/s.*/\1/p'
}
"$BIN/qtrain" --preset small --batch 1 --steps 1 --checkpoint-every 1 --split 100,0,0 -o "$tmp/load_ckpt" \
	"$tmp/codes.npy" 2>/dev/null
echo
echo "under load: $(nproc) cores, load average before $(cut -d' ' -f1-3 /proc/loadavg); one extra busy process while loaded"
printf 'what\twaits\tidle_samples_per_s\tloaded_samples_per_s\tloaded/idle\n'
row() { # row WHAT WAITS IDLE LOADED
	printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" \
		"$(awk -v a="$3" -v b="$4" 'BEGIN { if (a > 0) printf "%.0f%%", 100 * b / a; else print "-" }')"
}
for waits in ours GOMP_SPINCOUNT=300000; do
	e=SHARKS_BENCH=1; [ $waits = ours ] || e=$waits
	for p in $LOAD_PRESETS; do
		idle=$(train_rate "$p" $e)
		busy_start; loaded=$(train_rate "$p" $e); busy_stop
		row "qtrain $p" "$waits" "$idle" "$loaded"
	done
	idle=$(sample_rate $e)
	busy_start; loaded=$(sample_rate $e); busy_stop
	row "qsample small x8" "$waits" "$idle" "$loaded"
done
echo "load average after $(cut -d' ' -f1-3 /proc/loadavg)"

# Kernels (lib/blas.c): the kernel qtrain runs on this CPU against OpenBLAS's SSE3 fallback
# (Prescott, what Debian's 0.3.21 picks on CPUs newer than itself when nothing corrects it),
# in the same run, idle.
echo
ours_core=$("$BIN/qtrain" --preset tiny --steps 1 --split 100,0,0 -o "$tmp/core_run" "$tmp/codes.npy" 2>/dev/null;
	sed -n 's/.*"openblas_core": "\([^"]*\)".*/\1/p' "$tmp/core_run/run.json")
printf 'kernels\tpreset\tours (%s)\tPrescott\tours/Prescott\n' "$ours_core"
for p in $LOAD_PRESETS; do
	a=$(train_rate "$p" SHARKS_BENCH=1)
	b=$(train_rate "$p" OPENBLAS_CORETYPE=Prescott)
	printf 'kernels\t%s\t%s\t%s\t%s\n' "$p" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
done
