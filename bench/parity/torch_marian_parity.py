#!/usr/bin/python3
"""Trains the plain-PyTorch Marian (torch_marian.py) from kiln's initial weights on kiln's
batches with kiln's optimizer recipe, and compares each step's loss with the one kiln logged.

    torch_marian_parity.py DUMP.h5 KILN_METRICS.jsonl [--threads N]

DUMP.h5 comes from build/dump_bert_training on a marian config; KILN_METRICS.jsonl from
`kiln train` with log.every=1 (and model.dropout=0). Prints one line per step and the largest
relative difference.
"""
import argparse
import fnmatch
import json
import os
import sys

import h5py
import numpy as np

# libgomp reads OMP_WAIT_POLICY once, when torch loads it; spinning workers cost many times
# their work on a shared 2-core machine (kiln and ../shared/bench/torch_reference.py do this).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert_parity import lr_at  # noqa: E402  kiln's schedule, shared
from torch_marian import MarianMT  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dump")
    p.add_argument("kiln_metrics")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    f = h5py.File(args.dump, "r")
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    model = MarianMT(int(a["vocab_size"]), int(a["d_model"]), int(a["n_layer"]),
                     int(a["decoder_layers"]), int(a["n_head"]), int(a["d_ff"]), a["activation"],
                     bool(int(a["scale_embedding"])), int(a["max_position"]))
    for layer_norm in model.modules():
        if isinstance(layer_norm, torch.nn.LayerNorm):
            layer_norm.eps = float(a["layer_norm_eps"])
    state = {name: torch.from_numpy(f["model"][name][()]) for name in f["model"]}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    model.positions.copy_(torch.from_numpy(f["positions"][()]))  # kiln's table, bit for bit
    # kiln decays every trainable matrix (weights, the shared embedding), no vector, and
    # nothing frozen (final_logits_bias by default, a buffer here).
    frozen = [q for q in a["freeze"].split(",") if q]
    assert all(fnmatch.fnmatchcase("final_logits_bias", q) for q in frozen) and frozen, \
        "the parity check expects train.freeze [final_logits_bias]"
    params = list(model.named_parameters())
    groups = [{"params": [q for _, q in params if q.dim() >= 2],
               "weight_decay": float(a["weight_decay"])},
              {"params": [q for _, q in params if q.dim() < 2], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=float(a["lr"]), eps=float(a["eps"]),
                            betas=(float(a["beta1"]), float(a["beta2"])))
    kiln = [json.loads(line) for line in open(args.kiln_metrics)]
    kiln = {m["step"]: m for m in kiln if m.get("kind") == "train"}
    steps = min(len(f["batch"]), len(kiln))
    eps = float(a["label_smoothing"])
    worst = 0.0
    for s in range(steps):
        g = f["batch"][str(s)]
        t = {k: torch.from_numpy(g[k][()].astype(np.int64)) for k in g}
        for group in opt.param_groups:
            group["lr"] = lr_at(s, a)
        opt.zero_grad(set_to_none=True)
        loss = model.loss(t["input_ids"], t["attention_mask"], t["decoder_input_ids"],
                          t["labels"], eps)
        loss.backward()
        if float(a["grad_clip"]) > 0:  # kiln's 0 means no clipping
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(a["grad_clip"]))
        opt.step()
        theirs = kiln[s + 1]["loss"]
        rel = abs(loss.item() - theirs) / abs(loss.item())
        worst = max(worst, rel)
        print(f"step {s + 1:4d}  rows {t['input_ids'].shape[0]:3d}  torch loss {loss.item():.7f}"
              f"   kiln loss {theirs:.7f}   rel {rel:.2e}", flush=True)
    print(json.dumps({"steps": steps, "max_rel_diff": {"loss": worst}}))


if __name__ == "__main__":
    main()
