#!/usr/bin/python3
"""The PyTorch side of `kiln bench --model marian`: times full training steps (zero grad,
forward, backward, clip, AdamW) of the plain-torch Marian (bench/parity/torch_marian.py) on
synthetic sentence pairs shaped as kiln's, and prints one JSON line with kiln bench's fields.

    bench/torch_marian_bench.py [--vocab-size 8000 --n-layer 3 --n-head 4 --d-model 256
        --d-ff 1024 --src-len 40 --tgt-len 40 --batch-size 32 --steps 10 --warmup-steps 2
        --threads 2 --label-smoothing 0.1 --lr 3e-4 --weight-decay 0.1 --grad-clip 1.0]
"""
import argparse
import json
import os
import resource
import sys
import time

# libgomp reads OMP_WAIT_POLICY once, when torch loads it; spinning workers cost many times
# their work on a shared 2-core machine (kiln and ../shared/bench/torch_reference.py do this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity"))
from torch_marian import MarianMT  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    for name, default in [("vocab-size", 65), ("n-layer", 4), ("n-head", 4), ("d-model", 128),
                          ("d-ff", 0), ("seq-len", 64), ("src-len", 0), ("tgt-len", 0),
                          ("batch-size", 12), ("steps", 20), ("warmup-steps", 3),
                          ("threads", 2), ("seed", 1337)]:
        p.add_argument("--" + name, type=int, default=default)
    for name, default in [("lr", 3e-4), ("weight-decay", 0.1), ("beta1", 0.9), ("beta2", 0.95),
                          ("eps", 1e-8), ("grad-clip", 1.0), ("label-smoothing", 0.1)]:
        p.add_argument("--" + name, type=float, default=default)
    a = p.parse_args()
    d_ff = a.d_ff or 4 * a.d_model
    S, T = a.src_len or a.seq_len, a.tgt_len or a.seq_len
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = MarianMT(a.vocab_size, a.d_model, a.n_layer, a.n_layer, a.n_head, d_ff,
                     max_positions=max(S, T))
    params = list(model.parameters())
    opt = torch.optim.AdamW(
        [{"params": [q for q in params if q.dim() >= 2], "weight_decay": a.weight_decay},
         {"params": [q for q in params if q.dim() < 2], "weight_decay": 0.0}],
        lr=a.lr, betas=(a.beta1, a.beta2), eps=a.eps)
    B = a.batch_size
    batches = []
    for _ in range(min(4, a.steps + a.warmup_steps)):
        src = torch.randint(2, a.vocab_size, (B, S))
        src[:, -1] = 1
        labels = torch.randint(2, a.vocab_size, (B, T))
        labels[:, -1] = 1
        dec = torch.cat([torch.zeros(B, 1, dtype=torch.long), labels[:, :-1]], dim=1)
        batches.append((src, torch.ones(B, S, dtype=torch.long), dec, labels))
    times, losses = [], []
    for step in range(a.warmup_steps + a.steps):
        src, mask, dec, labels = batches[step % len(batches)]
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model.loss(src, mask, dec, labels, a.label_smoothing)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, a.grad_clip)
        opt.step()
        ms = (time.perf_counter() - start) * 1e3
        losses.append(loss.item())
        if step >= a.warmup_steps:
            times.append(ms)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
    d, L = float(a.d_model), float(a.n_layer)
    enc = L * (4 * d * d + 2 * d * d_ff)
    dec_params = L * (8 * d * d + 2 * d * d_ff)
    gflop = (6 * enc * S * B + 6 * dec_params * T * B + 6 * d * a.vocab_size * T * B +
             12 * L * d * B * (S * S + T * T + T * S)) / 1e9
    print(json.dumps({
        "model": "marian", "vocab_size": a.vocab_size, "n_layer": a.n_layer,
        "n_head": a.n_head, "d_model": a.d_model, "d_ff": d_ff, "seq_len": a.seq_len,
        "batch_size": B, "steps": a.steps, "warmup_steps": a.warmup_steps,
        "threads": a.threads, "step_ms_median": round(median, 2),
        "step_ms_min": round(times[0], 2), "tokens_per_s": round(B * (S + T) / (median / 1e3), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_gflop_per_step": round(gflop, 4), "achieved_gflops": round(gflop / (median / 1e3), 2),
        "n_params": sum(q.numel() for q in params), "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4), "framework": "pytorch", "src_len": S, "tgt_len": T}))


if __name__ == "__main__":
    main()
