#!/usr/bin/python3
"""Trains the PyTorch reference BERT (../shared/bench/torch_reference.py) from kiln's initial
weights on kiln's batches with kiln's optimizer recipe, and compares each step's losses with
the ones kiln logged for the same run.

    torch_bert_parity.py DUMP.h5 KILN_METRICS.jsonl [--reference DIR] [--threads N]

DUMP.h5 comes from build/dump_bert_training; KILN_METRICS.jsonl from `kiln train` with
log.every=1. Prints one line per step and the largest relative differences.
"""
import argparse
import json
import sys

import h5py
import numpy as np
import torch


def lr_at(step, a):
    """kiln's nn::Schedule::lr for 0-based update `step` (linear or cosine after warmup)."""
    max_lr, min_lr = float(a["lr"]), float(a["min_lr"])
    warmup, total = int(a["warmup_steps"]), int(a["max_steps"])
    if step < warmup:
        return max_lr * (step + 1) / warmup
    kind = a["schedule"]
    if kind == "constant":
        return max_lr
    progress = 1.0 if total <= warmup else min(1.0, (step - warmup) / (total - warmup))
    coef = 0.5 * (1 + np.cos(np.pi * progress)) if kind == "cosine" else 1.0 - progress
    return min_lr + coef * (max_lr - min_lr)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dump")
    p.add_argument("kiln_metrics")
    p.add_argument("--reference", default="../shared/bench")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    sys.path.insert(0, args.reference)
    import torch_reference as R

    torch.set_num_threads(args.threads)
    f = h5py.File(args.dump, "r")
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    cfg = R.Config(vocab_size=int(a["vocab_size"]), n_layer=int(a["n_layer"]),
                   n_head=int(a["n_head"]), d_model=int(a["d_model"]), d_ff=int(a["d_ff"]),
                   max_pos=int(a["max_position"]))
    model = R.BertForPreTraining(cfg)
    R.load_hdf5(model, args.dump)
    # kiln decays every matrix (weights and embeddings) and no vector (biases, LayerNorm).
    params = list(model.named_parameters())
    groups = [{"params": [q for _, q in params if q.dim() >= 2],
               "weight_decay": float(a["weight_decay"])},
              {"params": [q for _, q in params if q.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=float(a["lr"]), eps=float(a["eps"]),
                            betas=(float(a["beta1"]), float(a["beta2"])))
    kiln = [json.loads(line) for line in open(args.kiln_metrics)]
    kiln = {m["step"]: m for m in kiln if m.get("kind") == "train"}
    steps = min(len(f["batch"]), len(kiln))
    worst = {"loss": 0.0, "mlm_loss": 0.0, "nsp_loss": 0.0}
    for s in range(steps):
        g = f["batch"][str(s)]
        t = {k: torch.from_numpy(g[k][()].astype(np.int64)) for k in g}
        for group in opt.param_groups:
            group["lr"] = lr_at(s, a)
        opt.zero_grad(set_to_none=True)
        _, scores, rel = model(t["input_ids"], t["token_type_ids"],
                               attention_mask=t["attention_mask"])
        mlm = torch.nn.functional.cross_entropy(scores.view(-1, cfg.vocab_size),
                                                t["mlm_labels"].view(-1), ignore_index=-100)
        nsp = torch.nn.functional.cross_entropy(rel, t["nsp_labels"])
        loss = mlm + nsp
        loss.backward()
        if float(a["grad_clip"]) > 0:  # kiln's 0 means no clipping
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(a["grad_clip"]))
        opt.step()
        ours = {"loss": loss.item(), "mlm_loss": mlm.item(), "nsp_loss": nsp.item()}
        theirs = kiln[s + 1]
        for k in worst:
            worst[k] = max(worst[k], abs(ours[k] - theirs[k]) / abs(ours[k]))
        print(f"step {s + 1:4d}  torch loss {ours['loss']:.6f} nsp {ours['nsp_loss']:.6f}"
              f"   kiln loss {theirs['loss']:.6f} nsp {theirs['nsp_loss']:.6f}", flush=True)
    print(json.dumps({"steps": steps, "max_rel_diff": worst}))


if __name__ == "__main__":
    main()
