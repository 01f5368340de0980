#!/bin/sh
# qtrain and qsample under mpirun (docs/mpi.md): two ranks train one model data-parallel, the
# same bytes run after run (over shared memory, over TCP on loopback, and over TCP between two
# network namespaces joined by a veth pair, as two machines would); the same losses as one
# process to float precision; exact resume, and resume across another rank count; bad input
# (a batch that does not divide, a rank without the data or with other data, other options,
# another checkpoint) refused by rank 0 with every rank exiting 1 and nothing written; a rank
# killed with -9 ends the job within seconds, leaving a checkpoint that resumes; qsample's
# streams shared among ranks are one process's bytes. DDSP (--model ddsp) as well: the same
# bytes, close to one process, exact resume, resume across counts, a batch that does not
# divide. Without MPI support (a build without OpenMPI) a launch under mpirun is refused.
. tests/lib.sh
Q=$BIN/qtrain
S=$BIN/qsample
if ! command -v mpirun >/dev/null 2>&1; then
	skip "mpirun is not installed (openmpi-bin)"
	done_testing; exit
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# containers often forbid the cross-memory attach that shared memory uses for large messages
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# a job that hangs (a collective one rank never reaches) fails its test after 5 minutes instead
# of hanging the suite: every mpirun below, sh -c's included, is this wrapper's
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec timeout 300 %s "$@"\n' "$(command -v mpirun)" >"$T/bin/mpirun"
chmod +x "$T/bin/mpirun"
PATH=$T/bin:$PATH
MPI2="mpirun -np 2"
TINY="--preset tiny --seq 64 --batch 4 --threads 1 --learn-h0"
WN="--model wavenet --dilations 1,2,4,8 --residual-channels 8 --dilation-channels 8 --skip-channels 8 --n-out 128 --batch 4 --threads 1"

if $MPI2 $Q --help >"$T/help.out" 2>"$T/help.err"; then :; else
	grep -q "built without MPI support" "$T/help.err"
	ok $? "a build without MPI refuses a launch as 2 ranks, with a message"
	done_testing; exit
fi

sine_codes "$T/codes.npy"
$PY - "$T/other.npy" <<'EOF'
import sys, numpy as np
with open(sys.argv[1], "wb") as f:
    for r in range(24):
        np.save(f, (np.arange(700) % 200).astype(np.uint8))
EOF
meta() { $PY -c '
import json, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]
print(json.loads(f.read(n))["__metadata__"][sys.argv[2]])' "$1" "$2"; }
# close A B LOSS PARAM [KEYS]: the log rows' losses agree within LOSS (bits; DDSP: its spectral
# loss), the parameters (and the carried state) within PARAM relative to 1e-2 + |p|, the data
# position (the checkpoint's metadata KEYS, comma-separated) exactly
close() { $PY - "$1" "$2" "$3" "$4" "${5:-step,data_lanes,data_order,data_cursor,rng}" <<'EOF'
import json, struct, sys, numpy as np
def load(d):
    b = open(d + "/last.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); m = h.pop("__metadata__")
    t = {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], np.float32) for k, v in h.items()}
    log = np.loadtxt(d + "/log.tsv", skiprows=1, ndmin=2)
    return m, t, log
(ma, ta, la), (mb, tb, lb) = load(sys.argv[1]), load(sys.argv[2])
assert la.shape == lb.shape and (la[:, 0] == lb[:, 0]).all(), "other log rows"
dl = np.abs(la[:, 2:4] - lb[:, 2:4]).max()
dp = max(float(np.max(np.abs(ta[k] - tb[k]) / (1e-2 + np.abs(ta[k])))) for k in ta if not k.startswith("adam"))
for k in sys.argv[5].split(","):
    assert ma[k] == mb[k], k
print("# losses within %.1e bits, parameters within %.1e" % (dl, dp))
sys.exit(0 if dl <= float(sys.argv[3]) and dp <= float(sys.argv[4]) else 1)
EOF
}

# --- dist.h's sums: rank order, bit for bit (build/tests/test_dist.t, made by make test/check)
if [ -x "$ROOT/build/tests/test_dist.t" ]; then
	check "3 ranks: dist's float sum is the rank-order sum of the scaled vectors, bit for bit" \
		mpirun -np 3 "$ROOT/build/tests/test_dist.t"
else
	skip "build/tests/test_dist.t is not built (make check)"
fi

# --- the same bytes run after run, over shared memory and over TCP
check "2 ranks train a tiny SampleRNN" $MPI2 $Q $TINY --steps 30 --checkpoint-every 10 -o "$T/a" "$T/codes.npy"
check "... rank 0 wrote the run directory" test -s "$T/a/log.tsv" -a -s "$T/a/loss.png" -a -s "$T/a/best.safetensors"
check "... run.json says 2 ranks" grep -q '"ranks": 2' "$T/a/run.json"
check "... again: the same bytes" sh -c "$MPI2 $Q $TINY --steps 30 --checkpoint-every 10 -o '$T/b' '$T/codes.npy' 2>/dev/null && cmp '$T/a/last.safetensors' '$T/b/last.safetensors'"
check "... over TCP on loopback: the same bytes" sh -c "$MPI2 --mca btl self,tcp --mca btl_tcp_if_include lo $Q $TINY --steps 30 --checkpoint-every 10 -o '$T/tcp' '$T/codes.npy' 2>/dev/null && cmp '$T/a/last.safetensors' '$T/tcp/last.safetensors'"

# --- against one process on the same global batch: the same losses to float precision. The
# ranks sum the gradients in another order than one process, so their last bits differ; Adam
# with a tiny epsilon turns the rounding of near-zero gradients into whole steps of lr (its
# first steps are sign(g)·lr), so the parameters drift apart by a few lr while the losses stay
# within 1e-4 bits (measured 1.1e-4 at step 30 on seed 1, 0 on seed 123). With an epsilon that
# keeps the update linear in the gradient, the parameters agree to 2e-4 (the state) after 30
# steps at lr 0.1: the sums are the same up to rounding.
check "one process, the same options" $Q $TINY --steps 30 --checkpoint-every 10 -o "$T/one" "$T/codes.npy"
check "mpirun -np 1: the bytes of the program run alone" sh -c "mpirun -np 1 $Q $TINY --steps 30 --checkpoint-every 10 -o '$T/np1' '$T/codes.npy' 2>/dev/null && cmp '$T/one/last.safetensors' '$T/np1/last.safetensors'"
check "2 ranks and one process: losses within 1e-3 bits, the same data position" close "$T/one" "$T/a" 1e-3 1
sed -n 1p "$T/.out"
LIN="--adam-eps 1e-2 --lr 0.1"
check "one process, Adam in its linear range" $Q $TINY $LIN --steps 30 --checkpoint-every 10 -o "$T/lin1" "$T/codes.npy"
check "2 ranks, the same" $MPI2 $Q $TINY $LIN --steps 30 --checkpoint-every 10 -o "$T/lin2" "$T/codes.npy"
check "... losses within 1e-5 bits, parameters and state within 2e-3" close "$T/lin1" "$T/lin2" 1e-5 2e-3
sed -n 1p "$T/.out"
# 3 ranks: a rank count that is not a power of two (weights of 1/3, sums of three)
check "3 ranks, batch 6" mpirun -np 3 $Q $TINY --batch 6 --steps 20 --checkpoint-every 10 -o "$T/r3" "$T/codes.npy"
check "one process, batch 6" $Q $TINY --batch 6 --steps 20 --checkpoint-every 10 -o "$T/r3one" "$T/codes.npy"
check "3 ranks and one process: losses within 1e-3 bits, the same data position" close "$T/r3one" "$T/r3" 1e-3 1
sed -n 1p "$T/.out"
check "wavenet: 2 ranks train" $MPI2 $Q $WN --steps 20 --checkpoint-every 10 -o "$T/wa" "$T/codes.npy"
check "wavenet: one process" $Q $WN --steps 20 --checkpoint-every 10 -o "$T/wone" "$T/codes.npy"
check "wavenet: 2 ranks and one process: losses within 1e-4 bits, parameters within 1e-4" close "$T/wone" "$T/wa" 1e-4 1e-4
sed -n 1p "$T/.out"

# --- resume: exact under the same ranks, allowed across another count
check "2 ranks: 20 steps" $MPI2 $Q $TINY --steps 20 --checkpoint-every 10 -o "$T/res" "$T/codes.npy"
check "... then --resume to 30: the bytes of 30 straight" sh -c "$MPI2 $Q --threads 1 --resume '$T/res' --steps 30 --checkpoint-every 10 -o '$T/res' '$T/codes.npy' 2>/dev/null && cmp '$T/a/last.safetensors' '$T/res/last.safetensors'"
check "one process: 20 steps" $Q $TINY --steps 20 --checkpoint-every 10 -o "$T/x1" "$T/codes.npy"
check "... resumed by 2 ranks to 30" $MPI2 $Q --threads 1 --resume "$T/x1" --steps 30 --checkpoint-every 10 -o "$T/x1" "$T/codes.npy"
check "... close to one process's 30 straight" close "$T/one" "$T/x1" 1e-3 1
check "2 ranks' checkpoint resumed by one process" $Q --threads 1 --resume "$T/res" --steps 40 -o "$T/res" "$T/codes.npy"

# --- bad input: rank 0 says it, every rank exits 1, nothing is written
ranks_exit() { # ranks_exit DIR ARGS...: every rank's exit status into DIR/exit.RANK
	sd=$1; shift
	mkdir -p "$sd"
	$MPI2 sh -c "\"\$@\"; echo \$? > '$sd'/exit.\$OMPI_COMM_WORLD_RANK" sh "$@" 2>"$T/st.err"
	test "$(cat "$sd"/exit.0 "$sd"/exit.1 2>/dev/null | tr '\n' ' ')" = "1 1 "
}
check "--batch 3 over 2 ranks: every rank exits 1" ranks_exit "$T/st1" $Q $TINY --batch 3 --steps 5 -o "$T/nd" "$T/codes.npy"
check "... rank 0 says why" grep -q "rank 0: --batch 3 does not divide among 2 ranks" "$T/st.err"
check "... nothing written" test ! -e "$T/nd"
mkdir -p "$T/wA" "$T/wB" "$T/wC"
cp "$T/codes.npy" "$T/wA/codes.npy"
cp "$T/other.npy" "$T/wC/codes.npy"
mpmd() { # mpmd DIR0 DIR1 ARGS...: one rank in each directory, the same command
	a=$1 b=$2; shift 2
	mpirun -np 1 -wdir "$a" $Q "$@" : -np 1 -wdir "$b" $Q "$@"
}
# sigterm_mpirun RUNDIR DATA OPTIONS...: qtrain without end under mpirun until run.json says the
# ranks have started (the signals are caught from then on), then SIGTERM to mpirun itself, as a
# user's kill does: $job is the timeout wrapper, which would pass it on to its whole process
# group a second time and add a SIGCONT, and mpirun takes a second signal as "abort now"
# (SIGKILL to the ranks).
sigterm_mpirun() {
	dir=$1 data=$2; shift 2
	$MPI2 $Q "$@" --steps 1000000 --checkpoint-every 100000 -o "$dir" "$data" >/dev/null 2>&1 &
	job=$!
	i=0
	while ! grep -q '"ranks"' "$dir/run.json" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 1
	pkill -TERM -P $job -x mpirun
	wait $job
}
fails_with "a rank that cannot read the data: rank 0 names it" 1 "rank 1: codes.npy: No such file" \
	mpmd "$T/wA" "$T/wB" $TINY --steps 5 -o r codes.npy
check "... nothing written" test ! -e "$T/wA/r" -a ! -e "$T/wB/r"
fails_with "a rank with other data: refused" 1 "rank 1: read other data than rank 0 \(fingerprint" \
	mpmd "$T/wA" "$T/wC" $TINY --steps 5 -o r codes.npy
check "... nothing written" test ! -e "$T/wA/r" -a ! -e "$T/wC/r"
fails_with "ranks given other options: refused" 1 "rank 1: was given other options than rank 0" \
	mpirun -np 1 $Q $TINY --steps 5 -o "$T/op" "$T/codes.npy" : -np 1 $Q $TINY --steps 6 -o "$T/op" "$T/codes.npy"
check "... nothing written" test ! -e "$T/op"
# ranks resuming from different checkpoints: the parameters' check refuses them
cp "$T/codes.npy" "$T/wC/codes.npy"
$Q $TINY --steps 10 -o "$T/wA/r" "$T/wA/codes.npy" 2>/dev/null
$Q $TINY --steps 10 --lr 0.01 -o "$T/wC/r" "$T/wC/codes.npy" 2>/dev/null
cp "$T/wA/r/last.safetensors" "$T/ckA"
fails_with "ranks resuming other checkpoints: their parameters differ, refused" 1 \
	"rank 1's parameters differ from rank 0's" mpmd "$T/wA" "$T/wC" --threads 1 --resume r --steps 20 -o r codes.npy
check "... the checkpoint is left as it was" cmp "$T/ckA" "$T/wA/r/last.safetensors"

# --- DDSP (--model ddsp) on float audio: the same, each rank on its share of the examples of a
# step. Its float gradients are themselves only within about 2e-4 of the double model's (the
# reverb's within 4e-2, measured), so 2 ranks' sums, in another order, part from one process's
# by as much (Adam's first steps, sign(g)·lr, turn that into whole steps where g is near zero):
# measured on this tiny preset, the logged losses (about 10 to 13) within 1.9e-2 to 3.7e-2
# after 20 steps over seeds 1, 2, 7, 99 and 123 (0.35% at most), 5e-2 after 30
$PY - "$T/audio.npy" "$T/wC/audio.npy" <<'EOF'
import sys, numpy as np
for path, seed in zip(sys.argv[1:], (2, 3)):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        for r in range(6):
            t = np.arange(12288) / 16000
            f0 = 150 + 250 * rng.random()
            x = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t + rng.random()) for k in range(1, 8))
            np.save(f, (x * (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t) ** 2)).astype("<f4"))
EOF
DD="--model ddsp --preset tiny --batch 4 --threads 1 --checkpoint-every 10"
DPOS=step,epoch,position
check "ddsp: 2 ranks train" $MPI2 $Q $DD --steps 20 -o "$T/da" "$T/audio.npy"
check "... rank 0 wrote the run directory, the features' cache and the clips" test -s "$T/da/log.tsv" -a \
	-s "$T/da/best.safetensors" -a -s "$T/da/features.safetensors" -a -s "$T/da/samples/step0000020_0.wav"
check "... again: the same bytes" sh -c "$MPI2 $Q $DD --steps 20 -o '$T/db' '$T/audio.npy' 2>/dev/null && cmp '$T/da/last.safetensors' '$T/db/last.safetensors'"
check "ddsp: one process" $Q $DD --steps 20 -o "$T/done" "$T/audio.npy"
check "... the features the ranks shared are one process's bytes" cmp "$T/done/features.safetensors" "$T/da/features.safetensors"
check "ddsp: 2 ranks and one process: losses within 0.1, the same data position" close "$T/done" "$T/da" 0.1 1 $DPOS
sed -n 1p "$T/.out"
check "ddsp: 2 ranks, 10 steps" $MPI2 $Q $DD --steps 10 -o "$T/dres" "$T/audio.npy"
check "... then --resume to 20 (the cache read by rank 0): the bytes of 20 straight" sh -c "$MPI2 $Q --threads 1 --resume '$T/dres' --steps 20 --checkpoint-every 10 -o '$T/dres' '$T/audio.npy' 2>/dev/null && cmp '$T/da/last.safetensors' '$T/dres/last.safetensors'"
check "ddsp: one process, 10 steps" $Q $DD --steps 10 -o "$T/dx1" "$T/audio.npy"
check "... resumed by 2 ranks to 20" $MPI2 $Q --threads 1 --resume "$T/dx1" --steps 20 --checkpoint-every 10 -o "$T/dx1" "$T/audio.npy"
check "... close to one process's 20 straight" close "$T/done" "$T/dx1" 0.1 1 $DPOS
check "2 ranks' DDSP checkpoint resumed by one process" $Q --threads 1 --resume "$T/dres" --steps 30 -o "$T/dres" "$T/audio.npy"
check "ddsp --batch 3 over 2 ranks: every rank exits 1" ranks_exit "$T/st2" $Q $DD --batch 3 --steps 5 -o "$T/dnd" "$T/audio.npy"
check "... rank 0 says why" grep -q "rank 0: --batch 3 does not divide among 2 ranks" "$T/st.err"
check "... nothing written" test ! -e "$T/dnd"
cp "$T/audio.npy" "$T/wA/audio.npy"
fails_with "ddsp: a rank with other audio: refused" 1 "rank 1: read other data than rank 0 \(fingerprint" \
	mpmd "$T/wA" "$T/wC" $DD --steps 5 -o dr audio.npy
check "... nothing written" test ! -e "$T/wA/dr" -a ! -e "$T/wC/dr"
$Q $DD --steps 3 -o "$T/wA/dk" "$T/wA/audio.npy" 2>/dev/null
cp "$T/wA/dk/last.safetensors" "$T/dk.ckpt"
fails_with "ddsp: a rank that cannot read the --resume checkpoint: rank 0 names it" 1 "rank 1: dk: No such file" \
	mpmd "$T/wA" "$T/wB" --threads 1 --resume dk --steps 5 -o dk audio.npy
check "... the checkpoint is left as it was" cmp "$T/dk.ckpt" "$T/wA/dk/last.safetensors"
# SIGTERM to mpirun: the ranks stop together, rank 0 writes
sigterm_mpirun "$T/dterm" "$T/audio.npy" $DD
check "ddsp: SIGTERM to mpirun: rank 0 writes last.safetensors" test -s "$T/dterm/last.safetensors"
check "... which 2 ranks resume" $MPI2 $Q --threads 1 --resume "$T/dterm" --steps $(($(meta "$T/dterm/last.safetensors" step) + 3)) -o "$T/dterm" "$T/audio.npy"

# --- a rank killed with -9 ends the job within seconds; the last checkpoint is whole
$MPI2 sh -c "echo \$\$ > '$T'/pid.\$OMPI_COMM_WORLD_RANK; exec $Q $TINY --steps 1000000 --checkpoint-every 5 -o '$T/kill' '$T/codes.npy'" >/dev/null 2>&1 &
job=$!
i=0
while [ ! -s "$T/kill/last.safetensors" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
kill -9 "$(cat "$T/pid.1")"
t0=$(date +%s)
( sleep 30; kill -9 $job 2>/dev/null ) &
guard=$!
wait $job
rc=$?
t1=$(date +%s)
kill $guard 2>/dev/null
ok $([ $rc -ne 0 ] && [ $((t1 - t0)) -le 15 ] && echo 0 || echo 1) "kill -9 of rank 1: the job ends in $((t1 - t0)) s, exit $rc"
i=0
while st0=$(ps -o stat= -p "$(cat "$T/pid.0")") && case "$st0" in Z*) false;; esac && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1))
done
ok $(case "$st0" in ""|Z*) echo 0;; *) echo 1;; esac) "... rank 0 is gone too (${st0:-reaped}, after $i tenths of a second)"
step=$(meta "$T/kill/last.safetensors" step)
check "... the last checkpoint (step $step) resumes" $Q --threads 1 --resume "$T/kill" --steps $((step + 5)) -o "$T/kill" "$T/codes.npy"

# --- SIGTERM to mpirun reaches the ranks: they stop together and rank 0 writes a checkpoint
sigterm_mpirun "$T/term" "$T/codes.npy" $TINY
check "SIGTERM to mpirun: rank 0 writes last.safetensors" test -s "$T/term/last.safetensors"
check "... which resumes" $Q --threads 1 --resume "$T/term" --steps $(($(meta "$T/term/last.safetensors" step) + 3)) -o "$T/term" "$T/codes.npy"

# --- two machines: two network namespaces joined by a veth pair, TCP between them
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null 2>&1 && ip netns add "shk$$a" 2>/dev/null; then
	A=shk$$a B=shk$$b
	trap 'ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; rm -rf "$T"' EXIT
	ip netns add $B
	ip link add "v$$a" type veth peer name "v$$b"
	ip link set "v$$a" netns $A && ip link set "v$$b" netns $B
	ip -n $A addr add 10.213.7.1/24 dev "v$$a" && ip -n $B addr add 10.213.7.2/24 dev "v$$b"
	ip -n $A link set "v$$a" up && ip -n $B link set "v$$b" up
	ip -n $A link set lo up && ip -n $B link set lo up
	# mpirun's remote shell: the host's address names its namespace
	cat >"$T/agent" <<EOF
#!/bin/sh
h=\$1; shift
case \$h in 10.213.7.1) ns=$A;; 10.213.7.2) ns=$B;; *) exit 1;; esac
exec ip netns exec \$ns sh -c "\$*"
EOF
	chmod +x "$T/agent"
	check "2 ranks in two network namespaces, TCP over veth: the same bytes" sh -c "ip netns exec $A mpirun -np 2 \
		--host 10.213.7.1:1,10.213.7.2:1 --mca plm_rsh_agent '$T/agent' --mca btl self,tcp \
		--mca btl_tcp_if_include 10.213.7.0/24 --mca oob_tcp_if_include 10.213.7.0/24 \
		$Q $TINY --steps 30 --checkpoint-every 10 -o '$T/ns' '$T/codes.npy' 2>/dev/null &&
		cmp '$T/a/last.safetensors' '$T/ns/last.safetensors'"
	ip netns del $A
	ip netns del $B
else
	skip "network namespaces (needs root and ip netns): TCP between two namespaces"
fi

# --- qsample: the ranks share the streams, each the bytes of one process
check "qsample, one process" $S -n 5 -s 0.2 --threads 1 -o "$T/qs1/" "$T/a/last.safetensors"
check "qsample, 2 ranks" $MPI2 $S -n 5 -s 0.2 -o "$T/qs2/" "$T/a/last.safetensors"
check "... the same five files, the same bytes" sh -c "for k in 0 1 2 3 4; do cmp '$T/qs1/gen_00'\$k.wav '$T/qs2/gen_00'\$k.wav || exit 1; done; test \$(ls '$T/qs2' | wc -l) = 5"
fails_with "qsample, 2 ranks, one output stream: refused" 2 "under mpirun, every rank writes its streams into -o DIR/" \
	$MPI2 $S -n 5 -s 0.2 -o "$T/x.npy" "$T/a/last.safetensors"
done_testing
