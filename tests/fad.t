#!/bin/sh
# The objective distance of qtrain --sample-every (lib/fad.c, the log's fad column): a tiny
# SampleRNN trained 300 small steps on a very simple signal (decaying notes of random pitch)
# writes clips whose distance to held-out audio falls as it trains; and, measured with a numpy
# rewrite of fad.h's definition on fresh held-out notes, the order is held-out real notes <
# the trained model's clips < white noise. (A model this small and short-trained: the point is
# that the number orders audio as a listener would, not that the model sounds good.)
. tests/lib.sh
cat > $T/fad.py <<'PY'
import numpy as np, sys, wave
SR = 16000
def notes(seed, secs=2):
    r = np.random.default_rng(seed); n = SR // 4; t = np.arange(n) / SR; out = []
    for i in range(secs * 4):
        f = 220 * 2 ** (r.integers(0, 12) / 12)
        out.append(0.3 * np.exp(-3 * t) * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t)))
    return np.concatenate(out)
def mel(f): return 2595 * np.log10(1 + f / 700)
def frames(x, rate=SR, D=40, N=1024, H=512):
    k = np.arange(N // 2 + 1); pos = (mel(k * rate / N) - mel(30)) / (mel(min(8000, rate / 2)) - mel(30)) * (D + 1) - 1
    b = np.floor(pos).astype(int); w = pos - b; W = np.zeros((N // 2 + 1, D))
    for j in range(N // 2 + 1):
        if 0 <= b[j] < D: W[j, b[j]] += 1 - w[j]
        if 0 <= b[j] + 1 < D: W[j, b[j] + 1] += w[j]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N) / N)
    F = np.array([np.abs(np.fft.rfft(x[t:t + N] * win)) ** 2 for t in range(0, len(x) - N + 1, H)])
    return np.log10(F @ W / N + 1e-10)
def fad(A, B):
    ma, mb = A.mean(0), B.mean(0); ca, cb = np.cov(A.T), np.cov(B.T)
    l, v = np.linalg.eigh(ca); sa = (v * np.sqrt(np.clip(l, 0, None))) @ v.T
    e = np.linalg.eigvalsh(sa @ cb @ sa)
    return ((ma - mb) ** 2).sum() + np.trace(ca + cb) - 2 * np.sqrt(np.clip(e, 0, None)).sum()
def wav(p):
    w = wave.open(p); return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
if sys.argv[1] == "codes":
    mu = 255
    with open(sys.argv[2], "wb") as f:
        for s in range(24):
            x = notes(s); y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
            np.save(f, np.clip(((y + 1) / 2 * mu + 0.5).astype(int), 0, 255).astype(np.uint8))
else:
    ref = np.concatenate([frames(notes(s)) for s in range(100, 106)])
    real = np.concatenate([frames(notes(s)) for s in range(200, 203)])
    clips = np.concatenate([frames(wav(p)) for p in sys.argv[2:]])
    noise = frames(np.random.default_rng(7).uniform(-0.5, 0.5, 3 * 2 * SR))
    d = [fad(ref, real), fad(ref, clips), fad(ref, noise)]
    print("# held-out real %.2f, trained clips %.2f, white noise %.2f" % tuple(d))
    assert d[0] < d[1] < d[2], d
PY
$PY $T/fad.py codes $T/notes.npy
check "qtrain: 300 steps on notes, clips and their distance every 100" $BIN/qtrain --preset tiny --batch 8 --seq 256 \
	--steps 300 --checkpoint-every 100 --sample-every 100 --sample-count 2 --sample-seconds 2 --split 80,20,0 \
	--threads 2 -o $T/run $T/notes.npy
check "log.tsv: a distance on each row, falling as the model trains" $PY -c '
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert rows[0][7] == "fad", rows[0]
d = [float(r[7]) for r in rows[1:]]
print("# fad at steps 100, 200, 300:", d)
assert len(d) == 3 and d[2] < d[0], d' $T/run/log.tsv; cut -f1,8 $T/run/log.tsv | sed "s/^/# /"
check "fad.png plots it" test -s $T/run/fad.png
$PY $T/fad.py order $T/run/samples/step0000300_*.wav > $T/order.out 2>&1; ok $? "held-out real notes < the trained clips < white noise"; cat $T/order.out
done_testing
