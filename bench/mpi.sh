#!/bin/sh
# bench/mpi.sh: data-parallel qtrain under mpirun on this machine: samples/s of one process
# with one thread against 2 ranks with one thread each, on the same global batch, in the same
# run (their ratio is the figure: the machine is shared, so its load is printed too); and, for
# every SampleRNN, WaveNet and DDSP preset, the bytes each rank sends and receives to reduce one
# step (4 bytes a parameter: the gradients' reduce-scatter and the updated parameters'
# allgather, 2·(N-1)/N of them).
# Beside them, in the same run, the machine's own limit: two independent one-process runs side by
# side against one alone (on a shared machine what the others leave moves both figures alike).
# Also the share of rank 0's time spent in the reduction (the sums and the wait for the slower
# rank), which says how far the ratio is from 2 because of the reduction rather than the load.
# The CPU seconds per step (runs of one step taken off) say what the wall-clock cannot on a
# loaded machine: the speed-up two free cores would give. Prints figures, never pass/fail.
#   PRESET=small  STEPS=4  BATCH=16  sh bench/mpi.sh
#   MODEL=ddsp PRESET=small STEPS=4 sh bench/mpi.sh     (DDSP on a synthesized tone: sox)
set -u
BIN=${BIN:-bin}
MODEL=${MODEL:-samplernn}
PRESET=${PRESET:-small}
STEPS=${STEPS:-4}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-mpi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
[ -x "$BIN/qtrain" ] || { echo "bench/mpi.sh: $BIN/qtrain is not built (make)"; exit 0; }
command -v mpirun >/dev/null 2>&1 || { echo "bench/mpi.sh: mpirun absent (apt-get install openmpi-bin)"; exit 0; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# random codes: 64 records of 16384 (long enough for every preset's rows), a hand-written .npy
# stream as bench/qtrain.sh makes it
. "$(dirname "$0")/codes.sh"
random_codes_npy 64 16384 > "$tmp/codes.npy"
# DDSP's audio: 64 s of a sawtooth gliding over two octaves, cut into <f4 records of 4 s (16
# examples of the small and paper presets), when sox is there
audio=
if command -v sox >/dev/null 2>&1 && sox -n -r 16000 -c 1 "$tmp/tone.wav" synth 64 sawtooth 110-440 vol 0.5 2>/dev/null &&
	"$BIN/wavchunk" -q -l 4 -p 0 -o "$tmp/audio.npy" "$tmp/tone.wav"; then
	audio=$tmp/audio.npy
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "MPI: $(mpirun --version 2>/dev/null | head -1)"

# bytes reduced per step: the parameters of each preset (qtrain --steps 0 writes run.json only)
printf 'model\tparameters\tgradient_MB\tMB_sent_per_rank_2_ranks\tMB_sent_per_rank_many\n'
for m in "samplernn tiny" "samplernn small" "samplernn medium" "samplernn dadabots" "wavenet tiny" "wavenet default" \
	"ddsp tiny" "ddsp small" "ddsp paper"; do
	set -- $m
	data=$tmp/codes.npy
	if [ $1 = ddsp ]; then
		[ -n "$audio" ] || { echo "$1 $2: no audio (sox)"; continue; }
		data=$audio
	fi
	"$BIN/qtrain" --model $1 --preset $2 --threads 1 --steps 0 --split 100,0,0 -o "$tmp/p_$1_$2" \
		"$data" 2>/dev/null || { echo "$1 $2: qtrain failed"; continue; }
	n=$(sed -n 's/.*"parameters": \([0-9]*\).*/\1/p' "$tmp/p_$1_$2/run.json")
	awk -v m="$1 $2" -v n="$n" 'BEGIN { b = 4 * n / 1e6; printf "%s\t%d\t%.2f\t%.2f\t%.2f\n", m, n, b, b, 2 * b }'
done

# one process against 2 ranks, one thread each, the same global batch; the summary's samples/s
# leaves out the first step (warm-up)
B=${BATCH:-}
bopt=${B:+--batch $B}
data=$tmp/codes.npy
if [ "$MODEL" = ddsp ]; then
	[ -n "$audio" ] || { echo "bench/mpi.sh: MODEL=ddsp needs sox"; exit 0; }
	data=$audio
fi
TIME=
[ -x /usr/bin/time ] && TIME="/usr/bin/time -f %U+%S -o"
run() { # run NAME STEPS LAUNCHER...: samples/s of qtrain under LAUNCHER; CPU seconds into NAME.cpu
	name=$1 n=$2; shift 2
	${TIME:+$TIME "$tmp/$name.cpu"} "$@" "$BIN/qtrain" --model $MODEL --preset "$PRESET" $bopt --threads 1 --steps $n \
		--checkpoint-every 100000 --split 100,0,0 -o "$tmp/$name" "$data" 2>"$tmp/$name.err" >/dev/null ||
		{ echo "$name: failed: $(grep -m1 qtrain "$tmp/$name.err")" >&2; echo 0; return; }
	sed -n 's/.* \([0-9.]*\) samples\/s.*/\1/p' "$tmp/$name.err" | tail -1
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
one=$(run one $((STEPS + 1)) env)
two=$(run two $((STEPS + 1)) mpirun -np 2 --bind-to none)
# the machine's own limit, in the same minutes: two independent one-process runs side by side
# (each the whole batch) against one alone; what no data-parallel split can beat here
run pair_a $((STEPS + 1)) env >"$tmp/pair_a.sps" &
run pair_b $((STEPS + 1)) env >"$tmp/pair_b.sps"
wait
# the same with the warm-up step alone: the difference is the CPU time of the timed steps
run one1 1 env >/dev/null
run two1 1 mpirun -np 2 --bind-to none >/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "2 ranks, rank 0's time in the reduction (the sums, and waiting for the slower rank):" \
     "$(grep -o '[0-9]*% of the time in the reduction' "$tmp/two.err" | cut -d% -f1)%"
printf 'preset\tbatch\tsteps\t1x1_samples_per_s\t2x1_samples_per_s\tratio\n'
awk -v p="$MODEL $PRESET" -v b="${B:-preset}" -v s="$STEPS" -v a="$one" -v c="$two" \
	'BEGIN { printf "%s\t%s\t%d\t%.0f\t%.0f\t%.2f\n", p, b, s, a, c, (a > 0 ? c / a : 0) }'
awk -v a="$one" -v c="$two" -v x="$(cat "$tmp/pair_a.sps")" -v y="$(cat "$tmp/pair_b.sps")" 'BEGIN {
	if (a <= 0 || x + y <= 0) exit
	printf "the machine'"'"'s limit: 2 independent processes side by side did %.2fx the samples/s of one alone; " \
		"2 ranks reached %.0f%% of that\n", (x + y) / a, 100 * c / (x + y) }'
# CPU seconds of the whole invocation (start-up and the warm-up step included), which the load
# of a shared machine changes less than the wall-clock: their ratio is what 2 ranks cost in work
if [ -s "$tmp/one.cpu" ] && [ -s "$tmp/two.cpu" ]; then
	c1=$(tail -1 "$tmp/one.cpu" | awk -F+ '{ print $1 + $2 }')
	c2=$(tail -1 "$tmp/two.cpu" | awk -F+ '{ print $1 + $2 }')
	awk -v a="$c1" -v b="$c2" 'BEGIN { printf "CPU seconds: one process %.2f, 2 ranks %.2f (mpirun included): " \
		"2 ranks do %.2fx the work\n", a, b, (a > 0 ? b / a : 0) }'
fi
# per timed step (the runs of one step taken off): what the steps cost in work, start-up apart;
# were the two cores free, the 2 ranks would run the steps 2/that faster than one process
if [ -s "$tmp/one1.cpu" ] && [ -s "$tmp/two1.cpu" ]; then
	c11=$(tail -1 "$tmp/one1.cpu" | awk -F+ '{ print $1 + $2 }')
	c21=$(tail -1 "$tmp/two1.cpu" | awk -F+ '{ print $1 + $2 }')
	awk -v a="$c1" -v b="$c2" -v a1="$c11" -v b1="$c21" -v s="$STEPS" 'BEGIN {
		x = (a - a1) / s; y = (b - b1) / s
		printf "CPU seconds per step: one process %.3f, 2 ranks %.3f together: %.2fx the work; " \
			"on two free cores at most %.2fx the speed\n", x, y, (x > 0 ? y / x : 0), (y > 0 ? 2 * x / y : 0) }'
fi
