#!/usr/bin/python3
"""ddsp_model.py: the PyTorch reference of the DDSP model in lib/ddsp_model*.c, written for this
repository from magenta/ddsp's definitions (REFERENCE.md, "The trained half of DDSP"): the
RnnFcDecoder (stacks of dense, layer norm, leaky ReLU 0.2; a GRU; exp_sigmoid outputs), the
harmonic synth, the filtered noise (65-band FIR per 64-sample block), a learned reverb and the
multi-scale spectral loss. Parameter names are the checkpoints' (qtrain --model ddsp).

  ddsp_model.py fixture OUT.safetensors   the fixture of tests/unit/test_ddsp_model.c (float64)
  ddsp_model.py check CKPT FEATURES        loads a qtrain checkpoint into this model (strict names
                                          and shapes) and synthesises the first example of the
                                          run's features.safetensors
  ddsp_model.py bench --preset P --steps N [--threads T]
                                          training samples/s of this model in float32 on
                                          synthetic examples (bench/ddsp_train.sh)
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures"))
from fixture_io import save_safetensors  # noqa: E402 (one writer of safetensors for every fixture)
import torch.nn.functional as F

# the presets of lib/ddsp_model.c (ddsp_preset)
PRESETS = {
    "tiny": dict(sample_rate=16000, hop=64, n_samples=4096, ch=8, layers=1, gru=8, n_harmonics=8,
                 n_bands=9, reverb=256, batch=2),
    "small": dict(sample_rate=16000, hop=128, n_samples=64000, ch=96, layers=1, gru=128, n_harmonics=40,
                  n_bands=65, reverb=16000, batch=8),
    "paper": dict(sample_rate=16000, hop=64, n_samples=64000, ch=512, layers=3, gru=512, n_harmonics=60,
                  n_bands=65, reverb=48000, batch=32),
}
LOSS_SIZES = (2048, 1024, 512, 256, 128, 64)


def scale_fn(x):
    """ddsp.core.exp_sigmoid: 2·sigmoid(x)^ln(10) + 1e-7"""
    return 2.0 * torch.sigmoid(x) ** math.log(10.0) + 1e-7


def white_noise(n, seed):
    """ddsp_white_noise: splitmix64 from seed, 2·(top 24 bits)/2^24 - 1, as float32"""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return ((z >> np.uint64(40)).astype(np.float64) * (2.0 / 16777216.0) - 1.0).astype(np.float32)


def next_pow2(n):
    p = 1
    while p < n:
        p *= 2
    return p


def harmonic_synth(f0, amp, dist, hop, sr):
    """f0, amp [B,T], dist [B,T,K] -> [B, T·hop]"""
    Bt, T = f0.shape
    K = dist.shape[-1]
    h = torch.arange(1, K + 1, dtype=f0.dtype)
    keep = (f0[..., None] * h < sr / 2).to(f0.dtype)
    d = dist * keep
    s = d.sum(-1, keepdim=True)
    d = d / torch.where(s == 0, torch.full_like(s, 1e-7), s)
    a = amp[..., None] * d
    n = T * hop
    i = torch.arange(n)
    k, r = i // hop, (i % hop).to(f0.dtype) / hop
    k1 = torch.clamp(k + 1, max=T - 1)
    f = f0[:, k] + (f0[:, k1] - f0[:, k]) * r
    w = 0.5 + 0.5 * torch.cos(math.pi * r)
    A = a[:, k, :] * w[:, None] + a[:, k1, :] * (1 - w)[:, None]
    A = A * (f[..., None] * h < sr / 2).to(f0.dtype)
    phase = torch.cumsum(2 * math.pi * f / sr, dim=1)
    return (A * torch.sin(phase[..., None] * h)).sum(-1)


def filtered_noise(mags, noise, hop):
    """mags [B,T,Bn], noise [B,T·hop] -> [B,T·hop]"""
    Bt, T, Bn = mags.shape
    L = 2 * (Bn - 1)
    z = torch.fft.irfft(torch.complex(mags, torch.zeros_like(mags)), n=L)
    j = torch.arange(L)
    hann = 0.5 - 0.5 * torch.cos(2 * math.pi * j.to(mags.dtype) / L)
    ir = hann * z[..., (j + L // 2) % L]
    m = hop + L - 1
    nfft = next_pow2(m)
    blocks = noise.view(Bt, T, hop)
    y = torch.fft.irfft(torch.fft.rfft(blocks, nfft) * torch.fft.rfft(ir, nfft), nfft)[..., :m]
    full = torch.zeros(Bt, T * hop + L - 1, dtype=mags.dtype)
    idx = (torch.arange(T)[:, None] * hop + torch.arange(m)[None, :]).reshape(-1)
    full = full.index_add(1, idx, y.reshape(Bt, -1))
    start = (L - 1) // 2 - 1
    return full[:, start:start + T * hop]


def reverb(x, ir):
    n, R = x.shape[-1], ir.shape[0]
    ir = torch.cat([torch.zeros(1, dtype=ir.dtype), ir[1:]])
    P = next_pow2(n + R - 1)
    return x + torch.fft.irfft(torch.fft.rfft(x, P) * torch.fft.rfft(ir, P), P)[:, :n]


def spectral_loss(a, b):
    n = a.shape[-1]
    total = 0
    for size in LOSS_SIZES:
        hop = size // 4
        frames = -(-n // hop)
        pad = (frames - 1) * hop + size - n
        win = 0.5 - 0.5 * torch.cos(2 * math.pi * torch.arange(size, dtype=a.dtype) / size)
        sa = torch.fft.rfft(F.pad(a, (0, pad)).unfold(-1, size, hop) * win).abs()
        sb = torch.fft.rfft(F.pad(b, (0, pad)).unfold(-1, size, hop) * win).abs()
        total = total + (sa - sb).abs().mean()
        total = total + (torch.log(torch.clamp(sa, min=1e-5)) - torch.log(torch.clamp(sb, min=1e-5))).abs().mean()
    return total


class Fc(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)
        self.norm = nn.LayerNorm(o, eps=1e-5)

    def forward(self, x):
        return F.leaky_relu(self.norm(self.dense(x)), 0.2)


def stack(i, ch, layers):
    return nn.Sequential(*[Fc(i if l == 0 else ch, ch) for l in range(layers)])


class Reverb(nn.Module):
    def __init__(self, R):
        super().__init__()
        self.ir = nn.Parameter(torch.randn(R) * 1e-6)


class DDSP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        ch, G = c["ch"], c["gru"]
        self.ld_stack = stack(1, ch, c["layers"])
        self.f0_stack = stack(1, ch, c["layers"])
        self.gru = nn.GRU(2 * ch, G, batch_first=True)
        self.out_stack = stack(2 * ch + G, ch, c["layers"])
        self.dense_out = nn.Linear(ch, 1 + c["n_harmonics"] + c["n_bands"])
        if c["reverb"]:
            self.reverb = Reverb(c["reverb"])

    def forward(self, f0_hz, loudness_db, noise):
        c = self.c
        K = c["n_harmonics"]
        midi = 12 * (torch.log2(torch.clamp(f0_hz, min=1e-30)) - math.log2(440.0)) + 69
        f0s = torch.where((f0_hz > 0) & (midi > 0), midi, torch.zeros_like(midi)) / 127
        lds = loudness_db / 80 + 1
        x_ld = self.ld_stack(lds[..., None])
        x_f0 = self.f0_stack(f0s[..., None])
        h, _ = self.gru(torch.cat([x_ld, x_f0], -1))
        o = self.dense_out(self.out_stack(torch.cat([x_ld, x_f0, h], -1)))
        amp = scale_fn(o[..., 0])
        harm = scale_fn(o[..., 1:1 + K])
        mags = scale_fn(o[..., 1 + K:] - 5.0)
        audio = harmonic_synth(f0_hz, amp, harm, c["hop"], c["sample_rate"])
        audio = audio + filtered_noise(mags, noise, c["hop"])
        if c["reverb"]:
            audio = reverb(audio, self.reverb.ir)
        return audio


def fixture(path):
    torch.manual_seed(20)
    rs = np.random.RandomState(20)
    c = dict(sample_rate=16000, hop=64, n_samples=1024, ch=6, layers=2, gru=7, n_harmonics=6, n_bands=9,
             reverb=50, batch=2)
    m = DDSP(c).double()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if ".norm." in name:   # away from 1 and 0, so that their gradients are tested too
                p.add_(torch.randn_like(p) * 0.2)
        m.reverb.ir.copy_(torch.randn(c["reverb"], dtype=torch.float64) * 0.05)
    B, T, n = c["batch"], c["n_samples"] // c["hop"], c["n_samples"]
    t = np.arange(T)
    f0 = np.stack([220 * (1 + 0.05 * np.sin(t * 0.7)), 1500 + 300 * np.sin(t * 0.3)]).astype(np.float32)
    f0[0, 3] = 0   # an unvoiced frame: scaled to 0
    ld = np.stack([-30 + 15 * np.sin(t * 0.5), -60 + 10 * np.cos(t * 0.4)]).astype(np.float32)
    i = np.arange(n)
    target = np.stack([0.3 * np.sin(2 * np.pi * 230 * i / 16000), 0.2 * np.sin(2 * np.pi * 1400 * i / 16000)])
    target = (target + 0.05 * rs.uniform(-1, 1, target.shape)).astype(np.float32)
    seeds = [101, 202]
    noise = np.stack([white_noise(n, s) for s in seeds])
    audio = m(torch.tensor(f0, dtype=torch.float64), torch.tensor(ld, dtype=torch.float64),
              torch.tensor(noise, dtype=torch.float64))
    loss = spectral_loss(audio, torch.tensor(target, dtype=torch.float64))
    loss.backward()
    tensors = {}
    for name, p in m.named_parameters():
        tensors[name] = p.detach().numpy()
        tensors["grad." + name] = p.grad.numpy()
    tensors["input.f0_hz"] = f0
    tensors["input.loudness_db"] = ld
    tensors["input.target"] = target
    tensors["loss"] = np.array([loss.item()])
    meta = {"model": "ddsp", "seed0": str(seeds[0]), "seed1": str(seeds[1])}
    meta.update({k: str(v) for k, v in c.items()})
    save_safetensors(path, tensors, meta)
    print(f"{path}: loss {loss.item():.10f}, {sum(p.numel() for p in m.parameters())} parameters")


def bench(preset, steps, threads):
    torch.set_num_threads(threads)
    c = PRESETS[preset]
    torch.manual_seed(1)
    m = DDSP(c)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    B, n, T = c["batch"], c["n_samples"], c["n_samples"] // c["hop"]
    rs = np.random.RandomState(1)
    t = np.arange(T)
    f0 = torch.tensor(220 * 2 ** (rs.uniform(-1, 1, (B, 1)) + 0.02 * np.sin(t * 0.1)), dtype=torch.float32)
    ld = torch.tensor(-30 + 10 * np.sin(t * 0.05 + rs.uniform(0, 6, (B, 1))), dtype=torch.float32)
    target = torch.tensor(rs.uniform(-0.3, 0.3, (B, n)), dtype=torch.float32)
    times = []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        noise = torch.tensor(np.stack([white_noise(n, s * B + b) for b in range(B)]))
        opt.zero_grad()
        loss = spectral_loss(m(f0, ld, noise), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 3.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    sec = sum(times[1:])   # the first step is warm-up
    print(f"pytorch {preset}: {steps} steps, {steps * B * n / sec:.0f} samples/s, loss {loss.item():.3f}")


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        dt = {"F32": np.float32, "F64": np.float64}[v["dtype"]]
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dt).reshape(v["shape"])
    return out, meta


def check(ckpt, features):
    """the checkpoint's parameters into this model: names and shapes must match exactly"""
    t, meta = read_safetensors(ckpt)
    c = {k: int(meta[k]) for k in PRESETS["tiny"]}
    m = DDSP(c).double()
    state = {k: torch.tensor(v, dtype=torch.float64) for k, v in t.items() if not k.startswith("adam.")}
    m.load_state_dict(state, strict=True)
    f, _ = read_safetensors(features)
    f0 = torch.tensor(f["f0_hz"][:1], dtype=torch.float64)
    ld = torch.tensor(f["loudness_db"][:1], dtype=torch.float64)
    noise = torch.tensor(white_noise(c["n_samples"], 7)[None], dtype=torch.float64)
    with torch.no_grad():
        audio = m(f0, ld, noise)
    print(f"{len(state)} tensors loaded; audio rms {audio.pow(2).mean().sqrt().item():.6g}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture")
    f.add_argument("out")
    k = sub.add_parser("check")
    k.add_argument("ckpt")
    k.add_argument("features")
    b = sub.add_parser("bench")
    b.add_argument("--preset", default="small", choices=sorted(PRESETS))
    b.add_argument("--steps", type=int, default=5)
    b.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "fixture":
        fixture(a.out)
    elif a.cmd == "check":
        check(a.ckpt, a.features)
    else:
        bench(a.preset, a.steps, a.threads)


if __name__ == "__main__":
    main()
