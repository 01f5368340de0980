#!/bin/sh
# albumart: covers are valid PNGs of the asked size, the same bytes for the same inputs
# (whatever the thread count), clearly different for other seeds or other audio, never flat,
# with the type on them; spectrograms put a sweep where it belongs; bad input is refused
# cleanly. PNGs are decoded here in pure Python (zlib + numpy), no imaging package needed.
. tests/lib.sh
A=$BIN/albumart

cat >"$T/png.py" <<'EOF'
import struct, sys, zlib
import numpy as np

def read(path, decode=True):
    """Checks a PNG's structure and CRCs; returns (w, h, pixels (h, w, 3) uint8 or None).
    Decoded pixels are cached beside the file (the unfiltering loop is slow in Python)."""
    if decode:
        try:
            x = np.load(path + '.npy'); return x.shape[1], x.shape[0], x
        except OSError:
            pass
    b = open(path, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n', 'bad signature'
    pos, idat, ihdr, seen_end = 8, [], None, False
    while pos < len(b):
        n, typ = struct.unpack('>I4s', b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        crc, = struct.unpack('>I', b[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(typ + data) & 0xffffffff == crc, 'bad CRC in ' + typ.decode()
        if typ == b'IHDR': ihdr = struct.unpack('>IIBBBBB', data)
        elif typ == b'IDAT': idat.append(data)
        elif typ == b'IEND': seen_end = True
        pos += 12 + n
    assert ihdr and seen_end and pos == len(b), 'missing IHDR/IEND or trailing bytes'
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, 'unexpected format %r' % (ihdr,)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    assert len(raw) == h * (1 + w * bpp), 'image data of the wrong length'
    if not decode:
        return w, h, None
    rows = np.frombuffer(raw, np.uint8).reshape(h, 1 + w * bpp)
    out = np.zeros((h, w * bpp), np.int32)
    prev = np.zeros(w * bpp, np.int32)
    for y in range(h):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        assert f <= 4, 'bad filter type'
        if f == 0: cur = line
        elif f == 2: cur = (line + prev) & 255
        else:
            cur = line.tolist(); p = prev.tolist()
            for i in range(len(cur)):
                a = cur[i - bpp] if i >= bpp else 0
                if f == 1: cur[i] = (cur[i] + a) & 255
                elif f == 3: cur[i] = (cur[i] + ((a + p[i]) >> 1)) & 255
                else:
                    c = p[i - bpp] if i >= bpp else 0
                    pa, pb, pc = abs(p[i] - c), abs(a - c), abs(a + p[i] - 2 * c)
                    pr = a if pa <= pb and pa <= pc else (p[i] if pb <= pc else c)
                    cur[i] = (cur[i] + pr) & 255
            cur = np.array(cur, np.int32)
        out[y] = cur; prev = cur
    x = out.reshape(h, w, bpp)[:, :, :3].astype(np.uint8)
    np.save(path + '.npy', x)
    return w, h, x

def size(path):
    w, h, _ = read(path, decode=False)
    print('%dx%d' % (w, h))

def mad(p, q):  # mean absolute difference per channel, 0..255
    a, b = read(p)[2].astype(float), read(q)[2].astype(float)
    print('%.2f' % np.abs(a - b).mean())

def variety(p):  # pixel std dev and number of distinct colours
    x = read(p)[2]
    c = x.reshape(-1, 3).astype(np.int64)
    print('%.2f %d' % (x.std(), len(np.unique(c[:, 0] << 16 | c[:, 1] << 8 | c[:, 2]))))

def bright(p, y0, y1):  # pale pixels (all channels > 200) in rows [y0, y1) as a fraction
    x = read(p)[2]; h = x.shape[0]
    band = x[int(y0 * h):int(y1 * h)]
    print('%.4f' % (band.min(axis=2) > 200).mean())

def ridge(p, x0):  # the brightest row of column fraction x0 (0 = top)
    x = read(p)[2].astype(int).sum(axis=2); w = x.shape[1]
    print(int(np.argmax(x[:, int(x0 * (w - 1))])))

getattr(sys.modules[__name__], sys.argv[1])(*[float(a) if a.replace('.', '').isdigit() else a for a in sys.argv[2:]])
EOF
png() { $PY "$T/png.py" "$@"; }
gt() { $PY -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$1" "$2"; }

# Recordings with known character: a low minor chord (tonal, dark), bright noise bursts
# (stereo, to exercise the downmix), a rising sine sweep.
$PY - "$T" <<'EOF'
import sys, wave
import numpy as np
d = sys.argv[1]
def w(name, x, sr, ch=1):
    y = (np.clip(x, -1, 1) * 32767).astype('<i2')
    if ch == 2: y = np.stack([y, y], 1).reshape(-1)
    with wave.open(d + '/' + name, 'wb') as f:
        f.setnchannels(ch); f.setsampwidth(2); f.setframerate(sr); f.writeframes(y.tobytes())
sr = 22050; t = np.arange(sr * 4) / sr; rng = np.random.default_rng(1)
w('tonal.wav', sum(np.sin(2 * np.pi * f * t) for f in (110, 130.81, 164.81)) * 0.2, sr)
n = rng.standard_normal(t.size) * 0.3
n = (n - np.r_[0, n[:-1]] * 0.9) * (rng.random(t.size // 2205 + 1).repeat(2205)[:t.size] > 0.3)
w('noise.wav', n, sr, 2)
w('sweep.wav', 0.5 * np.sin(2 * np.pi * (60 * t + (6000 - 60) / 8 * t * t)), sr)
open(d + '/bad.wav', 'wb').write(b'RIFF\x10\x00\x00\x00WAVEjunk that is not audio')
EOF

check "--help prints the usage" sh -c "$A --help | grep -q 'usage: albumart'"

# Size: the default and asked sizes.
t0=$($PY -c 'import time; print(time.time())')
check "default cover renders" $A --seed 1 --artist "Shark Cathedral" --title "Teeth of the Abyss" -o "$T/default.png"
t1=$($PY -c 'import time; print(time.time())')
echo "# 1024x1024 cover with type in $($PY -c "print('%.2f' % ($t1 - $t0))") s"
ok "$([ "$(png size "$T/default.png")" = 1024x1024 ]; echo $?)" "default cover is a valid 1024x1024 PNG"
for s in 64 256 333; do
	$A --seed 2 --size $s -o "$T/s$s.png" 2>/dev/null
	ok "$([ "$(png size "$T/s$s.png")" = ${s}x$s ]; echo $?)" "--size $s gives a valid ${s}x$s PNG"
done
v=$(png variety "$T/s333.png")
ok "$([ "$v" ] && gt "${v% *}" -1; echo $?)" "a cover decodes completely (filters, all rows)"

# Determinism: same inputs, same bytes; also with another thread count.
$A --seed 5 --size 256 --artist X --audio "$T/tonal.wav" "$T/noise.wav" -o "$T/d1.png" 2>/dev/null
$A --seed 5 --size 256 --artist X --audio "$T/tonal.wav" "$T/noise.wav" -o "$T/d2.png" 2>/dev/null
OMP_NUM_THREADS=1 $A --seed 5 --size 256 --artist X --audio "$T/tonal.wav" "$T/noise.wav" -o "$T/d3.png" 2>/dev/null
check "same seed and audio: identical bytes" cmp "$T/d1.png" "$T/d2.png"
check "identical with one thread" cmp "$T/d1.png" "$T/d3.png"
$A --seed 5 --size 256 -o - 2>/dev/null >"$T/stdout.png"
$A --seed 5 --size 256 -o "$T/file.png" 2>/dev/null
check "-o - writes the same PNG to stdout" cmp "$T/stdout.png" "$T/file.png"

# Seeds and audio each change the picture clearly.
for s in 1 2 3; do $A --seed $s --size 256 -o "$T/seed$s.png" 2>/dev/null; done
for p in "1 2" "1 3" "2 3"; do
	set -- $p
	m=$(png mad "$T/seed$1.png" "$T/seed$2.png")
	ok "$(gt "$m" 15; echo $?)" "seeds $1 and $2 differ clearly (mean abs diff $m > 15)"
done
for f in tonal noise sweep; do $A --seed 4 --size 256 --audio "$T/$f.wav" -o "$T/audio_$f.png" 2>/dev/null; done
$A --seed 4 --size 256 -o "$T/audio_none.png" 2>/dev/null
for p in "tonal noise" "tonal sweep" "noise sweep" "tonal none"; do
	set -- $p
	m=$(png mad "$T/audio_$1.png" "$T/audio_$2.png")
	ok "$(gt "$m" 15; echo $?)" "same seed, audio $1 vs $2: clearly different (mean abs diff $m > 15)"
done

# Never flat: spread and colour count over several seeds and audio.
for f in seed1 seed2 seed3 audio_tonal audio_noise audio_sweep; do
	set -- $(png variety "$T/$f.png")
	ok "$(gt "$1" 20 && gt "$2" 2000; echo $?)" "$f: not flat (std dev $1 > 20, $2 > 2000 colours)"
done

# The type: pale letters appear in the title band (bottom) and the artist band (top).
$A --seed 6 --size 256 -o "$T/plain.png" 2>/dev/null
$A --seed 6 --size 256 --title "Teeth of the Abyss" -o "$T/titled.png" 2>/dev/null
$A --seed 6 --size 256 --artist "Shark Cathedral" -o "$T/artist.png" 2>/dev/null
b0=$(png bright "$T/plain.png" 0.89 0.96) b1=$(png bright "$T/titled.png" 0.89 0.96)
ok "$(gt "$b1" "$($PY -c "print($b0 + 0.006)")"; echo $?)" "title set in type: pale pixels in its band $b0 → $b1"
b0=$(png bright "$T/plain.png" 0.04 0.3) b1=$(png bright "$T/artist.png" 0.04 0.3)
ok "$(gt "$b1" "$($PY -c "print($b0 + 0.02)")"; echo $?)" "artist set in type: pale pixels in its band $b0 → $b1"
m=$(png mad "$T/plain.png" "$T/titled.png")
ok "$(gt "$m" 0.5; echo $?)" "title changes the cover (mean abs diff $m)"
check "a non-Latin title renders" $A --seed 6 --size 128 --artist "Ærø Ørkenstorm" --title "Тьма" -o "$T/utf8.png"

# Spectrogram mode.
check "spectrogram of a sweep" $A --spectrogram "$T/sweep.wav" --size 400x160 -o "$T/sweep.png"
ok "$([ "$(png size "$T/sweep.png")" = 400x160 ]; echo $?)" "spectrogram has the asked size"
r0=$(png ridge "$T/sweep.png" 0.1) r1=$(png ridge "$T/sweep.png" 0.9)
ok "$([ "$r1" -lt "$((r0 - 20))" ]; echo $?)" "the sweep rises: brightest row $r0 near the start, $r1 near the end"
check "spectrogram default size, log scale" $A --spectrogram "$T/noise.wav" --scale log -o "$T/noise_spec.png"
ok "$([ "$(png size "$T/noise_spec.png")" = 1200x300 ]; echo $?)" "spectrogram default is 1200x300"

# Bad input: a clear message naming the file, exit 1, no output (not even a temporary).
fails_with "unreadable --audio: exit 1 naming the file" 1 "albumart: $T/bad.wav: " \
	$A --audio "$T/tonal.wav" "$T/bad.wav" -o "$T/out/bad.png"
mkdir -p "$T/out"
$A --audio "$T/tonal.wav" "$T/bad.wav" -o "$T/out/bad.png" 2>/dev/null
ok "$([ -z "$(ls -A "$T/out")" ]; echo $?)" "no output and no temporary file left"
fails_with "missing --audio file: exit 1 naming it" 1 "albumart: $T/missing.wav: " \
	$A --audio "$T/missing.wav" -o "$T/out/missing.png"
fails_with "spectrogram of a non-audio file: exit 1" 1 "albumart: $T/bad.wav: " \
	$A --spectrogram "$T/bad.wav" -o "$T/out/s.png"
# issue 13: a NaN sample crashed the cover (SIGSEGV in palette_at); now the reader refuses it
$PY -c "
import numpy as np, struct
x = (0.3 * np.sin(np.arange(16000 * 3) / 5)).astype('<f4'); x[8000] = np.nan
hdr = struct.pack('<4sI4s4sIHHIIHH4sI', b'RIFF', 36 + x.nbytes, b'WAVE', b'fmt ', 16, 3, 1, 16000, 64000, 4, 32, b'data', x.nbytes)
open('$T/nan.wav', 'wb').write(hdr + x.tobytes())"
fails_with "--audio with a NaN sample: exit 1 naming the file and the sample, no crash" 1 \
	"albumart: $T/nan.wav: sample 8000 \(at 0\.500 s\) is NaN" $A --audio "$T/nan.wav" -o "$T/out/nan.png"
fails_with "--spectrogram with a NaN sample: the same (no black picture)" 1 \
	"albumart: $T/nan.wav: sample 8000 \(at 0\.500 s\) is NaN" $A --spectrogram "$T/nan.wav" -o "$T/out/nan.png"
fails_with "output in a missing directory: exit 1 naming it" 1 "albumart: $T/nodir/x.png: cannot create" \
	$A --size 32 -o "$T/nodir/x.png"
fails_with "--size 0: usage error" 2 "--size" $A --size 0 -o "$T/out/x.png"
fails_with "--size abc: usage error" 2 "--size" $A --size abc -o "$T/out/x.png"
fails_with "--size 100000: usage error" 2 "--size" $A --size 100000 -o "$T/out/x.png"
fails_with "spectrogram --size 300: usage error" 2 "WxH" $A --spectrogram "$T/sweep.wav" --size 300 -o "$T/out/x.png"
fails_with "--seed -1: usage error" 2 "--seed" $A --seed -1 -o "$T/out/x.png"
fails_with "no -o: usage error" 2 "no output" $A --seed 1
fails_with "unknown option: usage error" 2 "--colour: unknown option" $A --colour red -o "$T/out/x.png"
fails_with "--audio with no file: usage error" 2 "at least one file" $A --audio -o "$T/out/x.png"
ok "$([ -z "$(ls -A "$T/out")" ]; echo $?)" "no output from any refused command"

# --- the options every program answers
std_options albumart --seed
done_testing
