#!/bin/sh
# qsample: outputs in every form, determinism, seeds, the pipe into mulaw, bounded memory,
# bad checkpoints and options; a WaveNet checkpoint (fast generation): outputs, determinism,
# seeds, batch independence, --h0; its embedded and scalar input layers; an unknown input layer.
. tests/lib.sh

# a tiny model trained for two steps on random codes: enough to have a real checkpoint
$PY -c '
import numpy as np
r = np.random.default_rng(1)
with open("'$T'/codes.npy", "wb") as f:
    for i in range(6):
        np.save(f, r.integers(0, 256, 4096).astype(np.uint8))
'
$BIN/qtrain --preset tiny --steps 2 --checkpoint-every 2 --threads 1 -o $T/run $T/codes.npy 2>$T/train.err
check "a tiny checkpoint to sample from" test -f $T/run/best.safetensors
CK=$T/run/best.safetensors

check "-o DIR/ writes one wav per stream" $BIN/qsample -n 3 -s 0.5 -o $T/clips/ $CK
check "three 16-bit 16 kHz wavs of 0.5 s" $PY -c '
import wave, sys
for k in range(3):
    w = wave.open("'$T'/clips/gen_%03d.wav" % k)
    assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()) == (16000, 2, 1, 8000), k
'

$BIN/qsample -n 2 -s 0.25 --seed 7 $CK > $T/a.npy 2>/dev/null
$BIN/qsample -n 2 -s 0.25 --seed 7 $CK > $T/b.npy 2>/dev/null
$BIN/qsample -n 2 -s 0.25 --seed 8 $CK > $T/c.npy 2>/dev/null
check "same seed, same bytes" cmp $T/a.npy $T/b.npy
check "another seed, other bytes" sh -c "! cmp -s $T/a.npy $T/c.npy"
check "stdout: one |u1 record of 4000 codes per stream, streams differ" $PY -c '
import numpy as np
f = open("'$T'/a.npy", "rb")
a, b = np.load(f), np.load(f)
assert f.read() == b""
assert a.dtype == np.uint8 and a.shape == (4000,) and b.shape == (4000,)
assert (a != b).any()
'
$BIN/qsample -n 2 -s 0.25 --seed 7 --batch 1 $CK > $T/batch1.npy 2>/dev/null
check "streams do not depend on the batch they were made in (same bytes)" cmp $T/a.npy $T/batch1.npy
$BIN/qsample -n 2 -s 0.25 --seed 7 --threads 1 $CK > $T/thr1.npy 2>/dev/null
$BIN/qsample -n 2 -s 0.25 --seed 7 --threads 2 --batch 2 $CK > $T/thr2.npy 2>/dev/null
check "nor on the number of threads" cmp $T/thr1.npy $T/thr2.npy
# weights stored in fewer bits: deterministic too, valid codes, bad types refused
$BIN/qsample -n 2 -s 0.25 --seed 7 --weights i8 $CK > $T/i8a.npy 2>$T/i8.err
$BIN/qsample -n 2 -s 0.25 --seed 7 --weights i8 --threads 1 --batch 1 $CK > $T/i8b.npy 2>/dev/null
check "--weights i8: same bytes whatever the batch and threads" cmp $T/i8a.npy $T/i8b.npy
check "--weights i8: two records of 4000 codes" $PY -c '
import numpy as np
f = open("'$T'/i8a.npy", "rb")
a, b = np.load(f), np.load(f)
assert a.shape == (4000,) and b.shape == (4000,) and f.read() == b""
'
check "--weights i8 reports the error of its weights" grep -Eq "i8 weights: .*row error" $T/i8.err
check "--weights f16 runs" sh -c "$BIN/qsample -n 1 -s 0.1 --weights f16 $CK 2>/dev/null | $PY -c '
import numpy as np, sys, io
assert np.load(io.BytesIO(sys.stdin.buffer.read())).shape == (1600,)
'"
$BIN/qsample -n 2 -s 0.25 --seed 7 --weights q8 $CK > $T/q8a.npy 2>$T/q8.err
$BIN/qsample -n 2 -s 0.25 --seed 7 --weights q8 --threads 1 --batch 1 $CK > $T/q8b.npy 2>/dev/null
check "--weights q8: same bytes whatever the batch and threads" cmp $T/q8a.npy $T/q8b.npy
check "--weights q8: two records of 4000 codes, not those of i8" $PY -c '
import numpy as np
f, g = open("'$T'/q8a.npy", "rb"), open("'$T'/i8a.npy", "rb")
a, b = np.load(f), np.load(f)
assert a.shape == (4000,) and b.shape == (4000,) and f.read() == b""
assert (a != np.load(g)).any()
'
check "--weights q8 reports the error of its weights" grep -Eq "q8 weights: .*row error" $T/q8.err
fails_with "--weights of an unknown type" 2 "--weights: unknown weight type 'q4'" $BIN/qsample --weights q4 $CK
check "--format f32 writes decoded audio records" sh -c "$BIN/qsample -n 1 -s 0.25 --format f32 $CK 2>/dev/null | $PY -c '
import numpy as np, sys, io
a = np.load(io.BytesIO(sys.stdin.buffer.read()))
assert a.dtype == np.float32 and a.shape == (4000,) and np.abs(a).max() <= 1
'"
check "qsample ckpt | mulaw -d -o clip.wav" sh -c "$BIN/qsample -n 1 -s 0.25 $CK 2>/dev/null | $BIN/mulaw -d -o $T/clip.wav 2>/dev/null && test -s $T/clip.wav"
check "-n 1 -o FILE.flac writes audio" $BIN/qsample -n 1 -s 0.25 -o $T/one.flac $CK
check "temperature 0 is deterministic whatever the seed" sh -c "
	$BIN/qsample -n 1 -s 0.1 -t 0 --h0 zero --seed 1 $CK > $T/t0a.npy 2>/dev/null &&
	$BIN/qsample -n 1 -s 0.1 -t 0 --h0 zero --seed 2 $CK > $T/t0b.npy 2>/dev/null && cmp $T/t0a.npy $T/t0b.npy"

# memory does not grow with the length: 10 times longer, about the same peak
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
short=$(rss $BIN/qsample -n 4 -s 1 -o $T/m1/ $CK)
long=$(rss $BIN/qsample -n 4 -s 10 -o $T/m2/ $CK)
# (a margin of 4 MiB or 2%: AddressSanitizer's quarantine holds freed blocks for a while)
grows() { [ "$2" -ge $(($1 + 4096 + $1 / 50)) ]; }
ok $(grows "$short" "$long" && echo 1 || echo 0) "peak memory does not grow with -s (1 s: ${short} KiB, 10 s: ${long} KiB)"
short=$(rss $BIN/qsample -n 4 -s 1 $CK)
long=$(rss $BIN/qsample -n 4 -s 10 $CK)
ok $(grows "$short" "$long" && echo 1 || echo 0) "nor for tensor-stream output (1 s: ${short} KiB, 10 s: ${long} KiB)"

head -c 1000 $CK > $T/cut.safetensors
fails_with "truncated checkpoint" 1 "cut.safetensors: truncated" $BIN/qsample -o $T/x/ $T/cut.safetensors
echo "not a checkpoint" > $T/text.safetensors
fails_with "not a safetensors file" 1 "text.safetensors: not a safetensors" $BIN/qsample $T/text.safetensors
$PY -c '
import json, struct
h = json.dumps({"__metadata__": {"format": "1"}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
open("'$T'/alien.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"\0\0\0\0")
'
fails_with "a safetensors file that is no qtrain checkpoint" 1 "alien.safetensors: " $BIN/qsample $T/alien.safetensors
ok $([ ! -e $T/x ] || [ -z "$(ls $T/x)" ] && echo 0 || echo 1) "no output left by a failed run"
fails_with "missing checkpoint" 1 "nope.safetensors: No such file" $BIN/qsample $T/nope.safetensors

# one file open per stream of a batch (issue 13): the batch fits the open-files limit
check "100 streams under a limit of 64 open files: generated in smaller batches" sh -c "
	ulimit -n 64 && $BIN/qsample -n 100 -s 0.01 --threads 1 -o $T/many/ $CK 2>$T/many.err &&
	[ \$(ls $T/many | grep -c '^gen_0[0-9][0-9]\.wav\$') = 100 ] && grep -q 'generating 48 at a time' $T/many.err"
check "... the same clips as one batch makes" sh -c "
	$BIN/qsample -n 100 -s 0.01 --threads 1 -o $T/many1/ $CK 2>/dev/null &&
	for k in 000 047 048 099; do cmp $T/many/gen_\$k.wav $T/many1/gen_\$k.wav || exit 1; done"
fails_with "--batch 100 under a limit of 64: refused before anything is written" 1 \
	"qsample: --batch 100: 100 streams at once hold 100 files open, and the open-files limit is 64 \(ulimit -n\); use --batch 48 or less" \
	sh -c "ulimit -n 64 && exec $BIN/qsample -n 100 --batch 100 -s 0.01 --threads 1 -o $T/toomany/ $CK"
check "... no directory" test ! -e $T/toomany
fails_with "... nor in a stream" 1 "open-files limit is 64" \
	sh -c "ulimit -n 64 && exec $BIN/qsample -n 100 --batch 100 -s 0.01 --threads 1 $CK > $T/toomany.npy"
# SIGTERM with 100 clips open: every one of them removed (the list of unfinished files grows)
$BIN/qsample -n 100 -s 30 --threads 1 -o $T/killed/ $CK 2>/dev/null &
pid=$!
i=0
while [ "$(ls $T/killed 2>/dev/null | grep -c tmp)" -lt 100 ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
kill -TERM $pid; wait $pid
ok $(( $? == 143 ? 0 : 1 )) "SIGTERM while writing 100 clips: killed by the signal"
check "... no partial clip left" sh -c "! ls -A $T/killed | grep -q ."
fails_with "no checkpoint" 2 "no checkpoint" $BIN/qsample
fails_with "bad -t" 2 "-t: expected" $BIN/qsample -t hot $CK
fails_with "two streams into one audio file" 2 "one stream" $BIN/qsample -n 2 -o $T/two.wav $CK
fails_with "--h0 learned on a model without one" 1 "no learned initial state" $BIN/qsample --h0 learned $CK
# --- a WaveNet checkpoint: fast generation through the same outputs
$BIN/qtrain --model wavenet --dilations 1,2,4,8 --residual-channels 8 --dilation-channels 8 --skip-channels 16 \
	--n-out 256 --batch 4 --steps 3 --checkpoint-every 3 --threads 1 -o $T/wn $T/codes.npy 2>$T/wn.err
check "a tiny WaveNet checkpoint to sample from" test -f $T/wn/last.safetensors
WK=$T/wn/last.safetensors
check "wavenet: -o DIR/ writes one wav per stream" $BIN/qsample -n 2 -s 0.5 -o $T/wnclips/ $WK
check "wavenet: two 16-bit 16 kHz wavs of 0.5 s" $PY -c '
import wave
for k in range(2):
    w = wave.open("'$T'/wnclips/gen_%03d.wav" % k)
    assert (w.getframerate(), w.getsampwidth(), w.getnchannels(), w.getnframes()) == (16000, 2, 1, 8000), k
'
$BIN/qsample -n 3 -s 0.25 --seed 7 $WK > $T/wa.npy 2>/dev/null
$BIN/qsample -n 3 -s 0.25 --seed 7 $WK > $T/wb.npy 2>/dev/null
$BIN/qsample -n 3 -s 0.25 --seed 8 $WK > $T/wc.npy 2>/dev/null
$BIN/qsample -n 3 -s 0.25 --seed 7 --batch 2 --threads 1 $WK > $T/wd.npy 2>/dev/null
check "wavenet: same seed, same bytes" cmp $T/wa.npy $T/wb.npy
check "wavenet: another seed, other bytes" sh -c "! cmp -s $T/wa.npy $T/wc.npy"
check "wavenet: one |u1 record of 4000 codes per stream, streams differ, spread over the levels" $PY -c '
import numpy as np
f = open("'$T'/wa.npy", "rb")
r = [np.load(f) for k in range(3)]
assert f.read() == b""
assert all(a.dtype == np.uint8 and a.shape == (4000,) for a in r)
assert (r[0] != r[1]).any() and (r[1] != r[2]).any()
assert len(np.unique(r[0])) > 20, len(np.unique(r[0]))
'
check "wavenet: streams do not depend on the batch or threads they were made with (same bytes)" cmp $T/wa.npy $T/wd.npy
for w in f16 i8 q8; do
	$BIN/qsample -n 3 -s 0.25 --seed 7 --weights $w $WK > $T/wa_$w.npy 2>/dev/null
	$BIN/qsample -n 3 -s 0.25 --seed 7 --weights $w --batch 1 --threads 1 $WK > $T/wd_$w.npy 2>/dev/null
	check "wavenet --weights $w: the same bytes whatever the batch and threads" cmp $T/wa_$w.npy $T/wd_$w.npy
done
$BIN/qsample -n 1 -s 0.25 --seed 7 --weights q8 --threads 2 $WK > $T/w1_q8.npy 2>/dev/null
check "wavenet --weights q8: one stream on two threads (the pipelined step) as in a batch of 3" $PY -c '
import numpy as np
assert (np.load(open("'$T'/w1_q8.npy", "rb")) == np.load(open("'$T'/wd_q8.npy", "rb"))).all()
'
check "wavenet: temperature 0 is deterministic whatever the seed" sh -c "
	$BIN/qsample -n 1 -s 0.1 -t 0 --seed 1 $WK > $T/wt0a.npy 2>/dev/null &&
	$BIN/qsample -n 1 -s 0.1 -t 0 --seed 2 $WK > $T/wt0b.npy 2>/dev/null && cmp $T/wt0a.npy $T/wt0b.npy"
check "wavenet: --h0 random and zero are ignored" sh -c "
	$BIN/qsample -n 3 -s 0.25 --seed 7 --h0 zero $WK 2>/dev/null | cmp - $T/wa.npy &&
	$BIN/qsample -n 3 -s 0.25 --seed 7 --h0 random $WK 2>/dev/null | cmp - $T/wa.npy"
fails_with "wavenet: --h0 learned is refused" 1 "WaveNet has no initial state" $BIN/qsample --h0 learned $WK
set_meta "$WK" "$T/wnwrong.safetensors" skip_channels 32
fails_with "wavenet: metadata that does not fit the tensors is refused" 1 "wnwrong.safetensors: tensor .* has another shape" \
	$BIN/qsample -n 1 -s 0.1 -o $T/wnx/ $T/wnwrong.safetensors
# --- WaveNet's embedded and scalar input layers: fast generation from their checkpoints
for mode in embed scalar; do
	$BIN/qtrain --model wavenet --input $mode --dilations 1,2,4,8 --residual-channels 8 --dilation-channels 8 \
		--skip-channels 16 --n-out 256 --batch 4 --steps 3 --checkpoint-every 3 --threads 1 -o $T/wn_$mode \
		$T/codes.npy 2>$T/wn_$mode.err
	check "wavenet --input $mode: a checkpoint to sample from" test -f $T/wn_$mode/last.safetensors
	IK=$T/wn_$mode/last.safetensors
	$BIN/qsample -n 3 -s 0.25 --seed 7 $IK > $T/ia_$mode.npy 2>/dev/null
	$BIN/qsample -n 3 -s 0.25 --seed 7 --batch 2 --threads 1 $IK > $T/ib_$mode.npy 2>/dev/null
	$BIN/qsample -n 3 -s 0.25 --seed 8 $IK > $T/ic_$mode.npy 2>/dev/null
	check "wavenet --input $mode: 3 streams of 4000 codes, spread over the levels, streams differ" $PY -c '
import numpy as np, sys
f = open(sys.argv[1], "rb")
r = [np.load(f) for k in range(3)]
assert f.read() == b""
assert all(a.dtype == np.uint8 and a.shape == (4000,) for a in r)
assert (r[0] != r[1]).any() and (r[1] != r[2]).any()
assert len(np.unique(r[0])) > 20, len(np.unique(r[0]))
' $T/ia_$mode.npy
	$BIN/qsample -n 3 -s 0.25 --seed 7 $IK > $T/ia2_$mode.npy 2>/dev/null
	check "wavenet --input $mode: same seed, same bytes" cmp $T/ia_$mode.npy $T/ia2_$mode.npy
	check "wavenet --input $mode: streams do not depend on the batch or threads they were made with" $PY -c '
import numpy as np, sys
f, g = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
for k in range(3):
    x, y = np.load(f), np.load(g)
    assert (x == y).mean() > 0.99, (k, (x == y).mean())
' $T/ia_$mode.npy $T/ib_$mode.npy
	check "wavenet --input $mode: another seed, other bytes" sh -c "! cmp -s $T/ia_$mode.npy $T/ic_$mode.npy"
	check "wavenet --input $mode: -o DIR/ writes wavs" $BIN/qsample -n 1 -s 0.25 -o $T/iclips_$mode/ $IK
done
set_meta "$T/wn_scalar/last.safetensors" "$T/wnsparse.safetensors" input sparse
fails_with "wavenet: a checkpoint of an unknown input layer is refused, naming the file" 1 \
	"wnsparse.safetensors: input 'sparse' in the metadata is not supported \(onehot, embed, scalar\)" \
	$BIN/qsample -n 1 -s 0.1 -o $T/wnsparse/ $T/wnsparse.safetensors
check "... and writes nothing" sh -c "[ ! -e $T/wnsparse ] || [ -z \"\$(ls $T/wnsparse)\" ]"
set_meta "$WK" "$T/wnnoinput.safetensors" input
check "wavenet: a one-hot checkpoint without an input key samples as before" sh -c "
	$BIN/qsample -n 3 -s 0.25 --seed 7 $T/wnnoinput.safetensors 2>/dev/null | cmp - $T/wa.npy"
check "--help exits 0 on stdout" sh -c "$BIN/qsample --help | grep -q usage"
done_testing
