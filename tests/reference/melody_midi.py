#!/usr/bin/python3
"""melody_midi.py PROGRAM SEED SECONDS LOW HIGH OUT.mid: a random monophonic melody (steps of
at most a fifth between LOW and HIGH, durations 0.25-1.5 s, varied velocity) for General MIDI
PROGRAM (0-based), as a type-0 MIDI file, for bench/ddsp_quality.sh to render with fluidsynth."""
import random, struct, sys
def vlq(n):
    b = [n & 0x7f]; n >>= 7
    while n: b.append(0x80 | (n & 0x7f)); n >>= 7
    return bytes(reversed(b))
def write(path, program, notes, tpq=480, tempo=500000):
    ev = bytearray()
    ev += vlq(0) + bytes([0xff, 0x51, 3]) + tempo.to_bytes(3, 'big')
    ev += vlq(0) + bytes([0xc0, program])
    t_prev = 0
    for start, dur, pitch, vel in notes:   # seconds
        ts = int(start * tpq * 1e6 / tempo); te = int((start + dur) * tpq * 1e6 / tempo)
        ev += vlq(ts - t_prev) + bytes([0x90, pitch, vel]); t_prev = ts
        ev += vlq(te - t_prev) + bytes([0x80, pitch, 0]); t_prev = te
    ev += vlq(tpq) + bytes([0xff, 0x2f, 0])
    with open(path, 'wb') as f:
        f.write(b'MThd' + struct.pack('>IHHH', 6, 0, 1, tpq))
        f.write(b'MTrk' + struct.pack('>I', len(ev)) + ev)
def melody(seed, seconds, lo, hi):
    r = random.Random(seed); t = 0; p = (lo + hi) // 2; out = []
    while t < seconds:
        d = r.choice([0.25, 0.5, 0.5, 0.75, 1.0, 1.5])
        p = max(lo, min(hi, p + r.choice([-5, -3, -2, -1, 1, 2, 3, 4, 5, 7, -7])))
        out.append((t, d * 0.95, p, r.randint(60, 115))); t += d
        if r.random() < 0.1: t += r.choice([0.25, 0.5])
    return out
prog, seed, secs, lo, hi, path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
write(path, prog, melody(seed, secs, lo, hi))
