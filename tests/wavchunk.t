#!/bin/sh
# tests/wavchunk.t: the wavchunk program: chunk counts and lengths on generated inputs in
# several formats, rates and channel counts; silence dropping (including the exact half-way
# rule); overlap; --parts (exact count, exact positions across file boundaries); -o DIR/
# names and contents; resampling quality; bounded memory; every bad input with its message,
# exit code and no output file (cut files, lying headers, non-finite samples among them); and real music (data/asc-music, fetched by `make data`).
. tests/lib.sh
command -v sox >/dev/null 2>&1 || { skip "sox not installed"; done_testing; exit; }

# Helpers: 16 kHz 16-bit wav files written from numpy, so that (no resampling) every chunk is
# exactly a slice of the input; and a reader of our streams.
cat >"$T/h.py" <<'EOF'
import numpy as np, wave
def mkwav(path, x, rate=16000):
    q = np.clip(np.round(np.asarray(x) * 32768), -32768, 32767).astype('<i2')
    w = wave.open(path, 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(q.tobytes()); w.close()
    return q / np.float32(32768)
def noise(seconds, amp=0.3, seed=0, rate=16000):
    return np.random.default_rng(seed).uniform(-amp, amp, int(round(seconds * rate)))
def records(path):
    out = []
    with open(path, 'rb') as f:
        while f.peek(1):
            out.append(np.load(f))
    return out
EOF
export PYTHONPATH="$T"
W="$BIN/wavchunk"

# --- formats, rates, channel counts: counts and lengths
sox -n -r 44100 -c 2 "$T/a.wav" synth 30 pinknoise vol 0.3
sox -n -r 22050 -c 1 "$T/b.flac" synth 20.5 sine 300-3000 vol 0.5
sox -n -r 8000 -c 6 "$T/c.ogg" synth 16 sine 440 vol 0.5
sox -n -r 16000 -c 1 "$T/d.wav" synth 7.5 sine 440 vol 0.5
"$W" "$T/a.wav" "$T/b.flac" "$T/c.ogg" "$T/d.wav" -o "$T/s.npy" 2>"$T/err"
check "wav 44.1k stereo 30 s, flac 22.05k mono 20.5 s, ogg 8k 6-ch 16 s, wav 7.5 s: 4+2+2+0 chunks (128000,) <f4" $PY -c "
import numpy as np, h
r = h.records('$T/s.npy')
assert len(r) == 8, len(r)
for a in r:
    assert a.dtype == np.dtype('<f4') and a.shape == (128000,)
    assert np.isfinite(a).all() and np.abs(a).max() <= 1 and np.sqrt(np.mean(a * a)) > 0.05
"
"$W" --quality poly "$T/a.wav" "$T/b.flac" "$T/c.ogg" "$T/d.wav" -o "$T/sp.npy" 2>/dev/null
check "--quality poly (libsoxr): the same 8 chunks, close to libsamplerate's (both resample well)" $PY -c "
import numpy as np, h
a, b = h.records('$T/s.npy'), h.records('$T/sp.npy')
assert len(b) == 8 and all(x.shape == (128000,) and x.dtype == np.dtype('<f4') for x in b)
# tones well inside both pass bands agree to 1e-4; the pink noise differs by its energy in
# 7.2-8 kHz, which libsamplerate's medium (90% bandwidth) cuts and poly (95%) keeps
rel = [np.sqrt(np.mean((x - y) ** 2) / np.mean(x ** 2)) for x, y in zip(a, b)]
print('# relative differences', ' '.join('%.1e' % e for e in rel))
assert max(rel[:4]) < 0.12 and max(rel[4:]) < 1e-4
"
check "summary: files, seconds read, chunks written, dropped" \
	grep -Eq "^wavchunk: 4 files, 74\.0 s read, 8 chunks written, 0 dropped as silent$" "$T/err"
"$W" -r 8000 -l 2 -p 0 "$T/b.flac" -o "$T/s8.npy" 2>/dev/null
check "-r 8000 -l 2 -p 0: 10 chunks (16000,) from 20.5 s" $PY -c "
import h; r = h.records('$T/s8.npy'); assert len(r) == 10 and all(a.shape == (16000,) for a in r), len(r)"
cat "$T/a.wav" | "$W" - >"$T/stdin.npy" 2>/dev/null
check "reads stdin as '-' (wav; libsndfile cannot read flac from a pipe)" $PY -c "import h; assert len(h.records('$T/stdin.npy')) == 4"

sox -n -r 44100 -c 1 -b 32 -e float "$T/square.wav" synth 10 square 1000 vol 0.999 2>/dev/null
"$W" "$T/square.wav" -o "$T/sq.npy" 2>"$T/err"
check "the resampler's overshoot on a full-scale square is clamped to [-1, 1] and counted" sh -c \
	"grep -Eq 'samples clipped to \[-1, 1\]' '$T/err' && $PY -c \"import numpy as np; assert np.abs(np.load('$T/sq.npy')).max() == 1\""

# --- overlap and exact positions (16 kHz input: chunks are exact slices)
$PY -c "import h; h.mkwav('$T/n30.wav', h.noise(30, seed=1))"
for p in 0 1 4 7.5; do
	"$W" -p $p "$T/n30.wav" -o "$T/p.npy" 2>/dev/null
	check "-p $p on 30 s: chunks start every 8-$p s and are exact slices" $PY -c "
import numpy as np, wave, h
w = wave.open('$T/n30.wav'); src = np.frombuffer(w.readframes(w.getnframes()), '<i2') / np.float32(32768)
hop = 128000 - int(round($p * 16000)); r = h.records('$T/p.npy')
assert len(r) == (len(src) - 128000) // hop + 1, len(r)
for k, a in enumerate(r):
    assert (a == src[k * hop:k * hop + 128000]).all(), k
"
done

# --- silence
$PY -c "
import numpy as np, h
h.mkwav('$T/half.wav', np.concatenate([h.noise(10), np.zeros(20 * 16000)]))
h.mkwav('$T/exact_half.wav', np.concatenate([h.noise(4.0), np.zeros(4 * 16000)]))
h.mkwav('$T/over_half.wav', np.concatenate([h.noise(3.95), np.zeros(int(4.05 * 16000))]))
h.mkwav('$T/quiet.wav', h.noise(8, amp=10 ** (-30 / 20) * np.sqrt(3)))   # RMS -30 dBFS
h.mkwav('$T/zeros.wav', np.zeros(20 * 16000))
"
"$W" "$T/half.wav" -o "$T/h.npy" 2>"$T/err"
check "10 s noise + 20 s silence: the first chunk is kept, 3 mostly silent ones are dropped" \
	grep -q "1 file, 30.0 s read, 1 chunk written, 3 dropped as silent" "$T/err"
"$W" "$T/exact_half.wav" -o "$T/h.npy" 2>"$T/err"
check "exactly half of the 50 ms windows silent (80 of 160): kept" grep -q "1 chunk written, 0 dropped" "$T/err"
fails_with "81 of 160 windows silent: dropped; nothing left is an error" 1 \
	"wavchunk: all 1 chunks were silent .*under -60 dBFS" "$W" "$T/over_half.wav" -o "$T/o.npy"
ok "$([ ! -e "$T/o.npy" ]; echo $?)" "... and leaves no output file"
"$W" "$T/quiet.wav" -o "$T/q.npy" 2>"$T/err"
check "a -30 dBFS chunk is kept at the default -60 dB" grep -q "1 chunk written" "$T/err"
"$W" --silence-db -40 "$T/quiet.wav" -o "$T/q.npy" 2>"$T/err"
check "... and at --silence-db -40" grep -q "1 chunk written" "$T/err"
fails_with "... and dropped at --silence-db -20" 1 "all 1 chunks were silent" \
	"$W" --silence-db -20 "$T/quiet.wav" -o "$T/q2.npy"
fails_with "digital silence only: error, exit 1" 1 "all 2 chunks were silent" "$W" "$T/zeros.wav" -o "$T/z.npy"
ok "$([ ! -e "$T/z.npy" ]; echo $?)" "... no output file"

# --- -o DIR/: names <stem>_<k>.wav, k the 0-based position in the file (dropped ones leave gaps)
$PY -c "
import numpy as np, h
h.mkwav('$T/song.wav', np.concatenate([h.noise(10, seed=2), np.zeros(12 * 16000), h.noise(18, seed=3)]))"
"$W" "$T/song.wav" -o "$T/out/" 2>"$T/err"
check "-o DIR/: song_0, song_3, song_4 (positions 1 and 2 silent)" \
	sh -c "[ \"\$(cd '$T/out' && ls | tr '\n' ' ')\" = 'song_0.wav song_3.wav song_4.wav ' ]"
"$W" "$T/song.wav" -o "$T/song.npy" 2>/dev/null
check "-o DIR/ files are 16 kHz mono float wav holding exactly the stream's records" $PY -c "
import subprocess, numpy as np, h
r = h.records('$T/song.npy'); assert len(r) == 3
for k, a in zip([0, 3, 4], r):
    f = '$T/out/song_%d.wav' % k
    assert subprocess.check_output(['soxi', '-r', f]).strip() == b'16000'
    assert subprocess.check_output(['soxi', '-e', f]).strip() == b'Floating Point PCM'
    raw = np.frombuffer(subprocess.check_output(['sox', f, '-t', 'f32', '-']), '<f4')
    assert (raw == a).all(), k
"
mkdir -p "$T/other"
cp "$T/song.wav" "$T/other/song.wav"
fails_with "-o DIR/ with two inputs of the same stem is refused" 1 "has the same name stem as" \
	"$W" "$T/song.wav" "$T/other/song.wav" -o "$T/out2/"

# --- --parts: exact count, exact positions over the concatenation, across file boundaries
$PY -c "
import numpy as np, h
a = h.mkwav('$T/pa.wav', h.noise(20, seed=4)); b = h.mkwav('$T/pb.wav', h.noise(13.3, seed=5))
np.save('$T/pab.npy', np.concatenate([a, b]).astype(np.float32))"
for spec in "9 2" "40 8" "1 8" "3 33.3"; do
	set -- $spec
	"$W" --parts $1 -l $2 "$T/pa.wav" "$T/pb.wav" -o "$T/parts.npy" 2>"$T/err"
	[ $1 = 9 ] && cp "$T/parts.npy" "$T/parts9.npy"
	check "--parts $1 -l $2 over 20 s + 13.3 s: exactly $1 chunks at floor(i*(L-C)/(N-1))" $PY -c "
import numpy as np, h
src = np.load('$T/pab.npy'); L, C, N = len(src), int(round($2 * 16000)), $1
r = h.records('$T/parts.npy'); assert len(r) == N, len(r)
for i, a in enumerate(r):
    s = i * (L - C) // (N - 1) if N > 1 else 0
    assert a.shape == (C,) and (a == src[s:s + C]).all(), i
"
done
check "... and the summary counts them" grep -q "2 files, 33.3 s read, 3 chunks written, 0 dropped" "$T/err"
"$W" --parts 5 -l 2 "$T/pa.wav" "$T/pb.wav" -o "$T/pdir/" 2>/dev/null
check "--parts -o DIR/: <stem of the file where the part starts>_<part>.wav" \
	sh -c "[ \"\$(cd '$T/pdir' && ls | tr '\n' ' ')\" = 'pa_0.wav pa_1.wav pa_2.wav pb_3.wav pb_4.wav ' ]"
for q in medium poly; do
	"$W" --quality $q --parts 7 "$T/a.wav" "$T/c.ogg" "$T/zeros.wav" -o "$T/pr.npy" 2>/dev/null
	check "--quality $q --parts 7 over resampled wav + ogg + silence: exactly 7 chunks, silent ones kept" $PY -c "
import h; r = h.records('$T/pr.npy'); assert len(r) == 7 and all(a.shape == (128000,) for a in r)
assert (r[-1] == 0).all()"
done
"$W" --quality poly -r 16001 "$T/a.wav" -o "$T/odd.npy" 2>"$T/err"
check "--quality poly resamples to any rate, 16001 Hz too (soxr has no phase-table limit)" sh -c \
	"! grep -q 'libsamplerate' '$T/err' && grep -q '4 chunks written' '$T/err'"
"$W" --quality poly --parts 9 -l 2 "$T/pa.wav" "$T/pb.wav" -o "$T/pp16.npy" 2>/dev/null
check "--quality poly on 16 kHz input does not resample: the same parts as the default" \
	cmp "$T/pp16.npy" "$T/parts9.npy"
fails_with "--parts with less audio than one chunk is an error" 1 "less than one chunk of 8.00 s; nothing written" \
	"$W" --parts 3 "$T/d.wav" -o "$T/pp.npy"
ok "$([ ! -e "$T/pp.npy" ]; echo $?)" "... no output file"

# --- resampling quality: 44.1 kHz -> 16 kHz keeps a 1 kHz sine at >= 60 dB SNR, rejects 10 kHz
sox -n -r 44100 -c 1 -b 32 -e float "$T/sine.wav" synth 20 sine 1000 vol 0.5
sox -n -r 44100 -c 1 -b 32 -e float "$T/alias.wav" synth 20 sine 10000 vol 0.5
for q in medium poly; do
"$W" --quality $q "$T/sine.wav" -o "$T/sine.npy" 2>/dev/null
"$W" --quality $q --silence-db -200 "$T/alias.wav" -o "$T/alias.npy" 2>/dev/null
min_snr=60; [ $q = poly ] && min_snr=90
check "--quality $q: 1 kHz sine 44.1k -> 16k: FFT peak at 1 kHz, amplitude kept, SNR >= $min_snr dB" $PY -c "
import numpy as np, h
x = h.records('$T/sine.npy')[1].astype(np.float64)   # the chunk from 7 s to 15 s
n = len(x); t = np.arange(n) / 16000.0
spec = np.abs(np.fft.rfft(x * np.hanning(n))); peak = np.argmax(spec) * 16000.0 / n
A = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)], 1)
coef = np.linalg.lstsq(A, x, rcond=None)[0]; fit = A @ coef
snr = 10 * np.log10(np.sum(fit ** 2) / np.sum((x - fit) ** 2)); amp = np.hypot(*coef)
print('# peak %.3f Hz, amplitude %.5f, SNR %.1f dB' % (peak, amp, snr))
assert abs(peak - 1000) <= 16000.0 / n and abs(amp - 0.5) < 0.005 and snr >= $min_snr
"
check "--quality $q: 10 kHz sine (above the new Nyquist) is rejected by >= $min_snr dB, not aliased to 6 kHz" $PY -c "
import numpy as np, h
x = h.records('$T/alias.npy')[1].astype(np.float64)
rms = np.sqrt(np.mean(x ** 2)); print('# residual %.1f dB re 0.5 amplitude' % (20 * np.log10(rms / (0.5 / np.sqrt(2)))))
assert rms < 0.5 / np.sqrt(2) * 10 ** (-$min_snr / 20)
"
done

# --- memory stays bounded: the peak RSS for 300 s of input is within 4 MB of that for 20 s
sox -n -r 44100 -c 2 "$T/long.flac" synth 300 sine 200-2000 vol 0.5
sox -n -r 44100 -c 2 "$T/short.flac" synth 20 sine 200-2000 vol 0.5
cat >"$T/rss.py" <<'EOF'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
for mode in "" "--parts 30"; do
	short=$($PY "$T/rss.py" "$W" $mode "$T/short.flac" -o "$T/m.npy")
	long=$($PY "$T/rss.py" "$W" $mode "$T/long.flac" -o "$T/m.npy")
	ok "$([ -n "$short" ] && [ -n "$long" ] && [ $((long - short)) -lt 4096 ]; echo $?)" \
		"memory bounded${mode:+ with $mode}: peak RSS ${short} kB for 20 s, ${long} kB for 300 s"
done

# --- bad inputs: message naming the file, exit 1, no output file
printf 'this is not audio' >"$T/fake.wav"
: >"$T/empty.flac"
fails_with "a missing file" 1 "^wavchunk: $T/none.wav: No such file or directory" "$W" "$T/none.wav" -o "$T/e1.npy"
ok "$([ ! -e "$T/e1.npy" ]; echo $?)" "... no output file"
fails_with "an undecodable file: libsndfile's message" 1 "^wavchunk: $T/fake.wav: cannot decode audio: " \
	"$W" "$T/fake.wav" -o "$T/e2.npy"
ok "$([ ! -e "$T/e2.npy" ]; echo $?)" "... no output file"
fails_with "an empty file" 1 "^wavchunk: $T/empty.flac: cannot decode audio" "$W" "$T/empty.flac" -o "$T/e3.npy"
fails_with "a good file then a bad one: refused before anything is written" 1 "fake.wav: cannot decode audio" \
	"$W" "$T/a.wav" "$T/fake.wav" -o "$T/e4.npy"
ok "$([ ! -e "$T/e4.npy" ] && [ -z "$(ls "$T" | grep e4)" ]; echo $?)" "... no output file, no temporary file"
fails_with "... also in -o DIR/ mode" 1 "fake.wav: cannot decode audio" "$W" "$T/a.wav" "$T/fake.wav" -o "$T/e5/"
ok "$([ ! -e "$T/e5" ]; echo $?)" "... no directory"
fails_with "inputs all shorter than one chunk" 1 "no input is as long as one chunk \(8 s\): 7.50 s read from 1 file; nothing written" \
	"$W" "$T/d.wav" -o "$T/e6.npy"
ok "$([ ! -e "$T/e6.npy" ]; echo $?)" "... no output file"
# --- damaged recordings: a cut file, a lying header, a NaN sample, a corrupt mp3 (issue 13)
sox -n -r 16000 -c 1 "$T/whole.flac" synth 30 sine 440 vol 0.5
head -c 200000 "$T/whole.flac" >"$T/cut.flac"
# libFLAC loses sync at the cut; libsndfile reports it with the short read or not at all, and
# then the frames decoded fall short of the header's count
fails_with "a cut FLAC (no resampling): refused with the time, not 1 chunk" 1 \
	"^wavchunk: $T/cut.flac: (decode error after 1[0-9]\.[0-9]+ s: .*lost sync|cut short: the header declares 30\.000 s)" \
	"$W" "$T/cut.flac" -o "$T/e7.npy"
ok "$([ ! -e "$T/e7.npy" ]; echo $?)" "... no output file"
fails_with "... and with resampling" 1 "cut.flac: (decode error after|cut short)" "$W" -r 8000 "$T/cut.flac" -o "$T/e7.npy"
sox -n -r 16000 -c 1 -b 16 "$T/long.wav" synth 60 sine 440 vol 0.5
head -c $((44 + 16000 * 2 * 30)) "$T/long.wav" >"$T/lying.wav"
fails_with "a WAV whose header claims 60 s but holds 30 s is refused" 1 \
	"^wavchunk: $T/lying.wav: cut short: the header declares 60\.000 s \(960000 frames\), the file holds 30\.000 s" \
	"$W" "$T/lying.wav" -o "$T/e8.npy"
ok "$([ ! -e "$T/e8.npy" ]; echo $?)" "... no output file"
sox -n -r 16000 -c 1 -t wav - synth 9 sine 440 2>/dev/null | cat >"$T/piped.wav"
check "a WAV written to a pipe (its header's length a placeholder) is read whole" \
	sh -c "'$W' '$T/piped.wav' -o '$T/piped.npy' && [ \$(wc -c <'$T/piped.npy') -gt 512000 ]"
$PY -c "
import numpy as np, wave, struct
x = (0.3 * np.sin(np.arange(16000 * 9) / 5)).astype('<f4'); x[2 * 20000 + 1] = np.inf
hdr = struct.pack('<4sI4s4sIHHIIHH4sI', b'RIFF', 36 + x.nbytes, b'WAVE', b'fmt ', 16, 3, 2, 16000, 128000, 8, 32, b'data', x.nbytes)
open('$T/inf.wav', 'wb').write(hdr + x.tobytes())"
for r in 16000 8000; do
	fails_with "an infinite sample is refused, naming it (-r $r)" 1 \
		"^wavchunk: $T/inf.wav: sample 20000 \(at 1\.250 s\) of channel 2 is infinite" "$W" -r $r "$T/inf.wav" -o "$T/e9.npy"
done
ok "$([ ! -e "$T/e9.npy" ]; echo $?)" "... no output file"
if [ -f "$ROOT/data/asc-music/frontiers.mp3" ]; then
	$PY -c "
import random
b = bytearray(open('$ROOT/data/asc-music/frontiers.mp3', 'rb').read()[:400000]); r = random.Random(3)
for i in range(300): b[r.randrange(4000, len(b))] = r.randrange(256)
open('$T/corrupt.mp3', 'wb').write(b)"
	"$W" "$T/corrupt.mp3" -o "$T/corrupt.npy" >"$T/mp3.out" 2>"$T/mp3.err"
	check "a corrupt mp3: nothing on stdout, only our own lines on stderr (libmpg123 silenced)" \
		sh -c "[ ! -s '$T/mp3.out' ] || { head -c 300 '$T/mp3.out' >&2; exit 1; }; ! grep -v '^wavchunk: ' '$T/mp3.err' >&2"
else
	skip "data/asc-music missing (make data)"
fi
fails_with "no input files: usage error" 2 "no input files" "$W"
fails_with "-p as long as the chunk: usage error" 2 "overlap must be shorter" "$W" -l 8 -p 8 "$T/a.wav"
fails_with "unknown --quality: usage error" 2 "--quality: unknown quality 'superb'" "$W" --quality superb "$T/a.wav"
fails_with "-o FILE.wav: usage error (chunks go to a stream or a directory)" 2 "end it with /" "$W" "$T/a.wav" -o "$T/x.wav"
fails_with "--parts 0: usage error" 2 "--parts" "$W" --parts 0 "$T/a.wav"
fails_with "--parts with stdin: usage error" 2 "stdin cannot be one" "$W" --parts 2 -
check "--help prints usage to stdout" sh -c "'$W' --help | grep -q '^usage: wavchunk'"

# --- real music: Debian's asc-music (three mp3 tracks, `make data`)
music=$ROOT/data/asc-music
if ls "$music"/*.mp3 >/dev/null 2>&1 && soxi -D "$music"/frontiers.mp3 >/dev/null 2>&1; then
	"$W" "$music"/*.mp3 -o "$T/music.npy" 2>"$T/err"
	cat "$T/err" | sed 's/^/# /'
	check "asc-music: chunk count (written + dropped) matches the tracks' durations" $PY -c "
import re, subprocess, glob
want_lo = want_hi = 0
for f in sorted(glob.glob('$music/*.mp3')):
    d = float(subprocess.check_output(['soxi', '-D', f]))
    want_lo += int((d - 0.1 - 8) // 7) + 1; want_hi += int((d + 0.1 - 8) // 7) + 1
m = re.search(r'(\d+) files?, ([\d.]+) s read, (\d+) chunks? written, (\d+) dropped', open('$T/err').read())
files, secs, got = int(m.group(1)), float(m.group(2)), int(m.group(3)) + int(m.group(4))
print('# want %d..%d chunks, got %d' % (want_lo, want_hi, got))
assert files == 3 and want_lo <= got <= want_hi
"
	check "asc-music: chunks are music (finite, in [-1, 1], not silent, no DC)" $PY -c "
import numpy as np, h
r = h.records('$T/music.npy'); x = np.stack(r)
assert x.shape[1] == 128000 and np.isfinite(x).all() and np.abs(x).max() <= 1
rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
print('# %d chunks, RMS %.3f..%.3f, peak %.3f, mean %.2g' % (len(r), rms.min(), rms.max(), np.abs(x).max(), x.mean()))
assert rms.min() > 1e-3 and abs(x.mean()) < 0.01 and (np.abs(x) > 0.01).mean() > 0.5
"
else
	skip "data/asc-music missing (make data) or sox cannot read mp3"
	skip "data/asc-music"
fi
# --- the options every program answers; -q
std_options wavchunk -o
"$W" -q -l 2 "$T/a.wav" -o "$T/quiet.npy" 2>"$T/quiet.err"
check "-q: no summary line, the same chunks" sh -c "! test -s '$T/quiet.err' && test -s '$T/quiet.npy'"
done_testing
