"""The command line both reference models share for bench/: `MODEL.py train|sample`, which
prints one tab-separated line of the figures the bench scripts read
(train PRESET THREADS SAMPLES_PER_S BITS, or sample PRESET THREADS SAMPLES_PER_S)."""
import argparse
import sys

import torch


def bench_main(description, presets, bench_train, bench_sample, preset, steps, n, secs):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("what", choices=["train", "sample"])
    ap.add_argument("--preset", default=preset, choices=sorted(presets))
    ap.add_argument("--steps", type=int, default=steps, help="timed training steps after one warm-up")
    ap.add_argument("--n", type=int, default=n, help="streams sampled at once")
    ap.add_argument("--secs", type=float, default=secs, help="seconds sampled per stream")
    ap.add_argument("--temp", type=float, default=1.0, help="sampling temperature")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    p = presets[a.preset]
    if a.what == "train":
        rate, bits = bench_train(p, a.steps)
        print(f"train\t{a.preset}\t{a.threads}\t{rate:.1f}\t{bits:.3f}")
    else:
        print(f"sample\t{a.preset}\t{a.threads}\t{bench_sample(p, a.n, a.secs, a.temp):.1f}")
    sys.stdout.flush()
