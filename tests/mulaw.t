#!/bin/sh
# tests/mulaw.t: the mulaw program: the test vectors, agreement with an independent numpy
# implementation of all three quantisers, round trips, dtypes by level count, audio files in
# and out, clamping, and every bad input with its message, exit code and no output file.
. tests/lib.sh

# numpy versions of the formulas of docs/mulaw.md, used as the reference
cat >"$T/ref.py" <<'EOF'
import numpy as np
def enc(x, mode, L):
    x = np.clip(np.asarray(x, np.float64), -1, 1); mu = L - 1.0
    if mode == 'linear':
        return np.floor((x + 1) / 2 * mu + 0.5).astype(np.int64)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    if mode == 'dadabots':
        return np.floor((y + 1) / 2 * mu).astype(np.int64)
    return np.floor((y + 1) / 2 * mu + 0.5).astype(np.int64)
def dec(q, mode, L):
    q = np.asarray(q, np.float64); mu = L - 1.0
    if mode == 'linear':
        return 2 * q / mu - 1
    y = 2 * q / L - 1 if mode == 'dadabots' else 2 * q / mu - 1
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu
def records(path):
    out = []
    with open(path, 'rb') as f:
        while f.peek(1) if hasattr(f, 'peek') else True:
            try:
                out.append(np.load(f))
            except (EOFError, ValueError):
                break
    return out
EOF
export PYTHONPATH="$T"

# --- the vectors of REFERENCE.md
$PY -c "
import numpy as np
np.save('$T/v.npy', np.array([-1, 1, 0.6, -0.25, 0.01, 0], '<f4'))"
"$BIN/mulaw" "$T/v.npy" -o "$T/v.codes" 2>"$T/err"
check "mu-law 256: -1 1 0.6 -0.25 0.01 0 -> 0 255 243 32 157 128" $PY -c "
import numpy as np
c = np.load('$T/v.codes'); print(c)
assert c.dtype == np.uint8 and c.tolist() == [0, 255, 243, 32, 157, 128]"
"$BIN/mulaw" --dadabots "$T/v.npy" -o "$T/vd.codes" 2>/dev/null
check "dadabots: encode(0) = 127, encode(-1) = 0, encode(1) = 255" $PY -c "
import numpy as np
c = np.load('$T/vd.codes'); print(c)
assert c[5] == 127 and c[0] == 0 and c[1] == 255"
$PY -c "
import numpy as np
np.save('$T/c255.npy', np.array([255, 128, 0], '|u1'))"
"$BIN/mulaw" -d --dadabots "$T/c255.npy" -o "$T/d255.npy" 2>/dev/null
check "dadabots: decode(255) ~ 0.957, decode(128) = 0" $PY -c "
import numpy as np
x = np.load('$T/d255.npy'); print(x)
assert abs(x[0] - 0.957) < 1e-3 and x[1] == 0 and x[2] == -1"

# --- agreement with the numpy reference on random values, three modes, several level counts
$PY -c "
import numpy as np
r = np.random.default_rng(7)
with open('$T/rand.npy', 'wb') as f:
    np.save(f, r.uniform(-1, 1, 50000).astype('<f4'))
    np.save(f, (r.standard_normal((3, 1000)) * 0.05).astype('<f4'))  # a 2-D record keeps its shape
    np.save(f, np.float32(0.25))                                       # and a scalar
"
for mode in mulaw dadabots linear; do
	flag=; [ $mode = mulaw ] || flag=--$mode
	for L in 16 256 1024 65536; do
		"$BIN/mulaw" $flag -l $L "$T/rand.npy" -o "$T/rand.$mode.$L" 2>/dev/null
		"$BIN/mulaw" -d $flag -l $L "$T/rand.$mode.$L" -o "$T/back.$mode.$L" 2>/dev/null
		check "$mode $L: codes and decoded values equal numpy's formulas, shapes and dtypes kept" $PY -c "
import numpy as np, ref
xs, cs, bs = ref.records('$T/rand.npy'), ref.records('$T/rand.$mode.$L'), ref.records('$T/back.$mode.$L')
assert len(xs) == len(cs) == len(bs) == 3, (len(cs), len(bs))
for x, c, b in zip(xs, cs, bs):
    assert c.shape == x.shape and b.shape == x.shape
    assert c.dtype == (np.uint8 if $L <= 256 else np.dtype('<u2')), c.dtype
    assert b.dtype == np.dtype('<f4')
    want = ref.enc(x, '$mode', $L)
    assert (c.astype(np.int64) == want).all(), np.flatnonzero(c.ravel() != want.ravel())[:5]
    assert np.allclose(b, ref.dec(c, '$mode', $L).astype(np.float32), rtol=1e-6, atol=1e-7)
"
	done
done

# --- round trips: codes -> values -> codes is the identity (mu-law and linear), every code
for mode in mulaw linear; do
	flag=; [ $mode = mulaw ] || flag=--$mode
	for L in 2 256 4096; do
		$PY -c "
import numpy as np
np.save('$T/all.npy', np.arange($L).astype('|u1' if $L <= 256 else '<u2'))"
		"$BIN/mulaw" -d $flag -l $L "$T/all.npy" 2>/dev/null | "$BIN/mulaw" $flag -l $L -o "$T/all2.npy" 2>/dev/null
		check "$mode $L: every code round-trips through the pipe exactly" cmp "$T/all.npy" "$T/all2.npy"
	done
done
fails_with "decoding float records is refused" 1 "mulaw: stdin: record 0: dtype <f4 holds no codes" \
	sh -c "'$BIN/mulaw' '$T/rand.npy' 2>/dev/null | '$BIN/mulaw' -d 2>/dev/null | '$BIN/mulaw' -d -o '$T/nope.npy'"
ok "$([ ! -e "$T/nope.npy" ]; echo $?)" "... and leaves no output file"

# --- clamping is counted on stderr
$PY -c "
import numpy as np
np.save('$T/loud.npy', np.array([1.5, -2, 0.5, 1, -1, 3], '<f4'))"
"$BIN/mulaw" "$T/loud.npy" -o "$T/loud.codes" 2>"$T/err"
check "values outside [-1, 1] are clamped to the end codes" $PY -c "
import numpy as np
assert np.load('$T/loud.codes').tolist() == [255, 0, 239, 255, 0, 255]"
check "... and counted on stderr" grep -q "3 of 6 samples were outside \[-1, 1\] and clamped" "$T/err"

# --- bad input: NaN / inf name the file and the record; no output file is left
$PY -c "
import numpy as np
with open('$T/nan.npy', 'wb') as f:
    np.save(f, np.zeros(10, '<f4')); np.save(f, np.array([0, 0.5, np.nan], '<f4'))
with open('$T/inf.npy', 'wb') as f:
    np.save(f, np.array([0, -np.inf], '<f4'))"
fails_with "NaN: error names the file, record and sample" 1 "mulaw: $T/nan.npy: record 1: sample 2 is NaN" \
	"$BIN/mulaw" "$T/nan.npy" -o "$T/out1.npy"
ok "$([ ! -e "$T/out1.npy" ]; echo $?)" "NaN: no output file"
fails_with "infinity: error names the record" 1 "inf.npy: record 0: sample 1 is infinite" \
	"$BIN/mulaw" "$T/inf.npy" -o "$T/out2.npy"
ok "$([ ! -e "$T/out2.npy" ] && [ -z "$(ls "$T" | grep out2)" ]; echo $?)" "infinity: no output or temporary file"

$PY -c "
import numpy as np
with open('$T/big.npy', 'wb') as f:
    np.save(f, np.array([1, 2], '|u1')); np.save(f, np.array([3, 199, 200], '|u1'))
np.save('$T/neg.npy', np.array([5, -1], '<i2'))
np.save('$T/i2.npy', np.array([0, 100, 255], '<i2'))"
fails_with "decode: a code >= LEVELS names the record and index" 1 "big.npy: record 1: code 200 at index 2 is not below 200 levels" \
	"$BIN/mulaw" -d -l 200 "$T/big.npy" -o "$T/out3.npy"
ok "$([ ! -e "$T/out3.npy" ]; echo $?)" "decode: no output file"
fails_with "decode: a negative <i2 code is refused" 1 "neg.npy: record 0: code -1 at index 1 is outside 0..255" \
	"$BIN/mulaw" -d "$T/neg.npy" -o "$T/out4.npy"
"$BIN/mulaw" -d "$T/i2.npy" -o "$T/i2.out" 2>/dev/null
check "decode: <i2 codes are accepted by value" $PY -c "
import numpy as np, ref
assert np.allclose(np.load('$T/i2.out'), ref.dec([0, 100, 255], 'mulaw', 256))"
fails_with "encode: code records are refused with a hint" 1 "record 0: dtype \|u1 is not audio .*decode with -d" \
	"$BIN/mulaw" "$T/big.npy" -o "$T/out5.npy"

head -c 200 "$T/rand.npy" >"$T/cut.npy"
fails_with "a stream cut inside a record is an error naming it" 1 "cut.npy: record 0: truncated stream: cut inside a record" \
	"$BIN/mulaw" "$T/cut.npy" -o "$T/out6.npy"
ok "$([ ! -e "$T/out6.npy" ]; echo $?)" "cut stream: no output file"
# the rate travels with the data: wavchunk -r 22050 | mulaw | mulaw -d plays at 22050 Hz
$PY -c "
import numpy as np, wave
w = wave.open('$T/tone.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(44100)
w.writeframes((np.sin(np.arange(88200) * 0.06) * 9000).astype('<i2').tobytes()); w.close()"
wavrate() { $PY -c "import sys, struct; print(struct.unpack('<I', open(sys.argv[1], 'rb').read()[24:28])[0])" "$1"; }
"$BIN/wavchunk" -r 22050 -l 1 -p 0 "$T/tone.wav" 2>/dev/null | "$BIN/mulaw" 2>/dev/null | "$BIN/mulaw" -d -o "$T/r22.wav" 2>/dev/null
ok "$([ "$(wavrate "$T/r22.wav")" = 22050 ]; echo $?)" "wavchunk -r 22050 | mulaw | mulaw -d -o x.wav writes 22050 Hz ($(wavrate "$T/r22.wav"))"
"$BIN/wavchunk" -r 22050 -l 1 -p 0 "$T/tone.wav" -o "$T/r22.npy" 2>/dev/null
fails_with "encoding a 22050 Hz stream with -r 16000 is refused" 1 "r22.npy: record 0: the stream is at 22050 Hz, -r says 16000" \
	"$BIN/mulaw" -r 16000 "$T/r22.npy" -o "$T/out9.npy"
"$BIN/mulaw" "$T/r22.npy" -o "$T/c22.npy" 2>/dev/null
fails_with "decoding 22050 Hz codes to audio at -r 44100 is refused" 1 "c22.npy: record 0: the stream is at 22050 Hz, -r says 44100" \
	"$BIN/mulaw" -d -r 44100 "$T/c22.npy" -o "$T/out9.wav"
ok "$([ ! -e "$T/out9.npy" ] && [ ! -e "$T/out9.wav" ]; echo $?)" "rate mismatch: no output file"
"$BIN/wavchunk" -r 16000 -l 1 -p 0 "$T/tone.wav" 2>/dev/null | cat "$T/r22.npy" - > "$T/mixed.npy"
fails_with "a stream whose records change rate is refused" 1 "mixed.npy: record 2: the stream is at 16000 Hz, earlier records at 22050 Hz" \
	"$BIN/mulaw" "$T/mixed.npy" -o "$T/out10.npy"
fails_with "a directory read as a stream says so" 1 "$T: is a directory" "$BIN/mulaw" "$T"
fails_with "... also on stdin" 1 "stdin: record 0: is a directory" sh -c "'$BIN/mulaw' < '$T'"
printf 'hello world, not numpy' >"$T/text.npy"
fails_with "not a tensor stream: bad magic" 1 "text.npy: record 0: bad magic" "$BIN/mulaw" "$T/text.npy"
fails_with "a missing input is named, before any output exists" 1 "mulaw: $T/missing.npy: No such file" \
	"$BIN/mulaw" "$T/v.npy" "$T/missing.npy" -o "$T/out7.npy"
ok "$([ ! -e "$T/out7.npy" ]; echo $?)" "missing input: no output file"
mkdir -p "$T/adir"
fails_with "a directory given as a stream is named as one (not a cut stream)" 1 "mulaw: $T/adir: is a directory" \
	"$BIN/mulaw" "$T/adir" -o "$T/out9.npy"

# --- usage
fails_with "--linear with --dadabots is a usage error" 2 "exclude each other" "$BIN/mulaw" --linear --dadabots "$T/v.npy"
fails_with "-l 1 is a usage error" 2 "-l: expected an integer in \[2, 65536\]" "$BIN/mulaw" -l 1 "$T/v.npy"
fails_with "-l 65537 is a usage error" 2 "-l" "$BIN/mulaw" -l 65537 "$T/v.npy"
fails_with "encoding to an audio file is a usage error" 2 "use -d" "$BIN/mulaw" "$T/v.npy" -o "$T/x.wav"
check "--help prints usage to stdout" sh -c "'$BIN/mulaw' --help | grep -q '^usage: mulaw'"

# --- audio in and out
if command -v sox >/dev/null 2>&1; then
	sox -n -r 22050 -c 2 "$T/tone.wav" synth 1.5 sine 440 vol 0.5
	"$BIN/mulaw" "$T/tone.wav" -o "$T/tone.codes" 2>/dev/null
	check "an audio file is encoded as one record at its own rate" $PY -c "
import numpy as np
c = np.load('$T/tone.codes'); assert c.shape == (33075,) and c.dtype == np.uint8, c.shape
assert c.min() < 40 and c.max() > 215   # a 0.5 sine spans most of the mu-law codes"
	"$BIN/mulaw" -r 8000 "$T/tone.wav" -o "$T/tone8.codes" 2>/dev/null
	check "... or at -r RATE" $PY -c "
import numpy as np
assert abs(np.load('$T/tone8.codes').shape[0] - 12000) <= 2"
	"$BIN/mulaw" -d "$T/tone.codes" -o "$T/back.wav" 2>/dev/null
	$PY -c "import numpy as np; np.save(open('$T/old.codes', 'wb'), np.load('$T/tone.codes'))"
	"$BIN/mulaw" -d "$T/old.codes" -o "$T/old.wav" 2>/dev/null
	check "... and 16 kHz for codes that carry no rate (numpy.save, older streams)" sh -c "[ \$(soxi -r '$T/old.wav') = 16000 ]"
	check "-d -o x.wav writes the rate the codes carry (22050 Hz, from the file they were made of)" sh -c \
		"[ \$(soxi -r '$T/back.wav') = 22050 ] && [ \$(soxi -s '$T/back.wav') = 33075 ] && [ \$(soxi -c '$T/back.wav') = 1 ]"
	"$BIN/mulaw" -d -r 22050 "$T/tone.codes" "$T/tone.codes" -o "$T/back.flac" 2>/dev/null
	check "-d -r 22050 -o x.flac writes every record one after another" sh -c \
		"[ \$(soxi -r '$T/back.flac') = 22050 ] && [ \$(soxi -s '$T/back.flac') = 66150 ]"
	check "the decoded audio is the tone again (amplitude 0.5 within 2%)" sh -c \
		"sox '$T/back.wav' -n stat 2>&1 | awk '/Maximum amplitude/ { exit !(\$3 > 0.49 && \$3 < 0.51) }'"
	fails_with "-d with codes >= LEVELS leaves no audio file" 1 "record 1: code 200" \
		"$BIN/mulaw" -d -l 200 "$T/big.npy" -o "$T/bad.wav"
	ok "$([ -z "$(ls "$T" | grep bad)" ]; echo $?)" "... not even a temporary one"
	printf 'not audio at all' >"$T/fake.wav"
	fails_with "an undecodable audio input is named" 1 "mulaw: $T/fake.wav: cannot decode audio" \
		"$BIN/mulaw" "$T/fake.wav" -o "$T/out8.npy"
	ok "$([ ! -e "$T/out8.npy" ]; echo $?)" "undecodable audio: no output file"
else
	skip "sox not installed: audio input and output"
fi
# --- the options every program answers; -q
std_options mulaw -l
"$BIN/mulaw" "$T/v.npy" -o "$T/loud.codes" 2>"$T/loud.err"
"$BIN/mulaw" -q "$T/v.npy" -o "$T/quiet.codes" 2>"$T/quiet.err"
check "-q: no summary line (there is one without it), the same codes" sh -c \
	"grep -q encoded '$T/loud.err' && ! test -s '$T/quiet.err' && cmp '$T/loud.codes' '$T/quiet.codes'"
done_testing
