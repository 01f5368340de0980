#!/bin/sh
# albumart: seconds for a 1024x1024 cover with type (1 thread and all threads), for the
# audio statistics of a minute of 16 kHz audio, and for a 1200x300 spectrogram of it.
set -e
BIN=${BIN:-bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
secs() { /usr/bin/python3 -c 'import sys, time; t = time.time(); import subprocess; subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL); print("%.2f" % (time.time() - t))' "$@"; }
/usr/bin/python3 - "$T/minute.wav" <<'PY'
import sys, wave
import numpy as np
sr = 16000; t = np.arange(sr * 60) / sr; rng = np.random.default_rng(0)
x = 0.3 * np.sin(2 * np.pi * 110 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) / 2 + 0.05 * rng.standard_normal(t.size)
with wave.open(sys.argv[1], 'wb') as f:
    f.setnchannels(1); f.setsampwidth(2); f.setframerate(sr)
    f.writeframes((np.clip(x, -1, 1) * 32767).astype('<i2').tobytes())
PY
echo "albumart: 1024x1024 cover, 1 thread: $(OMP_NUM_THREADS=1 secs $BIN/albumart --artist A --title B -o "$T/c.png") s"
echo "albumart: 1024x1024 cover, $(nproc) threads: $(secs $BIN/albumart --artist A --title B -o "$T/c.png") s"
echo "albumart: 64x64 cover with 60 s of audio (statistics): $(secs $BIN/albumart --size 64 --audio "$T/minute.wav" -o "$T/c.png") s"
echo "albumart: 1200x300 spectrogram of 60 s: $(secs $BIN/albumart --spectrogram "$T/minute.wav" -o "$T/s.png") s"
