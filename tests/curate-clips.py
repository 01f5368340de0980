#!/usr/bin/python3
"""Makes the clips tests/curate.t classifies: OUTDIR/NAME.npy (one <f4 record each) or .wav.

usage: curate-clips.py OUTDIR [MUSIC.f32 ...]
MUSIC.f32 are the asc-music tracks decoded to raw float32 mono at 16 kHz (sox does it in the
test). Without them only the synthetic clips are made. Everything comes from a fixed seed."""
import sys, wave
import numpy as np

R = 16000
out = sys.argv[1]
rng = np.random.default_rng(20261125)


def save(name, x):
    x = np.asarray(x, np.float32)
    if name.endswith(".wav"):
        with wave.open(f"{out}/{name}", "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(R)
            w.writeframes((np.clip(x, -1, 1) * 32767).round().astype("<i2").tobytes())
    else:
        np.save(f"{out}/{name}", x)


def pink(n):
    f = np.fft.rfft(rng.standard_normal(n))
    f[1:] /= np.sqrt(np.arange(1, len(f)))
    f[0] = 0
    x = np.fft.irfft(f, n)
    return x / np.abs(x).max()


n = 10 * R
save("silence.wav", rng.standard_normal(n) * 10 ** (-80 / 20))   # hiss at -80 dBFS
save("white.npy", np.clip(rng.standard_normal(n) * 0.2, -0.99, 0.99))
save("pink.npy", pink(n) * 0.5)
t = np.arange(R // 2) / R                                       # a 0.5 s riff, repeated
riff = (np.sin(2 * np.pi * 220 * t) * np.exp(-t * 9) +
        0.6 * np.sin(2 * np.pi * 330 * t) * np.exp(-(t - 0.25).clip(0) * 12) * (t >= 0.25) +
        0.3 * np.sin(2 * np.pi * 880 * t) * np.exp(-(t - 0.125).clip(0) * 20) * (t >= 0.125))
save("loop.npy", 0.4 * np.tile(riff, 24) + rng.standard_normal(12 * R) * 1e-4)
# issue 15's junk: a mains hum over near-silence, clicks over near-silence, hiss (high-passed
# noise), a model stuck at one level (a DC offset with a faint wander: silence once repaired)
th = np.arange(n) / R
save("hum.npy", 0.01 * (np.sin(2 * np.pi * 50 * th) + 0.4 * np.sin(2 * np.pi * 150 * th + 1)) +
     rng.standard_normal(n) * 1e-4)
x = rng.standard_normal(n) * 3e-5
for at in np.cumsum(rng.integers(800, 6000, 100)):
    if at + 8 < n:
        x[at:at + 8] += rng.choice([-1, 1]) * 0.5 * np.exp(-np.arange(8) / 2)
save("clicks.npy", x)
f = np.fft.rfft(rng.standard_normal(n))
f[: 3000 * n // R] = 0
save("hiss.npy", np.fft.irfft(f, n) * 0.01)
save("dcstuck.npy", 0.3 + 0.01 * np.sin(2 * np.pi * 0.5 * th) + rng.standard_normal(n) * 1e-4)
# a band playing a riff: the same 0.5 s, each repeat up to 6 ms early or late and ±20% in level
x = np.zeros(12 * R + R)
for k in range(24):
    at = k * R // 2 + int(rng.integers(-96, 97)) + R // 2
    x[at:at + len(riff)] += 0.4 * rng.uniform(0.8, 1.2) * riff
save("riff.npy", x[R // 2:R // 2 + 12 * R])

# synthetic music, made whether or not the real tracks are there: random notes with decays
tn = np.arange(R // 4) / R
for k in (1, 2):
    notes = [np.sin(2 * np.pi * 110 * 2 ** (rng.integers(0, 24) / 12) * tn) * np.exp(-6 * tn)
             for _ in range(40)]
    save(f"notes{k}.npy", 0.3 * np.concatenate(notes))

tracks = [np.fromfile(p, np.float32) for p in sys.argv[2:]]
if tracks:
    a, b, c = (tracks + tracks * 2)[:3]
    def cut(x, s, sec):
        return x[int(s * R):int(s * R) + int(sec * R)]
    save("clipped.npy", np.clip(cut(b, 100, 10) * 8, -1, 1))
    save("dc.npy", cut(c, 100, 10) + 0.1)
    save("short.npy", cut(a, 200, 2))
    # music excerpts: 12 s from each track at spread positions, and two excerpts from the same
    # passage overlapping by 8 s (music-a-same1/-same2), which must end up neighbours
    k = 0
    for name, x in (("a", a), ("b", b), ("c", c)):
        for s in (40, 130, 220):
            save(f"music-{name}{s}.npy" if k % 2 else f"music-{name}{s}.wav", cut(x, s, 12))
            k += 1
    save("music-same1.npy", cut(a, 300, 12))
    save("music-same2.npy", cut(a, 304, 12))
