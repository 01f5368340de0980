#!/usr/bin/python3
"""tests/reference/samplernn.py: the 2-tier SampleRNN of docs/samplernn.md in PyTorch, written
from that page as the project's reference: the fixture of tests/unit/test_samplernn.c is made
from it (tests/fixtures/make_samplernn_fixture.py) and bench/qtrain.sh, bench/qsample.sh time
qtrain and qsample beside it.

The model (docs/samplernn.md, "2-tier"): a frame tier of L LSTM (or GRU) layers of width D on
frames of FS codes rescaled to [-2, 2], layers 2..L reading [h below, frame]; its output
sum_l outs[l](h_l) upsampled to FS conditioning vectors; a sample tier on the embedded FS codes
before each target, plus that vector, through three more linears to Q logits. Weight norm on
every linear, none on the embedding or the RNN. Parameter names are the checkpoint's
(rnns.0.weight_ih_l0, outs.0.lin.weight_v, up.lin.weight_g, emb.weight, l1.lin.weight_v, ...).

As a program (Debian's /usr/bin/python3 with python3-torch), one TSV line per run:
    samplernn.py train  --preset small --steps 5 [--threads 2]
        -> train, preset, threads, samples_per_s, mean loss of the last 10 steps in bits
    samplernn.py sample --preset small --n 8 --secs 1 [--threads 2]
        -> sample, preset, threads, samples_per_s (all streams together)
"""
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_cli import bench_main

LEVELS = 256
# docs/samplernn.md, "Presets": frame size, width, layers, embedding, batch, window
PRESETS = {
    "tiny": dict(fs=16, dim=64, layers=1, embed=16, batch=8, seq=256),
    "small": dict(fs=16, dim=512, layers=3, embed=128, batch=16, seq=1024),
    "medium": dict(fs=16, dim=1024, layers=3, embed=256, batch=16, seq=1024),
    "dadabots": dict(fs=16, dim=1024, layers=5, embed=256, batch=32, seq=1024),
}


class NormedLinear(nn.Module):
    """A linear layer with weight normalisation (w = g v / |v| per output row); the wrapper
    gives the checkpoint's names NAME.lin.weight_g, NAME.lin.weight_v, NAME.lin.bias."""

    def __init__(self, n_in, n_out, bias=True):
        super().__init__()
        self.lin = nn.utils.weight_norm(nn.Linear(n_in, n_out, bias=bias), dim=0)

    def forward(self, x):
        return self.lin(x)


class SampleRNN(nn.Module):
    def __init__(self, fs, dim, layers, embed, levels=LEVELS, rnn="lstm"):
        super().__init__()
        self.fs, self.dim, self.levels, self.rnn = fs, dim, levels, rnn
        cell = {"lstm": nn.LSTM, "gru": nn.GRU}[rnn]
        self.rnns = nn.ModuleList(
            cell(fs if l == 0 else dim + fs, dim, batch_first=True) for l in range(layers))
        if rnn == "lstm":  # the LSTM biases start at zero but for a forget-gate bias of 3
            with torch.no_grad():
                for r in self.rnns:
                    r.bias_ih_l0.zero_()
                    r.bias_ih_l0[dim:2 * dim] = 3.0
                    r.bias_hh_l0.zero_()
        self.outs = nn.ModuleList(NormedLinear(dim, dim, bias=l == 0) for l in range(layers))
        self.up = NormedLinear(dim, fs * dim)
        self.emb = nn.Embedding(levels, embed)
        self.l1 = NormedLinear(fs * embed, dim, bias=False)
        self.l2 = NormedLinear(dim, dim)
        self.l3 = NormedLinear(dim, dim)
        self.l4 = NormedLinear(dim, levels)

    def frames_of(self, codes):
        """codes (B, n*FS) -> frames (B, n, FS) in [-2, 2]"""
        x = (codes.float() / (self.levels // 2) - 1) * 2
        return x.view(codes.shape[0], -1, self.fs)

    def frame_tier(self, frames, state):
        """frames (B, NF, FS), state: one entry per layer (None: zeros) ->
        conditioning (B, NF*FS, D), the state at the end"""
        h, out, new_state = None, 0, []
        for l, rnn in enumerate(self.rnns):
            x = frames if l == 0 else torch.cat([h, frames], dim=-1)
            h, s = rnn(x, None if state is None else state[l])
            new_state.append(s)
            out = out + self.outs[l](h)
        b, nf, _ = out.shape
        return self.up(out).view(b, nf * self.fs, self.dim), new_state

    def sample_tier(self, prev, cond):
        """prev (..., FS) codes before each target, cond (..., D) -> logits (..., Q)"""
        h = self.l1(self.emb(prev).flatten(-2)) + cond
        h = F.relu(self.l2(h))
        h = F.relu(self.l3(h))
        return self.l4(h)

    def forward(self, codes, state=None):
        """codes (B, FS + seq) -> logits (B, seq, Q) for codes[:, FS:], the state at the end"""
        seq = codes.shape[1] - self.fs
        cond, state = self.frame_tier(self.frames_of(codes[:, :seq]), state)
        prev = codes.unfold(1, self.fs, 1)[:, :seq]
        return self.sample_tier(prev, cond), state


def detach(state):
    return [tuple(t.detach() for t in s) if isinstance(s, tuple) else s.detach() for s in state]


def bench_train(p, steps, windows=4):
    """one warm-up step, then `steps` timed Adam steps (lr 1e-3, gradients clamped to +-1) on
    random codes, TBPTT windows of seq with the state carried across a chunk of `windows`"""
    torch.manual_seed(0)
    model = SampleRNN(p["fs"], p["dim"], p["layers"], p["embed"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    fs, seq, batch = p["fs"], p["seq"], p["batch"]
    data = torch.randint(0, LEVELS, (batch, windows * seq + fs))
    state, bits, done, t0 = None, [], 0, 0.0
    for step in range(steps + 1):
        w = step % windows
        if w == 0:
            state = None
        codes = data[:, w * seq:w * seq + seq + fs]
        logits, state = model(codes, state)
        state = detach(state)
        loss = F.cross_entropy(logits.reshape(-1, LEVELS), codes[:, fs:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        for q in model.parameters():
            q.grad.clamp_(-1, 1)
        opt.step()
        bits.append(loss.item() / math.log(2))
        if step == 0:
            t0 = time.perf_counter()
        else:
            done += batch * seq
    return done / (time.perf_counter() - t0), sum(bits[-10:]) / len(bits[-10:])


@torch.no_grad()
def bench_sample(p, n, secs, temp=1.0):
    """n streams of secs seconds at 16 kHz, one code at a time, from Q/2 silence"""
    torch.manual_seed(0)
    model = SampleRNN(p["fs"], p["dim"], p["layers"], p["embed"]).eval()
    fs = p["fs"]
    total = int(secs * 16000) // fs * fs
    codes = torch.full((n, fs + total), LEVELS // 2, dtype=torch.long)
    state, cond = None, None
    t0 = time.perf_counter()
    for t in range(fs, fs + total):
        k = (t - fs) % fs
        if k == 0:
            cond, state = model.frame_tier(model.frames_of(codes[:, t - fs:t]), state)
        logits = model.sample_tier(codes[:, t - fs:t], cond[:, k])
        codes[:, t] = torch.multinomial(F.softmax(logits / temp, dim=-1), 1)[:, 0]
    return n * total / (time.perf_counter() - t0)


def main():
    bench_main("SampleRNN reference: training or sampling speed", PRESETS, bench_train, bench_sample, "small", 5, 8, 1.0)


if __name__ == "__main__":
    main()
