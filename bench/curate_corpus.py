#!/usr/bin/python3
"""bench/curate_corpus.py: cuts the labelled corpus that calibrates `curate` (issue 15) out of the
Debian music packages bench/curate-corpus.sh unpacked, and makes the junk.

usage: curate_corpus.py DIR [SECONDS]

DIR/pkg/PACKAGE/ holds each unpacked package and its genre (DIR/pkg/PACKAGE/genre). Written:
- DIR/clips/music-GENRE-PACKAGE.npy: tensor streams of SECONDS (12) excerpts at 16 kHz, float32
  mono, cut every 15 s through each track (its intro and ending included), at most 300 per
  package, spread evenly;
- DIR/clips/junk-KIND.npy: 40 clips of each kind of junk: white, pink and brown-free hiss at
  several levels, clicks, silence with a mains hum, exact short loops of the music, heavily
  clipped music, a stuck DC level;
- DIR/clips/repair-dc.npy: music excerpts with a DC offset added (to be repaired, so kept);
- DIR/clips/index.tsv: file, record, label (music/junk kind), genre, source track, position.
Everything from a fixed seed, so the corpus is the same on every machine."""
import glob, os, subprocess, sys, zipfile
import numpy as np

R = 16000
DIR = sys.argv[1]
SEC = float(sys.argv[2]) if len(sys.argv) > 2 else 12.0
N = int(SEC * R)
STEP = 15.0
CAP = 300   # excerpts per package at most
rng = np.random.default_rng(15)
os.makedirs(f"{DIR}/clips", exist_ok=True)
os.makedirs(f"{DIR}/tmp", exist_ok=True)


def decode(paths):
    """paths (mixed when several, as the stems of a Frets on Fire song) as float32 16 kHz mono."""
    out = f"{DIR}/tmp/x.f32"
    cmd = ["sox"] + (["-m"] if len(paths) > 1 else []) + list(paths) + ["-r", str(R), "-c", "1", "-t", "f32", out]
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
    return np.fromfile(out, np.float32)


def tracks(pkg):
    """(name, [files]) of each track of a package."""
    root = f"{DIR}/pkg/{pkg}"
    if pkg.startswith("fretsonfire-songs"):
        for d in sorted(glob.glob(f"{root}/usr/share/games/fretsonfire/data/songs/*/*/")):
            stems = sorted(glob.glob(f"{d}*.ogg"))
            if stems:
                yield os.path.basename(d.rstrip("/")), stems
    elif pkg == "hyperrogue-music":
        for f in sorted(glob.glob(f"{root}/usr/share/hyperrogue/music/*.ogg")):
            yield os.path.basename(f), [f]
    elif pkg == "nexuiz-music":
        pk3 = glob.glob(f"{root}/usr/share/games/nexuiz/data/music.pk3")[0]
        with zipfile.ZipFile(pk3) as z:
            for m in sorted(z.namelist()):
                if m.endswith(".ogg"):
                    f = f"{DIR}/tmp/{os.path.basename(m)}"
                    if not os.path.exists(f):
                        with open(f, "wb") as o:
                            o.write(z.read(m))
                    yield os.path.basename(m), [f]
    else:
        for f in sorted(glob.glob(f"{root}/**/*.ogg", recursive=True) + glob.glob(f"{root}/**/*.mp3", recursive=True)):
            yield os.path.basename(f), [f]


index = []


def write(name, clips, labels):
    with open(f"{DIR}/clips/{name}.npy", "wb") as f:
        for k, (x, lab) in enumerate(zip(clips, labels)):
            np.save(f, np.asarray(x, "<f4"))
            index.append((f"{name}.npy", k) + lab)


music_pool = []   # excerpts to build the junk from
for pkg in sorted(os.listdir(f"{DIR}/pkg")):
    genre = open(f"{DIR}/pkg/{pkg}/genre").read().strip()
    clips, labels = [], []
    for name, files in tracks(pkg):
        x = decode(files)
        if len(x) < N:   # jingles and sound effects shorter than an excerpt
            continue
        for s in np.arange(0, (len(x) - N) / R + 1e-9, STEP):
            c = x[int(s * R):int(s * R) + N]
            clips.append(c)
            labels.append(("music", genre, f"{pkg}/{name}", f"{s:.0f}"))
    if len(clips) > CAP:   # evenly through the package, so that no package outweighs the rest
        keep = np.linspace(0, len(clips) - 1, CAP).round().astype(int)
        clips, labels = [clips[i] for i in keep], [labels[i] for i in keep]
    write(f"music-{genre}-{pkg}", clips, labels)
    pick = rng.choice(len(clips), size=min(len(clips), 12), replace=False)
    music_pool += [clips[i] for i in sorted(pick)]
    print(f"{pkg} ({genre}): {len(clips)} excerpts", file=sys.stderr)


def norm(x, db):
    return x / (np.sqrt(np.mean(x * x)) + 1e-12) * 10 ** (db / 20)


def pink(n):
    f = np.fft.rfft(rng.standard_normal(n))
    f[1:] /= np.sqrt(np.arange(1, len(f)))
    f[0] = 0
    return np.fft.irfft(f, n)


def highpass_noise(n, hz):
    f = np.fft.rfft(rng.standard_normal(n))
    f[: int(hz * n / R)] = 0
    return np.fft.irfft(f, n)


K = 40
lv = lambda: rng.uniform(-40, -10)   # RMS levels, dBFS
t = np.arange(N) / R
junk = {
    "white": [np.clip(norm(rng.standard_normal(N), lv()), -1, 1) for _ in range(K)],
    "pink": [np.clip(norm(pink(N), lv()), -1, 1) for _ in range(K)],
    # hiss: quiet high-frequency noise, alone or with a faint low rumble
    "hiss": [norm(highpass_noise(N, rng.uniform(2000, 5000)), rng.uniform(-60, -35)) for _ in range(K)],
    # clicks: sparse impulses (crackle) over near-silence
    "clicks": [],
    # silence with a mains hum (50 or 60 Hz and harmonics) and a little noise
    "hum": [],
    # the model stuck on one short stretch: an exact loop of 0.1-2 s of real music, with the
    # tiny noise of 8-bit quantisation
    "loop": [],
    # heavily clipped music: driven 20-40 dB into the rails
    "clipped": [],
    # the model stuck at one level: a constant offset with a faint wander and hiss
    "dc-stuck": [],
}
for k in range(K):
    x = rng.standard_normal(N) * 10 ** (rng.uniform(-80, -65) / 20)
    rate = rng.uniform(2, 40)
    for at in np.nonzero(rng.random(N) < rate / R)[0]:
        w = min(int(rng.integers(2, 40)), N - at)
        x[at:at + w] += rng.choice([-1, 1]) * rng.uniform(0.1, 0.9) * np.exp(-np.arange(w) / 4)
    junk["clicks"].append(x)
    f0 = rng.choice([50, 60])
    h = sum(rng.uniform(0.1, 1) / j * np.sin(2 * np.pi * f0 * j * t + rng.uniform(0, 6)) for j in range(1, 6))
    junk["hum"].append(norm(h, rng.uniform(-55, -30)) + rng.standard_normal(N) * 10 ** (-75 / 20))
    m = music_pool[k % len(music_pool)]
    L = int(rng.uniform(0.1, 2.0) * R)
    at = int(rng.integers(0, len(m) - L))
    seg = m[at:at + L]
    loop = np.tile(seg, N // L + 1)[:N]
    junk["loop"].append(loop + rng.standard_normal(N) * 1e-3 * np.std(loop))
    g = 10 ** (rng.uniform(20, 40) / 20)
    junk["clipped"].append(np.clip(norm(m, -20) * g, -1, 1))
    level = rng.uniform(0.05, 0.6) * rng.choice([-1, 1])
    junk["dc-stuck"].append(level + 0.01 * np.sin(2 * np.pi * rng.uniform(0.1, 2) * t) +
                            rng.standard_normal(N) * 10 ** (rng.uniform(-90, -70) / 20))
for kind, clips in junk.items():
    write(f"junk-{kind}", [np.clip(c, -1, 1) for c in clips], [("junk-" + kind, "-", "-", "-")] * len(clips))
# repairable: music with a DC offset, kept after the high-pass
write("repair-dc", [np.clip(m + rng.uniform(0.02, 0.2) * rng.choice([-1, 1]), -1, 1) for m in music_pool[:K]],
      [("music", "dc-offset", "-", "-")] * min(K, len(music_pool)))
with open(f"{DIR}/clips/index.tsv", "w") as f:
    f.write("file\trecord\tlabel\tgenre\tsource\tseconds\n")
    for row in index:
        f.write("\t".join(map(str, row)) + "\n")
print(f"{len(index)} clips in {DIR}/clips", file=sys.stderr)
