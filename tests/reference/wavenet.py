#!/usr/bin/python3
"""tests/reference/wavenet.py: the WaveNet of docs/wavenet.md (the tensorflow-wavenet network)
in PyTorch, written from that page as the project's reference: the fixtures of
tests/unit/test_wavenet.c are made from it (tests/fixtures/make_wavenet_fixture.py) and
bench/wavenet.sh times qtrain and qsample beside it.

The network (docs/wavenet.md, "The network"): an input layer (one-hot, embedded or scalar codes,
then a causal conv to R channels); per dilation d a gated unit z = tanh(filt) * sigmoid(gate) of
two width-2 dilated convs R -> C, a residual 1x1 C -> R and a skip 1x1 C -> S on the last n_out
positions; the summed skips through ReLU, 1x1 S -> S, ReLU, 1x1 S -> Q. Every conv is torch's
Conv1d with its bias. Parameter names are the checkpoint's (causal.weight, embed.weight,
filt.0.weight, gate.0.bias, res.0.weight, skip.0.weight, post1.weight, post2.bias, ...).

As a program (Debian's /usr/bin/python3 with python3-torch), one TSV line per run:
    wavenet.py train  --preset tiny --steps 3 [--threads 2]
        -> train, preset, threads, samples_per_s, mean loss of the last 10 steps in bits
    wavenet.py sample --preset default --n 1 --secs 0.25 [--threads 2]
        -> sample, preset, threads, samples_per_s (all streams together)
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_cli import bench_main

LEVELS = 256
# docs/wavenet.md, "Presets": dilations, R, C, S, batch, outputs per training row
PRESETS = {
    "tiny": dict(dilations=[2 ** i for i in range(7)], r=16, c=16, s=64, batch=4, n_out=2048),
    "default": dict(dilations=[2 ** i for i in range(10)] * 5, r=32, c=32, s=512, batch=1,
                    n_out=16000),
}


class WaveNet(nn.Module):
    """inp: "onehot" (causal conv Q -> R, width 2), "embed" (embed.weight [Q, E], then a conv
    E -> R of width 2) or "scalar" (code / (Q/2) - 1 in one channel, a conv 1 -> R of width W)"""

    def __init__(self, dilations, r, c, s, levels=LEVELS, inp="onehot", embed=None, width=32):
        super().__init__()
        self.dilations, self.levels, self.inp = list(dilations), levels, inp
        if inp == "onehot":
            self.causal = nn.Conv1d(levels, r, 2)
        elif inp == "embed":
            self.embed = nn.Embedding(levels, embed or r)
            self.causal = nn.Conv1d(embed or r, r, 2)
        elif inp == "scalar":
            self.causal = nn.Conv1d(1, r, width)
        else:
            raise ValueError(f"unknown input layer {inp!r}")
        self.filt = nn.ModuleList(nn.Conv1d(r, c, 2, dilation=d) for d in dilations)
        self.gate = nn.ModuleList(nn.Conv1d(r, c, 2, dilation=d) for d in dilations)
        self.res = nn.ModuleList(nn.Conv1d(c, r, 1) for _ in dilations)
        self.skip = nn.ModuleList(nn.Conv1d(c, s, 1) for _ in dilations)
        self.post1 = nn.Conv1d(s, s, 1)
        self.post2 = nn.Conv1d(s, levels, 1)
        # receptive field of one output, in codes
        self.rf = sum(dilations) + self.causal.kernel_size[0]

    def input_layer(self, codes):
        """codes (B, T) -> the causal conv's input (B, channels, T)"""
        if self.inp == "onehot":
            return F.one_hot(codes, self.levels).float().transpose(1, 2)
        if self.inp == "embed":
            return self.embed(codes).transpose(1, 2)
        return (codes.float() / (self.levels // 2) - 1).unsqueeze(1)

    def forward(self, codes, n_out):
        """codes (B, rf + n_out) -> logits (B, Q, n_out) for codes[:, -n_out:]"""
        x = self.causal(self.input_layer(codes[:, :-1]))
        skips = 0
        for l, d in enumerate(self.dilations):
            z = torch.tanh(self.filt[l](x)) * torch.sigmoid(self.gate[l](x))
            skips = skips + self.skip[l](z[:, :, -n_out:])
            if l + 1 < len(self.dilations):  # the last residual feeds nothing
                x = x[:, :, d:] + self.res[l](z)
        return self.post2(F.relu(self.post1(F.relu(skips))))


def bench_train(p, steps):
    """one warm-up step, then `steps` timed Adam steps (lr 1e-3, eps 1e-4) on random codes"""
    torch.manual_seed(0)
    model = WaveNet(p["dilations"], p["r"], p["c"], p["s"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4)
    n_out, batch = p["n_out"], p["batch"]
    bits, done, t0 = [], 0, 0.0
    for step in range(steps + 1):
        codes = torch.randint(0, LEVELS, (batch, model.rf + n_out))
        loss = F.cross_entropy(model(codes, n_out), codes[:, -n_out:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        bits.append(loss.item() / math.log(2))
        if step == 0:
            t0 = time.perf_counter()
        else:
            done += batch * n_out
    return done / (time.perf_counter() - t0), sum(bits[-10:]) / len(bits[-10:])


@torch.no_grad()
def bench_sample(p, n, secs, temp=1.0):
    """n streams of secs seconds at 16 kHz, one code at a time (one-hot input): each layer keeps
    the last d of its inputs, so a code costs one step through every layer"""
    torch.manual_seed(0)
    model = WaveNet(p["dilations"], p["r"], p["c"], p["s"]).eval()
    total = int(secs * 16000)
    past = [torch.zeros(n, p["r"], d) for d in model.dilations]  # oldest first
    window = torch.full((n, 2), LEVELS // 2, dtype=torch.long)   # the causal conv's two codes
    t0 = time.perf_counter()
    for _ in range(total):
        x = model.causal(model.input_layer(window))               # (n, R, 1)
        skips = 0
        for l in range(len(model.dilations)):
            pair = torch.cat([past[l][:, :, :1], x], dim=2)       # x[t - d], x[t]
            past[l] = torch.cat([past[l][:, :, 1:], x], dim=2)
            f, g = model.filt[l], model.gate[l]
            z = torch.tanh(F.conv1d(pair, f.weight, f.bias)) * torch.sigmoid(F.conv1d(pair, g.weight, g.bias))
            skips = skips + model.skip[l](z)
            x = x + model.res[l](z)
        logits = model.post2(F.relu(model.post1(F.relu(skips))))[:, :, 0]
        code = torch.multinomial(F.softmax(logits / temp, dim=-1), 1)
        window = torch.cat([window[:, 1:], code], dim=1)
    return n * total / (time.perf_counter() - t0)


def main():
    bench_main("WaveNet reference: training or sampling speed", PRESETS, bench_train, bench_sample, "default", 3, 1, 0.25)


if __name__ == "__main__":
    main()
