#!/bin/sh
# qsample: outputs in every form, determinism, seeds, the pipe into mulaw, bounded memory,
# bad checkpoints and options; priming (the exactness test, audio and code primes, bad primes);
# raw PCM, a stream without end into a pipe that closes (peak memory at 20 s and 200 s), --realtime; a WaveNet checkpoint (fast generation): outputs, determinism,
# seeds, batch independence, --h0; its embedded and scalar input layers; an unknown input layer.
. tests/lib.sh

# a tiny model trained for two steps on random codes: enough to have a real checkpoint
random_codes $T/codes.npy 1 6 4096
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
# metadata held to the command line's bounds; hostile headers refused
set_meta $CK $T/rhuge.safetensors sample_rate 1073741824
fails_with "a sample rate of 2^30 in the metadata is refused" 1 "rhuge.safetensors: bad metadata: sample rate 1073741824 Hz" \
	$BIN/qsample -n 1 -s 0.1 -o $T/rh/ $T/rhuge.safetensors
dup_meta $CK $T/dup.safetensors
fails_with "two __metadata__ objects are refused (was a heap overflow)" 1 "dup.safetensors: .*\"__metadata__\" appears twice" \
	$BIN/qsample -n 1 -s 0.1 -o $T/dp/ $T/dup.safetensors
nt=$(nan_tensor $CK $T/wnan.safetensors)
fails_with "NaN weights are refused, naming the tensor" 1 "wnan.safetensors: tensor '$nt' holds NaN at index 0" \
	$BIN/qsample -n 1 -s 0.1 -o $T/wn0/ $T/wnan.safetensors
ok $([ ! -e $T/rh ] && [ ! -e $T/dp ] && [ ! -e $T/wn0 ] && echo 0 || echo 1) "... and nothing is written"

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
# --- priming: the black-box exactness test. Prime with P (1237 codes: no whole number of frames)
# and generate G at temperature 0; prime with P and G[:1001]: the continuation is G[1001:], code
# for code, whatever the weight type (a prime runs the samplers' own step code).
$PY -c '
import numpy as np
np.save("'$T'/P.npy", np.load("'$T'/codes.npy")[:1237])
'
# exact CHECKPOINT LABEL [QSAMPLE OPTIONS]
exact() {
	ck=$1 label=$2; shift 2
	$BIN/qsample -n 1 -s 0.25 -t 0 --seed 3 --prime $T/P.npy "$@" $ck > $T/G.npy 2>/dev/null
	$PY -c '
import numpy as np, sys
P, G = np.load(sys.argv[1]), np.load(sys.argv[2])
np.save(sys.argv[3], np.concatenate([P, G[:1001]]))
' $T/P.npy $T/G.npy $T/PG.npy
	$BIN/qsample -n 1 -s 0.1874375 -t 0 --seed 3 --prime $T/PG.npy "$@" $ck > $T/rest.npy 2>/dev/null
	check "$label: prime P, generate G at temperature 0; prime P + G[:1001]: the continuation is G[1001:]" $PY -c '
import numpy as np, sys
G, rest = np.load(sys.argv[1]), np.load(sys.argv[2])
assert G.shape == (4000,) and rest.shape == (2999,), (G.shape, rest.shape)
assert (rest == G[1001:]).all(), np.flatnonzero(rest != G[1001:])[:5]
assert (G[1:] != G[:-1]).sum() > 10, "the argmax does not move: the test would prove nothing"
' $T/G.npy $T/rest.npy
}
for w in f32 f16 i8 q8; do exact $CK "samplernn --weights $w" --weights $w; done
exact $CK "samplernn, one stream on 2 threads" --threads 2
check "the prime changes the continuation" sh -c "
	$BIN/qsample -n 1 -s 0.25 -t 0 --seed 3 $CK 2>/dev/null | cmp -s - $T/G.npy; test \$? = 1"
$BIN/qsample -n 3 -s 0.1 --seed 5 --prime $T/P.npy $CK > $T/p3.npy 2>/dev/null
$BIN/qsample -n 3 -s 0.1 --seed 5 --prime $T/P.npy --batch 1 --threads 1 $CK > $T/p3b.npy 2>/dev/null
check "primed streams: each draws from its own seed, the same bytes whatever the batch and threads" sh -c "
	cmp $T/p3.npy $T/p3b.npy && $PY -c '
import numpy as np
f = open(\"$T/p3.npy\", \"rb\")
r = [np.load(f) for k in range(3)]
assert all(a.shape == (1600,) for a in r) and (r[0] != r[1]).any() and (r[1] != r[2]).any()
'"
check "--h0 zero, temperature 0: every stream continues the same prime the same way" $PY -c '
import numpy as np, subprocess, io
out = subprocess.run(["'$BIN'/qsample", "-n", "3", "-s", "0.1", "-t", "0", "--h0", "zero", "--prime", "'$T'/P.npy",
                      "'$CK'"], capture_output=True, check=True).stdout
f = io.BytesIO(out)
r = [np.load(f) for k in range(3)]
assert (r[0] == r[1]).all() and (r[1] == r[2]).all()
'
check "--keep-prime: the prime's last codes (--prime-seconds 0.05) in front of the continuation" $PY -c '
import numpy as np, subprocess, io
run = lambda *a: np.load(io.BytesIO(subprocess.run(["'$BIN'/qsample", "-n", "1", "-s", "0.1", "--seed", "4",
      "--prime", "'$T'/P.npy", "--prime-seconds", "0.05", *a, "'$CK'"], capture_output=True, check=True).stdout))
kept, cont = run("--keep-prime"), run()
P = np.load("'$T'/P.npy")
assert kept.shape == (2400,) and (kept[:800] == P[-800:]).all() and (kept[800:] == cont).all()
'
# an audio prime: decoded, mixed down, resampled to 16 kHz and quantised as the checkpoint says
sox -n -r 22050 -c 2 $T/prime.wav synth 0.5 sine 300 vol 0.5 2>/dev/null
check "--prime audio.wav (stereo, 22.05 kHz) with --keep-prime: its 8000 codes, then the continuation" $PY -c '
import numpy as np, subprocess, io
out = subprocess.run(["'$BIN'/qsample", "-n", "1", "-s", "0.1", "--prime", "'$T'/prime.wav", "--keep-prime", "'$CK'"],
                     capture_output=True, check=True).stdout
a = np.load(io.BytesIO(out))
assert a.shape == (9600,), a.shape
x = np.sin(2 * np.pi * 300 * np.arange(8000) / 16000) * 0.5
want = np.floor((np.sign(x) * np.log1p(255 * np.abs(x)) / np.log(256) + 1) / 2 * 255 + 0.5)
assert np.abs(a[200:7800].astype(int) - want[200:7800]).max() <= 2
'
# a bad prime: a message naming it, exit 1, nothing written
echo "not audio" > $T/bad.wav
fails_with "a prime that cannot be decoded" 1 "bad.wav: cannot decode the prime" $BIN/qsample -o $T/badp/ --prime $T/bad.wav $CK
sox -n -r 16000 -c 1 $T/empty.wav trim 0 0 2>/dev/null
fails_with "an empty audio prime" 1 "empty.wav: the prime is empty" $BIN/qsample -o $T/badp/ --prime $T/empty.wav $CK
$PY -c 'import numpy as np; np.save("'$T'/empty.npy", np.zeros(0, np.uint8))'
fails_with "an empty prime of codes" 1 "empty.npy: the prime is empty" $BIN/qsample -o $T/badp/ --prime $T/empty.npy $CK
: > $T/nothing.npy
fails_with "a prime without a record" 1 "nothing.npy: the prime holds no record" $BIN/qsample -o $T/badp/ --prime $T/nothing.npy $CK
# samples under a header that claims 16 Hz: resampled, the prime would be 1000 times as long
$PY -c '
import struct
b = bytearray(open("'$T'/prime.wav", "rb").read())
assert b[24:28] == struct.pack("<I", 22050)
b[24:28] = struct.pack("<I", 16); b[28:32] = struct.pack("<I", 16 * 4)
open("'$T'/slow.wav", "wb").write(b)
'
fails_with "a prime whose header claims a rate no audio is at" 1 "slow.wav: the prime claims a rate of 16 Hz" \
	$BIN/qsample -o $T/badp/ --prime $T/slow.wav $CK
$PY -c 'import numpy as np; np.save("'$T'/wide.npy", np.array([1, 2, 300, 4], np.uint16))'
fails_with "a prime with codes out of the checkpoint's range" 1 "wide.npy: the prime's code 300 at index 2 is outside the checkpoint's levels 0..255" \
	$BIN/qsample -o $T/badp/ --prime $T/wide.npy $CK
$PY -c 'import numpy as np; np.save("'$T'/f32.npy", np.zeros(100, np.float32))'
fails_with "a prime of audio samples in a tensor stream" 1 "f32.npy: the prime holds audio samples" \
	$BIN/qsample -o $T/badp/ --prime $T/f32.npy $CK
head -c 100 $T/P.npy > $T/cutp.npy
fails_with "a truncated prime of codes" 1 "cutp.npy: cannot read the prime" $BIN/qsample -o $T/badp/ --prime $T/cutp.npy $CK
fails_with "a missing prime" 1 "nope.npy: " $BIN/qsample -o $T/badp/ --prime $T/nope.npy $CK
fails_with "... nor to stdout, where it leaves no byte" 1 "wide.npy" sh -c "$BIN/qsample --prime $T/wide.npy $CK > $T/badp.out"
check "nothing written by the bad primes" sh -c "[ ! -e $T/badp ] && [ ! -s $T/badp.out ]"
fails_with "--keep-prime without --prime" 2 "need --prime" $BIN/qsample --keep-prime $CK

# qtrain --sample-prime: the clips of training continue a prime, as qsample --prime does
$BIN/qtrain --preset tiny --steps 2 --checkpoint-every 2 --threads 1 --sample-every 2 --sample-count 1 \
	--sample-seconds 0.1 --sample-temp 0 --sample-prime $T/P.npy -o $T/runp $T/codes.npy 2>$T/runp.err
$BIN/qsample -n 1 -s 0.1 -t 0 --seed 1 --prime $T/P.npy -o $T/runp.wav $T/runp/last.safetensors 2>/dev/null
check "qtrain --sample-prime: the clip is qsample --prime's on the same checkpoint" cmp $T/runp/samples/step0000002_0.wav $T/runp.wav
fails_with "qtrain --sample-prime: a bad prime is refused before anything is written" 1 "wide.npy: the prime's code 300" \
	$BIN/qtrain --preset tiny --steps 2 --sample-every 2 --sample-prime $T/wide.npy -o $T/runbad $T/codes.npy
check "... and no run directory is made" test ! -e $T/runbad

# --- raw PCM, streams without end, real time
$BIN/qsample -n 1 -s 0.25 --seed 9 -o $T/s16.wav $CK 2>/dev/null
$BIN/qsample -n 1 -s 0.25 --seed 9 --format s16 $CK > $T/s16.raw 2>/dev/null
check "--format s16: the 16-bit little-endian samples of the same stream's wav" $PY -c '
import wave
w = wave.open("'$T'/s16.wav")
assert open("'$T'/s16.raw", "rb").read() == w.readframes(w.getnframes())
'
$BIN/qsample -n 2 -s 0.25 --seed 9 --format s16 $CK > $T/s16x2.raw 2>/dev/null
check "--format s16 with two streams: one after the other" $PY -c '
b = open("'$T'/s16x2.raw", "rb").read()
assert len(b) == 16000 and b[:8000] == open("'$T'/s16.raw", "rb").read()
'
# a model small enough that 200 s take a few seconds
$BIN/qtrain --preset tiny --dim 8 --embed 4 --steps 1 --checkpoint-every 1 --threads 1 -o $T/run8 $T/codes.npy 2>/dev/null
C8=$T/run8/best.safetensors
# peak_of SECONDS: qsample -s 0 until the reader has taken SECONDS of audio; prints its peak
# RSS (KiB) and exit status
peak_of() {
	( /usr/bin/time -f "%M %x" -o $T/time.$1 $BIN/qsample -n 1 -s 0 --format s16 -t 0 --threads 1 $C8 2>$T/endless.err;
	  ) | head -c $(($1 * 32000)) | wc -c > $T/bytes.$1
	cat $T/time.$1
}
short=$(peak_of 20)
long=$(peak_of 200)
check "-s 0: the reader takes 200 s of audio, then goes away; the program ends quietly with status 0" sh -c "
	[ \$(cat $T/bytes.200) = 6400000 ] && [ \"${long#* }\" = 0 ] && [ ! -s $T/endless.err ]"
ok $(grows "${short% *}" "${long% *}" && echo 1 || echo 0) "-s 0: the same peak memory at 20 s and 200 s (${short% *} KiB, ${long% *} KiB)"
fails_with "-s 0 needs raw PCM" 2 "-s 0: a stream without end" $BIN/qsample -n 1 -s 0 $CK
fails_with "-s 0 is one stream" 2 "-s 0: a stream without end" $BIN/qsample -n 2 -s 0 --format s16 $CK
start=$(date +%s.%N)
$BIN/qsample -n 1 -s 1 --format s16 --realtime $C8 > $T/rt.raw 2>/dev/null
end=$(date +%s.%N)
check "--realtime: 1 s of audio is not written before 0.75 s have passed (blocks of 0.256 s)" $PY -c "
import os
assert os.path.getsize('$T/rt.raw') == 32000
assert $end - $start >= 0.75, $end - $start
"
fails_with "--realtime paces one stream" 2 "--realtime: paces one stream" $BIN/qsample -n 2 --realtime $CK
# --- a WaveNet checkpoint: fast generation through the same outputs
$BIN/qtrain --model wavenet --dilations 1,2,4,8 --residual-channels 8 --dilation-channels 8 --skip-channels 16 \
	--n-out 256 --batch 4 --seed 123 --steps 3 --checkpoint-every 3 --threads 1 -o $T/wn $T/codes.npy 2>$T/wn.err
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
# the exactness test on WaveNet: its tiny model's argmax sticks to one code, so the weights are
# made larger (times 3, plus noise) until it moves; seed 123 is one whose inflated model moves
$PY -c '
import json, struct, sys, numpy as np
src = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", src[:8])[0]; h = json.loads(src[8:8 + n]); data = bytearray(src[8 + n:])
r = np.random.default_rng(1)
for k, v in h.items():
    if k == "__metadata__" or k.startswith("adam") or v["dtype"] != "F32": continue
    a, b = v["data_offsets"]
    w = np.frombuffer(bytes(data[a:b]), "<f4")
    data[a:b] = (w * 3 + 0.3 * r.standard_normal(w.shape)).astype("<f4").tobytes()
open(sys.argv[2], "wb").write(src[:8 + n] + bytes(data))
' $WK $T/wnloud.safetensors
for w in f32 f16 i8 q8; do exact $T/wnloud.safetensors "wavenet --weights $w" --weights $w; done
exact $T/wnloud.safetensors "wavenet, one stream on 2 threads (the pipelined step)" --threads 2
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
# --- the options every program answers
std_options qsample -o
done_testing
